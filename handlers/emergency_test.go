package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"paymend/db"
	"paymend/domain"
)

// incidentID reads the incident id from a redirect to its page.
func incidentID(t *testing.T, resp *http.Response) int64 {
	t.Helper()
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	var id int64
	if _, err := fmt.Sscanf(loc, "/emergency/incidents/%d", &id); err != nil {
		t.Fatalf("redirect %d to %q", resp.StatusCode, loc)
	}
	return id
}

func TestIncidentLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	alpha := e.m["alpha"].ID
	// Failures on WeChat (an hour before the incident) and on card.
	e.ingest("alpha", 12, func(i int, r *db.EventRecord) {
		r.OccurredAt = e.clock.Now().Add(-30 * time.Minute)
		if i%2 == 0 {
			r.Channel = "wechat"
		}
	})
	op := e.login("operator@alpha.test")
	// WeChat's backup is Alipay.
	if resp := e.post(op, "/emergency/channels", url.Values{"channel": {"wechat"}, "status": {"active"}, "backup": {"alipay"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("set backup: %d", resp.StatusCode)
	}
	id := incidentID(t, e.post(op, "/emergency/incidents", url.Values{"title": {"微信支付大面积失败"}, "type": {"channel_outage"},
		"severity": {"sev1"}, "channels": {"wechat"}, "mark_down": {"1"}, "note": {"客服反馈大量用户无法支付"}}))
	inc, err := e.store.Incident(ctx, alpha, id)
	if err != nil || inc.Severity != "sev1" || fmt.Sprint(inc.Channels) != "[wechat]" || !inc.Open() || inc.StepsTotal != len(domain.DefaultRunbook(domain.IncidentChannelOutage, "zh-CN")) {
		t.Fatalf("declared %+v %v", inc, err)
	}
	chans, _ := e.store.PayChannels(ctx, alpha)
	if len(chans) != 1 || chans[0].Status != domain.ChannelDown || chans[0].Backup != "alipay" {
		t.Fatalf("wechat not marked down: %+v", chans)
	}
	path := fmt.Sprintf("/emergency/incidents/%d", id)
	// Tick the second step, untick it, tick it again; add an action.
	for range 3 {
		if resp := e.post(op, path+"/steps/2", nil); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("tick: %d", resp.StatusCode)
		}
	}
	if resp := e.post(op, path+"/notes", url.Values{"kind": {"action"}, "text": {"已联系欧乐支付,预计 30 分钟恢复"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("note: %d", resp.StatusCode)
	}
	// The bulk notice: first who would be told, then queued; the text offers Alipay.
	d := doc(t, e.post(op, path+"/notify", url.Values{"channel": {"sms"}}))
	if reach := d.Find(tid("notice-reach")).Text(); !strings.Contains(reach, "共 6 笔失败交易,其中 6 笔可以通过该渠道通知") {
		t.Fatalf("reach: %q", reach)
	}
	if s := d.Find(tid("notice-sample")).Text(); !strings.Contains(s, "微信支付目前暂时无法使用,请改用支付宝完成支付") {
		t.Fatalf("sample does not offer the backup: %q", s)
	}
	var n int
	_ = e.store.DB().QueryRow(`SELECT count(*) FROM notifications WHERE merchant_id = $1`, alpha).Scan(&n)
	if n != 0 {
		t.Fatalf("preview queued %d", n)
	}
	if resp := e.post(op, path+"/notify", url.Values{"channel": {"sms"}, "confirm": {"1"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("notify: %d", resp.StatusCode)
	}
	var bodies []string
	rows, _ := e.store.DB().Query(`SELECT n.body FROM notifications n JOIN transactions t ON t.id = n.transaction_id
		WHERE n.merchant_id = $1 AND t.channel = 'wechat'`, alpha)
	for rows.Next() {
		var b string
		_ = rows.Scan(&b)
		bodies = append(bodies, b)
	}
	rows.Close()
	if len(bodies) != 6 || !strings.Contains(bodies[0], "请改用支付宝完成支付") {
		t.Fatalf("queued %d notices: %v", len(bodies), bodies)
	}
	// Closing needs a summary; afterwards nothing changes it.
	if resp := e.post(op, path+"/close", url.Values{"summary": {""}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("close without summary: %d", resp.StatusCode)
	}
	if resp := e.post(op, path+"/close", url.Values{"summary": {"微信通道 40 分钟后恢复;已通知 6 位客户改用支付宝。"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("close: %d", resp.StatusCode)
	}
	if resp := e.post(op, path+"/close", url.Values{"summary": {"again"}}); resp.StatusCode != http.StatusConflict {
		t.Fatalf("close twice: %d", resp.StatusCode)
	}
	if resp := e.post(op, path+"/steps/1", nil); resp.StatusCode != http.StatusConflict {
		t.Fatalf("tick after close: %d", resp.StatusCode)
	}
	inc, _ = e.store.Incident(ctx, alpha, id)
	if inc.Open() || inc.StepsDone != 1 || !strings.Contains(inc.Summary, "40 分钟") {
		t.Fatalf("closed %+v", inc)
	}
	// The page shows the whole story; the overview keeps it in the history.
	d = doc(t, e.get(op, path))
	var kinds []string
	for _, n := range d.Find(tid("event")).Nodes {
		for _, a := range n.Attr {
			if a.Key == "data-kind" {
				kinds = append(kinds, a.Val)
			}
		}
	}
	if got := strings.Join(kinds, ","); got != "declared,channel,step,step,step,action,notice,closed" {
		t.Fatalf("timeline %s", got)
	}
	if h := doc(t, e.get(op, "/emergency")).Find(tid("history") + " " + tid("incident-row")).Length(); h != 1 {
		t.Fatalf("history rows %d", h)
	}
	var actions string
	_ = e.store.DB().QueryRow(`SELECT string_agg(DISTINCT action, ',') FROM audit_log WHERE merchant_id = $1 AND action LIKE 'emergency.%'`, alpha).Scan(&actions)
	if actions != "emergency.channel,emergency.close,emergency.declare,emergency.note,emergency.notify,emergency.step" {
		t.Fatalf("audit %s", actions)
	}
}

func TestEmergencyRolesAndValidation(t *testing.T) {
	e := newEnv(t)
	if resp := e.get(e.login("viewer@alpha.test"), "/emergency"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer: %d", resp.StatusCode)
	}
	op := e.login("operator@alpha.test")
	for path, form := range map[string]url.Values{
		"/emergency/contacts":              {"role": {"x"}, "name": {"y"}, "phone": {"1"}},
		"/emergency/drills":                {"code": {"202"}, "count": {"5"}, "seconds": {"0"}},
		"/emergency/runbooks/fraud_attack": {"steps": {"a"}},
	} {
		if resp := e.post(op, path, form); resp.StatusCode != http.StatusForbidden {
			t.Errorf("operator POST %s: %d", path, resp.StatusCode)
		}
	}
	admin := e.login("admin@alpha.test")
	for _, c := range []struct {
		path string
		form url.Values
		want int
	}{
		{"/emergency/channels", url.Values{"channel": {"wechat"}, "status": {"broken"}}, 422},
		{"/emergency/channels", url.Values{"channel": {"wechat"}, "status": {"down"}, "backup": {"wechat"}}, 422},
		{"/emergency/incidents", url.Values{"title": {""}, "type": {"channel_outage"}, "severity": {"sev1"}}, 422},
		{"/emergency/incidents", url.Values{"title": {"x"}, "type": {"meteor"}, "severity": {"sev1"}}, 422},
		{"/emergency/incidents", url.Values{"title": {"x"}, "type": {"failure_spike"}, "severity": {"sev1"}, "alert_id": {"999"}}, 422},
		{"/emergency/drills", url.Values{"code": {"202"}, "count": {"0"}, "seconds": {"0"}}, 422},
		{"/emergency/contacts", url.Values{"role": {"x"}, "name": {"y"}}, 422},
		{"/emergency/runbooks/meteor", url.Values{"steps": {"a"}}, 404},
		{"/emergency/contacts", url.Values{"role": {"平台热线"}, "name": {"欧乐支付"}, "phone": {"400-000-0000"}}, 303},
		{"/emergency/runbooks/fraud_attack", url.Values{"steps": {"确认攻击\n\n收紧频率规则\n"}}, 303},
	} {
		resp := e.post(admin, c.path, c.form)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("POST %s %v: %d, want %d", c.path, c.form, resp.StatusCode, c.want)
		}
	}
	rbs, _ := e.store.Runbooks(context.Background(), e.m["alpha"].ID)
	if fmt.Sprint(rbs[domain.IncidentFraudAttack]) != "[确认攻击 收紧频率规则]" {
		t.Fatalf("runbook %v", rbs)
	}
	// A declared fraud incident copies the edited runbook.
	id := incidentID(t, e.post(admin, "/emergency/incidents", url.Values{"title": {"盗卡测试"}, "type": {"fraud_attack"}, "severity": {"sev2"}}))
	steps, _ := e.store.IncidentSteps(context.Background(), e.m["alpha"].ID, id)
	if len(steps) != 2 || steps[1].Text != "收紧频率规则" {
		t.Fatalf("steps %+v", steps)
	}
	if cs := doc(t, e.get(op, "/emergency")).Find(tid("contact-row")).Text(); !strings.Contains(cs, "400-000-0000") {
		t.Fatalf("contacts %q", cs)
	}
}

func TestChannelOutageIsToldInNotices(t *testing.T) {
	e := newEnv(t)
	e.ingest("alpha", 1, func(i int, r *db.EventRecord) { r.Channel, r.EmailMasked = "card", "l***@example.com" })
	tx, _ := e.store.TransactionByPlatformID(context.Background(), e.m["alpha"].ID, "TALPHA0000")
	op := e.login("operator@alpha.test")
	preview := func() string {
		return doc(t, e.get(op, fmt.Sprintf("/transactions/%d/notify/preview?channel=sms", tx.ID))).Find(tid("notice-body")).Text()
	}
	if b := preview(); strings.Contains(b, "暂时") {
		t.Fatalf("all well, yet: %q", b)
	}
	e.post(op, "/emergency/channels", url.Values{"channel": {"card"}, "status": {"degraded"}, "backup": {"wechat"}}).Body.Close()
	if b := preview(); !strings.Contains(b, "银行卡目前不太稳定,请改用微信支付完成支付。") {
		t.Fatalf("degraded card: %q", b)
	}
	e.post(op, "/emergency/channels", url.Values{"channel": {"card"}, "status": {"down"}, "backup": {""}}).Body.Close()
	if b := doc(t, e.get(op, fmt.Sprintf("/transactions/%d/notify/preview?channel=email&lang=en", tx.ID))).Find(tid("notice-body")).Text(); !strings.Contains(b, "Card is unavailable right now; please try again a little later.") {
		t.Fatalf("down card, en e-mail: %q", b)
	}
}

func TestDrillSendsBurstAndRecordsSteps(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	alpha := e.m["alpha"].ID
	admin := e.login("admin@alpha.test")
	// The alert the drill should set off: three failures in ten minutes.
	rule, err := e.store.CreateAlertRule(ctx, alpha, domain.AlertRule{Name: "drill watch", Enabled: true, Metric: domain.MetricFailureCount,
		Scope: domain.ScopeAll, WindowMinutes: 10, Threshold: 3, Severity: "critical", CooldownMinutes: 10})
	if err != nil {
		t.Fatal(err)
	}
	id := incidentID(t, e.post(admin, "/emergency/drills", url.Values{"code": {"202"}, "count": {"5"}, "seconds": {"0"}, "channel": {"card"}}))
	deadline := time.Now().Add(20 * time.Second)
	var inc domain.Incident
	for time.Now().Before(deadline) {
		inc, _ = e.store.Incident(ctx, alpha, id)
		if inc.BurstState == "sent" && inc.FirstFailureAt != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !inc.Drill || inc.BurstState != "sent" || inc.BurstSentAt == nil || inc.FirstFailureAt == nil {
		t.Fatalf("drill did not run: %+v", inc)
	}
	// The sandbox's failures reached the console.
	var n int
	_ = e.store.DB().QueryRow(`SELECT count(*) FROM transactions WHERE merchant_id = $1 AND code = '202'`, alpha).Scan(&n)
	for n < 5 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		_ = e.store.DB().QueryRow(`SELECT count(*) FROM transactions WHERE merchant_id = $1 AND code = '202'`, alpha).Scan(&n)
	}
	if n != 5 {
		t.Fatalf("%d burst failures arrived", n)
	}
	// (The sandbox stamps failures with the real time; the console's clock catches up.)
	e.clock.Advance(time.Since(e.clock.Now()) + time.Second)
	// The alert fires; the operator on duty acknowledges it; the drill records both.
	e.evaluate()
	fired := e.ruleAlerts("alpha", rule.ID)
	if len(fired) != 1 {
		t.Fatalf("alert did not fire: %+v", fired)
	}
	op := e.login("operator@alpha.test")
	if resp := e.post(op, fmt.Sprintf("/alerts/%d/ack", fired[0].ID), nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("ack: %d", resp.StatusCode)
	}
	for time.Now().Before(deadline) {
		inc, _ = e.store.Incident(ctx, alpha, id)
		if inc.AlertAckedAt != nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if inc.AlertFiredAt == nil || inc.AlertAckedAt == nil || inc.AlertAckedBy != "operator@alpha.test" || inc.AlertID == nil || *inc.AlertID != fired[0].ID {
		t.Fatalf("drill alert steps: %+v", inc)
	}
	// A drill's customer notice is counted, never sent.
	path := fmt.Sprintf("/emergency/incidents/%d", id)
	if resp := e.post(admin, path+"/notify", url.Values{"channel": {"inapp"}, "confirm": {"1"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("drill notify: %d", resp.StatusCode)
	}
	var queued int
	_ = e.store.DB().QueryRow(`SELECT count(*) FROM notifications WHERE merchant_id = $1`, alpha).Scan(&queued)
	if queued != 0 {
		t.Fatalf("a drill queued %d notices", queued)
	}
	if resp := e.post(admin, path+"/close", url.Values{"summary": {"演练完成"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("close: %d", resp.StatusCode)
	}
	d := doc(t, e.get(admin, path))
	if took := d.Find(tid("drill-step-first_failure") + " " + tid("took")).Text(); took == "" || strings.Contains(took, "尚未") {
		t.Fatalf("first failure step: %q", took)
	}
	if who := d.Find(tid("drill-step-closed") + " " + tid("who")).Text(); who != "admin@alpha.test" {
		t.Fatalf("closed by %q", who)
	}
	if who := d.Find(tid("drill-step-alert_acked") + " " + tid("who")).Text(); who != "operator@alpha.test" {
		t.Fatalf("acknowledged by %q", who)
	}
	kinds := ""
	for _, n := range d.Find(tid("event")).Nodes {
		for _, a := range n.Attr {
			if a.Key == "data-kind" {
				kinds += a.Val + ","
			}
		}
	}
	if !strings.HasPrefix(kinds, "declared,drill,drill,") || !strings.Contains(kinds, "alert,alert,") || !strings.Contains(kinds, "notice,") || !strings.HasSuffix(kinds, "closed,") {
		t.Fatalf("timeline %s", kinds)
	}
}

// alphaEmergencyIDs gives merchant alpha a risk rule, an open incident with a
// checklist and a contact, for the tenancy walk to aim at; it returns their ids.
func alphaEmergencyIDs(t *testing.T, e *env) []string {
	t.Helper()
	ctx := context.Background()
	alpha := e.m["alpha"].ID
	r := e.addRiskRule("alpha", domain.RiskRule{Name: "alpha-private-rule", Kind: domain.RiskAmountOver, Action: domain.RiskBlock, Amount: 100})
	inc, err := e.store.CreateIncident(ctx, alpha, domain.Incident{Title: "alpha-private-incident", Type: "failure_spike", Severity: "sev1",
		DeclaredBy: "admin@alpha.test", DeclaredAt: e.clock.Now()}, []string{"alpha step"}, "declared")
	if err != nil {
		t.Fatal(err)
	}
	cid, err := e.store.AddEmergencyContact(ctx, alpha, domain.EmergencyContact{Role: "lead", Name: "alpha-private-contact", Phone: "1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.store.SavePayChannel(ctx, alpha, domain.PayChannel{Channel: "wechat", Status: domain.ChannelDown, Backup: "alipay", UpdatedAt: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	return []string{fmt.Sprint(r.ID), fmt.Sprint(inc.ID), fmt.Sprint(cid)}
}

func TestDeclareFromAlertAndChannelSuggestion(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	alpha := e.m["alpha"].ID
	rule, err := e.store.CreateAlertRule(ctx, alpha, domain.AlertRule{Name: "wechat failures", Enabled: true, Metric: domain.MetricFailureCount,
		Scope: domain.ScopeChannel, ScopeValue: "wechat", WindowMinutes: 10, Threshold: 2, Severity: "critical", CooldownMinutes: 10})
	if err != nil {
		t.Fatal(err)
	}
	e.ingest("alpha", 4, func(i int, r *db.EventRecord) { r.Channel, r.OccurredAt = "wechat", e.clock.Now().Add(-time.Minute) })
	e.evaluate()
	fired := e.ruleAlerts("alpha", rule.ID)
	if len(fired) != 1 {
		t.Fatalf("alerts %+v", fired)
	}
	op := e.login("operator@alpha.test")
	d := doc(t, e.get(op, fmt.Sprintf("/emergency?alert=%d", fired[0].ID)))
	if d.Find(tid("alert-row")).Length() != 1 || d.Find(tid("alert-suggest")).Length() != 1 {
		t.Fatalf("overview: %d alerts, %d suggestions", d.Find(tid("alert-row")).Length(), d.Find(tid("alert-suggest")).Length())
	}
	if sel := d.Find(tid("declare-alert")+" option[selected]").AttrOr("value", ""); sel != fmt.Sprint(fired[0].ID) {
		t.Fatalf("declare form preselects %q", sel)
	}
	// The suggestion marks WeChat degraded.
	if resp := e.post(op, "/emergency/channels", url.Values{"channel": {"wechat"}, "status": {"degraded"}, "backup": {""}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("suggestion: %d", resp.StatusCode)
	}
	id := incidentID(t, e.post(op, "/emergency/incidents", url.Values{"title": {"微信失败告警"}, "type": {"failure_spike"}, "severity": {"sev2"},
		"channels": {"wechat"}, "alert_id": {fmt.Sprint(fired[0].ID)}}))
	inc, _ := e.store.Incident(ctx, alpha, id)
	if inc.AlertID == nil || *inc.AlertID != fired[0].ID {
		t.Fatalf("incident %+v", inc)
	}
	if s := doc(t, e.get(op, fmt.Sprintf("/emergency/incidents/%d", id))).Find(tid("event")).First().Text(); !strings.Contains(s, fmt.Sprintf("来自告警 #%d", fired[0].ID)) {
		t.Fatalf("first event %q", s)
	}
	// Beta cannot declare from alpha's alert.
	beta := e.login("operator@beta.test")
	if resp := e.post(beta, "/emergency/incidents", url.Values{"title": {"x"}, "type": {"failure_spike"}, "severity": {"sev2"},
		"alert_id": {fmt.Sprint(fired[0].ID)}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("beta from alpha's alert: %d", resp.StatusCode)
	}
	// An alert that is over cannot start an incident.
	if err := e.store.ResolveAlert(ctx, alpha, fired[0].ID, nil, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	if resp := e.post(op, "/emergency/incidents", url.Values{"title": {"晚了"}, "type": {"failure_spike"}, "severity": {"sev2"},
		"alert_id": {fmt.Sprint(fired[0].ID)}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("from a resolved alert: %d", resp.StatusCode)
	}
}

// An automatic rule's notice (a River job) also tells the customer that the
// channel is down and offers its backup.
func TestAutomaticNoticeOffersBackupChannel(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@alpha.test")
	e.post(admin, "/settings/notifications/policy", url.Values{"quiet_start": {"0"}, "quiet_end": {"0"}, "daily_cap": {"5"}}).Body.Close()
	e.post(admin, "/emergency/channels", url.Values{"channel": {"wechat"}, "status": {"down"}, "backup": {"alipay"}}).Body.Close()
	if resp := e.post(admin, "/settings/notifications/rules", url.Values{"name": {"any"}, "channels": {"sms", "", ""},
		"delay_minutes": {"0"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("rule: %d", resp.StatusCode)
	}
	e.deliver("alpha", event("evt_w1", "payment.failed", "TW1", func(d map[string]any) { d["channel"] = "wechat" }), e.clock.Now()).Body.Close()
	ns := e.waitNotices("alpha", 1, false)
	if !strings.Contains(ns[0].Body, "微信支付目前暂时无法使用,请改用支付宝完成支付") {
		t.Fatalf("automatic notice: %q", ns[0].Body)
	}
}
