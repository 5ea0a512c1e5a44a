package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"paymend/db"
	"paymend/domain"
	"paymend/views"
	"paymend/web"
)

// Alerts are the alert pages (everyone reads; operators acknowledge, note and
// resolve), the thresholds (admins) and GET /api/v1/alerts.
type Alerts struct{ Deps }

// Routes registers the alert pages, the rule pages and the API route.
func (h *Alerts) Routes() {
	op := web.RequireRole(domain.RoleOperator)
	g := h.App.Console.Group("/alerts")
	g.GET("", h.List)
	g.GET("/:id", h.Show)
	g.POST("/:id/ack", h.Acknowledge, op)
	g.POST("/:id/notes", h.Note, op)
	g.POST("/:id/resolve", h.Resolve, op)
	r := h.App.Console.Group("/settings/alerts", web.RequireRole(domain.RoleAdmin))
	r.GET("", h.Rules)
	r.GET("/new", h.NewRule)
	r.POST("", h.CreateRule)
	r.GET("/:id", h.EditRule)
	r.POST("/:id", h.UpdateRule)
	r.POST("/:id/toggle", h.ToggleRule)
	r.POST("/:id/delete", h.DeleteRule)
	h.App.API.GET("/alerts", h.APIList)
}

func (h *Alerts) loadAlert(c echo.Context) (domain.Alert, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return domain.Alert{}, web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	a, err := h.Store.Alert(c.Request().Context(), web.MerchantID(c), id)
	if errors.Is(err, db.ErrNotFound) {
		return a, web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	return a, err
}

// List shows alerts by status (default: open ones), newest first.
func (h *Alerts) List(c echo.Context) error {
	p := web.MustPrincipal(c)
	ctx := c.Request().Context()
	status := c.QueryParam("status")
	f := db.AlertFilter{Limit: 50}
	switch status {
	case "", "open":
		status = "open"
		f.Statuses = []string{domain.AlertFiring, domain.AlertAcknowledged}
	case "all":
	case domain.AlertFiring, domain.AlertAcknowledged, domain.AlertResolved:
		f.Statuses = []string{status}
	default:
		return web.Fail(http.StatusBadRequest, "invalid_status", "alerts.err.status")
	}
	cur, err := domain.DecodeCursor(c.QueryParam("cursor"))
	if err != nil {
		return web.Fail(http.StatusBadRequest, "invalid_cursor", "filter.err.cursor")
	}
	f.Cursor = cur
	list, next, err := h.Store.Alerts(ctx, p.Merchant.ID, f)
	if err != nil {
		return err
	}
	counts, err := h.Store.CountAlerts(ctx, p.Merchant.ID)
	if err != nil {
		return err
	}
	v := views.AlertsView{Status: status, Alerts: list, Next: next.Encode(), Counts: counts,
		IsAdmin: p.Role.AtLeast(domain.RoleAdmin)}
	return web.Render(c, http.StatusOK, views.AlertsPage(web.Shell(c, "alerts", web.T(c, "alerts.title")), v), nil)
}

// Show is an alert's page: what crossed, the value over time, who acknowledged,
// the notes, and the payments behind it.
func (h *Alerts) Show(c echo.Context) error {
	a, err := h.loadAlert(c)
	if err != nil {
		return err
	}
	p := web.MustPrincipal(c)
	events, err := h.Store.AlertEvents(c.Request().Context(), p.Merchant.ID, a.ID)
	if err != nil {
		return err
	}
	v := views.AlertView{Alert: a, Events: events, CanAct: p.Role.AtLeast(domain.RoleOperator),
		TxHref: affectedHref(a, h.now()), Loc: p.Merchant.Location()}
	return web.Render(c, http.StatusOK, views.AlertPage(web.Shell(c, "alerts", a.RuleName), v), nil)
}

// affectedHref links to the payments (or notices) behind an alert: its scope,
// from the start of the window that opened it until it resolved (or now).
func affectedHref(a domain.Alert, now time.Time) string {
	end := now
	if a.ResolvedAt != nil {
		end = *a.ResolvedAt
	}
	from := a.OpenedAt.Add(-time.Duration(a.WindowMinutes) * time.Minute)
	if a.Metric == domain.MetricNotificationFailures {
		return "/notifications?state=failed"
	}
	q := url.Values{"status": {"failed"}, "from": {from.UTC().Format(time.RFC3339)}, "to": {end.Add(time.Minute).UTC().Format(time.RFC3339)}}
	if a.Metric == domain.MetricRefundFailures {
		q.Del("status")
	}
	switch a.Scope {
	case domain.ScopeCode, domain.ScopeChannel, domain.ScopeBank:
		q.Set(a.Scope, a.ScopeValue)
	}
	return "/transactions?" + q.Encode()
}

// Acknowledge marks a firing alert as taken care of by the user (stops escalation).
func (h *Alerts) Acknowledge(c echo.Context) error {
	a, err := h.loadAlert(c)
	if err != nil {
		return err
	}
	p := web.MustPrincipal(c)
	ctx := c.Request().Context()
	now := h.now()
	err = h.Store.InTx(ctx, func(tx *db.Store) error {
		if err := tx.AcknowledgeAlert(ctx, p.Merchant.ID, a.ID, p.User.ID, now); err != nil {
			return err
		}
		return tx.AddAlertEvent(ctx, p.Merchant.ID, domain.AlertEvent{AlertID: a.ID, At: now, Kind: "acknowledged", UserID: &p.User.ID})
	})
	if errors.Is(err, db.ErrNotFound) { // not firing any more
		web.AddFlash(c, "error", web.T(c, "alerts.err.not_firing"))
		return web.Redirect(c, fmt.Sprintf("/alerts/%d", a.ID))
	}
	if err != nil {
		return err
	}
	h.audit(c, "alert.acknowledge", fmt.Sprint(a.ID), domain.AuditOK, map[string]any{"rule": a.RuleName})
	web.AddFlash(c, "ok", web.T(c, "alerts.acknowledged"))
	return web.Redirect(c, fmt.Sprintf("/alerts/%d", a.ID))
}

// Note adds a note to an alert's timeline.
func (h *Alerts) Note(c echo.Context) error {
	a, err := h.loadAlert(c)
	if err != nil {
		return err
	}
	note := strings.TrimSpace(c.FormValue("note"))
	if note == "" || len([]rune(note)) > 2000 || !validText(note, 8000) {
		web.AddFlash(c, "error", web.T(c, "alerts.err.note"))
		return web.Redirect(c, fmt.Sprintf("/alerts/%d", a.ID))
	}
	p := web.MustPrincipal(c)
	if err := h.Store.AddAlertEvent(c.Request().Context(), p.Merchant.ID, domain.AlertEvent{AlertID: a.ID, At: h.now(),
		Kind: "note", UserID: &p.User.ID, Note: note}); err != nil {
		return err
	}
	h.audit(c, "alert.note", fmt.Sprint(a.ID), domain.AuditOK, nil)
	web.AddFlash(c, "ok", web.T(c, "alerts.noted"))
	return web.Redirect(c, fmt.Sprintf("/alerts/%d", a.ID))
}

// Resolve closes an open alert by hand (the incident is over); a new crossing opens
// a new alert.
func (h *Alerts) Resolve(c echo.Context) error {
	a, err := h.loadAlert(c)
	if err != nil {
		return err
	}
	p := web.MustPrincipal(c)
	ctx := c.Request().Context()
	now := h.now()
	err = h.Store.InTx(ctx, func(tx *db.Store) error {
		if err := tx.ResolveAlert(ctx, p.Merchant.ID, a.ID, &p.User.ID, now); err != nil {
			return err
		}
		return tx.AddAlertEvent(ctx, p.Merchant.ID, domain.AlertEvent{AlertID: a.ID, At: now, Kind: "resolved", UserID: &p.User.ID,
			Details: db.AlertDetails(map[string]any{"reason": "manual"})})
	})
	if errors.Is(err, db.ErrNotFound) {
		web.AddFlash(c, "error", web.T(c, "alerts.err.not_open"))
		return web.Redirect(c, fmt.Sprintf("/alerts/%d", a.ID))
	}
	if err != nil {
		return err
	}
	h.audit(c, "alert.resolve", fmt.Sprint(a.ID), domain.AuditOK, map[string]any{"rule": a.RuleName})
	web.AddFlash(c, "ok", web.T(c, "alerts.resolved"))
	return web.Redirect(c, fmt.Sprintf("/alerts/%d", a.ID))
}

// Rules lists the thresholds.
func (h *Alerts) Rules(c echo.Context) error {
	rules, err := h.Store.AlertRules(c.Request().Context(), web.MerchantID(c))
	if err != nil {
		return err
	}
	return web.Render(c, http.StatusOK, views.RulesPage(web.Shell(c, "alerts", web.T(c, "rules.title")), views.RulesView{Rules: rules}), nil)
}

func (h *Alerts) renderForm(c echo.Context, status int, f views.RuleForm) error {
	title := web.T(c, "rules.new")
	if f.ID != 0 {
		title = f.Name
	}
	return web.Render(c, status, views.RuleFormPage(web.Shell(c, "alerts", title), f), nil)
}

// NewRule shows an empty rule form with the usual defaults.
func (h *Alerts) NewRule(c echo.Context) error {
	return h.renderForm(c, http.StatusOK, views.RuleFormOf(domain.AlertRule{Enabled: true, Metric: domain.MetricFailureRate,
		Scope: domain.ScopeAll, WindowMinutes: 10, Threshold: 0.15, MinVolume: 50, Severity: "warning", CooldownMinutes: 10,
		EscalateAfterMinutes: 30}))
}

// parseRule reads the rule form; rates are entered in percent.
func parseRule(c echo.Context) (domain.AlertRule, views.RuleForm) {
	f := views.RuleForm{Name: strings.TrimSpace(c.FormValue("name")), Enabled: c.FormValue("enabled") == "1",
		Metric: c.FormValue("metric"), Scope: c.FormValue("scope"), ScopeValue: strings.TrimSpace(c.FormValue("scope_value")),
		Window: c.FormValue("window"), Threshold: strings.TrimSpace(c.FormValue("threshold")), MinVolume: c.FormValue("min_volume"),
		Severity: c.FormValue("severity"), Emails: c.FormValue("emails"), WebhookURL: strings.TrimSpace(c.FormValue("webhook_url")),
		Cooldown: c.FormValue("cooldown"), EscalateAfter: c.FormValue("escalate_after"), EscalateEmails: c.FormValue("escalate_emails")}
	r := domain.AlertRule{Name: f.Name, Enabled: f.Enabled, Metric: domain.AlertMetric(f.Metric), Scope: f.Scope,
		ScopeValue: f.ScopeValue, Severity: f.Severity, WebhookURL: f.WebhookURL,
		Emails: splitEmails(f.Emails), EscalateEmails: splitEmails(f.EscalateEmails)}
	if r.Scope == domain.ScopeAll {
		r.ScopeValue = ""
	}
	atoi := func(s string, bad *bool) int {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			*bad = true
			return -1
		}
		return n
	}
	var badWindow, badVolume, badTiming bool
	r.WindowMinutes = atoi(f.Window, &badWindow)
	r.MinVolume = int64(atoi(f.MinVolume, &badVolume))
	r.CooldownMinutes = atoi(f.Cooldown, &badTiming)
	r.EscalateAfterMinutes = atoi(f.EscalateAfter, &badTiming)
	th, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSuffix(f.Threshold, "%"), "×"), 64)
	if err != nil {
		th = -1
	}
	if r.Metric.IsRate() && r.Metric != domain.MetricBaselineRate && th >= 0 {
		th /= 100
	}
	r.Threshold = th
	f.Errors = r.Validate()
	return r, f
}

func splitEmails(s string) []string {
	out := []string{}
	for _, e := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' || r == '\n' || r == '\r' || r == ' ' }) {
		if e = strings.ToLower(strings.TrimSpace(e)); e != "" {
			out = append(out, e)
		}
	}
	return out
}

func ruleAudit(r domain.AlertRule) map[string]any {
	return map[string]any{"name": r.Name, "enabled": r.Enabled, "metric": r.Metric, "scope": r.Scope, "scope_value": r.ScopeValue,
		"window_minutes": r.WindowMinutes, "threshold": r.Threshold, "min_volume": r.MinVolume, "severity": r.Severity,
		"emails": len(r.Emails), "webhook": r.WebhookURL != "", "cooldown_minutes": r.CooldownMinutes,
		"escalate_after_minutes": r.EscalateAfterMinutes}
}

// CreateRule stores a new rule (audited).
func (h *Alerts) CreateRule(c echo.Context) error {
	r, f := parseRule(c)
	if len(f.Errors) > 0 {
		return h.renderForm(c, http.StatusUnprocessableEntity, f)
	}
	created, err := h.Store.CreateAlertRule(c.Request().Context(), web.MerchantID(c), r)
	if err != nil {
		return err
	}
	h.audit(c, "alert_rule.create", fmt.Sprint(created.ID), domain.AuditOK, ruleAudit(created))
	web.AddFlash(c, "ok", web.T(c, "rules.created"))
	return web.Redirect(c, "/settings/alerts")
}

func (h *Alerts) loadRule(c echo.Context) (domain.AlertRule, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return domain.AlertRule{}, web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	r, err := h.Store.AlertRule(c.Request().Context(), web.MerchantID(c), id, false)
	if errors.Is(err, db.ErrNotFound) {
		return r, web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	return r, err
}

// EditRule shows a rule's form.
func (h *Alerts) EditRule(c echo.Context) error {
	r, err := h.loadRule(c)
	if err != nil {
		return err
	}
	return h.renderForm(c, http.StatusOK, views.RuleFormOf(r))
}

// UpdateRule saves a rule (audited with before and after).
func (h *Alerts) UpdateRule(c echo.Context) error {
	old, err := h.loadRule(c)
	if err != nil {
		return err
	}
	r, f := parseRule(c)
	f.ID, r.ID = old.ID, old.ID
	if len(f.Errors) > 0 {
		return h.renderForm(c, http.StatusUnprocessableEntity, f)
	}
	if err := h.Store.UpdateAlertRule(c.Request().Context(), web.MerchantID(c), r, h.now()); err != nil {
		return err
	}
	h.audit(c, "alert_rule.update", fmt.Sprint(r.ID), domain.AuditOK, map[string]any{"before": ruleAudit(old), "after": ruleAudit(r)})
	web.AddFlash(c, "ok", web.T(c, "rules.saved"))
	return web.Redirect(c, "/settings/alerts")
}

// ToggleRule switches a rule on or off; the evaluator resolves an open alert of a
// disabled rule on its next run.
func (h *Alerts) ToggleRule(c echo.Context) error {
	r, err := h.loadRule(c)
	if err != nil {
		return err
	}
	r.Enabled = !r.Enabled
	if err := h.Store.UpdateAlertRule(c.Request().Context(), web.MerchantID(c), r, h.now()); err != nil {
		return err
	}
	h.audit(c, "alert_rule.toggle", fmt.Sprint(r.ID), domain.AuditOK, map[string]any{"name": r.Name, "enabled": r.Enabled})
	return web.Redirect(c, "/settings/alerts")
}

// DeleteRule removes a rule, resolving its open alert (audited).
func (h *Alerts) DeleteRule(c echo.Context) error {
	r, err := h.loadRule(c)
	if err != nil {
		return err
	}
	p := web.MustPrincipal(c)
	ctx := c.Request().Context()
	now := h.now()
	err = h.Store.InTx(ctx, func(tx *db.Store) error {
		if _, err := tx.AlertRule(ctx, p.Merchant.ID, r.ID, true); err != nil {
			return err
		}
		open, err := tx.OpenAlertForRule(ctx, p.Merchant.ID, r.ID)
		if err != nil {
			return err
		}
		if open != nil {
			if err := tx.ResolveAlert(ctx, p.Merchant.ID, open.ID, &p.User.ID, now); err != nil {
				return err
			}
			if err := tx.AddAlertEvent(ctx, p.Merchant.ID, domain.AlertEvent{AlertID: open.ID, At: now, Kind: "resolved",
				UserID: &p.User.ID, Details: db.AlertDetails(map[string]any{"reason": "rule_deleted"})}); err != nil {
				return err
			}
		}
		return tx.DeleteAlertRule(ctx, p.Merchant.ID, r.ID)
	})
	if err != nil {
		return err
	}
	h.audit(c, "alert_rule.delete", fmt.Sprint(r.ID), domain.AuditOK, ruleAudit(r))
	web.AddFlash(c, "ok", web.T(c, "rules.deleted"))
	return web.Redirect(c, "/settings/alerts")
}

// AlertJSON is an alert in the API.
type AlertJSON struct {
	ID             int64              `json:"id"`
	RuleID         *int64             `json:"rule_id"`
	Rule           string             `json:"rule"`
	Status         string             `json:"status"`
	Severity       string             `json:"severity"`
	Metric         domain.AlertMetric `json:"metric"`
	Scope          string             `json:"scope"`
	ScopeValue     string             `json:"scope_value,omitempty"`
	WindowMinutes  int                `json:"window_minutes"`
	Threshold      float64            `json:"threshold"`
	Value          float64            `json:"value"`
	PeakValue      float64            `json:"peak_value"`
	Volume         int64              `json:"volume"`
	Baseline       *float64           `json:"baseline,omitempty"`
	Summary        string             `json:"summary"`
	OpenedAt       time.Time          `json:"opened_at"`
	AcknowledgedAt *time.Time         `json:"acknowledged_at"`
	AcknowledgedBy string             `json:"acknowledged_by,omitempty"`
	EscalatedAt    *time.Time         `json:"escalated_at"`
	ResolvedAt     *time.Time         `json:"resolved_at"`
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// APIList answers GET /api/v1/alerts?status=firing|acknowledged|resolved[&limit&cursor].
func (h *Alerts) APIList(c echo.Context) error {
	p := web.MustPrincipal(c)
	f := db.AlertFilter{Limit: 50}
	if st := c.QueryParam("status"); st != "" {
		for _, s := range strings.Split(st, ",") {
			if s != domain.AlertFiring && s != domain.AlertAcknowledged && s != domain.AlertResolved {
				return web.Fail(http.StatusBadRequest, "invalid_status", "alerts.err.status")
			}
			f.Statuses = append(f.Statuses, s)
		}
	}
	if l := c.QueryParam("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 100 {
			return web.Fail(http.StatusBadRequest, "invalid_limit", "filter.err.limit")
		}
		f.Limit = n
	}
	cur, err := domain.DecodeCursor(c.QueryParam("cursor"))
	if err != nil {
		return web.Fail(http.StatusBadRequest, "invalid_cursor", "filter.err.cursor")
	}
	f.Cursor = cur
	list, next, err := h.Store.Alerts(c.Request().Context(), p.Merchant.ID, f)
	if err != nil {
		return err
	}
	data := make([]AlertJSON, len(list))
	for i, a := range list {
		data[i] = AlertJSON{ID: a.ID, RuleID: a.RuleID, Rule: a.RuleName, Status: a.Status, Severity: a.Severity, Metric: a.Metric,
			Scope: a.Scope, ScopeValue: a.ScopeValue, WindowMinutes: a.WindowMinutes, Threshold: a.Threshold, Value: a.Value,
			PeakValue: a.PeakValue, Volume: a.Volume, Baseline: a.Baseline, Summary: a.Summary, OpenedAt: a.OpenedAt.UTC(),
			AcknowledgedAt: utcPtr(a.AcknowledgedAt), AcknowledgedBy: a.AckByEmail, EscalatedAt: utcPtr(a.EscalatedAt),
			ResolvedAt: utcPtr(a.ResolvedAt)}
	}
	return c.JSON(http.StatusOK, map[string]any{"data": data, "next_cursor": next.Encode()})
}
