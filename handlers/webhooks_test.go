package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"paymend/db"
	"paymend/domain"
)

// event builds a webhook body.
func event(id, typ, txID string, mut func(d map[string]any)) []byte {
	d := map[string]any{"transaction_id": txID, "order_id": "O-" + txID, "amount": 12900, "currency": "CNY",
		"channel": "card", "card": map[string]any{"bin": "622202", "last4": "1234", "bank": "ICBC"},
		"customer":    map[string]any{"id": "C1", "name": "张三", "phone": "+8613812341234", "email": "zhang@example.com"},
		"occurred_at": "2026-11-25T10:00:00Z"}
	if typ == "payment.failed" {
		d["code"], d["message"] = "101", "余额不足"
	}
	if mut != nil {
		mut(d)
	}
	b, _ := json.Marshal(map[string]any{"id": id, "type": typ, "created": 1764064800, "data": d})
	return b
}

// deliver posts a body signed with secrets at time at.
func (e *env) deliver(code string, body []byte, at time.Time, secrets ...string) *http.Response {
	e.t.Helper()
	if secrets == nil {
		secrets = []string{e.secret[code]}
	}
	var bs [][]byte
	for _, s := range secrets {
		bs = append(bs, []byte(s))
	}
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/webhooks/oulepay/"+code, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if len(bs) > 0 && secrets[0] != "-" {
		req.Header.Set("Oulepay-Signature", domain.SignWebhookMulti(bs, at, body))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

func (e *env) countEvents(code string) int {
	var n int
	if err := e.store.DB().Get(&n, `SELECT count(*) FROM transaction_events WHERE merchant_id = $1`, e.m[code].ID); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func TestWebhookSignatureRules(t *testing.T) {
	e := newEnv(t)
	now := e.clock.Now()
	body := event("evt_1", "payment.failed", "TA", nil)
	cases := []struct {
		name    string
		body    []byte
		at      time.Time
		secrets []string
		want    int
	}{
		{"missing", body, now, []string{"-"}, http.StatusUnauthorized},
		{"wrong secret", body, now, []string{"nope"}, http.StatusUnauthorized},
		{"stale past", body, now.Add(-301 * time.Second), nil, http.StatusBadRequest},
		{"stale future", body, now.Add(301 * time.Second), nil, http.StatusBadRequest},
		{"other merchant's secret", body, now, []string{e.secret["beta"]}, http.StatusUnauthorized},
	}
	for _, c := range cases {
		resp := e.deliver("alpha", c.body, c.at, c.secrets...)
		if resp.StatusCode != c.want {
			t.Errorf("%s: status %d, want %d", c.name, resp.StatusCode, c.want)
		}
		resp.Body.Close()
	}
	// Tampered: signed for one body, another sent.
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/webhooks/oulepay/alpha", bytes.NewReader(event("evt_1", "payment.failed", "TA", func(d map[string]any) { d["amount"] = 1 })))
	req.Header.Set("Oulepay-Signature", domain.SignWebhook([]byte(e.secret["alpha"]), now, body))
	if resp, _ := http.DefaultClient.Do(req); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("tampered: %d", resp.StatusCode)
	}
	if n := e.countEvents("alpha"); n != 0 {
		t.Fatalf("refused deliveries stored %d events", n)
	}
	// Within tolerance and with rotation (old secret first, current second) it is accepted.
	if resp := e.deliver("alpha", body, now.Add(-299*time.Second), "old-secret", e.secret["alpha"]); resp.StatusCode != http.StatusOK {
		t.Fatalf("rotated signature: %d %s", resp.StatusCode, bodyOf(resp))
	}
	if n := e.countEvents("alpha"); n != 1 {
		t.Fatalf("events = %d", n)
	}
}

func bodyOf(resp *http.Response) string {
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return b.String()
}

func TestWebhookBadInputStoresNothing(t *testing.T) {
	e := newEnv(t)
	now := e.clock.Now()
	if resp := e.deliver("nosuch", event("evt_1", "payment.failed", "TA", nil), now, "x"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown merchant: %d", resp.StatusCode)
	}
	for name, b := range map[string][]byte{
		"malformed json": []byte(`{"id":"evt_1","type":`),
		"unknown type":   []byte(`{"id":"evt_1","type":"payment.exploded","created":1764064800,"data":{"transaction_id":"T1","amount":1,"currency":"CNY","channel":"card"}}`),
		"float amount":   event("evt_2", "payment.failed", "TB", func(d map[string]any) { d["amount"] = 12.5 }),
		"no transaction": event("evt_3", "payment.failed", "", nil),
	} {
		resp := e.deliver("alpha", b, now)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d", name, resp.StatusCode)
		}
		var out struct {
			Error struct{ Code, Message string }
		}
		json.NewDecoder(resp.Body).Decode(&out)
		resp.Body.Close()
		if out.Error.Code == "" || out.Error.Message == "" {
			t.Errorf("%s: no JSON error", name)
		}
	}
	big := event("evt_4", "payment.failed", "TC", func(d map[string]any) { d["message"] = strings.Repeat("x", 70<<10) })
	if resp := e.deliver("alpha", big, now); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized: %d", resp.StatusCode)
	}
	if n := e.countEvents("alpha"); n != 0 {
		t.Fatalf("bad input stored %d events", n)
	}
}

func TestWebhookDuplicateHasNoSecondEffect(t *testing.T) {
	e := newEnv(t)
	b := event("evt_dup", "refund.succeeded", "TD", func(d map[string]any) { d["refund_id"] = "R1"; d["amount"] = 500 })
	for i := 0; i < 3; i++ {
		if resp := e.deliver("alpha", b, e.clock.Now()); resp.StatusCode != http.StatusOK {
			t.Fatalf("delivery %d: %d", i, resp.StatusCode)
		}
	}
	if n := e.countEvents("alpha"); n != 1 {
		t.Fatalf("events = %d", n)
	}
	tx, err := e.store.TransactionByPlatformID(context.Background(), e.m["alpha"].ID, "TD")
	if err != nil || tx.RefundedAmount != 500 {
		t.Fatalf("refunded %d, %v", tx.RefundedAmount, err)
	}
}

// permutations returns every ordering of xs.
func permutations[T any](xs []T) [][]T {
	if len(xs) <= 1 {
		return [][]T{append([]T(nil), xs...)}
	}
	var out [][]T
	for i := range xs {
		rest := append(append([]T(nil), xs[:i]...), xs[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]T{xs[i]}, p...))
		}
	}
	return out
}

func TestWebhookFinalStateIndependentOfOrder(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	mk := func(tx string) [][]byte {
		return [][]byte{
			event("evt_p_"+tx, "payment.pending", tx, func(d map[string]any) { d["occurred_at"] = "2026-11-25T09:59:00Z" }),
			event("evt_f_"+tx, "payment.failed", tx, func(d map[string]any) { d["code"] = "202"; d["message"] = "交易超时" }),
			event("evt_s_"+tx, "payment.succeeded", tx, func(d map[string]any) { d["occurred_at"] = "2026-11-25T10:03:00Z" }),
			event("evt_r_"+tx, "refund.succeeded", tx, func(d map[string]any) { d["refund_id"] = "R_" + tx; d["amount"] = 2900 }),
		}
	}
	var want *domain.Transaction
	for i, order := range permutations([]int{0, 1, 2, 3}) {
		txID := fmt.Sprintf("TPERM%02d", i)
		evs := mk(txID)
		for _, k := range order {
			if resp := e.deliver("alpha", evs[k], e.clock.Now()); resp.StatusCode != http.StatusOK {
				t.Fatalf("order %v: %d", order, resp.StatusCode)
			}
		}
		got, err := e.store.TransactionByPlatformID(ctx, e.m["alpha"].ID, txID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != domain.StatusPartiallyRefunded || got.Code != "202" || got.Amount != 12900 ||
			got.RefundedAmount != 2900 || got.PayStatus != domain.StatusSucceeded || got.OrderID != "O-"+txID {
			t.Fatalf("order %v: %+v", order, got)
		}
		if want == nil {
			want = &got
		} else if !got.OccurredAt.Equal(want.OccurredAt) || got.Message != want.Message || got.CardLast4 != want.CardLast4 {
			t.Fatalf("order %v differs: %+v vs %+v", order, got, *want)
		}
	}
	// A late failure never overrides a success.
	e.deliver("alpha", event("evt_s_X", "payment.succeeded", "TX", nil), e.clock.Now()).Body.Close()
	e.deliver("alpha", event("evt_f_X", "payment.failed", "TX", nil), e.clock.Now()).Body.Close()
	if got, _ := e.store.TransactionByPlatformID(ctx, e.m["alpha"].ID, "TX"); got.Status != domain.StatusSucceeded {
		t.Fatalf("late failure overwrote success: %s", got.Status)
	}
}

func TestWebhookScrubsPANAndSealsContact(t *testing.T) {
	e := newEnv(t)
	b := event("evt_pan", "payment.failed", "TPAN", func(d map[string]any) {
		d["message"] = "card 4111 1111 1111 1111 declined"
		d["card"] = map[string]any{"number": "6222021234567890128", "bank": "ICBC"}
	})
	if resp := e.deliver("alpha", b, e.clock.Now()); resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %s", resp.StatusCode, bodyOf(resp))
	}
	var payload, phoneSealed string
	if err := e.store.DB().QueryRow(`SELECT payload::text, phone_sealed FROM transaction_events WHERE event_id = 'evt_pan'`).Scan(&payload, &phoneSealed); err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"4111 1111 1111 1111", "4111111111111111", "6222021234567890128", "13812341234", "zhang@example.com"} {
		if strings.Contains(payload, secret) {
			t.Fatalf("stored payload holds %q: %s", secret, payload)
		}
	}
	if phoneSealed == "" || strings.Contains(phoneSealed, "1381234") {
		t.Fatalf("phone not sealed: %q", phoneSealed)
	}
	if plain, err := e.sealer.Open(phoneSealed); err != nil || !strings.Contains(plain, "13812341234") {
		t.Fatalf("sealed phone does not open: %q %v", plain, err)
	}
	tx, _ := e.store.TransactionByPlatformID(context.Background(), e.m["alpha"].ID, "TPAN")
	if tx.CardBIN != "622202" || tx.CardLast4 != "0128" || strings.Contains(tx.Message, "1111 1111") {
		t.Fatalf("card %s/%s message %q", tx.CardBIN, tx.CardLast4, tx.Message)
	}
	if tx.PhoneMasked != "138****1234" || tx.EmailMasked != "z***@example.com" {
		t.Fatalf("masks %q %q", tx.PhoneMasked, tx.EmailMasked)
	}
	// The page and the API show only masked contact data.
	c := e.login("viewer@alpha.test")
	page := bodyOf(e.get(c, fmt.Sprintf("/transactions/%d", tx.ID)))
	if strings.Contains(page, "13812341234") || strings.Contains(page, "zhang@example.com") || !strings.Contains(page, "138****1234") {
		t.Fatal("detail page leaks or lacks masked contact")
	}
	_ = db.ErrNotFound
}
