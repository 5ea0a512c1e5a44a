package views

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"paymend/domain"
)

// AlertsView is the alert list's view model.
type AlertsView struct {
	Status  string // open, firing, acknowledged, resolved, all
	Alerts  []domain.Alert
	Next    string
	Counts  map[string]int64
	IsAdmin bool
}

// AlertTabs are the list's status tabs.
var AlertTabs = []string{"open", "firing", "acknowledged", "resolved", "all"}

func (v AlertsView) count(tab string) int64 {
	switch tab {
	case "open":
		return v.Counts[domain.AlertFiring] + v.Counts[domain.AlertAcknowledged]
	case "all":
		return v.Counts[domain.AlertFiring] + v.Counts[domain.AlertAcknowledged] + v.Counts[domain.AlertResolved]
	}
	return v.Counts[tab]
}

// AlertView is one alert's page.
type AlertView struct {
	Alert  domain.Alert
	Events []domain.AlertEvent
	CanAct bool
	TxHref string
	Loc    *time.Location
}

// valueChart draws the alert's measurements over time with the threshold.
func (v AlertView) valueChart(ctx context.Context) LineChart {
	a := v.Alert
	c := LineChart{ID: "alert-chart", Percent: a.Metric.IsRate(), Title: t(ctx, "alert.chart"),
		Desc: t(ctx, "alert.chart_desc", domain.FormatMetricValue(a.Metric, a.PeakValue), domain.FormatThreshold(a.Metric, a.Threshold))}
	if a.Metric != domain.MetricBaselineRate {
		c.Threshold = a.Threshold
	}
	for _, e := range v.Events {
		if (e.Kind == "value" || e.Kind == "opened" || e.Kind == "resolved") && e.Value != nil {
			label := e.At.In(v.Loc).Format("15:04:05")
			vol := int64(0)
			if e.Volume != nil {
				vol = *e.Volume
			}
			c.Cur = append(c.Cur, LinePoint{Label: label, Value: *e.Value, Has: true,
				Title: t(ctx, "alert.point", label, domain.FormatMetricValue(a.Metric, *e.Value), vol)})
		}
	}
	return c
}

// eventText describes a timeline entry.
func (v AlertView) eventText(ctx context.Context, e domain.AlertEvent) string {
	var d map[string]any
	_ = json.Unmarshal(e.Details, &d)
	str := func(k string) string { s, _ := d[k].(string); return s }
	val := ""
	if e.Value != nil {
		val = domain.FormatMetricValue(v.Alert.Metric, *e.Value)
	}
	switch e.Kind {
	case "opened", "value":
		return t(ctx, "alert.ev."+e.Kind, val, ptrInt(e.Volume))
	case "resolved":
		return t(ctx, "alert.ev.resolved."+orStr(str("reason"), "cooldown"))
	case "notified", "notify_failed":
		to := str("to")
		if to == "webhook" {
			to = t(ctx, "alert.webhook")
		}
		return t(ctx, "alert.ev."+e.Kind, t(ctx, "alert.event."+str("event")), to, str("reason"))
	case "escalated", "acknowledged":
		return t(ctx, "alert.ev."+e.Kind)
	case "note":
		return e.Note
	}
	return e.Kind
}

func ptrInt(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func orStr(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// scopeText names a rule's or alert's scope.
func scopeText(ctx context.Context, scope, val string) string {
	switch scope {
	case domain.ScopeChannel:
		return t(ctx, "rules.scope.channel") + " " + channelLabel(ctx, val)
	case domain.ScopeBank:
		return t(ctx, "rules.scope.bank") + " " + bankLabel(ctx, val)
	case domain.ScopeCode:
		return t(ctx, "rules.scope.code") + " " + val
	}
	return t(ctx, "rules.scope.all")
}

// ruleText is a rule in one line: "failure rate > 15.0% over 10 min, at least 50 payments".
func ruleText(ctx context.Context, m domain.AlertMetric, threshold float64, window int, minVolume int64) string {
	return t(ctx, "rules.sentence", t(ctx, "rules.metric."+string(m)), domain.FormatThreshold(m, threshold), window, minVolume)
}

// RulesView is the thresholds page.
type RulesView struct{ Rules []domain.AlertRule }

// RuleForm is the rule form's values (as typed) and problems.
type RuleForm struct {
	ID                                           int64
	Name                                         string
	Enabled                                      bool
	Metric, Scope, ScopeValue, Window, Threshold string
	MinVolume, Severity, Emails, WebhookURL      string
	Cooldown, EscalateAfter, EscalateEmails      string
	Errors                                       []string
}

// RuleFormOf fills the form from a rule (rates in percent).
func RuleFormOf(r domain.AlertRule) RuleForm {
	th := r.Threshold
	if r.Metric.IsRate() && r.Metric != domain.MetricBaselineRate {
		th *= 100
	}
	return RuleForm{ID: r.ID, Name: r.Name, Enabled: r.Enabled, Metric: string(r.Metric), Scope: r.Scope, ScopeValue: r.ScopeValue,
		Window: strconv.Itoa(r.WindowMinutes), Threshold: strconv.FormatFloat(th, 'f', -1, 64), MinVolume: strconv.FormatInt(r.MinVolume, 10),
		Severity: r.Severity, Emails: strings.Join(r.Emails, ", "), WebhookURL: r.WebhookURL,
		Cooldown: strconv.Itoa(r.CooldownMinutes), EscalateAfter: strconv.Itoa(r.EscalateAfterMinutes),
		EscalateEmails: strings.Join(r.EscalateEmails, ", ")}
}

func (f RuleForm) action() string {
	if f.ID == 0 {
		return "/settings/alerts"
	}
	return fmt.Sprintf("/settings/alerts/%d", f.ID)
}

func (f RuleForm) has(key string) bool {
	for _, e := range f.Errors {
		if e == key {
			return true
		}
	}
	return false
}
