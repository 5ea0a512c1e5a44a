package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"paymend/db"
	"paymend/domain"
	"paymend/platform/sandbox"
)

// TestTenantIsolationAcrossEveryRoute walks every registered route as merchant beta,
// aimed at merchant alpha's records, and proves beta can neither read nor change them.
// New routes are covered automatically.
func TestTenantIsolationAcrossEveryRoute(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	alpha := e.m["alpha"].ID
	e.ingest("alpha", 3, nil)
	e.ingest("beta", 1, nil)
	tx, err := e.store.TransactionByPlatformID(ctx, alpha, "TALPHA0001")
	if err != nil {
		t.Fatal(err)
	}
	key, err := e.store.CreateAPIKey(ctx, alpha, "alpha-private-key", "pm_live_alp", "hash-alpha", nil)
	if err != nil {
		t.Fatal(err)
	}
	victim := e.users["viewer@alpha.test"]
	// A refund of alpha's waiting for approval, so approve/reject/retry are tried on it.
	zero := int64(0)
	if err := e.store.SaveRefundPolicy(ctx, alpha, domain.RefundPolicy{ApprovalAbove: &zero, GraceMinutes: 30}); err != nil {
		t.Fatal(err)
	}
	paid := e.pay(sandbox.PaymentRequest{MerchantCode: "alpha", Amount: 5000}, domain.StatusSucceeded)
	rf, _, err := e.store.CreateRefund(ctx, alpha, db.NewRefund{TransactionID: paid.ID, Source: domain.RefundFromConsole,
		Request: domain.RefundRequest{Amount: 100, Reason: "alpha-secret-reason"}, Now: time.Now()},
		func(context.Context, *db.Store, domain.Refund) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{fmt.Sprint(tx.ID), fmt.Sprint(victim.ID), fmt.Sprint(key.ID), "TALPHA0001", fmt.Sprint(rf.ID), rf.PublicID}
	ids = append(ids, alphaEmergencyIDs(t, e)...) // risk rule, incident, contact
	secrets := []string{"TALPHA0001", "TALPHA0002", "viewer@alpha.test", "alpha-private-key", "alpha 商店", e.secret["alpha"],
		rf.PublicID, "alpha-secret-reason", paid.PlatformID, "alpha-private-rule", "alpha-private-incident", "alpha-private-contact"}
	// Issue 7: an alert rule of alpha's and an open alert.
	ar, err := e.store.CreateAlertRule(ctx, alpha, domain.AlertRule{Name: "alpha-secret-rule", Enabled: true,
		Metric: domain.MetricFailureCount, Scope: domain.ScopeAll, WindowMinutes: 10, Threshold: 1, Severity: "warning",
		Emails: []string{"alpha-oncall@alpha.test"}, CooldownMinutes: 10})
	if err != nil {
		t.Fatal(err)
	}
	e.payMany("alpha", 3, "failed", "202", e.clock.Now())
	e.evaluate()
	alertsOf := e.ruleAlerts("alpha", ar.ID)
	if len(alertsOf) != 1 {
		t.Fatalf("alpha alerts %+v", alertsOf)
	}
	ids = append(ids, fmt.Sprint(ar.ID), fmt.Sprint(alertsOf[0].ID))
	secrets = append(secrets, "alpha-secret-rule", "alpha-oncall@alpha.test")
	// Alpha has a customer's answer with a link (issue 9): its ids join the walk.
	fb := e.feedbackAnswered(handlersNewKey(t, e, "alpha"), "alpha", "TALPHAFB", nil, answer("comment", "alpha-feedback-secret"))
	var fbLink int64
	e.store.DB().QueryRow(`SELECT link_id FROM feedback WHERE id = $1`, fb).Scan(&fbLink)
	ids = append(ids, fmt.Sprint(fb), fmt.Sprint(fbLink))
	secrets = append(secrets, "alpha-feedback-secret", "TALPHAFB")

	before := snapshot(t, e.store, alpha)
	browser := e.login("admin@beta.test")
	betaKey := handlersNewKey(t, e, "beta")
	form := url.Values{"role": {"admin"}, "disabled": {"true"}, "name": {"x"}, "lang": {"en"},
		"state": {"resolved"}, "action": {"resolve"}, "note": {"x"}, "ids": ids}
	tried := 0
	for _, r := range e.app.Echo.Routes() {
		if strings.HasPrefix(r.Path, "/static") || strings.HasPrefix(r.Path, "/webhooks") || r.Path == "/login" ||
			r.Path == "/healthz" || r.Path == "/readyz" || r.Method == "echo_route_not_found" {
			continue
		}
		paths := []string{r.Path}
		if strings.Contains(r.Path, ":") {
			paths = nil
			for _, id := range ids {
				p := r.Path
				for _, seg := range strings.Split(r.Path, "/") {
					if strings.HasPrefix(seg, ":") {
						p = strings.Replace(p, seg, url.PathEscape(id), 1)
					}
				}
				paths = append(paths, p)
			}
		}
		for _, p := range paths {
			tried++
			req, _ := http.NewRequest(r.Method, e.srv.URL+p, strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			client := browser
			if strings.HasPrefix(p, "/api/") {
				req.Header.Set("Authorization", "Bearer "+betaKey)
				req.Header.Set("Content-Type", "application/json")
				req.Body = http.NoBody
				client = http.DefaultClient
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			// Beta's own flash may echo what beta just sent (a code it documented, say).
			b := flashArea.ReplaceAllString(body(t, resp), "")
			for _, s := range secrets {
				// Pages echo their own URL, and beta's audit log records what beta itself
				// asked for (routes are walked in map order, so /audit may come after).
				if p == "/audit" && slices.Contains(ids, s) {
					continue
				}
				if strings.Contains(b, s) && !strings.Contains(p, s) {
					t.Errorf("%s %s as beta shows alpha's %q", r.Method, p, s)
				}
			}
		}
	}
	if tried < 10 {
		t.Fatalf("only %d route calls; route discovery is broken", tried)
	}
	if after := snapshot(t, e.store, alpha); after != before {
		t.Fatalf("alpha changed through beta:\nbefore %s\nafter  %s", before, after)
	}
}

// (Ids are shared sequences, so an alpha id may name a beta record, which beta may
// change; what must never change is alpha's state, checked by snapshot.)

var flashArea = regexp.MustCompile(`<div id="flash"[^>]*>(<div class="flash[^"]*"[^>]*>[^<]*</div>)*</div>`)

// snapshot renders everything of a merchant that a route could change.
func snapshot(t *testing.T, s *db.Store, merchantID int64) string {
	t.Helper()
	var out string
	err := s.DB().QueryRow(`SELECT
		(SELECT string_agg(email || role || coalesce(disabled_at::text, '') || lang, ',' ORDER BY id) FROM users WHERE merchant_id = $1) ||
		(SELECT coalesce(string_agg(name || coalesce(revoked_at::text, ''), ',' ORDER BY id), '') FROM api_keys WHERE merchant_id = $1) ||
		(SELECT string_agg(platform_id || status || resolution_state || refunded_amount, ',' ORDER BY id) FROM transactions WHERE merchant_id = $1) ||
		(SELECT array_to_string(webhook_secrets, ',') FROM merchants WHERE id = $1) ||
		(SELECT count(*)::text FROM timeline WHERE merchant_id = $1) ||
		(SELECT coalesce(string_agg(code || coalesce(title_zh, '') || coalesce(updated_at::text, ''), ',' ORDER BY code), '')
			FROM failure_code_overrides WHERE merchant_id = $1) ||
		(SELECT coalesce(string_agg(key || body_zh, ',' ORDER BY key), '') FROM message_templates WHERE merchant_id = $1) ||
		(SELECT coalesce(string_agg(name || enabled::text, ',' ORDER BY id), '') FROM notification_rules WHERE merchant_id = $1) ||
		(SELECT coalesce(string_agg(channel || config::text, ',' ORDER BY channel), '') FROM notification_channels WHERE merchant_id = $1) ||
		(SELECT count(*)::text FROM notifications WHERE merchant_id = $1) ||
		(SELECT count(*)::text FROM call_tasks WHERE merchant_id = $1) ||
		(SELECT coalesce(string_agg(order_id || status, ',' ORDER BY order_id), '') FROM orders WHERE merchant_id = $1) ||
		(SELECT coalesce(string_agg(public_id || state || coalesce(approved_by::text, ''), ',' ORDER BY id), '') FROM refunds WHERE merchant_id = $1) ||
		(SELECT coalesce(string_agg(coalesce(approval_above::text, '') || grace_minutes, ','), '') FROM refund_policy WHERE merchant_id = $1) ||
		(SELECT coalesce(string_agg(kind || order_id || state || resolution, ',' ORDER BY id), '') FROM recon_findings WHERE merchant_id = $1) ||
		(SELECT count(*)::text FROM recon_runs WHERE merchant_id = $1 AND trigger = 'manual') ||
		(SELECT coalesce(string_agg(id::text || coalesce(revoked_at::text, '') || expires_at::text, ',' ORDER BY id), '') FROM feedback_links WHERE merchant_id = $1) ||
		(SELECT coalesce(string_agg(id::text || status || coalesce(assignee_id::text, '') || answers || coalesce(recon_requested_at::text, ''), ',' ORDER BY id), '') FROM feedback WHERE merchant_id = $1) ||
		(SELECT count(*)::text FROM feedback_answers WHERE merchant_id = $1) ||
		(SELECT count(*)::text FROM feedback_notes WHERE merchant_id = $1) ||
		(SELECT coalesce(string_agg(name || enabled::text || coalesce(deleted_at::text, ''), ',' ORDER BY id), '') FROM risk_rules WHERE merchant_id = $1) ||
		(SELECT count(*)::text FROM risk_decisions WHERE merchant_id = $1) ||
		(SELECT coalesce(string_agg(channel || status || backup, ',' ORDER BY channel), '') FROM pay_channels WHERE merchant_id = $1) ||
		(SELECT coalesce(string_agg(name || phone, ',' ORDER BY id), '') FROM emergency_contacts WHERE merchant_id = $1) ||
		(SELECT coalesce(string_agg(incident_type || array_to_string(steps, '|'), ',' ORDER BY incident_type), '') FROM runbooks WHERE merchant_id = $1) ||
		(SELECT coalesce(string_agg(title || status || summary || burst_state, ',' ORDER BY id), '') FROM incidents WHERE merchant_id = $1) ||
		(SELECT coalesce(string_agg(coalesce(done_at::text, '-'), ',' ORDER BY incident_id, position), '') FROM incident_steps WHERE merchant_id = $1) ||
		(SELECT count(*)::text FROM incident_events WHERE merchant_id = $1) ||
		(SELECT coalesce(string_agg(name || enabled::text || threshold::text || array_to_string(emails, ';'), ',' ORDER BY id), '')
			FROM alert_rules WHERE merchant_id = $1) ||
		(SELECT coalesce(string_agg(status || coalesce(acknowledged_by::text, '') || coalesce(resolved_by::text, ''), ',' ORDER BY id), '')
			FROM alerts WHERE merchant_id = $1) ||
		(SELECT count(*)::text FROM alert_events WHERE merchant_id = $1 AND kind IN ('note', 'acknowledged', 'resolved'))`, merchantID).Scan(&out)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRolesAreEnforcedOnTheServer(t *testing.T) {
	e := newEnv(t)
	for _, c := range []struct {
		email string
		path  string
		want  int
	}{
		{"viewer@alpha.test", "/users", http.StatusForbidden},
		{"operator@alpha.test", "/users", http.StatusForbidden},
		{"operator@alpha.test", "/audit", http.StatusForbidden},
		{"operator@alpha.test", "/settings", http.StatusForbidden},
		{"admin@alpha.test", "/users", http.StatusOK},
		{"admin@alpha.test", "/audit", http.StatusOK},
		{"viewer@alpha.test", "/transactions", http.StatusOK},
	} {
		resp := e.get(e.login(c.email), c.path)
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s GET %s: %d, want %d", c.email, c.path, resp.StatusCode, c.want)
		}
	}
	// A viewer cannot change anything, even by posting directly.
	v := e.login("viewer@alpha.test")
	resp := e.post(v, "/users", url.Values{"email": {"new@alpha.test"}, "role": {"admin"}, "password": {"a-long-enough-password"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer POST /users: %d", resp.StatusCode)
	}
	if _, err := e.store.UserForLogin(context.Background(), "new@alpha.test"); err == nil {
		t.Fatal("viewer created a user")
	}
}
