package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/smtp"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"paymend/domain"
)

var testSecret = []byte("whsec_test_demo")

// fakeConsole is the console's webhook endpoint: it verifies signatures with
// domain.VerifyWebhook and parses bodies with domain.ParseEvent, as the real one must.
type fakeConsole struct {
	t      testing.TB
	srv    *httptest.Server
	mu     sync.Mutex
	events []domain.PaymentEvent
	paths  []string
	bad    []string
	fails  int // answer 500 to this many requests first
	hits   int
}

func newFakeConsole(t testing.TB) *fakeConsole {
	c := &fakeConsole{t: t}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		defer c.mu.Unlock()
		c.hits++
		if c.fails > 0 {
			c.fails--
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			c.bad = append(c.bad, "method/content-type "+r.Method+" "+r.Header.Get("Content-Type"))
			http.Error(w, "bad", http.StatusBadRequest)
			return
		}
		if err := domain.VerifyWebhook(r.Header.Get("Oulepay-Signature"), body, [][]byte{testSecret}, time.Now()); err != nil {
			c.bad = append(c.bad, "signature: "+err.Error())
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		ev, err := domain.ParseEvent(body)
		if err != nil {
			c.bad = append(c.bad, "parse: "+err.Error()+": "+string(body))
			http.Error(w, "bad event", http.StatusBadRequest)
			return
		}
		c.events = append(c.events, ev)
		c.paths = append(c.paths, r.URL.Path)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(c.srv.Close)
	return c
}

// wait returns the events once at least n arrived.
func (c *fakeConsole) wait(n int) []domain.PaymentEvent {
	c.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		evs := append([]domain.PaymentEvent(nil), c.events...)
		bad := append([]string(nil), c.bad...)
		c.mu.Unlock()
		if len(bad) > 0 {
			c.t.Fatalf("console refused deliveries: %v", bad)
		}
		if len(evs) >= n {
			return evs
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("console got %d events, want %d", len(evs), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitDeliveries returns the delivery log once it has at least n entries.
func waitDeliveries(t testing.TB, sb *Sandbox, n int) []Delivery {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		d := sb.Deliveries()
		if len(d) >= n {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("deliveries = %+v, want %d", d, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func testConfig(consoleURL string) Config {
	return Config{
		ConsoleURL:         consoleURL,
		APIKey:             "sk_test",
		Secrets:            map[string][]byte{"demo": testSecret},
		RefundDelay:        20 * time.Millisecond,
		TimeoutThenSuccess: 50 * time.Millisecond,
		SlowDelay:          150 * time.Millisecond,
		HangTimeout:        2 * time.Second,
		WebhookBackoff:     5 * time.Millisecond,
		Logger:             slog.New(slog.DiscardHandler),
	}
}

// newTestSandbox starts a sandbox behind httptest with a fake console.
func newTestSandbox(t testing.TB) (*Sandbox, *httptest.Server, *fakeConsole) {
	console := newFakeConsole(t)
	sb := New(testConfig(console.srv.URL))
	api := httptest.NewServer(sb.Handler())
	t.Cleanup(func() { api.Close(); sb.Close() })
	return sb, api, console
}

type apiResp struct {
	Status int
	Header http.Header
	Body   []byte
}

func call(t testing.TB, method, url, key, idem string, body any) apiResp {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	if idem != "" {
		req.Header.Set("Idempotency-Key", idem)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return apiResp{resp.StatusCode, resp.Header, b}
}

func decode[T any](t testing.TB, r apiResp) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(r.Body, &v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
	return v
}

func errorCode(t testing.TB, r apiResp) string {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Error.Code
}

func TestPaymentWebhooksAreSignedAndParse(t *testing.T) {
	sb, api, console := newTestSandbox(t)
	resp := call(t, "POST", api.URL+"/_sandbox/payments", "", "", map[string]any{
		"merchant_code": "demo", "order_id": "O1", "amount": 12900, "currency": "CNY", "channel": "card",
		"outcome": "failed", "code": "101",
		"customer": map[string]string{"id": "C1", "name": "张三", "phone": "+8613812341234", "email": "zhang@example.com"},
	})
	if resp.Status != http.StatusCreated {
		t.Fatalf("POST /_sandbox/payments = %d %s", resp.Status, resp.Body)
	}
	txn := decode[Transaction](t, resp)
	if txn.Status != domain.StatusFailed || txn.Debited != 0 || txn.Code != "101" || !strings.HasPrefix(txn.ID, "T") {
		t.Fatalf("transaction = %+v", txn)
	}
	ev := console.wait(1)[0]
	if ev.Type != domain.EventPaymentFailed || ev.TransactionID != txn.ID || ev.Code != "101" || ev.Message != "余额不足" ||
		ev.Amount != 12900 || ev.Customer.Phone != "+8613812341234" || ev.OrderID != "O1" || !strings.HasPrefix(ev.ID, "evt_") {
		t.Fatalf("event = %+v", ev)
	}
	if got := console.paths[0]; got != "/webhooks/oulepay/demo" {
		t.Fatalf("webhook path = %q", got)
	}
	if d := waitDeliveries(t, sb, 1); len(d) != 1 || !d[0].OK || d[0].Attempts != 1 {
		t.Fatalf("deliveries = %+v", d)
	}
}

func TestTimeoutThenSuccess(t *testing.T) {
	sb, api, console := newTestSandbox(t)
	txn, err := sb.CreatePayment(PaymentRequest{Outcome: OutcomeTimeoutThenSuccess, Amount: 5000})
	if err != nil {
		t.Fatal(err)
	}
	if txn.Status != domain.StatusFailed || txn.Code != "202" || txn.Debited != 5000 {
		t.Fatalf("at first: %+v", txn)
	}
	evs := console.wait(2)
	types := map[domain.EventType]domain.PaymentEvent{}
	for _, e := range evs {
		types[e.Type] = e
	}
	if types[domain.EventPaymentFailed].Code != "202" || types[domain.EventPaymentSucceeded].TransactionID != txn.ID {
		t.Fatalf("events = %+v", evs)
	}
	got := decode[Transaction](t, call(t, "GET", api.URL+"/v1/transactions/"+txn.ID, "sk_test", "", nil))
	if got.Status != domain.StatusSucceeded || got.Debited != 5000 {
		t.Fatalf("later: %+v", got)
	}
}

func TestRefundLifecycleAndWebhooks(t *testing.T) {
	sb, api, console := newTestSandbox(t)
	txn, _ := sb.CreatePayment(PaymentRequest{Outcome: OutcomeSucceeded, Amount: 10000})
	console.wait(1)

	// Two partial refunds, then one that is too large.
	r1 := call(t, "POST", api.URL+"/v1/refunds", "sk_test", "k1", map[string]any{"transaction_id": txn.ID, "amount": 4000, "reason": "客户取消"})
	if r1.Status != http.StatusCreated {
		t.Fatalf("refund 1 = %d %s", r1.Status, r1.Body)
	}
	rf := decode[Refund](t, r1)
	if rf.Status != "pending" || rf.Amount != 4000 || !strings.HasPrefix(rf.ID, "R") {
		t.Fatalf("refund 1 = %+v", rf)
	}
	tooMuch := call(t, "POST", api.URL+"/v1/refunds", "sk_test", "k2", map[string]any{"transaction_id": txn.ID, "amount": 6001})
	if tooMuch.Status != http.StatusUnprocessableEntity || errorCode(t, tooMuch) != "amount_exceeds_refundable" {
		t.Fatalf("over-refund = %d %s", tooMuch.Status, tooMuch.Body)
	}
	r3 := call(t, "POST", api.URL+"/v1/refunds", "sk_test", "k3", map[string]any{"transaction_id": txn.ID, "amount": 6000})
	if r3.Status != http.StatusCreated {
		t.Fatalf("refund 3 = %d %s", r3.Status, r3.Body)
	}
	evs := console.wait(3)
	var refundEvents []domain.PaymentEvent
	for _, e := range evs {
		if e.Type.IsRefund() {
			refundEvents = append(refundEvents, e)
		}
	}
	if len(refundEvents) != 2 {
		t.Fatalf("refund events = %+v", refundEvents)
	}
	for _, e := range refundEvents {
		if e.Type != domain.EventRefundSucceeded || e.TransactionID != txn.ID || e.RefundID == "" || e.Channel != "card" {
			t.Fatalf("refund event = %+v", e)
		}
	}
	got := decode[Refund](t, call(t, "GET", api.URL+"/v1/refunds/"+rf.ID, "sk_test", "", nil))
	if got.Status != "succeeded" {
		t.Fatalf("refund after settle = %+v", got)
	}
	list := decode[struct{ Data []Refund }](t, call(t, "GET", api.URL+"/v1/refunds?transaction_id="+txn.ID, "sk_test", "", nil))
	if len(list.Data) != 2 || list.Data[0].ID != rf.ID {
		t.Fatalf("list = %+v", list)
	}
	tx := decode[Transaction](t, call(t, "GET", api.URL+"/v1/transactions/"+txn.ID, "sk_test", "", nil))
	if tx.Status != domain.StatusRefunded || tx.Refunded != 10000 {
		t.Fatalf("transaction after refunds = %+v", tx)
	}
	// Nothing is refundable any more.
	again := call(t, "POST", api.URL+"/v1/refunds", "sk_test", "k4", map[string]any{"transaction_id": txn.ID, "amount": 1})
	if again.Status != http.StatusUnprocessableEntity {
		t.Fatalf("refund of a refunded transaction = %d", again.Status)
	}
}

func TestRefundFailures(t *testing.T) {
	sb, api, console := newTestSandbox(t)
	byMarker, _ := sb.CreatePayment(PaymentRequest{Outcome: OutcomeSucceeded, Amount: 800, RefundOutcome: "failed"})
	if !strings.HasSuffix(byMarker.ID, RefundFailMarker) {
		t.Fatalf("id %q lacks the marker", byMarker.ID)
	}
	normal, _ := sb.CreatePayment(PaymentRequest{Outcome: OutcomeSucceeded, Amount: 800})
	console.wait(2)

	call(t, "POST", api.URL+"/v1/refunds", "sk_test", "m1", map[string]any{"transaction_id": byMarker.ID, "amount": 800})
	if err := sb.SetFault(FaultRefundFail); err != nil {
		t.Fatal(err)
	}
	call(t, "POST", api.URL+"/v1/refunds", "sk_test", "m2", map[string]any{"transaction_id": normal.ID, "amount": 300})
	evs := console.wait(4)
	failed := 0
	for _, e := range evs {
		if e.Type == domain.EventRefundFailed {
			failed++
			if e.FailureReason == "" || e.Amount == 0 {
				t.Fatalf("refund.failed = %+v", e)
			}
		}
	}
	if failed != 2 {
		t.Fatalf("refund.failed events = %d, want 2 (%+v)", failed, evs)
	}
	// A failed refund frees the amount again.
	if err := sb.SetFault(FaultOK); err != nil {
		t.Fatal(err)
	}
	r := call(t, "POST", api.URL+"/v1/refunds", "sk_test", "m3", map[string]any{"transaction_id": normal.ID, "amount": 800})
	if r.Status != http.StatusCreated {
		t.Fatalf("refund after a failed one = %d %s", r.Status, r.Body)
	}
}

func TestRefundIdempotency(t *testing.T) {
	sb, api, _ := newTestSandbox(t)
	txn, _ := sb.CreatePayment(PaymentRequest{Outcome: OutcomeSucceeded, Amount: 10000})
	body := map[string]any{"transaction_id": txn.ID, "amount": 100, "reason": "dup"}

	first := call(t, "POST", api.URL+"/v1/refunds", "sk_test", "same-key", body)
	second := call(t, "POST", api.URL+"/v1/refunds", "sk_test", "same-key", body)
	if first.Status != http.StatusCreated || second.Status != http.StatusOK || second.Header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("statuses %d, %d", first.Status, second.Status)
	}
	if a, b := decode[Refund](t, first), decode[Refund](t, second); a.ID != b.ID {
		t.Fatalf("same key gave two refunds: %s, %s", a.ID, b.ID)
	}
	other := call(t, "POST", api.URL+"/v1/refunds", "sk_test", "same-key", map[string]any{"transaction_id": txn.ID, "amount": 101, "reason": "dup"})
	if other.Status != http.StatusConflict || errorCode(t, other) != "idempotency_key_reused" {
		t.Fatalf("same key, other body = %d %s", other.Status, other.Body)
	}

	// 50 concurrent requests with one key make one refund.
	var wg sync.WaitGroup
	ids := make([]string, 50)
	for i := range ids {
		wg.Go(func() {
			r := call(t, "POST", api.URL+"/v1/refunds", "sk_test", "concurrent-key", map[string]any{"transaction_id": txn.ID, "amount": 50})
			if r.Status != http.StatusCreated && r.Status != http.StatusOK {
				t.Errorf("concurrent refund = %d %s", r.Status, r.Body)
				return
			}
			ids[i] = decode[Refund](t, r).ID
		})
	}
	wg.Wait()
	for _, id := range ids {
		if id != ids[0] {
			t.Fatalf("concurrent calls made different refunds: %v", ids)
		}
	}
	list := decode[struct{ Data []Refund }](t, call(t, "GET", api.URL+"/v1/refunds?transaction_id="+txn.ID, "sk_test", "", nil))
	if len(list.Data) != 2 {
		t.Fatalf("refunds = %d, want 2", len(list.Data))
	}
}

func TestAPIRequestChecks(t *testing.T) {
	sb, api, _ := newTestSandbox(t)
	txn, _ := sb.CreatePayment(PaymentRequest{Outcome: OutcomeSucceeded})
	tests := []struct {
		name, method, path, key, idem string
		body                          any
		status                        int
		code                          string
	}{
		{"no key", "GET", "/v1/transactions/" + txn.ID, "", "", nil, 401, "unauthorized"},
		{"wrong key", "GET", "/v1/transactions/" + txn.ID, "nope", "", nil, 401, "unauthorized"},
		{"unknown transaction", "GET", "/v1/transactions/TNOPE", "sk_test", "", nil, 404, "transaction_not_found"},
		{"unknown refund", "GET", "/v1/refunds/RNOPE", "sk_test", "", nil, 404, "refund_not_found"},
		{"no idempotency key", "POST", "/v1/refunds", "sk_test", "", map[string]any{"transaction_id": txn.ID, "amount": 1}, 400, "idempotency_key_required"},
		{"float amount", "POST", "/v1/refunds", "sk_test", "f", map[string]any{"transaction_id": txn.ID, "amount": 1.5}, 400, "invalid_request"},
		{"zero amount", "POST", "/v1/refunds", "sk_test", "z", map[string]any{"transaction_id": txn.ID, "amount": 0}, 422, "invalid_amount"},
		{"refund unknown transaction", "POST", "/v1/refunds", "sk_test", "u", map[string]any{"transaction_id": "TNOPE", "amount": 1}, 404, "transaction_not_found"},
		{"list without transaction", "GET", "/v1/refunds", "sk_test", "", nil, 400, "invalid_request"},
		{"bad outcome", "POST", "/_sandbox/payments", "", "", map[string]any{"outcome": "maybe"}, 400, "invalid_request"},
		{"bad currency", "POST", "/_sandbox/payments", "", "", map[string]any{"currency": "cny"}, 400, "invalid_request"},
		{"bad fault", "POST", "/_sandbox/faults", "", "", map[string]any{"mode": "chaos"}, 400, "invalid_request"},
		{"bad burst", "POST", "/_sandbox/burst", "", "", map[string]any{"count": 0}, 400, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, tt.method, api.URL+tt.path, tt.key, tt.idem, tt.body)
			if r.Status != tt.status || errorCode(t, r) != tt.code {
				t.Fatalf("%s %s = %d %s, want %d %s", tt.method, tt.path, r.Status, r.Body, tt.status, tt.code)
			}
		})
	}
	// Refunds of a failed payment: nothing was debited.
	failed, _ := sb.CreatePayment(PaymentRequest{Outcome: OutcomeFailed})
	r := call(t, "POST", api.URL+"/v1/refunds", "sk_test", "nf", map[string]any{"transaction_id": failed.ID, "amount": 1})
	if r.Status != http.StatusUnprocessableEntity {
		t.Fatalf("refund of undebited payment = %d", r.Status)
	}
}

func TestFaults(t *testing.T) {
	sb, api, _ := newTestSandbox(t)
	txn, _ := sb.CreatePayment(PaymentRequest{Outcome: OutcomeSucceeded})
	get := func() (apiResp, time.Duration) {
		start := time.Now()
		r := call(t, "GET", api.URL+"/v1/transactions/"+txn.ID, "sk_test", "", nil)
		return r, time.Since(start)
	}
	setFault := func(mode string) {
		r := call(t, "POST", api.URL+"/_sandbox/faults", "", "", map[string]string{"mode": mode})
		if r.Status != http.StatusOK {
			t.Fatalf("set fault %s = %d", mode, r.Status)
		}
	}

	setFault("error")
	if r, _ := get(); r.Status != http.StatusInternalServerError {
		t.Fatalf("error mode: %d", r.Status)
	}
	// Faults touch /v1 only.
	if r := call(t, "GET", api.URL+"/_sandbox/messages", "", "", nil); r.Status != http.StatusOK {
		t.Fatalf("messages under fault: %d", r.Status)
	}

	setFault("slow")
	if r, d := get(); r.Status != http.StatusOK || d < 150*time.Millisecond {
		t.Fatalf("slow mode: %d after %v", r.Status, d)
	}

	setFault("timeout")
	client := &http.Client{Timeout: 100 * time.Millisecond}
	req, _ := http.NewRequest("GET", api.URL+"/v1/transactions/"+txn.ID, nil)
	req.Header.Set("Authorization", "Bearer sk_test")
	start := time.Now()
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("timeout mode answered %d", resp.StatusCode)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("client waited %v", d)
	}
	if f := decode[struct{ Mode Fault }](t, call(t, "GET", api.URL+"/_sandbox/faults", "", "", nil)); f.Mode != FaultTimeout {
		t.Fatalf("GET faults = %v", f)
	}

	setFault("ok")
	if r, _ := get(); r.Status != http.StatusOK {
		t.Fatalf("ok mode: %d", r.Status)
	}
}

func TestBurst(t *testing.T) {
	sb, api, console := newTestSandbox(t)
	start := time.Now()
	r := call(t, "POST", api.URL+"/_sandbox/burst", "", "", map[string]any{"merchant_code": "demo", "code": "202", "count": 20, "seconds": 1})
	if r.Status != http.StatusAccepted {
		t.Fatalf("burst = %d %s", r.Status, r.Body)
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("burst answered after %v, want at once", d)
	}
	evs := console.wait(20)
	for _, e := range evs {
		if e.Type != domain.EventPaymentFailed || e.Code != "202" {
			t.Fatalf("burst event = %+v", e)
		}
	}
	if d := time.Since(start); d < 800*time.Millisecond {
		t.Fatalf("20 failures over 1 s arrived within %v", d)
	}
	time.Sleep(50 * time.Millisecond)
	if got := sb.Stats().Payments; got != 20 {
		t.Fatalf("payments = %d, want exactly 20", got)
	}
}

func TestWebhookRetries(t *testing.T) {
	sb, _, console := newTestSandbox(t)
	console.mu.Lock()
	console.fails = 2
	console.mu.Unlock()
	if _, err := sb.CreatePayment(PaymentRequest{Outcome: OutcomeFailed}); err != nil {
		t.Fatal(err)
	}
	console.wait(1)
	d := waitDeliveries(t, sb, 1)
	if len(d) != 1 || !d[0].OK || d[0].Attempts != 3 {
		t.Fatalf("deliveries = %+v", d)
	}
}

func TestWebhookGivesUpAndNoSecret(t *testing.T) {
	sb, _, console := newTestSandbox(t)
	console.mu.Lock()
	console.fails = 100
	console.mu.Unlock()
	sb.CreatePayment(PaymentRequest{Outcome: OutcomeFailed})
	sb.CreatePayment(PaymentRequest{Outcome: OutcomeFailed, MerchantCode: "other"})
	var gaveUp, noSecret bool
	for _, d := range waitDeliveries(t, sb, 2) {
		gaveUp = gaveUp || (!d.OK && d.Attempts == 4 && d.Status == 500)
		noSecret = noSecret || (!d.OK && d.Attempts == 0 && strings.Contains(d.Error, "no webhook secret"))
	}
	if !gaveUp || !noSecret {
		t.Fatalf("deliveries = %+v", sb.Deliveries())
	}
}

func TestSMS(t *testing.T) {
	sb, api, _ := newTestSandbox(t)
	post := func(key string, body any) apiResp {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", api.URL+"/_sandbox/sms", bytes.NewReader(b))
		if key != "" {
			req.Header.Set("X-API-Key", key)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return apiResp{resp.StatusCode, resp.Header, out}
	}
	if r := post("", map[string]string{"to": "+8613812341234", "text": "hi"}); r.Status != 401 {
		t.Fatalf("no key = %d", r.Status)
	}
	if r := post("k", map[string]string{"to": "12", "text": "hi"}); r.Status != 422 {
		t.Fatalf("bad number = %d", r.Status)
	}
	r := post("k", map[string]string{"to": "+8613812341234", "text": "【演示商城】您的支付未完成:余额不足。", "sender": "DEMO"})
	ack := decode[map[string]string](t, r)
	if r.Status != 200 || ack["status"] != "accepted" || !strings.HasPrefix(ack["id"], "sms_") {
		t.Fatalf("sms = %d %s", r.Status, r.Body)
	}
	post("k", map[string]string{"to": "13900000000", "text": "second"})

	all := decode[[]Message](t, call(t, "GET", api.URL+"/_sandbox/messages", "", "", nil))
	if len(all) != 2 || all[0].Text != "second" || all[1].Meta["sender"] != "DEMO" || all[1].Channel != "sms" {
		t.Fatalf("messages = %+v", all)
	}
	// ?to= matches with or without +86.
	mine := decode[[]Message](t, call(t, "GET", api.URL+"/_sandbox/messages?to=13812341234", "", "", nil))
	if len(mine) != 1 || mine[0].To != "+8613812341234" {
		t.Fatalf("filtered = %+v", mine)
	}
	if len(sb.Messages("+8613900000000")) != 1 {
		t.Fatal("Messages(to) filter failed")
	}
}

func TestInApp(t *testing.T) {
	sb, api, _ := newTestSandbox(t)
	send := func(sig string, body []byte) map[string]string {
		req, _ := http.NewRequest("POST", api.URL+"/_sandbox/inapp?merchant=demo", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if sig != "" {
			req.Header.Set("Oulepay-Signature", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("inapp = %d", resp.StatusCode)
		}
		var out map[string]string
		json.NewDecoder(resp.Body).Decode(&out)
		return out
	}
	body := []byte(`{"to":"C1","title":"支付未完成","text":"您的订单支付失败","transaction_id":"TABC"}`)
	if got := send(domain.SignWebhook(testSecret, time.Now(), body), body)["signature"]; got != "valid" {
		t.Fatalf("signed: %s", got)
	}
	if got := send(domain.SignWebhook([]byte("wrong"), time.Now(), body), body)["signature"]; got != "invalid" {
		t.Fatalf("wrong secret: %s", got)
	}
	if got := send("", body)["signature"]; got != "unsigned" {
		t.Fatalf("unsigned: %s", got)
	}
	msgs := sb.Messages("C1")
	if len(msgs) != 3 || msgs[2].Subject != "支付未完成" || msgs[2].Text != "您的订单支付失败" ||
		msgs[2].Meta["signature"] != "valid" || msgs[2].Meta["transaction_id"] != "TABC" || msgs[1].Meta["signature"] != "invalid" {
		t.Fatalf("messages = %+v", msgs)
	}
}

func TestSMTPReceivesRealMail(t *testing.T) {
	sb, api, _ := newTestSandbox(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sb.ServeSMTP(ctx, ln) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ServeSMTP: %v", err)
		}
	}()

	msg := strings.Join([]string{
		"From: Demo Shop <noreply@demo.test>",
		"To: zhang@example.com",
		"Subject: =?UTF-8?B?" + "5pSv5LuY5pyq5a6M5oiQ" + "?=", // 支付未完成
		"MIME-Version: 1.0",
		`Content-Type: multipart/alternative; boundary="b1"`,
		"",
		"--b1",
		"Content-Type: text/plain; charset=UTF-8",
		"Content-Transfer-Encoding: quoted-printable",
		"",
		"=E6=82=A8=E5=A5=BD=EF=BC=8C=E6=94=AF=E4=BB=98=E5=A4=B1=E8=B4=A5 soft=",
		"wrap",
		"--b1",
		"Content-Type: text/html; charset=UTF-8",
		"Content-Transfer-Encoding: base64",
		"",
		"PHA+aHRtbDwvcD4=",
		"--b1--",
		"",
	}, "\r\n")
	addr := ln.Addr().String()
	auth := smtp.PlainAuth("", "user", "any-password", "127.0.0.1")
	if err := smtp.SendMail(addr, auth, "noreply@demo.test", []string{"zhang@example.com", "li@example.com"}, []byte(msg)); err != nil {
		t.Fatalf("SendMail: %v", err)
	}
	got := decode[[]Message](t, call(t, "GET", api.URL+"/_sandbox/messages?to=zhang@example.com", "", "", nil))
	if len(got) != 1 {
		t.Fatalf("messages = %+v", got)
	}
	m := got[0]
	if m.Channel != "email" || m.Subject != "支付未完成" || m.Text != "您好，支付失败 softwrap" ||
		m.Meta["from"] != "noreply@demo.test" || m.Meta["auth_user"] != "user" {
		t.Fatalf("email = %+v", m)
	}
	if len(sb.Messages("li@example.com")) != 1 {
		t.Fatal("second recipient not recorded")
	}
	// Without AUTH too.
	if err := smtp.SendMail(addr, nil, "a@demo.test", []string{"wang@example.com"}, []byte("Subject: plain\r\n\r\nhello\r\n")); err != nil {
		t.Fatalf("SendMail without auth: %v", err)
	}
	if m := sb.Messages("wang@example.com"); len(m) != 1 || m[0].Subject != "plain" || m[0].Text != "hello" {
		t.Fatalf("plain mail = %+v", m)
	}
}

func TestParseEmail(t *testing.T) {
	tests := []struct {
		name, raw, subject, text string
	}{
		{"plain", "Subject: Hi\r\n\r\nBody text\r\n", "Hi", "Body text"},
		{"base64 body", "Subject: =?utf-8?q?=E9=80=80=E6=AC=BE?=\r\nContent-Transfer-Encoding: base64\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n6YCA5qy+\r\n5bey5Yiw6LSm\r\n", "退款", "退款已到账"},
		{"html only", "Subject: H\r\nContent-Type: text/html\r\n\r\n<p>Hello &amp; <b>bye</b></p><script>x()</script>", "H", "Hello & bye"},
		{"not a message", "garbage without headers", "", "garbage without headers"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			subject, text, _ := parseEmail([]byte(tt.raw))
			if subject != tt.subject || text != tt.text {
				t.Fatalf("parseEmail = %q, %q; want %q, %q", subject, text, tt.subject, tt.text)
			}
		})
	}
}

func TestPageEscapesAndLists(t *testing.T) {
	sb, api, _ := newTestSandbox(t)
	sb.recordMessage(Message{Channel: "sms", To: "+8613812341234", Text: `<script>alert(1)</script> 余额不足`})
	txn, _ := sb.CreatePayment(PaymentRequest{Outcome: OutcomeSucceeded, Amount: 12345})
	r := call(t, "GET", api.URL+"/_sandbox/", "", "", nil)
	page := string(r.Body)
	if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("page = %d %s", r.Status, r.Header.Get("Content-Type"))
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt; 余额不足", txn.ID, "123.45 CNY", "消息", "Messages", `data-testid="message"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(page, "<script>alert") {
		t.Error("page is not escaped")
	}
}

func TestImportTransaction(t *testing.T) {
	sb, api, _ := newTestSandbox(t)
	r := call(t, "POST", api.URL+"/_sandbox/transactions", "", "", map[string]any{"transaction_id": "TSEEDED1", "amount": 5000, "status": "succeeded"})
	if r.Status != http.StatusCreated {
		t.Fatalf("import = %d %s", r.Status, r.Body)
	}
	if r := call(t, "POST", api.URL+"/_sandbox/transactions", "", "", map[string]any{"transaction_id": "TSEEDED1", "amount": 1}); r.Status != http.StatusOK {
		t.Fatalf("import again = %d", r.Status)
	}
	time.Sleep(20 * time.Millisecond)
	if len(sb.Deliveries()) != 0 {
		t.Fatal("import sent a webhook")
	}
	if r := call(t, "POST", api.URL+"/v1/refunds", "sk_test", "seed", map[string]any{"transaction_id": "TSEEDED1", "amount": 5000}); r.Status != http.StatusCreated {
		t.Fatalf("refund of imported = %d %s", r.Status, r.Body)
	}
}

func TestServeShutsDownGracefully(t *testing.T) {
	console := newFakeConsole(t)
	cfg := testConfig(console.srv.URL)
	cfg.Stream, cfg.StreamInterval = true, 20*time.Millisecond
	sb := New(cfg)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	smtpLn, _ := net.Listen("tcp", "127.0.0.1:0")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sb.Serve(ctx, ln, smtpLn) }()

	console.wait(3) // the stream is flowing
	resp, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz: %v", err)
	}
	resp.Body.Close()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
	}
	if _, err := net.DialTimeout("tcp", smtpLn.Addr().String(), 200*time.Millisecond); err == nil {
		t.Fatal("smtp still listening")
	}
}

func TestRunRefusesBusyAddress(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	cfg := testConfig("")
	cfg.Addr = ln.Addr().String()
	if err := New(cfg).Run(context.Background()); err == nil {
		t.Fatal("Run on a busy address succeeded")
	}
}

var longDigits = regexp.MustCompile(`[0-9]{4,}`)

func TestIDs(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 5000; i++ {
		for _, id := range []string{newTxnID(), newRefundID(), newEventID(), newOrderID()} {
			if longDigits.MatchString(id) {
				t.Fatalf("id %q has a long digit run", id)
			}
			if seen[id] {
				t.Fatalf("duplicate id %q", id)
			}
			seen[id] = true
		}
	}
	if id := newTxnID(); len(id) != 17 || id[0] != 'T' {
		t.Fatalf("transaction id %q", id)
	}
	if id := newEventID(); !strings.HasPrefix(id, "evt_") {
		t.Fatalf("event id %q", id)
	}
}

func TestGeneratorMix(t *testing.T) {
	g := NewGenerator("demo", 42)
	const n = 5000
	outcomes := map[Outcome]int{}
	codes := map[string]int{}
	now := time.Now()
	for i := 0; i < n; i++ {
		p := g.Next(now)
		outcomes[p.Outcome]++
		if p.Outcome == OutcomeFailed {
			codes[p.Code]++
		}
		if p.MerchantCode != "demo" || p.Amount <= 0 || p.Customer == nil || !domain.ValidPhone(p.Customer.Phone) {
			t.Fatalf("payment %+v", p)
		}
		if (p.Channel == "card") != (p.Card != nil) && p.Channel != "unionpay" {
			t.Fatalf("card on %s: %+v", p.Channel, p.Card)
		}
	}
	if share := float64(outcomes[OutcomeSucceeded]) / n; share < 0.77 || share > 0.83 {
		t.Fatalf("success share %.3f, want about 0.80", share)
	}
	best := ""
	for c, k := range codes {
		if best == "" || k > codes[best] {
			best = c
		}
	}
	if best != "101" || codes["202"] == 0 || codes["301"] == 0 {
		t.Fatalf("codes = %v", codes)
	}
	// Generated payments pass the sandbox's own checks.
	sb := New(testConfig(""))
	defer sb.Close()
	for i := 0; i < 50; i++ {
		if _, err := sb.CreatePayment(g.Next(now)); err != nil {
			t.Fatal(err)
		}
	}
	if fmt.Sprint(sb.Stats().Payments) != "50" {
		t.Fatal("payments not counted")
	}
}
