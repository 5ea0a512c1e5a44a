package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"paymend/db"
	"paymend/domain"
	"paymend/platform"
	"paymend/platform/sandbox"
)

// pay makes a payment on the sandbox platform and waits until its webhook reached
// the console (with the given pay status).
func (e *env) pay(req sandbox.PaymentRequest, want domain.Status) domain.Transaction {
	e.t.Helper()
	if req.Outcome == "" {
		req.Outcome = sandbox.OutcomeSucceeded
	}
	pt, err := e.platform.CreatePayment(req)
	if err != nil {
		e.t.Fatal(err)
	}
	var tx domain.Transaction
	e.eventually(5*time.Second, func() bool {
		tx, err = e.store.TransactionByPlatformID(context.Background(), e.m[req.MerchantCode].ID, pt.ID)
		return err == nil && tx.PayStatus == want
	}, "payment %s reaches the console as %s", pt.ID, want)
	return tx
}

func (e *env) eventually(d time.Duration, ok func() bool, what string, args ...any) {
	e.t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out waiting: "+what, args...)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// waitRefund waits until a refund reaches state.
func (e *env) waitRefund(code string, id int64, state domain.RefundState) domain.Refund {
	e.t.Helper()
	var r domain.Refund
	var err error
	e.eventually(10*time.Second, func() bool {
		r, err = e.store.Refund(context.Background(), e.m[code].ID, id)
		return err == nil && r.State == state
	}, "refund %d reaches %s (now %s %q)", id, state, &r.State, &r.FailureReason)
	return r
}

// platformRefunds is what the platform received for a transaction.
func (e *env) platformRefunds(txID string) []platform.Refund {
	e.t.Helper()
	rs, err := platform.New(e.platformSrv.URL, "sandbox").ListRefunds(context.Background(), txID)
	if err != nil {
		e.t.Fatal(err)
	}
	return rs
}

func (e *env) refundsOf(code string, txID int64) []domain.Refund {
	e.t.Helper()
	rs, err := e.store.RefundsOf(context.Background(), e.m[code].ID, txID)
	if err != nil {
		e.t.Fatal(err)
	}
	return rs
}

func (e *env) apiJSON(key, method, path, idem string, body any) (int, map[string]any) {
	e.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func refundForm(amount, reason, key string) url.Values {
	return url.Values{"amount": {amount}, "reason": {reason}, "key": {key}}
}

func TestRefundFromThePaymentPageGoesOutOnceAndConverges(t *testing.T) {
	e := newEnv(t)
	tx := e.pay(sandbox.PaymentRequest{MerchantCode: "alpha", Amount: 12900}, domain.StatusSucceeded)
	op := e.login("operator@alpha.test")
	page := doc(t, e.get(op, fmt.Sprintf("/transactions/%d", tx.ID)))
	if got := strings.TrimSpace(page.Find(tid("refund-remainder")).Text()); !strings.Contains(got, "129.00") {
		t.Fatalf("remainder shown %q", got)
	}
	key, _ := page.Find(`[data-testid="refund-form"] input[name="key"]`).Attr("value")
	resp := e.post(op, fmt.Sprintf("/transactions/%d/refunds", tx.ID), refundForm("50.00", "订单未完成", key))
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d %s", resp.StatusCode, body(t, resp))
	}
	// The same form sent again (a double click, a reload) is the same refund.
	e.post(op, fmt.Sprintf("/transactions/%d/refunds", tx.ID), refundForm("50.00", "订单未完成", key)).Body.Close()
	rs := e.refundsOf("alpha", tx.ID)
	if len(rs) != 1 {
		t.Fatalf("%d refunds, want 1", len(rs))
	}
	r := e.waitRefund("alpha", rs[0].ID, domain.RefundSucceeded)
	if r.PlatformRefundID == nil || r.FinishedAt == nil {
		t.Fatalf("succeeded without platform id or finish time: %+v", r)
	}
	if got := e.platformRefunds(tx.PlatformID); len(got) != 1 || got[0].Amount != 5000 {
		t.Fatalf("platform received %+v", got)
	}
	// The webhook folds the refunded amount into the payment.
	e.eventually(5*time.Second, func() bool {
		t2, _ := e.store.TransactionByPlatformID(context.Background(), e.m["alpha"].ID, tx.PlatformID)
		return t2.Status == domain.StatusPartiallyRefunded && t2.RefundedAmount == 5000
	}, "payment shows partially refunded")
	page = doc(t, e.get(op, fmt.Sprintf("/transactions/%d", tx.ID)))
	if got := page.Find(tid("refund-remainder")).Text(); !strings.Contains(got, "79.00") {
		t.Errorf("remainder after refund %q", got)
	}
	if st, _ := page.Find(`[data-testid="refund-row"]`).Attr("data-state"); st != "succeeded" {
		t.Errorf("refund row state %q", st)
	}
	kinds := map[string]bool{}
	page.Find(`[data-testid="timeline-entry"]`).Each(func(_ int, s *goquery.Selection) {
		k, _ := s.Attr("data-kind")
		kinds[k] = true
	})
	for _, k := range []string{"refund.requested", "refund.submitted", "refund.succeeded"} {
		if !kinds[k] {
			t.Errorf("timeline lacks %s (has %v)", k, kinds)
		}
	}
	// A second partial refund may take what is left, not more.
	resp = e.post(op, fmt.Sprintf("/transactions/%d/refunds", tx.ID), refundForm("79.01", "再退", "k2"))
	resp.Body.Close()
	if n := len(e.refundsOf("alpha", tx.ID)); n != 1 {
		t.Fatalf("over-refund stored: %d refunds", n)
	}
	r2 := e.post(op, fmt.Sprintf("/transactions/%d/refunds", tx.ID), refundForm("79.00", "余款", "k3"))
	r2.Body.Close()
	rs = e.refundsOf("alpha", tx.ID)
	e.waitRefund("alpha", rs[len(rs)-1].ID, domain.RefundSucceeded)
	e.eventually(5*time.Second, func() bool {
		t2, _ := e.store.TransactionByPlatformID(context.Background(), e.m["alpha"].ID, tx.PlatformID)
		return t2.Status == domain.StatusRefunded
	}, "payment shows refunded")
	var audits int
	if err := e.store.DB().Get(&audits, `SELECT count(*) FROM audit_log WHERE merchant_id = $1 AND action = 'refund.request'`,
		e.m["alpha"].ID); err != nil {
		t.Fatal(err)
	}
	if audits != 3 { // two made, one refused
		t.Errorf("%d refund.request audit entries, want 3", audits)
	}
}

func TestRefundBadInputIsRefusedClearlyAndStoresNothing(t *testing.T) {
	e := newEnv(t)
	paid := e.pay(sandbox.PaymentRequest{MerchantCode: "alpha", Amount: 10000}, domain.StatusSucceeded)
	failed := e.pay(sandbox.PaymentRequest{MerchantCode: "alpha", Outcome: sandbox.OutcomeFailed}, domain.StatusFailed)
	key := handlersNewKey(t, e, "alpha")
	for _, c := range []struct {
		name   string
		body   map[string]any
		idem   string
		status int
		code   string
	}{
		{"over-refund", map[string]any{"transaction_id": paid.PlatformID, "amount": 10001, "reason": "x"}, "k1", 422, "amount_exceeds_refundable"},
		{"failed payment", map[string]any{"transaction_id": failed.PlatformID, "amount": 100, "reason": "x"}, "k2", 422, "not_captured"},
		{"wrong currency", map[string]any{"transaction_id": paid.PlatformID, "amount": 100, "currency": "USD", "reason": "x"}, "k3", 422, "currency_mismatch"},
		{"unknown payment", map[string]any{"transaction_id": "TNOPE", "amount": 100, "reason": "x"}, "k4", 404, "transaction_not_found"},
		{"no reason", map[string]any{"transaction_id": paid.PlatformID, "amount": 100, "reason": " "}, "k5", 422, "reason_required"},
		{"zero", map[string]any{"transaction_id": paid.PlatformID, "amount": 0, "reason": "x"}, "k6", 422, "invalid_amount"},
		{"decimal amount", map[string]any{"transaction_id": paid.PlatformID, "amount": 1.5, "reason": "x"}, "k7", 422, "invalid_amount"},
		{"no key", map[string]any{"transaction_id": paid.PlatformID, "amount": 100, "reason": "x"}, "", 400, "idempotency_key_required"},
	} {
		status, out := e.apiJSON(key, http.MethodPost, "/api/v1/refunds", c.idem, c.body)
		errObj, _ := out["error"].(map[string]any)
		if status != c.status || errObj["code"] != c.code || errObj["message"] == "" {
			t.Errorf("%s: %d %v, want %d %s", c.name, status, out, c.status, c.code)
		}
	}
	// The console says the same in the operator's language.
	op := e.login("operator@alpha.test")
	resp := e.post(op, fmt.Sprintf("/transactions/%d/refunds", paid.ID), refundForm("100.01", "x", "f1"))
	resp.Body.Close()
	page := doc(t, e.get(op, fmt.Sprintf("/transactions/%d", paid.ID)))
	if got := page.Find(".flash-error").Text(); !strings.Contains(got, "超过可退金额") || !strings.Contains(got, "100.00") {
		t.Errorf("console message %q", got)
	}
	resp = e.post(op, fmt.Sprintf("/transactions/%d/refunds", paid.ID), refundForm("abc", "x", "f2"))
	resp.Body.Close()
	page = doc(t, e.get(op, fmt.Sprintf("/transactions/%d", paid.ID)))
	if got := page.Find(".flash-error").Text(); !strings.Contains(got, "请输入正确的金额") {
		t.Errorf("console message %q", got)
	}
	// A failed payment has no refund form at all.
	page = doc(t, e.get(op, fmt.Sprintf("/transactions/%d", failed.ID)))
	if page.Find(tid("refund-form")).Length() != 0 {
		t.Error("refund form offered for a payment that took no money")
	}
	var n int
	if err := e.store.DB().Get(&n, `SELECT count(*) FROM refunds`); err != nil {
		t.Fatal(err)
	}
	if n != 0 || len(e.platformRefunds(paid.PlatformID)) != 0 {
		t.Fatalf("bad input left %d refunds", n)
	}
}

func TestRefundAPIIdempotencyAndTenancy(t *testing.T) {
	e := newEnv(t)
	paid := e.pay(sandbox.PaymentRequest{MerchantCode: "alpha", Amount: 10000}, domain.StatusSucceeded)
	key := handlersNewKey(t, e, "alpha")
	body := map[string]any{"transaction_id": paid.PlatformID, "amount": 3000, "reason": "重复扣款"}
	status, first := e.apiJSON(key, http.MethodPost, "/api/v1/refunds", "order-77-refund", body)
	if status != http.StatusCreated || first["id"] == "" || first["status"] != "requested" {
		t.Fatalf("create: %d %v", status, first)
	}
	status, again := e.apiJSON(key, http.MethodPost, "/api/v1/refunds", "order-77-refund", body)
	if status != http.StatusOK || again["id"] != first["id"] {
		t.Fatalf("replay: %d %v", status, again)
	}
	body["amount"] = 3001
	status, conflict := e.apiJSON(key, http.MethodPost, "/api/v1/refunds", "order-77-refund", body)
	if status != http.StatusConflict || conflict["error"].(map[string]any)["code"] != "idempotency_key_reused" {
		t.Fatalf("changed body: %d %v", status, conflict)
	}
	id := first["id"].(string)
	e.eventually(10*time.Second, func() bool {
		_, got := e.apiJSON(key, http.MethodGet, "/api/v1/refunds/"+id, "", nil)
		return got["status"] == "succeeded" && got["platform_refund_id"] != ""
	}, "API shows the refund succeeded")
	// Another merchant sees neither the refund nor the payment.
	betaKey := handlersNewKey(t, e, "beta")
	if status, _ := e.apiJSON(betaKey, http.MethodGet, "/api/v1/refunds/"+id, "", nil); status != http.StatusNotFound {
		t.Errorf("beta reads alpha's refund: %d", status)
	}
	body["amount"] = 100
	if status, _ := e.apiJSON(betaKey, http.MethodPost, "/api/v1/refunds", "beta-1", body); status != http.StatusNotFound {
		t.Errorf("beta refunds alpha's payment: %d", status)
	}
	if got := e.platformRefunds(paid.PlatformID); len(got) != 1 {
		t.Fatalf("platform got %d refunds", len(got))
	}
}

func TestFiftyConcurrentRefundRequestsMakeOneRefund(t *testing.T) {
	e := newEnv(t)
	key := handlersNewKey(t, e, "alpha")
	fire := func(n int, f func(i int)) {
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() { defer wg.Done(); <-start; f(i) }()
		}
		close(start)
		wg.Wait()
	}

	// 50 clicks on the same form.
	a := e.pay(sandbox.PaymentRequest{MerchantCode: "alpha", Amount: 20000}, domain.StatusSucceeded)
	op := e.login("operator@alpha.test")
	fire(50, func(int) {
		req, _ := http.NewRequest(http.MethodPost, fmt.Sprintf("%s/transactions/%d/refunds", e.srv.URL, a.ID),
			strings.NewReader(refundForm("200.00", "double click", "same-form").Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if resp, err := op.Do(req); err == nil {
			resp.Body.Close()
		}
	})
	// 50 API calls with 50 different keys for the whole amount: one wins.
	b := e.pay(sandbox.PaymentRequest{MerchantCode: "alpha", Amount: 20000}, domain.StatusSucceeded)
	var mu sync.Mutex
	codes := map[int]int{}
	fire(50, func(i int) {
		status, _ := e.apiJSON(key, http.MethodPost, "/api/v1/refunds", fmt.Sprintf("k-%d", i),
			map[string]any{"transaction_id": b.PlatformID, "amount": 20000, "reason": "race"})
		mu.Lock()
		codes[status]++
		mu.Unlock()
	})
	if codes[http.StatusCreated] != 1 || codes[http.StatusUnprocessableEntity] != 49 {
		t.Errorf("answers %v, want one 201 and 49 422", codes)
	}
	// 50 API retries with one key.
	c := e.pay(sandbox.PaymentRequest{MerchantCode: "alpha", Amount: 20000}, domain.StatusSucceeded)
	ids := map[string]int{}
	fire(50, func(int) {
		_, out := e.apiJSON(key, http.MethodPost, "/api/v1/refunds", "retry-storm",
			map[string]any{"transaction_id": c.PlatformID, "amount": 500, "reason": "retry storm"})
		mu.Lock()
		ids[fmt.Sprint(out["id"])]++
		mu.Unlock()
	})
	if len(ids) != 1 {
		t.Errorf("one key gave refunds %v", ids)
	}
	for _, tx := range []domain.Transaction{a, b, c} {
		rs := e.refundsOf("alpha", tx.ID)
		if len(rs) != 1 {
			t.Fatalf("%s: %d refunds in the console", tx.PlatformID, len(rs))
		}
		e.waitRefund("alpha", rs[0].ID, domain.RefundSucceeded)
		if got := e.platformRefunds(tx.PlatformID); len(got) != 1 {
			t.Errorf("%s: the platform received %d refunds", tx.PlatformID, len(got))
		}
	}
}

func TestLargeRefundsNeedASecondAdmin(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	limit := int64(100000) // 1,000.00
	if err := e.store.SaveRefundPolicy(ctx, e.m["alpha"].ID, domain.RefundPolicy{ApprovalAbove: &limit, GraceMinutes: 30}); err != nil {
		t.Fatal(err)
	}
	second, err := e.store.CreateUser(ctx, e.m["alpha"].ID, domain.User{Email: "admin2@alpha.test", Role: domain.RoleAdmin, PasswordHash: testHash()})
	if err != nil {
		t.Fatal(err)
	}
	_ = second
	tx := e.pay(sandbox.PaymentRequest{MerchantCode: "alpha", Amount: 500000}, domain.StatusSucceeded)
	admin := e.login("admin@alpha.test")
	e.post(admin, fmt.Sprintf("/transactions/%d/refunds", tx.ID), refundForm("2000", "大额退款", "big")).Body.Close()
	rs := e.refundsOf("alpha", tx.ID)
	if len(rs) != 1 || rs[0].State != domain.RefundAwaitingApproval {
		t.Fatalf("refunds %+v", rs)
	}
	r := rs[0]
	// Not by the requester, not by an operator.
	resp := e.post(admin, fmt.Sprintf("/refunds/%d/approve", r.ID), nil)
	resp.Body.Close()
	if got, _ := e.store.Refund(ctx, e.m["alpha"].ID, r.ID); got.State != domain.RefundAwaitingApproval {
		t.Fatalf("the requester approved own refund: %s", got.State)
	}
	if resp := e.post(e.login("operator@alpha.test"), fmt.Sprintf("/refunds/%d/approve", r.ID), nil); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("operator approve: %d", resp.StatusCode)
	}
	// Nothing reached the platform while waiting.
	time.Sleep(300 * time.Millisecond)
	if got := e.platformRefunds(tx.PlatformID); len(got) != 0 {
		t.Fatalf("sent before approval: %+v", got)
	}
	other := e.login("admin2@alpha.test")
	list := doc(t, e.get(other, "/refunds?state=awaiting_approval"))
	if list.Find(`[data-testid="refunds-row"] `+tid("refund-approve")).Length() != 1 {
		t.Fatal("the approver's worklist has no approve button")
	}
	e.post(other, fmt.Sprintf("/refunds/%d/approve", r.ID), url.Values{"note": {"核实无误"}}).Body.Close()
	got := e.waitRefund("alpha", r.ID, domain.RefundSucceeded)
	if got.ApprovedBy == nil || *got.ApprovedBy != second.ID {
		t.Errorf("approved by %v", got.ApprovedBy)
	}
	// A rejected request frees its amount.
	e.post(admin, fmt.Sprintf("/transactions/%d/refunds", tx.ID), refundForm("3000", "再退一笔", "big2")).Body.Close()
	rs = e.refundsOf("alpha", tx.ID)
	e.post(other, fmt.Sprintf("/refunds/%d/reject", rs[1].ID), url.Values{"note": {"金额有误"}}).Body.Close()
	if got, _ := e.store.Refund(ctx, e.m["alpha"].ID, rs[1].ID); got.State != domain.RefundRejected || got.DecisionNote != "金额有误" {
		t.Fatalf("reject: %+v", got)
	}
	avail, _ := e.store.Refundable(ctx, e.m["alpha"].ID, tx)
	if avail.Remainder() != 300000 {
		t.Errorf("remainder after reject %d", avail.Remainder())
	}
	var actions []string
	if err := e.store.DB().Select(&actions, `SELECT action || ':' || result FROM audit_log WHERE merchant_id = $1 AND action LIKE 'refund.%' ORDER BY id`,
		e.m["alpha"].ID); err != nil {
		t.Fatal(err)
	}
	want := "refund.request:ok refund.approve:denied refund.approve:ok refund.request:ok refund.reject:ok"
	if strings.Join(actions, " ") != want {
		t.Errorf("audit %v, want %s", actions, want)
	}
}

func TestRefundFaults(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	mid := e.m["alpha"].ID
	key := handlersNewKey(t, e, "alpha")
	create := func(tx domain.Transaction, idem string) domain.Refund {
		t.Helper()
		status, out := e.apiJSON(key, http.MethodPost, "/api/v1/refunds", idem,
			map[string]any{"transaction_id": tx.PlatformID, "amount": 1000, "reason": "fault test"})
		if status != http.StatusCreated {
			t.Fatalf("create: %d %v", status, out)
		}
		r, err := e.store.RefundByPublicID(ctx, mid, out["id"].(string))
		if err != nil {
			t.Fatal(err)
		}
		return r
	}

	t.Run("platform down: not submitted, then retried once", func(t *testing.T) {
		tx := e.pay(sandbox.PaymentRequest{MerchantCode: "alpha", Amount: 5000}, domain.StatusSucceeded)
		_ = e.platform.SetFault(sandbox.FaultError)
		r := create(tx, "down-1")
		got := e.waitRefund("alpha", r.ID, domain.RefundNotSubmitted)
		if got.FailureReason == "" || got.Attempts < 6 {
			t.Errorf("not submitted after %d attempts, reason %q", got.Attempts, got.FailureReason)
		}
		_ = e.platform.SetFault(sandbox.FaultOK)
		if n := len(e.platformRefunds(tx.PlatformID)); n != 0 {
			t.Fatalf("platform has %d refunds", n)
		}
		e.post(e.login("operator@alpha.test"), fmt.Sprintf("/refunds/%d/retry", r.ID), nil).Body.Close()
		e.waitRefund("alpha", r.ID, domain.RefundSucceeded)
		if n := len(e.platformRefunds(tx.PlatformID)); n != 1 {
			t.Fatalf("platform has %d refunds", n)
		}
	})

	t.Run("platform acted but its answer was lost: same key, one refund", func(t *testing.T) {
		tx := e.pay(sandbox.PaymentRequest{MerchantCode: "alpha", Amount: 5000}, domain.StatusSucceeded)
		e.loseAnswers.Store(3)
		r := create(tx, "lost-1")
		e.waitRefund("alpha", r.ID, domain.RefundSucceeded)
		e.loseAnswers.Store(0)
		if got := e.platformRefunds(tx.PlatformID); len(got) != 1 || got[0].ID == "" {
			t.Fatalf("platform has %+v", got)
		}
	})

	t.Run("platform times out: retried with the same key", func(t *testing.T) {
		tx := e.pay(sandbox.PaymentRequest{MerchantCode: "alpha", Amount: 5000}, domain.StatusSucceeded)
		_ = e.platform.SetFault(sandbox.FaultTimeout)
		r := create(tx, "slow-1")
		e.eventually(5*time.Second, func() bool {
			got, _ := e.store.Refund(ctx, mid, r.ID)
			return got.Attempts >= 2 && got.FailureReason != ""
		}, "attempts while the platform hangs")
		_ = e.platform.SetFault(sandbox.FaultOK)
		e.waitRefund("alpha", r.ID, domain.RefundSucceeded)
		if n := len(e.platformRefunds(tx.PlatformID)); n != 1 {
			t.Fatalf("platform has %d refunds", n)
		}
	})

	t.Run("platform fails the refund: reason shown, retry is a new refund", func(t *testing.T) {
		tx := e.pay(sandbox.PaymentRequest{MerchantCode: "alpha", Amount: 5000, RefundOutcome: "failed"}, domain.StatusSucceeded)
		r := create(tx, "fail-1")
		got := e.waitRefund("alpha", r.ID, domain.RefundFailed)
		if got.FailureReason == "" {
			t.Error("failed refund without a reason")
		}
		op := e.login("operator@alpha.test")
		page := doc(t, e.get(op, fmt.Sprintf("/transactions/%d", tx.ID)))
		if page.Find(tid("refund-failure")).Text() == "" || page.Find(tid("refund-retry")).Length() != 1 {
			t.Error("failed refund shows no reason or retry")
		}
		// The failed refund no longer holds money.
		if avail, _ := e.store.Refundable(ctx, mid, tx); avail.Remainder() != 5000 {
			t.Errorf("remainder %d", avail.Remainder())
		}
		e.post(op, fmt.Sprintf("/refunds/%d/retry", r.ID), nil).Body.Close()
		e.post(op, fmt.Sprintf("/refunds/%d/retry", r.ID), nil).Body.Close() // a second click
		rs := e.refundsOf("alpha", tx.ID)
		if len(rs) != 2 || rs[1].RetryOf == nil || *rs[1].RetryOf != r.ID || rs[1].PublicID == r.PublicID {
			t.Fatalf("retry rows %+v", rs)
		}
		e.waitRefund("alpha", rs[1].ID, domain.RefundFailed) // this transaction's refunds always fail
		if n := len(e.platformRefunds(tx.PlatformID)); n != 2 {
			t.Errorf("platform has %d refunds, want 2 (two keys)", n)
		}
	})

	t.Run("job cannot be queued: no refund either", func(t *testing.T) {
		tx := e.pay(sandbox.PaymentRequest{MerchantCode: "alpha", Amount: 5000}, domain.StatusSucceeded)
		boom := errors.New("queue down")
		_, _, err := e.store.CreateRefund(ctx, mid, db.NewRefund{TransactionID: tx.ID, Source: domain.RefundFromConsole,
			Request: domain.RefundRequest{Amount: 100, Reason: "x"}, Now: time.Now()},
			func(context.Context, *db.Store, domain.Refund) error { return boom })
		if !errors.Is(err, boom) {
			t.Fatalf("err %v", err)
		}
		var refunds, timeline int
		_ = e.store.DB().Get(&refunds, `SELECT count(*) FROM refunds WHERE transaction_id = $1`, tx.ID)
		_ = e.store.DB().Get(&timeline, `SELECT count(*) FROM timeline WHERE transaction_id = $1 AND kind LIKE 'refund.%'`, tx.ID)
		if refunds != 0 || timeline != 0 {
			t.Fatalf("half-written: %d refunds, %d timeline entries", refunds, timeline)
		}
	})
}

func TestRefundConvergesByPollingWhenWebhooksAreLost(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	tx := e.pay(sandbox.PaymentRequest{MerchantCode: "alpha", Amount: 5000}, domain.StatusSucceeded)
	// From now on the console refuses the platform's webhooks (wrong secret).
	sealed, _ := e.sealer.Seal("whsec_rotated_elsewhere")
	if _, err := e.store.DB().Exec(`UPDATE merchants SET webhook_secrets = ARRAY[$1] WHERE id = $2`, sealed, e.m["alpha"].ID); err != nil {
		t.Fatal(err)
	}
	r, _, err := e.store.CreateRefund(ctx, e.m["alpha"].ID, db.NewRefund{TransactionID: tx.ID, Source: domain.RefundFromConsole,
		Request: domain.RefundRequest{Amount: 1200, Reason: "poll"}, Now: time.Now()},
		func(ctx context.Context, s *db.Store, r domain.Refund) error {
			return e.jobs.EnqueueRefund(ctx, s.Tx(), r.MerchantID, r.ID)
		})
	if err != nil {
		t.Fatal(err)
	}
	got := e.waitRefund("alpha", r.ID, domain.RefundSucceeded)
	if got.PlatformRefundID == nil {
		t.Fatal("no platform id")
	}
	// The payment's refunded amount converges without the webhook, from a "query" event.
	e.eventually(5*time.Second, func() bool {
		t2, _ := e.store.TransactionByPlatformID(ctx, e.m["alpha"].ID, tx.PlatformID)
		return t2.RefundedAmount == 1200 && t2.Status == domain.StatusPartiallyRefunded
	}, "refunded amount folds from the poll")
	evs, _ := e.store.Events(ctx, e.m["alpha"].ID, tx.PlatformID)
	var queried int
	for _, ev := range evs {
		if ev.Type == "refund.succeeded" && ev.Source == "query" {
			queried++
		}
	}
	if queried != 1 {
		t.Errorf("%d queried refund events, want 1", queried)
	}
}

func TestLateWebhookAndPollAgreeOnOneFinalState(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	mid := e.m["alpha"].ID
	tx := e.pay(sandbox.PaymentRequest{MerchantCode: "alpha", Amount: 5000}, domain.StatusSucceeded)
	r, _, err := e.store.CreateRefund(ctx, mid, db.NewRefund{TransactionID: tx.ID, Source: domain.RefundFromConsole,
		Request: domain.RefundRequest{Amount: 700, Reason: "order"}, Now: time.Now()},
		func(context.Context, *db.Store, domain.Refund) error { return nil }) // no job: drive it by hand
	if err != nil {
		t.Fatal(err)
	}
	// The webhook arrives before the console learned the platform's refund id.
	ev := fmt.Sprintf(`{"id":"evt_rf_early","type":"refund.succeeded","created":%d,"data":{"transaction_id":%q,"refund_id":"re_early","amount":700,"currency":"CNY","occurred_at":%q}}`,
		time.Now().Unix(), tx.PlatformID, time.Now().UTC().Format(time.RFC3339))
	if resp := e.deliver("alpha", []byte(ev), time.Now()); resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook %d %s", resp.StatusCode, body(t, resp))
	}
	got, changed, err := e.store.RecordRefundOutcome(ctx, mid, r.ID, db.RefundOutcome{State: domain.RefundSubmitted,
		PlatformRefundID: "re_early", Via: "submit"}, time.Now())
	if err != nil || !changed || got.State != domain.RefundSucceeded {
		t.Fatalf("after submit: %v %v %+v", err, changed, got)
	}
	// A late "failed" poll answer cannot move it back.
	got, changed, err = e.store.RecordRefundOutcome(ctx, mid, r.ID, db.RefundOutcome{State: domain.RefundFailed, Via: "poll"}, time.Now())
	if err != nil || changed || got.State != domain.RefundSucceeded {
		t.Fatalf("after late poll: %v %v %s", err, changed, got.State)
	}
}

// TestRefundSurvivesTheDatabaseDying cuts the console's database connection at the
// two worst moments: between writing the refund and committing it (afterwards the
// refund and its job are both absent), and after the platform accepted the refund
// but before the console recorded that (afterwards it is recorded once, and the
// platform saw one refund).
func TestRefundSurvivesTheDatabaseDying(t *testing.T) {
	e, p, direct := proxiedEnv(t)
	ctx := context.Background()
	mid := e.m["alpha"].ID
	count := func(q string, args ...any) int {
		var n int
		if err := direct.Get(&n, q, args...); err != nil {
			t.Fatal(err)
		}
		return n
	}

	tx := e.pay(sandbox.PaymentRequest{MerchantCode: "alpha", Amount: 5000}, domain.StatusSucceeded)
	_, _, err := e.store.CreateRefund(ctx, mid, db.NewRefund{TransactionID: tx.ID, Source: domain.RefundFromConsole,
		Request: domain.RefundRequest{Amount: 1000, Reason: "db dies"}, Now: time.Now()},
		func(ctx context.Context, s *db.Store, r domain.Refund) error {
			if err := e.jobs.EnqueueRefund(ctx, s.Tx(), r.MerchantID, r.ID); err != nil {
				return err
			}
			p.setDown(true) // the commit never reaches the database
			return nil
		})
	p.setDown(false)
	if err == nil {
		t.Fatal("commit succeeded through a cut connection")
	}
	if n, j := count(`SELECT count(*) FROM refunds`), count(`SELECT count(*) FROM river_job WHERE kind = 'refund_submit'`); n != 0 || j != 0 {
		t.Fatalf("after the cut: %d refunds, %d jobs", n, j)
	}

	// Now the database goes away right after the platform accepted the refund.
	var once sync.Once
	e.onRefundAnswer.Store(func() {
		once.Do(func() {
			p.setDown(true)
			time.AfterFunc(700*time.Millisecond, func() { p.setDown(false) })
		})
	})
	r, _, err := e.store.CreateRefund(ctx, mid, db.NewRefund{TransactionID: tx.ID, Source: domain.RefundFromConsole,
		Request: domain.RefundRequest{Amount: 1000, Reason: "db dies later"}, Now: time.Now()},
		func(ctx context.Context, s *db.Store, r domain.Refund) error {
			return e.jobs.EnqueueRefund(ctx, s.Tx(), r.MerchantID, r.ID)
		})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for count(`SELECT count(*) FROM refunds WHERE id = $1 AND state = 'succeeded'`, r.ID) == 0 {
		if time.Now().After(deadline) {
			var st, reason string
			_ = direct.QueryRow(`SELECT state, failure_reason FROM refunds WHERE id = $1`, r.ID).Scan(&st, &reason)
			t.Fatalf("refund stuck in %s (%s)", st, reason)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := e.platformRefunds(tx.PlatformID); len(got) != 1 {
		t.Fatalf("the platform received %d refunds", len(got))
	}
}

func TestRefundPolicyIsAdminOnlyValidatedAndAudited(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	mid := e.m["alpha"].ID
	if resp := e.post(e.login("operator@alpha.test"), "/settings/refunds", url.Values{"grace_minutes": {"10"}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("operator: %d", resp.StatusCode)
	}
	admin := e.login("admin@alpha.test")
	e.post(admin, "/settings/refunds", url.Values{"approval_above": {"1,000.00"}, "grace_minutes": {"45"},
		"auto_refund_minutes": {"60"}, "auto_refund_notify": {"on"}}).Body.Close()
	p, err := e.store.RefundPolicy(ctx, mid)
	if err != nil || p.ApprovalAbove == nil || *p.ApprovalAbove != 100000 || p.GraceMinutes != 45 ||
		p.AutoRefundMinutes == nil || *p.AutoRefundMinutes != 60 || !p.AutoRefundNotify {
		t.Fatalf("policy %+v %v", p, err)
	}
	page := doc(t, e.get(admin, "/settings"))
	if v, _ := page.Find(tid("policy-approval")).Attr("value"); v != "1000.00" {
		t.Errorf("approval shown %q", v)
	}
	e.post(admin, "/settings/refunds", url.Values{"approval_above": {"abc"}, "grace_minutes": {"45"}}).Body.Close()
	page = doc(t, e.get(admin, "/settings"))
	if msg := page.Find(".flash-error").Text(); !strings.Contains(msg, "审批金额格式不正确") {
		t.Errorf("message %q", msg)
	}
	e.post(admin, "/settings/refunds", url.Values{"grace_minutes": {"0"}}).Body.Close()
	if p2, _ := e.store.RefundPolicy(ctx, mid); p2.GraceMinutes != 45 {
		t.Errorf("bad input changed the policy: %+v", p2)
	}
	var n int
	_ = e.store.DB().Get(&n, `SELECT count(*) FROM audit_log WHERE merchant_id = $1 AND action = 'settings.refunds'`, mid)
	if n != 1 {
		t.Errorf("%d audit entries", n)
	}
}

// TestRevokedAPIKeyStopsAtOnce: API keys are remembered for a moment per replica,
// but revoking one in Settings ends it at once on this replica.
func TestRevokedAPIKeyStopsAtOnce(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@alpha.test")
	resp := e.post(admin, "/settings/apikeys", url.Values{"name": {"erp"}})
	page := body(t, resp)
	var key string
	for _, f := range strings.Fields(page) {
		if i := strings.Index(f, "pm_live_"); i >= 0 {
			key = strings.Trim(f[i:], `"<>/`)
			if j := strings.IndexAny(key, "<\""); j > 0 {
				key = key[:j]
			}
			break
		}
	}
	if key == "" {
		t.Fatalf("no key shown: %s", page)
	}
	if status, _ := e.apiJSON(key, http.MethodGet, "/api/v1/transactions", "", nil); status != http.StatusOK {
		t.Fatalf("fresh key: %d", status)
	}
	var id int64
	if err := e.store.DB().Get(&id, `SELECT id FROM api_keys WHERE merchant_id = $1 AND name = 'erp'`, e.m["alpha"].ID); err != nil {
		t.Fatal(err)
	}
	e.post(admin, fmt.Sprintf("/settings/apikeys/%d/revoke", id), nil).Body.Close()
	if status, _ := e.apiJSON(key, http.MethodGet, "/api/v1/transactions", "", nil); status != http.StatusUnauthorized {
		t.Fatalf("revoked key: %d", status)
	}
}
