package handlers

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"paymend/db"
	"paymend/domain"
	"paymend/views"
	"paymend/web"
)

// Emergency is the emergency plan: payment channels with status and backup,
// contacts, runbooks, incidents (declared by hand or from an alert) and drills.
type Emergency struct{ Deps }

// Routes registers the emergency pages: operators run incidents and set channel
// status; admins keep contacts and runbooks and start drills.
func (h *Emergency) Routes() {
	op, admin := web.RequireRole(domain.RoleOperator), web.RequireRole(domain.RoleAdmin)
	g := h.App.Console.Group("/emergency", op)
	g.GET("", h.Overview)
	g.POST("/channels", h.SaveChannel)
	g.POST("/contacts", h.AddContact, admin)
	g.POST("/contacts/:id/delete", h.DeleteContact, admin)
	g.GET("/runbooks", h.Runbooks)
	g.POST("/runbooks/:type", h.SaveRunbook, admin)
	g.POST("/incidents", h.Declare)
	g.POST("/drills", h.StartDrill, admin)
	g.GET("/incidents/:id", h.Show)
	g.POST("/incidents/:id/notes", h.AddNote)
	g.POST("/incidents/:id/steps/:pos", h.ToggleStep)
	g.POST("/incidents/:id/notify", h.Notify)
	g.POST("/incidents/:id/close", h.Close)
}

// payChannelsTTL bounds how stale a replica's copy of channel states may be in
// notices; a change through this replica is seen at once.
const payChannelsTTL = 10 * time.Second

// noticeLookback is how long before an incident was declared its failed payments
// count as affected (outages start before anyone declares them).
const noticeLookback = time.Hour

// channelStates returns the merchant's channel states for notices (cached). A
// failure to read them leaves notices as they would be without an outage.
func (d Deps) channelStates(merchantID int64) []domain.PayChannel {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := d.payChans.Get(merchantID, d.now(), func() ([]domain.PayChannel, error) {
		return d.Store.PayChannels(ctx, merchantID)
	})
	if err != nil {
		d.Log.Error("channel states for notices", "err", err, "merchant", merchantID)
		return nil
	}
	return s
}

func (h *Emergency) overview(c echo.Context) (views.EmergencyView, error) {
	ctx := c.Request().Context()
	mid := web.MerchantID(c)
	v := views.EmergencyView{Errors: map[string]string{}}
	set, err := h.Store.PayChannels(ctx, mid)
	if err != nil {
		return v, err
	}
	v.Channels = domain.PayChannelsWithDefaults(set)
	if v.Contacts, err = h.Store.EmergencyContacts(ctx, mid); err != nil {
		return v, err
	}
	if v.Open, err = h.Store.Incidents(ctx, mid, true, 50); err != nil {
		return v, err
	}
	if v.History, err = h.Store.Incidents(ctx, mid, false, 50); err != nil {
		return v, err
	}
	alerts, err := h.Store.ActiveAlerts(ctx, mid)
	if err != nil {
		return v, err
	}
	for _, a := range alerts {
		row := views.AlertRow{ID: a.ID, Status: a.Status, Severity: a.Severity, Summary: a.Summary, OpenedAt: a.OpenedAt}
		// An alert about one channel suggests marking that channel degraded.
		if a.Scope == "channel" && domain.ValidChannel(a.ScopeValue) {
			for _, ch := range v.Channels {
				if ch.Channel == a.ScopeValue && ch.Status == domain.ChannelActive {
					s := ch
					s.Status = domain.ChannelDegraded
					row.Suggest = &s
				}
			}
		}
		v.Alerts = append(v.Alerts, row)
	}
	return v, nil
}

func (h *Emergency) renderOverview(c echo.Context, status int, v views.EmergencyView) error {
	return web.Render(c, status, views.EmergencyPage(web.Shell(c, "emergency", web.T(c, "em.title")), v), nil)
}

// Overview shows channels, open incidents, firing alerts, contacts and history.
func (h *Emergency) Overview(c echo.Context) error {
	v, err := h.overview(c)
	if err != nil {
		return err
	}
	if id, err := strconv.ParseInt(c.QueryParam("alert"), 10, 64); err == nil {
		v.FromAlert = id
	}
	return h.renderOverview(c, http.StatusOK, v)
}

func (h *Emergency) invalid(c echo.Context, field, key string) error {
	v, err := h.overview(c)
	if err != nil {
		return err
	}
	v.Errors[field] = web.T(c, key)
	return h.renderOverview(c, http.StatusUnprocessableEntity, v)
}

// SaveChannel sets a channel's status, backup and note; open incidents that list
// the channel get the change on their timeline.
func (h *Emergency) SaveChannel(c echo.Context) error {
	p := web.MustPrincipal(c)
	ctx := c.Request().Context()
	ch := domain.PayChannel{Channel: c.FormValue("channel"), Status: domain.ChannelStatus(c.FormValue("status")),
		Backup: c.FormValue("backup"), Note: strings.TrimSpace(c.FormValue("note")), UpdatedBy: p.Actor(), UpdatedAt: h.now()}
	if !domain.ValidChannel(ch.Channel) || !ch.Status.Valid() || (ch.Backup != "" && !domain.ValidChannel(ch.Backup)) ||
		ch.Backup == ch.Channel || !validText(ch.Note, 200) {
		return h.invalid(c, "channel", "em.err.channel")
	}
	if err := h.Store.SavePayChannel(ctx, p.Merchant.ID, ch); err != nil {
		return err
	}
	h.payChans.Forget(p.Merchant.ID)
	h.audit(c, "emergency.channel", ch.Channel, domain.AuditOK, map[string]any{"status": ch.Status, "backup": ch.Backup})
	open, err := h.Store.Incidents(ctx, p.Merchant.ID, true, 100)
	if err != nil {
		return err
	}
	lang := string(web.Lang(c))
	text := web.T(c, "em.ev.channel", domain.PayChannelLabel(ch.Channel, lang), web.T(c, "em.status."+string(ch.Status)),
		backupLabel(c, ch.Backup))
	for _, inc := range open {
		if len(inc.Channels) == 0 || slices.Contains(inc.Channels, ch.Channel) {
			if err := h.Store.AddIncidentEvent(ctx, p.Merchant.ID, inc.ID, h.now(), p.Actor(), "channel", text); err != nil {
				return err
			}
		}
	}
	web.AddFlash(c, "ok", text)
	return web.Redirect(c, web.SafeBack(orDefault(c.FormValue("back"), "/emergency")))
}

func backupLabel(c echo.Context, backup string) string {
	if backup == "" {
		return web.T(c, "em.no_backup")
	}
	return domain.PayChannelLabel(backup, string(web.Lang(c)))
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// AddContact adds an emergency contact.
func (h *Emergency) AddContact(c echo.Context) error {
	ct := domain.EmergencyContact{Role: strings.TrimSpace(c.FormValue("role")), Name: strings.TrimSpace(c.FormValue("name")),
		Phone: strings.TrimSpace(c.FormValue("phone")), Email: strings.TrimSpace(c.FormValue("email"))}
	if ct.Role == "" || ct.Name == "" || !validText(ct.Role, 100) || !validText(ct.Name, 100) || !validText(ct.Phone, 40) ||
		!validText(ct.Email, 254) || (ct.Phone == "" && ct.Email == "") || (ct.Email != "" && !domain.ValidEmail(ct.Email)) {
		return h.invalid(c, "contact", "em.err.contact")
	}
	id, err := h.Store.AddEmergencyContact(c.Request().Context(), web.MerchantID(c), ct)
	if err != nil {
		return err
	}
	h.audit(c, "emergency.contact_add", ct.Role, domain.AuditOK, map[string]any{"id": id, "name": ct.Name})
	web.AddFlash(c, "ok", web.T(c, "em.contact_added", ct.Name))
	return web.Redirect(c, "/emergency")
}

// DeleteContact removes an emergency contact.
func (h *Emergency) DeleteContact(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	ct, err := h.Store.DeleteEmergencyContact(c.Request().Context(), web.MerchantID(c), id)
	if errors.Is(err, db.ErrNotFound) {
		return web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	if err != nil {
		return err
	}
	h.audit(c, "emergency.contact_delete", ct.Role, domain.AuditOK, map[string]any{"id": id, "name": ct.Name})
	web.AddFlash(c, "ok", web.T(c, "em.contact_deleted", ct.Name))
	return web.Redirect(c, "/emergency")
}

// runbook returns the merchant's checklist for t, else the shipped one in lang.
func (h *Emergency) runbook(ctx context.Context, mid int64, t domain.IncidentType, lang string) ([]string, bool, error) {
	rbs, err := h.Store.Runbooks(ctx, mid)
	if err != nil {
		return nil, false, err
	}
	if s, ok := rbs[t]; ok {
		return s, true, nil
	}
	return domain.DefaultRunbook(t, lang), false, nil
}

// Runbooks shows the checklist of every incident type (editable by admins).
func (h *Emergency) Runbooks(c echo.Context) error {
	ctx := c.Request().Context()
	v := views.RunbooksView{}
	for _, t := range domain.IncidentTypes {
		steps, custom, err := h.runbook(ctx, web.MerchantID(c), t, string(web.Lang(c)))
		if err != nil {
			return err
		}
		v.Books = append(v.Books, views.Runbook{Type: t, Steps: steps, Custom: custom})
	}
	return web.Render(c, http.StatusOK, views.RunbooksPage(web.Shell(c, "emergency", web.T(c, "em.runbooks")), v), nil)
}

// SaveRunbook replaces one type's checklist: one step per line.
func (h *Emergency) SaveRunbook(c echo.Context) error {
	t := domain.IncidentType(c.Param("type"))
	if !t.Valid() {
		return web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	var steps []string
	for _, l := range strings.Split(c.FormValue("steps"), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			steps = append(steps, l)
		}
	}
	if len(steps) == 0 || len(steps) > 30 || !validText(c.FormValue("steps"), 6000) {
		return web.Fail(http.StatusUnprocessableEntity, "invalid_runbook", "em.err.runbook")
	}
	p := web.MustPrincipal(c)
	if err := h.Store.SaveRunbook(c.Request().Context(), p.Merchant.ID, t, steps, p.Actor(), h.now()); err != nil {
		return err
	}
	h.audit(c, "emergency.runbook", string(t), domain.AuditOK, map[string]any{"steps": len(steps)})
	web.AddFlash(c, "ok", web.T(c, "em.runbook_saved", t.Label(string(web.Lang(c)))))
	return web.Redirect(c, "/emergency/runbooks")
}

// Declare opens an incident by hand or from an alert: severity, affected
// channels, the type's checklist; optionally marks the channels down.
func (h *Emergency) Declare(c echo.Context) error {
	p := web.MustPrincipal(c)
	ctx := c.Request().Context()
	form, _ := c.FormParams()
	inc := domain.Incident{Title: strings.TrimSpace(c.FormValue("title")), Type: c.FormValue("type"), Severity: c.FormValue("severity"),
		DeclaredBy: p.Actor(), DeclaredAt: h.now()}
	for _, ch := range form["channels"] {
		if domain.ValidChannel(ch) && !slices.Contains(inc.Channels, ch) {
			inc.Channels = append(inc.Channels, ch)
		}
	}
	note := strings.TrimSpace(c.FormValue("note"))
	if inc.Title == "" || !validText(inc.Title, 200) || !domain.IncidentType(inc.Type).Valid() ||
		!domain.Severity(inc.Severity).Valid() || !validText(note, 2000) {
		return h.invalid(c, "declare", "em.err.declare")
	}
	lang := string(web.Lang(c))
	first := web.T(c, "em.ev.declared", domain.Severity(inc.Severity).Label(lang), channelList(inc.Channels, lang))
	if s := c.FormValue("alert_id"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return h.invalid(c, "declare", "em.err.declare")
		}
		a, err := h.Store.ActiveAlert(ctx, p.Merchant.ID, id)
		if errors.Is(err, db.ErrNotFound) {
			return h.invalid(c, "declare", "em.err.alert")
		}
		if err != nil {
			return err
		}
		inc.AlertID = &a.ID
		first += " " + web.T(c, "em.ev.from_alert", a.ID, a.Summary)
	}
	if note != "" {
		first += " " + note
	}
	steps, _, err := h.runbook(ctx, p.Merchant.ID, domain.IncidentType(inc.Type), lang)
	if err != nil {
		return err
	}
	saved, err := h.Store.CreateIncident(ctx, p.Merchant.ID, inc, steps, first)
	if err != nil {
		return err
	}
	h.audit(c, "emergency.declare", saved.Title, domain.AuditOK, map[string]any{"id": saved.ID, "severity": saved.Severity,
		"type": saved.Type, "channels": saved.Channels, "alert_id": saved.AlertID})
	if inc.AlertID != nil {
		h.audit(c, "emergency.declare_from_alert", strconv.FormatInt(*inc.AlertID, 10), domain.AuditOK, map[string]any{"incident": saved.ID})
	}
	if c.FormValue("mark_down") == "1" {
		if err := h.markDown(c, saved); err != nil {
			return err
		}
	}
	web.AddFlash(c, "ok", web.T(c, "em.declared", saved.Title))
	return web.Redirect(c, "/emergency/incidents/"+strconv.FormatInt(saved.ID, 10))
}

// markDown sets the incident's channels down, keeping their backups.
func (h *Emergency) markDown(c echo.Context, inc domain.Incident) error {
	ctx := c.Request().Context()
	p := web.MustPrincipal(c)
	set, err := h.Store.PayChannels(ctx, p.Merchant.ID)
	if err != nil {
		return err
	}
	lang := string(web.Lang(c))
	for _, ch := range domain.PayChannelsWithDefaults(set) {
		if !slices.Contains(inc.Channels, ch.Channel) {
			continue
		}
		ch.Status, ch.UpdatedBy, ch.UpdatedAt = domain.ChannelDown, p.Actor(), h.now()
		if err := h.Store.SavePayChannel(ctx, p.Merchant.ID, ch); err != nil {
			return err
		}
		h.audit(c, "emergency.channel", ch.Channel, domain.AuditOK, map[string]any{"status": ch.Status, "backup": ch.Backup, "incident": inc.ID})
		if err := h.Store.AddIncidentEvent(ctx, p.Merchant.ID, inc.ID, h.now(), p.Actor(), "channel",
			web.T(c, "em.ev.channel", domain.PayChannelLabel(ch.Channel, lang), web.T(c, "em.status.down"), backupLabel(c, ch.Backup))); err != nil {
			return err
		}
	}
	h.payChans.Forget(p.Merchant.ID)
	return nil
}

func channelList(chs []string, lang string) string {
	if len(chs) == 0 {
		return "—"
	}
	out := make([]string, len(chs))
	for i, c := range chs {
		out[i] = domain.PayChannelLabel(c, lang)
	}
	return strings.Join(out, ", ")
}

// Drill limits.
const (
	maxDrillCount   = 2000
	maxDrillSeconds = 600
)

// StartDrill opens a rehearsal: an incident marked as a drill whose burst of
// failures the watcher job asks the sandbox for; the job then records when the
// failures arrived, whether the alert fired and who acknowledged it.
func (h *Emergency) StartDrill(c echo.Context) error {
	p := web.MustPrincipal(c)
	code := strings.TrimSpace(c.FormValue("code"))
	count, err1 := strconv.Atoi(c.FormValue("count"))
	secs, err2 := strconv.Atoi(c.FormValue("seconds"))
	ch := c.FormValue("channel")
	if code == "" || len(code) > 16 || !validText(code, 16) || err1 != nil || err2 != nil || count < 1 || count > maxDrillCount ||
		secs < 0 || secs > maxDrillSeconds || (ch != "" && !domain.ValidChannel(ch)) {
		return h.invalid(c, "drill", "em.err.drill")
	}
	lang := string(web.Lang(c))
	inc := domain.Incident{Title: web.T(c, "em.drill_title", code, count, secs), Type: string(domain.IncidentFailureSpike),
		Severity: string(domain.Sev2), Drill: true, DeclaredBy: p.Actor(), DeclaredAt: h.now(),
		BurstCode: code, BurstCount: count, BurstSeconds: secs, BurstState: "requested"}
	if ch != "" {
		inc.Channels = []string{ch}
	}
	steps, _, err := h.runbook(c.Request().Context(), p.Merchant.ID, domain.IncidentFailureSpike, lang)
	if err != nil {
		return err
	}
	saved, err := h.Store.CreateIncident(c.Request().Context(), p.Merchant.ID, inc, steps, web.T(c, "em.ev.drill_started", count, code, secs))
	if err != nil {
		return err
	}
	h.audit(c, "emergency.drill", saved.Title, domain.AuditOK, map[string]any{"id": saved.ID, "code": code, "count": count, "seconds": secs})
	web.AddFlash(c, "ok", web.T(c, "em.drill_started"))
	return web.Redirect(c, "/emergency/incidents/"+strconv.FormatInt(saved.ID, 10))
}

func (h *Emergency) loadIncident(c echo.Context) (domain.Incident, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return domain.Incident{}, web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	inc, err := h.Store.Incident(c.Request().Context(), web.MerchantID(c), id)
	if errors.Is(err, db.ErrNotFound) {
		return inc, web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	return inc, err
}

func (h *Emergency) incidentView(c echo.Context, inc domain.Incident) (views.IncidentView, error) {
	ctx := c.Request().Context()
	mid := web.MerchantID(c)
	v := views.IncidentView{Incident: inc, Errors: map[string]string{}, NoticeChannels: sendChannels}
	var err error
	if v.Steps, err = h.Store.IncidentSteps(ctx, mid, inc.ID); err != nil {
		return v, err
	}
	if v.Events, err = h.Store.IncidentEvents(ctx, mid, inc.ID); err != nil {
		return v, err
	}
	set, err := h.Store.PayChannels(ctx, mid)
	if err != nil {
		return v, err
	}
	for _, ch := range domain.PayChannelsWithDefaults(set) {
		if len(inc.Channels) == 0 || slices.Contains(inc.Channels, ch.Channel) {
			v.Channels = append(v.Channels, ch)
		}
	}
	if v.Contacts, err = h.Store.EmergencyContacts(ctx, mid); err != nil {
		return v, err
	}
	v.AlertsBuilt, err = h.Store.HasAlerts(ctx)
	return v, err
}

func (h *Emergency) renderIncident(c echo.Context, status int, v views.IncidentView) error {
	return web.Render(c, status, views.IncidentPage(web.Shell(c, "emergency", v.Incident.Title), v), nil)
}

// Show is one incident: checklist, timeline, channels, customer notice, close.
func (h *Emergency) Show(c echo.Context) error {
	inc, err := h.loadIncident(c)
	if err != nil {
		return err
	}
	v, err := h.incidentView(c, inc)
	if err != nil {
		return err
	}
	return h.renderIncident(c, http.StatusOK, v)
}

func (h *Emergency) incidentInvalid(c echo.Context, inc domain.Incident, field, key string) error {
	v, err := h.incidentView(c, inc)
	if err != nil {
		return err
	}
	v.Errors[field] = web.T(c, key)
	return h.renderIncident(c, http.StatusUnprocessableEntity, v)
}

func incidentPath(id int64) string { return "/emergency/incidents/" + strconv.FormatInt(id, 10) }

// AddNote adds an action or a note to the timeline.
func (h *Emergency) AddNote(c echo.Context) error {
	inc, err := h.loadIncident(c)
	if err != nil {
		return err
	}
	text := strings.TrimSpace(c.FormValue("text"))
	kind := "note"
	if c.FormValue("kind") == "action" {
		kind = "action"
	}
	if text == "" || !validText(text, 2000) {
		return h.incidentInvalid(c, inc, "note", "em.err.note")
	}
	p := web.MustPrincipal(c)
	if err := h.Store.AddIncidentEvent(c.Request().Context(), p.Merchant.ID, inc.ID, h.now(), p.Actor(), kind, text); err != nil {
		return err
	}
	h.audit(c, "emergency.note", strconv.FormatInt(inc.ID, 10), domain.AuditOK, map[string]any{"kind": kind})
	return web.Redirect(c, incidentPath(inc.ID))
}

// ToggleStep ticks (or unticks) a checklist step of an open incident.
func (h *Emergency) ToggleStep(c echo.Context) error {
	inc, err := h.loadIncident(c)
	if err != nil {
		return err
	}
	pos, err := strconv.Atoi(c.Param("pos"))
	if err != nil {
		return web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	if !inc.Open() {
		return web.Fail(http.StatusConflict, "closed", "em.err.closed")
	}
	p := web.MustPrincipal(c)
	ctx := c.Request().Context()
	st, err := h.Store.ToggleIncidentStep(ctx, p.Merchant.ID, inc.ID, pos, h.now(), p.Actor())
	if errors.Is(err, db.ErrNotFound) {
		return web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	if err != nil {
		return err
	}
	key := "em.ev.step_done"
	if st.DoneAt == nil {
		key = "em.ev.step_undone"
	}
	if err := h.Store.AddIncidentEvent(ctx, p.Merchant.ID, inc.ID, h.now(), p.Actor(), "step", web.T(c, key, st.Position, st.Text)); err != nil {
		return err
	}
	h.audit(c, "emergency.step", strconv.FormatInt(inc.ID, 10), domain.AuditOK, map[string]any{"position": pos, "done": st.DoneAt != nil})
	return web.Redirect(c, incidentPath(inc.ID)+"#checklist")
}

// Notify tells the customers of failed payments on the incident's channels
// (from an hour before it was declared) in bulk through the notification queue;
// the templates offer each troubled channel's backup. The first post shows who
// would be told; the second (confirm=1) queues. A drill never tells anyone: it
// records how many customers would have been told.
func (h *Emergency) Notify(c echo.Context) error {
	inc, err := h.loadIncident(c)
	if err != nil {
		return err
	}
	if !inc.Open() {
		return web.Fail(http.StatusConflict, "closed", "em.err.closed")
	}
	ch, ok := parseChannel(c.FormValue("channel"))
	if !ok || ch == domain.NotifyPhone {
		return h.incidentInvalid(c, inc, "notify", "notice.err.channel")
	}
	p := web.MustPrincipal(c)
	ctx := c.Request().Context()
	cat, ts, err := h.noticeKit(c)
	if err != nil {
		return err
	}
	chans := inc.Channels
	if len(chans) == 0 {
		chans = []string{""}
	}
	var txs []domain.Transaction
	for _, pc := range chans {
		if len(txs) >= maxBulkNotices { // EachTransaction reads a max of 0 as "no limit"
			break
		}
		f := db.TxFilter{Statuses: []string{string(domain.StatusFailed)}, Channel: pc, From: inc.DeclaredAt.Add(-noticeLookback)}
		if err := h.Store.EachTransaction(ctx, p.Merchant.ID, f, maxBulkNotices-len(txs), func(t domain.Transaction) error {
			txs = append(txs, t)
			return nil
		}); err != nil {
			return err
		}
	}
	lang := customerLang(c.FormValue("lang"))
	v, err := h.incidentView(c, inc)
	if err != nil {
		return err
	}
	np := views.IncidentNotice{Channel: ch, Lang: lang, Selected: len(txs)}
	var drafts []db.NewNotification
	customers := map[string]bool{}
	for _, t := range txs {
		d, err := h.render(p.Merchant, cat, ts, t, ch, "", lang, p.Actor())
		if errors.Is(err, errNoContact) {
			np.NoContact++
			continue
		}
		if err != nil {
			return err
		}
		drafts = append(drafts, d.NewNotification)
		customers[t.CustomerRef] = true
		if np.Sample == "" {
			np.Sample = d.Body
		}
	}
	np.Reachable, np.Customers = len(drafts), len(customers)
	if c.FormValue("confirm") != "1" {
		v.Notice = &np
		return h.renderIncident(c, http.StatusOK, v)
	}
	if inc.Drill {
		text := web.T(c, "em.ev.drill_notice", np.Reachable, np.Customers, web.T(c, "notice.channel."+string(ch)))
		if err := h.Store.AddIncidentEvent(ctx, p.Merchant.ID, inc.ID, h.now(), p.Actor(), "notice", text); err != nil {
			return err
		}
		h.audit(c, "emergency.notify", strconv.FormatInt(inc.ID, 10), domain.AuditOK, map[string]any{"drill": true, "would_queue": len(drafts)})
		web.AddFlash(c, "info", text)
		return web.Redirect(c, incidentPath(inc.ID))
	}
	ids, err := h.queue(ctx, p.Merchant.ID, drafts)
	if err != nil {
		return err
	}
	text := web.T(c, "em.ev.notice", len(ids), np.Customers, web.T(c, "notice.channel."+string(ch)), len(drafts)-len(ids), np.NoContact)
	if err := h.Store.AddIncidentEvent(ctx, p.Merchant.ID, inc.ID, h.now(), p.Actor(), "notice", text); err != nil {
		return err
	}
	h.audit(c, "emergency.notify", strconv.FormatInt(inc.ID, 10), domain.AuditOK, map[string]any{"channel": ch,
		"queued": len(ids), "already": len(drafts) - len(ids), "no_contact": np.NoContact})
	web.AddFlash(c, "ok", text)
	return web.Redirect(c, incidentPath(inc.ID))
}

// Close closes the incident with a summary; it stays in the history.
func (h *Emergency) Close(c echo.Context) error {
	inc, err := h.loadIncident(c)
	if err != nil {
		return err
	}
	summary := strings.TrimSpace(c.FormValue("summary"))
	if summary == "" || !validText(summary, 5000) {
		return h.incidentInvalid(c, inc, "close", "em.err.summary")
	}
	p := web.MustPrincipal(c)
	err = h.Store.CloseIncident(c.Request().Context(), p.Merchant.ID, inc.ID, h.now(), p.Actor(), summary)
	if errors.Is(err, db.ErrConflict) {
		return web.Fail(http.StatusConflict, "closed", "em.err.closed")
	}
	if err != nil {
		return err
	}
	h.audit(c, "emergency.close", inc.Title, domain.AuditOK, map[string]any{"id": inc.ID, "drill": inc.Drill})
	web.AddFlash(c, "ok", web.T(c, "em.closed", inc.Title))
	return web.Redirect(c, incidentPath(inc.ID))
}
