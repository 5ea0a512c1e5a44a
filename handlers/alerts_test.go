package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"paymend/db"
	"paymend/domain"
	"paymend/jobs"
)

var paySeq atomic.Int64

// pay stores n payments of merchant code with the given status (and failure code) at
// time at, through the same store call the webhook uses.
func (e *env) payMany(code string, n int, status, failCode string, at time.Time) {
	e.t.Helper()
	for range n {
		i := paySeq.Add(1)
		rec := db.EventRecord{EventID: fmt.Sprintf("evt_al_%d", i), Type: "payment." + status, PlatformID: fmt.Sprintf("TAL%d", i),
			OrderID: fmt.Sprintf("OAL%d", i), Amount: 25000, Currency: "CNY", Channel: "wechat", Bank: "CMB", CardBIN: "622588",
			Payload: []byte(`{}`), OccurredAt: at}
		if status == "failed" {
			rec.Code = failCode
		}
		if _, err := e.store.IngestEvent(context.Background(), e.m[code].ID, rec); err != nil {
			e.t.Fatal(err)
		}
	}
}

// defaultRule returns merchant code's default failure-rate rule (CONTRACT).
func (e *env) defaultRule(code string) domain.AlertRule {
	e.t.Helper()
	rules, err := e.store.AlertRules(context.Background(), e.m[code].ID)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, r := range rules {
		if r.IsDefault && r.Metric == domain.MetricFailureRate {
			return r
		}
	}
	e.t.Fatal("no default failure-rate rule")
	return domain.AlertRule{}
}

// ruleForm is a filled rule form for r (rates in percent, as an admin types them).
func ruleForm(r domain.AlertRule) url.Values {
	th := r.Threshold
	if r.Metric.IsRate() && r.Metric != domain.MetricBaselineRate {
		th *= 100
	}
	f := url.Values{"name": {r.Name}, "metric": {string(r.Metric)}, "scope": {r.Scope}, "scope_value": {r.ScopeValue},
		"window": {fmt.Sprint(r.WindowMinutes)}, "threshold": {fmt.Sprint(th)}, "min_volume": {fmt.Sprint(r.MinVolume)},
		"severity": {r.Severity}, "emails": {strings.Join(r.Emails, ", ")}, "webhook_url": {r.WebhookURL},
		"cooldown": {fmt.Sprint(r.CooldownMinutes)}, "escalate_after": {fmt.Sprint(r.EscalateAfterMinutes)},
		"escalate_emails": {strings.Join(r.EscalateEmails, ", ")}}
	if r.Enabled {
		f.Set("enabled", "1")
	}
	return f
}

func (e *env) ruleAlerts(code string, ruleID int64) []domain.Alert {
	e.t.Helper()
	list, _, err := e.store.Alerts(context.Background(), e.m[code].ID, db.AlertFilter{RuleID: ruleID, Limit: 100})
	if err != nil {
		e.t.Fatal(err)
	}
	return list
}

func (e *env) evaluate() {
	e.t.Helper()
	if err := e.jobs.Alerts.Evaluate(context.Background(), e.clock.Now()); err != nil {
		e.t.Fatal(err)
	}
}

// waitMail waits until the customer-side SMTP server got a message to addr whose
// subject contains want.
func waitMail(t *testing.T, side *httptest.Server, addr, want string) sandboxMessage {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(side.URL + "/_sandbox/messages")
		if err == nil {
			var msgs []sandboxMessage
			json.NewDecoder(resp.Body).Decode(&msgs)
			resp.Body.Close()
			for _, m := range msgs {
				if m.Channel == "email" && m.To == addr && strings.Contains(m.Subject, want) {
					return m
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no e-mail to %s with %q", addr, want)
	return sandboxMessage{}
}

// TestAlertOpensUpdatesAndResolvesWithFakeClock walks one crossing of the default
// rule (failure rate > 15 % over 10 min, ≥ 50 attempts) on a fake clock: it opens
// one alert, updates it while it lasts, stays open during the cool-down and then
// resolves; the contacts get the opening and the recovery by e-mail, and the
// thresholds page change is audited.
func TestAlertOpensUpdatesAndResolvesWithFakeClock(t *testing.T) {
	e := newEnv(t)
	side := e.customerSide("alpha")
	ctx := context.Background()
	admin := e.login("admin@alpha.test")
	rule := e.defaultRule("alpha")
	rule.Emails = []string{"oncall@alpha.test"}
	resp := e.post(admin, fmt.Sprintf("/settings/alerts/%d", rule.ID), ruleForm(rule))
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("update rule: %d", resp.StatusCode)
	}
	if got, _ := e.store.AlertRule(ctx, e.m["alpha"].ID, rule.ID, false); len(got.Emails) != 1 || got.Threshold != 0.15 {
		t.Fatalf("rule after save %+v", got)
	}
	if log, _, _ := e.store.AuditLog(ctx, e.m["alpha"].ID, db.AuditFilter{Action: "alert_rule.update"}); len(log) != 1 {
		t.Fatalf("%d audit entries", len(log))
	}

	t0 := e.clock.Now()
	e.payMany("alpha", 40, "failed", "202", t0)
	e.payMany("alpha", 20, "succeeded", "", t0)
	e.evaluate()
	alerts := e.ruleAlerts("alpha", rule.ID)
	if len(alerts) != 1 || alerts[0].Status != domain.AlertFiring || alerts[0].Volume != 60 ||
		fmt.Sprintf("%.3f", alerts[0].Value) != "0.667" {
		t.Fatalf("after the crossing: %+v", alerts)
	}
	id := alerts[0].ID
	waitMail(t, side, "oncall@alpha.test", "告警")

	// Five minutes on, still over: the same alert, updated.
	e.clock.Advance(5 * time.Minute)
	e.payMany("alpha", 10, "failed", "202", e.clock.Now())
	e.evaluate()
	alerts = e.ruleAlerts("alpha", rule.ID)
	if len(alerts) != 1 || alerts[0].ID != id || alerts[0].Volume != 70 || alerts[0].LastBreachAt.Sub(e.clock.Now()).Abs() > time.Millisecond {
		t.Fatalf("while it lasts: %+v", alerts)
	}
	// The first burst leaves the window; the rate is back under but the cool-down
	// (10 min since the last breach) has not passed: still firing.
	e.clock.Advance(5*time.Minute + 30*time.Second)
	e.payMany("alpha", 60, "succeeded", "", e.clock.Now())
	e.evaluate()
	if a, _ := e.store.Alert(ctx, e.m["alpha"].ID, id); a.Status != domain.AlertFiring || a.Value > 0.15 {
		t.Fatalf("in the cool-down: %s %.3f", a.Status, a.Value)
	}
	e.clock.Advance(5 * time.Minute)
	e.evaluate()
	a, _ := e.store.Alert(ctx, e.m["alpha"].ID, id)
	if a.Status != domain.AlertResolved || a.ResolvedAt == nil || a.ResolvedBy != nil || a.PeakValue < 0.66 {
		t.Fatalf("after the cool-down: %+v", a)
	}
	waitMail(t, side, "oncall@alpha.test", "已恢复")
	// Evaluating again opens nothing new.
	e.evaluate()
	if n := len(e.ruleAlerts("alpha", rule.ID)); n != 1 {
		t.Fatalf("%d alerts", n)
	}
	// The page shows the value timeline, and who was told.
	c := e.login("viewer@alpha.test")
	d := doc(t, e.get(c, fmt.Sprintf("/alerts/%d", id)))
	if d.Find(tid("alert-status")).Text() != "已恢复" || d.Find(tid("alert-chart")+" circle").Length() < 3 ||
		!strings.Contains(d.Find(tid("alert-timeline")).Text(), "oncall@alpha.test") {
		t.Fatalf("alert page: %q / %d points / %q", d.Find(tid("alert-status")).Text(),
			d.Find(tid("alert-chart")+" circle").Length(), d.Find(tid("alert-timeline")).Text())
	}
	href, _ := d.Find(tid("alert-transactions")).Attr("href")
	list := doc(t, e.get(c, href))
	if n := list.Find(`[data-testid="tx-row"]`).Length(); n != 50 {
		t.Fatalf("affected payments link %s shows %d rows", href, n)
	}
	if n := doc(t, e.get(c, "/alerts?status=resolved")).Find(tid("alert-row")).Length(); n != 1 {
		t.Fatalf("resolved list shows %d", n)
	}
}

// TestAlertMinimumVolumeGuard: 10 failures out of 10 is 100 % but below the 50
// attempts the default rule needs; with enough volume the same rate fires.
func TestAlertMinimumVolumeGuard(t *testing.T) {
	e := newEnv(t)
	rule := e.defaultRule("alpha")
	now := e.clock.Now()
	e.payMany("alpha", 10, "failed", "101", now)
	e.evaluate()
	if n := len(e.ruleAlerts("alpha", rule.ID)); n != 0 {
		t.Fatalf("%d alerts on 10 attempts", n)
	}
	got, _ := e.store.AlertRule(context.Background(), e.m["alpha"].ID, rule.ID, false)
	if got.LastValue == nil || *got.LastValue != 1 || got.LastVolume == nil || *got.LastVolume != 10 {
		t.Fatalf("rule last value %v volume %v", got.LastValue, got.LastVolume)
	}
	e.payMany("alpha", 45, "succeeded", "", now)
	e.evaluate()
	if a := e.ruleAlerts("alpha", rule.ID); len(a) != 1 || a[0].Volume != 55 {
		t.Fatalf("with 55 attempts: %+v", a)
	}
	// Beta saw none of it.
	if n := len(e.ruleAlerts("beta", e.defaultRule("beta").ID)); n != 0 {
		t.Fatalf("beta has %d alerts", n)
	}
}

// TestNoDuplicateAlertsUnderConcurrentEvaluators runs eight evaluators at once over
// one crossing: exactly one alert, one "opened" entry and one notification job.
func TestNoDuplicateAlertsUnderConcurrentEvaluators(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rule := e.defaultRule("alpha")
	now := e.clock.Now()
	e.payMany("alpha", 60, "failed", "202", now)
	if _, err := e.store.ApplyRollupDeltas(ctx, now); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	start := make(chan struct{})
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			var err error
			if i%2 == 0 {
				err = e.jobs.Alerts.Evaluate(ctx, now)
			} else {
				err = e.jobs.Alerts.EvaluateRule(ctx, e.m["alpha"].ID, rule.ID, now)
			}
			if err != nil {
				errs <- err
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	alerts := e.ruleAlerts("alpha", rule.ID)
	if len(alerts) != 1 {
		t.Fatalf("%d alerts", len(alerts))
	}
	var opened, jobs int
	e.store.DB().Get(&opened, `SELECT count(*) FROM alert_events WHERE alert_id = $1 AND kind = 'opened'`, alerts[0].ID)
	e.store.DB().Get(&jobs, `SELECT count(*) FROM river_job WHERE kind = 'alert_notify' AND args->>'event' = 'opened'`)
	if opened != 1 || jobs != 1 {
		t.Fatalf("%d opened entries, %d notification jobs", opened, jobs)
	}
	// The database refuses a second open alert for the rule whoever writes it.
	if _, err := e.store.OpenAlert(ctx, e.m["alpha"].ID, rule, domain.Measurement{Value: 1, Volume: 60}, "dup", now); err == nil {
		t.Fatal("second open alert accepted")
	}
}

// TestAlertEscalatesWhenUnacknowledged: a rule escalating after 5 minutes tells the
// escalation contact once; an acknowledged alert does not escalate.
func TestAlertEscalatesWhenUnacknowledged(t *testing.T) {
	e := newEnv(t)
	side := e.customerSide("alpha")
	ctx := context.Background()
	mid := e.m["alpha"].ID
	rule, err := e.store.CreateAlertRule(ctx, mid, domain.AlertRule{Name: "202 激增", Enabled: true, Metric: domain.MetricCodeCount,
		Scope: domain.ScopeCode, ScopeValue: "202", WindowMinutes: 5, Threshold: 20, MinVolume: 0, Severity: "critical",
		Emails: []string{"ops@alpha.test"}, EscalateEmails: []string{"boss@alpha.test"}, CooldownMinutes: 5, EscalateAfterMinutes: 5})
	if err != nil {
		t.Fatal(err)
	}
	e.payMany("alpha", 25, "failed", "202", e.clock.Now())
	e.evaluate()
	alerts := e.ruleAlerts("alpha", rule.ID)
	if len(alerts) != 1 || alerts[0].Value != 25 {
		t.Fatalf("%+v", alerts)
	}
	for range 2 { // six minutes of continuing failures, evaluated every three
		e.clock.Advance(3 * time.Minute)
		e.payMany("alpha", 25, "failed", "202", e.clock.Now())
		e.evaluate()
	}
	a, _ := e.store.Alert(ctx, mid, alerts[0].ID)
	if a.EscalatedAt == nil || a.Status != domain.AlertFiring {
		t.Fatalf("not escalated: %+v", a)
	}
	m := waitMail(t, side, "boss@alpha.test", "告警升级")
	if !strings.Contains(m.Text, "202 激增") {
		t.Fatalf("escalation mail %q", m.Text)
	}
	e.clock.Advance(3 * time.Minute)
	e.payMany("alpha", 25, "failed", "202", e.clock.Now())
	e.evaluate()
	var escalations int
	e.store.DB().Get(&escalations, `SELECT count(*) FROM alert_events WHERE alert_id = $1 AND kind = 'escalated'`, a.ID)
	if escalations != 1 {
		t.Fatalf("%d escalations", escalations)
	}

	// A second rule's alert, acknowledged in time, never escalates.
	other, _ := e.store.CreateAlertRule(ctx, mid, domain.AlertRule{Name: "失败笔数", Enabled: true, Metric: domain.MetricFailureCount,
		Scope: domain.ScopeAll, WindowMinutes: 5, Threshold: 10, Severity: "warning", Emails: []string{},
		EscalateEmails: []string{}, CooldownMinutes: 5, EscalateAfterMinutes: 5})
	e.evaluate()
	oa := e.ruleAlerts("alpha", other.ID)
	if len(oa) != 1 {
		t.Fatalf("%+v", oa)
	}
	op := e.login("operator@alpha.test")
	resp := e.post(op, fmt.Sprintf("/alerts/%d/ack", oa[0].ID), nil)
	resp.Body.Close()
	for range 3 {
		e.clock.Advance(3 * time.Minute)
		e.payMany("alpha", 25, "failed", "202", e.clock.Now())
		e.evaluate()
	}
	got, _ := e.store.Alert(ctx, mid, oa[0].ID)
	if got.Status != domain.AlertAcknowledged || got.EscalatedAt != nil || got.AckByEmail != "operator@alpha.test" {
		t.Fatalf("acknowledged alert: %+v", got)
	}
}

// TestBaselineCheckFlagsRateFarAboveUsualHour: the same hour of the four previous
// weeks failed 5 %; now 40 % fails, which the default baseline rule flags, while
// the same 40 % in a week that usually fails 35 % is not flagged.
func TestBaselineCheckFlagsRateFarAboveUsualHour(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := e.clock.Now()
	var baseline domain.AlertRule
	rules, _ := e.store.AlertRules(ctx, e.m["alpha"].ID)
	for _, r := range rules {
		if r.Metric == domain.MetricBaselineRate {
			baseline = r
		} else if err := e.store.UpdateAlertRule(ctx, e.m["alpha"].ID, func() domain.AlertRule { r.Enabled = false; return r }(), now); err != nil {
			t.Fatal(err)
		}
	}
	for w := 1; w <= 4; w++ {
		at := now.Add(-time.Duration(w)*7*24*time.Hour - 20*time.Minute)
		e.payMany("alpha", 5, "failed", "101", at)
		e.payMany("alpha", 95, "succeeded", "", at)
	}
	e.payMany("alpha", 48, "failed", "301", now.Add(-10*time.Minute))
	e.payMany("alpha", 72, "succeeded", "", now.Add(-10*time.Minute))
	e.evaluate()
	a := e.ruleAlerts("alpha", baseline.ID)
	if len(a) != 1 || a[0].Baseline == nil || fmt.Sprintf("%.2f", *a[0].Baseline) != "0.05" || fmt.Sprintf("%.2f", a[0].Value) != "0.40" {
		t.Fatalf("baseline alert %+v", a)
	}
	// Beta usually fails 35 %: 40 % is normal for it.
	for w := 1; w <= 4; w++ {
		at := now.Add(-time.Duration(w)*7*24*time.Hour - 20*time.Minute)
		e.payMany("beta", 35, "failed", "101", at)
		e.payMany("beta", 65, "succeeded", "", at)
	}
	e.payMany("beta", 48, "failed", "301", now.Add(-10*time.Minute))
	e.payMany("beta", 72, "succeeded", "", now.Add(-10*time.Minute))
	e.evaluate()
	for _, r := range func() []domain.AlertRule { rs, _ := e.store.AlertRules(ctx, e.m["beta"].ID); return rs }() {
		if r.Metric == domain.MetricBaselineRate {
			if n := len(e.ruleAlerts("beta", r.ID)); n != 0 {
				t.Fatalf("beta baseline alerts: %d", n)
			}
		}
	}
}

// TestAlertPagesRolesAndAudit: viewers read, operators acknowledge, note and
// resolve (audited), only admins manage thresholds, bad rules come back with
// their problems.
func TestAlertPagesRolesAndAudit(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	mid := e.m["alpha"].ID
	e.payMany("alpha", 60, "failed", "202", e.clock.Now())
	e.evaluate()
	a := e.ruleAlerts("alpha", e.defaultRule("alpha").ID)[0]
	path := fmt.Sprintf("/alerts/%d", a.ID)
	viewer, op, admin := e.login("viewer@alpha.test"), e.login("operator@alpha.test"), e.login("admin@alpha.test")
	if d := doc(t, e.get(viewer, "/alerts")); d.Find(tid("alert-row")).Length() != 1 || d.Find(tid("rules-link")).Length() != 0 {
		t.Fatal("viewer's alert list")
	}
	for _, p := range []string{path + "/ack", path + "/notes", path + "/resolve"} {
		if resp := e.post(viewer, p, url.Values{"note": {"x"}}); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("viewer POST %s: %d", p, resp.StatusCode)
		}
	}
	if resp := e.get(op, "/settings/alerts"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("operator thresholds: %d", resp.StatusCode)
	}
	e.post(op, path+"/ack", nil).Body.Close()
	e.post(op, path+"/notes", url.Values{"note": {"渠道方已确认故障,正在处理"}}).Body.Close()
	d := doc(t, e.get(viewer, path))
	if !strings.Contains(d.Find(tid("alert-ack")).Text(), "operator@alpha.test") || !strings.Contains(d.Find(tid("alert-timeline")).Text(), "渠道方已确认故障") {
		t.Fatalf("ack %q timeline %q", d.Find(tid("alert-ack")).Text(), d.Find(tid("alert-timeline")).Text())
	}
	e.post(op, path+"/resolve", nil).Body.Close()
	if got, _ := e.store.Alert(ctx, mid, a.ID); got.Status != domain.AlertResolved || got.ResolvedBy == nil {
		t.Fatalf("resolved %+v", got)
	}
	for _, action := range []string{"alert.acknowledge", "alert.note", "alert.resolve"} {
		if log, _, _ := e.store.AuditLog(ctx, mid, db.AuditFilter{Action: action}); len(log) != 1 {
			t.Fatalf("%s: %d audit entries", action, len(log))
		}
	}
	// Thresholds: a bad rule is refused with its problems; a good one is created,
	// switched off and deleted, each audited.
	bad := ruleForm(domain.AlertRule{Name: "", Metric: domain.MetricCodeShare, Scope: domain.ScopeAll, WindowMinutes: 0,
		Threshold: 2, Severity: "loud", Emails: []string{"not-an-address"}})
	resp := e.post(admin, "/settings/alerts", bad)
	d = doc(t, resp)
	if resp.StatusCode != http.StatusUnprocessableEntity || d.Find(tid("rule-errors")+" div").Length() < 5 {
		t.Fatalf("bad rule: %d %q", resp.StatusCode, d.Find(tid("rule-errors")).Text())
	}
	good := ruleForm(domain.AlertRule{Name: "微信渠道失败率", Enabled: true, Metric: domain.MetricFailureRate, Scope: domain.ScopeChannel,
		ScopeValue: "wechat", WindowMinutes: 5, Threshold: 0.3, MinVolume: 20, Severity: "critical", Emails: []string{"a@alpha.test", "b@alpha.test"},
		WebhookURL: "https://hooks.alpha.test/x", CooldownMinutes: 5, EscalateAfterMinutes: 15})
	if resp := e.post(admin, "/settings/alerts", good); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	rules, _ := e.store.AlertRules(ctx, mid)
	created := rules[len(rules)-1]
	if created.Name != "微信渠道失败率" || created.Threshold != 0.3 || created.ScopeValue != "wechat" || len(created.Emails) != 2 {
		t.Fatalf("created %+v", created)
	}
	if d := doc(t, e.get(admin, "/settings/alerts")); d.Find(tid("rule-row")).Length() != 3 {
		t.Fatal("rules page")
	}
	e.post(admin, fmt.Sprintf("/settings/alerts/%d/toggle", created.ID), nil).Body.Close()
	e.post(admin, fmt.Sprintf("/settings/alerts/%d/delete", created.ID), nil).Body.Close()
	if _, err := e.store.AlertRule(ctx, mid, created.ID, false); err == nil {
		t.Fatal("rule not deleted")
	}
	for _, action := range []string{"alert_rule.create", "alert_rule.toggle", "alert_rule.delete"} {
		if log, _, _ := e.store.AuditLog(ctx, mid, db.AuditFilter{Action: action}); len(log) != 1 {
			t.Fatalf("%s: %d audit entries", action, len(log))
		}
	}
}

// TestAlertsAPI: GET /api/v1/alerts?status= as CONTRACT.md says.
func TestAlertsAPI(t *testing.T) {
	e := newEnv(t)
	e.payMany("alpha", 60, "failed", "202", e.clock.Now())
	e.evaluate()
	key := handlersNewKey(t, e, "alpha")
	get := func(q string) (int, map[string]any) {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/api/v1/alerts"+q, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	st, out := get("?status=firing")
	data, _ := out["data"].([]any)
	if st != 200 || len(data) != 1 {
		t.Fatalf("firing: %d %v", st, out)
	}
	a := data[0].(map[string]any)
	if a["status"] != "firing" || a["metric"] != "failure_rate" || a["threshold"] != 0.15 || a["volume"] != float64(60) ||
		!strings.Contains(a["summary"].(string), "100.0%") {
		t.Fatalf("alert json %v", a)
	}
	if _, out := get("?status=resolved"); len(out["data"].([]any)) != 0 {
		t.Fatalf("resolved: %v", out)
	}
	if st, out := get("?status=loud"); st != 400 || out["error"].(map[string]any)["code"] != "invalid_status" {
		t.Fatalf("bad status: %d %v", st, out)
	}
	// Beta's key sees none of alpha's alerts.
	bkey := handlersNewKey(t, e, "beta")
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+"/api/v1/alerts", nil)
	req.Header.Set("Authorization", "Bearer "+bkey)
	resp, _ := http.DefaultClient.Do(req)
	var bo map[string]any
	json.NewDecoder(resp.Body).Decode(&bo)
	resp.Body.Close()
	if len(bo["data"].([]any)) != 0 {
		t.Fatalf("beta sees %v", bo)
	}
}

func jobsAlertEval() jobs.AlertEvalArgs { return jobs.AlertEvalArgs{} }

// TestAlertWebhookIsSigned: a rule's webhook gets the alert as JSON, signed with the
// merchant's webhook secret, once for the opening (a retry after success sends
// nothing twice).
func TestAlertWebhookIsSigned(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	type hit struct {
		sig  string
		body []byte
	}
	hits := make(chan hit, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hits <- hit{r.Header.Get("PayMend-Signature"), b}
	}))
	defer hook.Close()
	rule := e.defaultRule("alpha")
	rule.WebhookURL = hook.URL + "/alerts"
	if err := e.store.UpdateAlertRule(ctx, e.m["alpha"].ID, rule, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.payMany("alpha", 60, "failed", "202", e.clock.Now())
	e.evaluate()
	select {
	case h := <-hits:
		if err := domain.VerifyWebhook(h.sig, h.body, [][]byte{[]byte(e.secret["alpha"])}, time.Now()); err != nil {
			t.Fatalf("signature: %v", err)
		}
		var got map[string]any
		json.Unmarshal(h.body, &got)
		a, _ := got["alert"].(map[string]any)
		if got["type"] != "alert.opened" || a["merchant"] != "alpha" || a["metric"] != "failure_rate" || a["value"] != float64(1) {
			t.Fatalf("webhook body %s", h.body)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no webhook")
	}
	alerts := e.ruleAlerts("alpha", rule.ID)
	deadline := time.Now().Add(10 * time.Second)
	for {
		done, _ := e.store.AlertNotified(ctx, e.m["alpha"].ID, alerts[0].ID, "opened")
		if done["webhook"] {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("webhook delivery not recorded")
		}
		time.Sleep(50 * time.Millisecond)
	}
	select {
	case h := <-hits:
		t.Fatalf("second webhook %s", h.body)
	case <-time.After(300 * time.Millisecond):
	}
}
