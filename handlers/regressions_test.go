package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"paymend/domain"
)

// Regressions found in review; each names the scenario it pins down.

func TestRefundOfAFailedPaymentStaysAFailure(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, order := range [][]string{{"f", "r"}, {"r", "f"}} {
		tx := "TREF" + strings.Join(order, "")
		evs := map[string][]byte{
			"f": event("evt_f_"+tx, "payment.failed", tx, nil),
			"r": event("evt_r_"+tx, "refund.succeeded", tx, func(d map[string]any) {
				d["refund_id"], d["amount"], d["code"], d["message"] = "R1", 12900, "R99", "refund note"
			}),
		}
		for _, k := range order {
			e.deliver("alpha", evs[k], e.clock.Now()).Body.Close()
		}
		got, _ := e.store.TransactionByPlatformID(ctx, e.m["alpha"].ID, tx)
		if got.PayStatus != domain.StatusFailed || got.Status != domain.StatusRefunded || got.ResolutionState != "new" || got.Code != "101" {
			t.Fatalf("order %v: pay %s status %s res %s code %s", order, got.PayStatus, got.Status, got.ResolutionState, got.Code)
		}
	}
}

func TestOrderClosingDoesNotDependOnArrival(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i, seq := range [][]string{{"p1", "s2", "f1"}, {"s2", "p1", "f1"}, {"p1", "f1", "s2"}, {"f1", "s2", "p1"}} {
		order := "O-SEQ" + string(rune('A'+i))
		t1, t2 := "T1"+order, "T2"+order
		mk := map[string][]byte{
			"p1": event("evt_p1"+order, "payment.pending", t1, func(d map[string]any) { d["order_id"] = order }),
			"f1": event("evt_f1"+order, "payment.failed", t1, func(d map[string]any) { d["order_id"] = order }),
			"s2": event("evt_s2"+order, "payment.succeeded", t2, func(d map[string]any) { d["order_id"] = order }),
		}
		for _, k := range seq {
			e.deliver("alpha", mk[k], e.clock.Now()).Body.Close()
		}
		got, _ := e.store.TransactionByPlatformID(ctx, e.m["alpha"].ID, t1)
		if got.ResolutionState != "retried_success" {
			t.Errorf("%v: %s", seq, got.ResolutionState)
		}
	}
}

func TestImportFollowsWebhookResolutionRules(t *testing.T) {
	e := newEnv(t)
	c := e.login("operator@alpha.test")
	csvText := "transaction_id,order_id,status,amount,currency,channel,code,occurred_at\n" +
		"T5,O5,failed,1,CNY,card,101,2026-11-24T01:00:00Z\n" +
		"T5,O5,succeeded,1,CNY,card,,2026-11-24T01:05:00Z\n" +
		"T3,O9,failed,1,CNY,card,101,2026-11-24T01:00:00Z\n" +
		"T4,O9,succeeded,1,CNY,card,,2026-11-24T01:02:00Z\n" +
		"T2,O2,failed,1,CNY,card,101,2026-11-24T10:00:00Z\n" +
		"T2,O2,failed,1,CNY,card,102,2026-11-24T11:00:00Z\n"
	d := doc(t, e.upload(c, csvText))
	if got := strings.TrimSpace(d.Find(tid("import-accepted") + " .kpi-value").Text()); got != "6" {
		t.Fatalf("accepted %s", got)
	}
	ctx := context.Background()
	for id, want := range map[string]string{"T5": "retried_success", "T3": "retried_success", "T2": "new"} {
		got, _ := e.store.TransactionByPlatformID(ctx, e.m["alpha"].ID, id)
		if got.ResolutionState != want {
			t.Errorf("%s: %s, want %s", id, got.ResolutionState, want)
		}
	}
	if got, _ := e.store.TransactionByPlatformID(ctx, e.m["alpha"].ID, "T2"); got.Code != "102" {
		t.Errorf("T2 code %s, want the latest failure's 102", got.Code)
	}
}

func TestBadInputIsAClientError(t *testing.T) {
	e := newEnv(t)
	c := e.login("admin@alpha.test")
	for _, path := range []string{"/transactions?q=%FF", "/transactions?q=%00", "/transactions?bank=%FF", "/audit?actor=%FF", "/audit?action=%00"} {
		resp := e.get(c, path)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
	// A code outside the chosen category is simply no match.
	resp := e.get(c, "/transactions?code=101&category=network")
	if d := doc(t, resp); resp.StatusCode != http.StatusOK || d.Find(tid("tx-empty")).Length() != 1 {
		t.Fatalf("code/category mismatch: %d", resp.StatusCode)
	}
	for name, form := range map[string]url.Values{
		"name with bad bytes": {"email": {"x@alpha.test"}, "name": {"\xff"}, "role": {"viewer"}, "password": {testPassword}},
		"password > 72 bytes": {"email": {"y@alpha.test"}, "role": {"viewer"}, "password": {strings.Repeat("安全密码", 7)}},
	} {
		resp := e.post(c, "/users", form)
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d", name, resp.StatusCode)
		}
	}
	if resp := e.post(c, "/settings/apikeys", url.Values{"name": {"a\x00b"}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("api key name with NUL: %d", resp.StatusCode)
	}
	nul := event("evt_nul", "payment.failed", "TNUL", func(d map[string]any) { d["message"] = "x\u0000y" })
	if resp := e.deliver("alpha", nul, e.clock.Now()); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("webhook with NUL: %d", resp.StatusCode)
	}
}

func TestLockoutLapsesCleanly(t *testing.T) {
	e := newEnv(t)
	c := e.browser()
	for i := 0; i < 10; i++ {
		e.post(c, "/login", url.Values{"email": {"viewer@alpha.test"}, "password": {"wrong-password-x"}}).Body.Close()
	}
	e.clock.Advance(31 * time.Minute)
	e.post(c, "/login", url.Values{"email": {"viewer@alpha.test"}, "password": {"one-more-typo!!"}}).Body.Close()
	e.login("viewer@alpha.test") // one typo after a lapsed lock must not lock again
}

func TestSecondRotationWaitsForTheFirstToFinish(t *testing.T) {
	e := newEnv(t)
	c := e.login("admin@alpha.test")
	ctx := context.Background()
	e.post(c, "/settings/webhook/rotate", nil).Body.Close()
	e.post(c, "/settings/webhook/rotate", nil).Body.Close()
	secrets, _ := e.store.WebhookSecrets(ctx, e.m["alpha"].ID)
	if len(secrets) != 2 {
		t.Fatalf("%d secrets", len(secrets))
	}
	old, _ := e.sealer.Open(secrets[1])
	if old != e.secret["alpha"] {
		t.Fatal("the secret the platform still signs with was dropped")
	}
	// Events signed with the old secret still arrive during the rotation.
	if resp := e.deliver("alpha", event("evt_rot", "payment.failed", "TROT", nil), e.clock.Now()); resp.StatusCode != http.StatusOK {
		t.Fatalf("old secret refused: %d", resp.StatusCode)
	}
}

func TestExportNeutralisesFormulas(t *testing.T) {
	e := newEnv(t)
	e.deliver("alpha", event("evt_fx", "payment.failed", "TFX", func(d map[string]any) {
		d["message"] = "=HYPERLINK(\"http://evil\")"
	}), e.clock.Now()).Body.Close()
	out := body(t, e.get(e.login("viewer@alpha.test"), "/transactions/export.csv"))
	if strings.Contains(out, ",=HYPERLINK") || !strings.Contains(out, "'=HYPERLINK") {
		t.Fatalf("export: %s", out)
	}
}
