package handlers_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"paymend/domain"
)

// waitNotices polls until the merchant has n notices in a final state (or times out)
// and returns them.
func (e *env) waitNotices(code string, n int, final bool) []domain.Notification {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		rows, _, _ := e.store.Notifications(context.Background(), e.m[code].ID, dbNoticeFilter(0))
		done := 0
		for _, r := range rows {
			if !final || r.State == domain.NoticeSent || r.State == domain.NoticeFailed {
				done++
			}
		}
		if done >= n {
			return rows
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("%d of %d notices after 20 s: %+v", done, n, rows)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestAutomaticRulesNotifyNewFailures(t *testing.T) {
	e := newEnv(t)
	side := e.customerSide("alpha")
	admin := e.login("admin@alpha.test")
	// Quiet hours that never apply, so SMS goes at once in this test.
	if resp := e.post(admin, "/settings/notifications/policy", url.Values{"quiet_start": {"0"}, "quiet_end": {"0"}, "daily_cap": {"1"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("policy: %d", resp.StatusCode)
	}
	// An older failure exists before the rule: rules apply from their creation on.
	e.deliver("alpha", event("evt_old", "payment.failed", "TOLD", nil), e.clock.Now()).Body.Close()
	resp := e.post(admin, "/settings/notifications/rules", url.Values{"name": {"余额不足先短信"}, "code": {"101"},
		"channels": {"sms", "email", ""}, "delay_minutes": {"0"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("rule: %d", resp.StatusCode)
	}
	if resp := e.post(admin, "/settings/notifications/rules", url.Values{"name": {""}, "channels": {"sms"}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("invalid rule: %d", resp.StatusCode)
	}
	now := e.clock.Now()
	// Two failures of one customer (cap 1: one notice), one of another with no phone
	// (falls through to e-mail), and a 202 (no rule).
	e.deliver("alpha", event("evt_a1", "payment.failed", "TA1", nil), now).Body.Close()
	e.deliver("alpha", event("evt_a2", "payment.failed", "TA2", nil), now).Body.Close()
	e.deliver("alpha", event("evt_b1", "payment.failed", "TB1", func(d map[string]any) {
		d["customer"] = map[string]any{"id": "C2", "name": "王五", "email": "wang@example.com"}
	}), now).Body.Close()
	e.deliver("alpha", event("evt_c1", "payment.failed", "TC1", func(d map[string]any) {
		d["code"] = "202"
		d["customer"] = map[string]any{"id": "C3", "phone": "+8613900000003"}
	}), now).Body.Close()
	rows := e.waitNotices("alpha", 2, true)
	time.Sleep(1500 * time.Millisecond) // a few more rule scans: nothing else may appear
	rows, _, _ = e.store.Notifications(context.Background(), e.m["alpha"].ID, dbNoticeFilter(0))
	got := map[string]string{}
	for _, r := range rows {
		got[r.PlatformID] = string(r.Channel) + ":" + r.State
		if r.RuleID == nil || !strings.HasPrefix(r.CreatedBy, "rule: ") {
			t.Errorf("notice %d not from the rule: %+v", r.ID, r)
		}
	}
	if len(got) != 2 || got["TB1"] != "email:sent" || (got["TA1"] != "sms:sent" && got["TA2"] != "sms:sent") {
		t.Fatalf("notices %v", got)
	}
	if _, ok := got["TOLD"]; ok {
		t.Fatal("a failure from before the rule was notified")
	}
	if n := len(received(t, side)); n != 2 {
		t.Fatalf("customers received %d", n)
	}
}

func TestRuleFallsBackAfterAPermanentFailure(t *testing.T) {
	e := newEnv(t)
	e.customerSide("alpha")
	// The SMS gateway refuses every number.
	gw := httptestServer(t, http.StatusUnprocessableEntity, `{"error":"invalid_number"}`)
	sealed, _ := e.sealer.Seal("k")
	e.store.SaveChannelSettings(context.Background(), e.m["alpha"].ID, domain.ChannelSettings{Channel: domain.NotifySMS,
		Enabled: true, URL: gw}, sealed)
	admin := e.login("admin@alpha.test")
	e.post(admin, "/settings/notifications/policy", url.Values{"quiet_start": {"0"}, "quiet_end": {"0"}, "daily_cap": {"5"}}).Body.Close()
	e.post(admin, "/settings/notifications/rules", url.Values{"name": {"any"}, "channels": {"sms", "email"}, "delay_minutes": {"0"}}).Body.Close()
	e.deliver("alpha", event("evt_fb", "payment.failed", "TFB", nil), e.clock.Now()).Body.Close()
	rows := e.waitNotices("alpha", 2, true)
	states := map[string]string{}
	for _, r := range rows {
		states[string(r.Channel)] = r.State
	}
	if states["sms"] != "failed" || states["email"] != "sent" {
		t.Fatalf("states %v", states)
	}
}

func httptestServer(t *testing.T, status int, body string) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(status)
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestChannelTestMessage(t *testing.T) {
	e := newEnv(t)
	side := e.customerSide("alpha")
	admin := e.login("admin@alpha.test")
	if resp := e.post(admin, "/settings/notifications/test", url.Values{"channel": {"sms"}, "to": {"not-a-phone"}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("bad recipient: %d", resp.StatusCode)
	}
	if resp := e.post(admin, "/settings/notifications/test", url.Values{"channel": {"email"}, "to": {"ops@shop.test"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("test: %d", resp.StatusCode)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		d := doc(t, e.get(admin, "/settings/notifications"))
		if res := d.Find(tid("test-results")).Text(); strings.Contains(res, "o***@shop.test") && strings.Contains(res, "成功") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("test outcome never shown")
		}
		time.Sleep(200 * time.Millisecond)
	}
	found := false
	for _, m := range received(t, side) {
		found = found || (m.Channel == "email" && m.To == "ops@shop.test")
	}
	if !found {
		t.Fatal("test e-mail not received")
	}
	if resp := e.post(e.login("operator@alpha.test"), "/settings/notifications/test", url.Values{"channel": {"email"}, "to": {"x@y.test"}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("operator: %d", resp.StatusCode)
	}
}
