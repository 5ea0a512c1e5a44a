package domain

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

const contractEvent = `{"id":"evt_1","type":"payment.failed","created":1764000000,
 "data":{"transaction_id":"TABCD2EFG","order_id":"O20261125001","amount":12900,"currency":"CNY",
         "channel":"card","code":"101","message":"余额不足",
         "card":{"bin":"622202","last4":"1234","bank":"ICBC"},
         "customer":{"id":"C1","name":"张三","phone":"+8613812341234","email":"zhang@example.com"},
         "occurred_at":"2026-11-25T10:00:00Z"}}`

// eventWith returns contractEvent with data's field set to the raw JSON value v
// (or removed when v is "").
func eventWith(t testing.TB, path, v string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(contractEvent), &m); err != nil {
		t.Fatal(err)
	}
	obj := m
	parts := strings.Split(path, ".")
	for _, p := range parts[:len(parts)-1] {
		obj = obj[p].(map[string]any)
	}
	last := parts[len(parts)-1]
	if v == "" {
		delete(obj, last)
	} else {
		obj[last] = json.RawMessage(v)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseEventContractExample(t *testing.T) {
	ev, err := ParseEvent([]byte(contractEvent))
	if err != nil {
		t.Fatal(err)
	}
	want := PaymentEvent{
		ID: "evt_1", Type: EventPaymentFailed, Created: time.Unix(1764000000, 0).UTC(),
		TransactionID: "TABCD2EFG", OrderID: "O20261125001", Amount: 12900, Currency: "CNY",
		Channel: "card", Code: "101", Message: "余额不足",
		Card:       Card{BIN: "622202", Last4: "1234", Bank: "ICBC"},
		Customer:   Customer{ID: "C1", Name: "张三", Phone: "+8613812341234", Email: "zhang@example.com"},
		OccurredAt: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
	}
	if !reflect.DeepEqual(ev, want) {
		t.Fatalf("ParseEvent =\n%+v\nwant\n%+v", ev, want)
	}
	if s, ok := ev.Type.PaymentStatus(); !ok || s != StatusFailed {
		t.Fatalf("PaymentStatus = %v, %v", s, ok)
	}
}

func TestParseEventRejects(t *testing.T) {
	tests := []struct {
		name, path, value, field string
	}{
		{"missing id", "id", "", "id"},
		{"empty id", "id", `""`, "id"},
		{"long id", "id", `"` + strings.Repeat("e", 101) + `"`, "id"},
		{"id wrong type", "id", `5`, "id"},
		{"unknown type", "type", `"payment.exploded"`, "type"},
		{"missing type", "type", "", "type"},
		{"created missing", "created", "", "created"},
		{"created string", "created", `"1764000000"`, "created"},
		{"created float", "created", `1764000000.5`, "created"},
		{"data missing", "data", "", "data"},
		{"data null", "data", "null", "data"},
		{"data wrong type", "data", `"x"`, "data"},
		{"missing transaction", "data.transaction_id", "", "data.transaction_id"},
		{"long transaction", "data.transaction_id", `"` + strings.Repeat("T", 65) + `"`, "data.transaction_id"},
		{"control char in id", "data.transaction_id", `"T\u0001X"`, "data.transaction_id"},
		{"NUL anywhere", "data.transaction_id", `"T\u0000X"`, "body"},
		{"amount missing", "data.amount", "", "data.amount"},
		{"amount float", "data.amount", `129.00`, "data.amount"},
		{"amount exponent", "data.amount", `1e3`, "data.amount"},
		{"amount string", "data.amount", `"12900"`, "data.amount"},
		{"amount negative", "data.amount", `-1`, "data.amount"},
		{"amount above 1e13", "data.amount", `10000000000001`, "data.amount"},
		{"amount huge", "data.amount", `123456789012345678901234567890`, "data.amount"},
		{"currency lower", "data.currency", `"cny"`, "data.currency"},
		{"currency long", "data.currency", `"CNYY"`, "data.currency"},
		{"currency missing", "data.currency", "", "data.currency"},
		{"channel missing", "data.channel", "", "data.channel"},
		{"channel long", "data.channel", `"` + strings.Repeat("c", 33) + `"`, "data.channel"},
		{"message long", "data.message", `"` + strings.Repeat("长", 501) + `"`, "data.message"},
		{"occurred_at bad", "data.occurred_at", `"25/11/2026"`, "data.occurred_at"},
		{"occurred_at number", "data.occurred_at", `1764000000`, "data.occurred_at"},
		{"bin letters", "data.card.bin", `"62220X"`, "data.card.bin"},
		{"last4 short", "data.card.last4", `"123"`, "data.card.last4"},
		{"phone long", "data.customer.phone", `"` + strings.Repeat("1", 33) + `"`, "data.customer.phone"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseEvent(eventWith(t, tt.path, tt.value))
			var ee *EventError
			if !errors.As(err, &ee) {
				t.Fatalf("ParseEvent: err = %v, want *EventError", err)
			}
			if ee.Field != tt.field {
				t.Fatalf("ParseEvent: field %q (%v), want %q", ee.Field, err, tt.field)
			}
		})
	}
}

func TestParseEventBody(t *testing.T) {
	for _, in := range []string{"", "not json", `{"id":"evt_1"`, contractEvent + " {}", "[]", "null", `"x"`} {
		_, err := ParseEvent([]byte(in))
		var ee *EventError
		if !errors.As(err, &ee) {
			t.Errorf("ParseEvent(%.20q): err = %v, want *EventError", in, err)
		}
	}
	if _, err := ParseEvent([]byte(strings.Repeat(" ", MaxEventBytes+1))); err == nil {
		t.Error("oversized body accepted")
	}
}

func TestParseEventLenient(t *testing.T) {
	tests := []struct {
		name, path, value string
		check             func(PaymentEvent) bool
	}{
		{"occurred_at falls back to created", "data.occurred_at", "",
			func(e PaymentEvent) bool { return e.OccurredAt.Equal(time.Unix(1764000000, 0)) }},
		{"occurred_at with offset", "data.occurred_at", `"2026-11-25T18:00:00.5+08:00"`,
			func(e PaymentEvent) bool {
				return e.OccurredAt == time.Date(2026, 11, 25, 10, 0, 0, 5e8, time.UTC)
			}},
		{"unknown field ignored", "data.extra", `{"x":1}`, func(e PaymentEvent) bool { return e.Amount == 12900 }},
		{"zero amount", "data.amount", `0`, func(e PaymentEvent) bool { return e.Amount == 0 }},
		{"max amount", "data.amount", `10000000000000`, func(e PaymentEvent) bool { return e.Amount == 1e13 }},
		{"no card", "data.card", "", func(e PaymentEvent) bool { return e.Card == Card{} }},
		{"no code on success", "data.code", "", func(e PaymentEvent) bool { return e.Code == "" }},
		{"full PAN in card.number", "data.card", `{"number":"6222 0212 3456 7890","bank":"ICBC"}`,
			func(e PaymentEvent) bool { return e.Card == Card{BIN: "622202", Last4: "7890", Bank: "ICBC"} }},
		{"full PAN as number", "data.card", `{"pan":4111111111111111}`,
			func(e PaymentEvent) bool { return e.Card == Card{BIN: "411111", Last4: "1111"} }},
		{"full PAN pasted in bin", "data.card", `{"bin":"4111111111111111"}`,
			func(e PaymentEvent) bool { return e.Card == Card{BIN: "411111", Last4: "1111"} }},
		{"PAN in message scrubbed", "data.message", `"卡 4111 1111 1111 1111 余额不足"`,
			func(e PaymentEvent) bool { return e.Message == "卡 411111******1111 余额不足" }},
		{"PAN in name scrubbed", "data.customer.name", `"4111111111111111"`,
			func(e PaymentEvent) bool { return e.Customer.Name == "411111******1111" }},
		{"phone kept for sealing", "data.customer.phone", `13812341234`,
			func(e PaymentEvent) bool { return e.Customer.Phone == "13812341234" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ev, err := ParseEvent(eventWith(t, tt.path, tt.value))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(ev) {
				t.Fatalf("unexpected event %+v", ev)
			}
		})
	}
}

func TestRefundEvents(t *testing.T) {
	ok := `{"id":"evt_r1","type":"refund.succeeded","created":1764000000,
		"data":{"transaction_id":"TABC","refund_id":"RABC","amount":500,"currency":"CNY","channel":"card"}}`
	ev, err := ParseEvent([]byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if !ev.Type.IsRefund() || ev.RefundID != "RABC" || ev.Amount != 500 {
		t.Fatalf("refund event = %+v", ev)
	}
	failed := `{"id":"evt_r2","type":"refund.failed","created":1764000000,
		"data":{"transaction_id":"TABC","refund_id":"RABC","amount":500,"currency":"CNY","failure_reason":"card closed"}}`
	ev, err = ParseEvent([]byte(failed))
	if err != nil || ev.FailureReason != "card closed" || ev.Channel != "" {
		t.Fatalf("refund.failed = %+v, %v", ev, err)
	}
	missing := `{"id":"evt_r3","type":"refund.succeeded","created":1764000000,
		"data":{"transaction_id":"TABC","amount":500,"currency":"CNY"}}`
	var ee *EventError
	if _, err := ParseEvent([]byte(missing)); !errors.As(err, &ee) || ee.Field != "data.refund_id" {
		t.Fatalf("refund without refund_id: %v", err)
	}
}

func TestPaymentEventRoundTrip(t *testing.T) {
	events := []PaymentEvent{
		{
			ID: "evt_a", Type: EventPaymentFailed, Created: time.Unix(1764000000, 0).UTC(),
			TransactionID: "TX", OrderID: "O1", Amount: 12900, Currency: "CNY", Channel: "card",
			Code: "101", Message: "余额不足 <b>&</b>", Card: Card{BIN: "622202", Last4: "1234", Bank: "ICBC"},
			Customer:   Customer{ID: "C1", Name: "张三", Phone: "+8613812341234", Email: "z@example.com"},
			OccurredAt: time.Date(2026, 11, 25, 10, 0, 0, 123e6, time.UTC),
		},
		{
			ID: "evt_b", Type: EventRefundFailed, Created: time.Unix(1764000100, 0).UTC(),
			TransactionID: "TX", RefundID: "R1", Amount: 500, Currency: "CNY", Channel: "card",
			FailureReason: "card closed", OccurredAt: time.Unix(1764000100, 0).UTC(),
		},
	}
	for _, want := range events {
		raw, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ParseEvent(raw)
		if err != nil {
			t.Fatalf("ParseEvent(%s): %v", raw, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
		}
	}
}

func TestSanitizeEvent(t *testing.T) {
	in := `{"id":"evt_1","type":"payment.failed","created":1764000000,"big":123456789012345678901234567890,
	  "data":{"transaction_id":"TABC","amount":12900,"currency":"CNY","channel":"card",
	    "message":"卡号 4111 1111 1111 1111 余额不足","note":4111111111111111,"ratio":0.5,
	    "card":{"bin":"622202","last4":"1234","number":"6222021234567890","bank":"ICBC"},
	    "customer":{"id":"C1","name":"张三","phone":"+8613812341234","Email":"zhang@example.com"},
	    "4111111111111111":"key",
	    "list":["x 4111-1111-1111-1111",true,null,{"pan":"4111111111111111"}]}}`
	clean, contact, err := SanitizeEvent([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(clean) {
		t.Fatalf("not JSON: %s", clean)
	}
	wantContact := Customer{ID: "C1", Name: "张三", Phone: "+8613812341234", Email: "zhang@example.com"}
	if contact != wantContact {
		t.Fatalf("contact = %+v, want %+v", contact, wantContact)
	}
	s := string(clean)
	for _, gone := range []string{"13812341234", "zhang@example.com", "4111111111111111", "6222021234567890", "4111 1111", "4111-1111"} {
		if strings.Contains(s, gone) {
			t.Errorf("sanitized output still contains %q: %s", gone, s)
		}
	}
	for _, kept := range []string{
		`"big":123456789012345678901234567890`, `"amount":12900`, `"ratio":0.5`, `"created":1764000000`,
		`"note":"411111******1111"`, `"number":"622202******7890"`, `"卡号 411111******1111 余额不足"`,
		`"411111******1111":"key"`, `"pan":"411111******1111"`, `"name":"张三"`, `"bin":"622202"`,
	} {
		if !strings.Contains(s, kept) {
			t.Errorf("sanitized output lacks %s: %s", kept, s)
		}
	}
	if hasPANRun(s) {
		t.Errorf("sanitized output holds a card number: %s", s)
	}
	// What is left still parses as an event.
	if _, err := ParseEvent(clean); err != nil {
		t.Errorf("ParseEvent(sanitized) = %v", err)
	}
}

func TestSanitizeEventEdges(t *testing.T) {
	tests := []struct {
		name, in string
		wantErr  bool
	}{
		{"invalid", `{"a":`, true},
		{"trailing", `{} {}`, true},
		{"array top", `[4111111111111111]`, false},
		{"scalar", `"4111111111111111"`, false},
		{"escape next to digits", `{"a":"\u00001111111111111111"}`, false},
		{"data not object", `{"data":[1,2]}`, false},
		{"customer phone as number", `{"data":{"customer":{"phone":13812341234}}}`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, contact, err := SanitizeEvent([]byte(tt.in))
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v", err)
			}
			if err != nil {
				return
			}
			if !json.Valid(out) || hasPANRun(string(out)) {
				t.Fatalf("bad output %s", out)
			}
			if tt.name == "customer phone as number" && (contact.Phone != "13812341234" || strings.Contains(string(out), "1381234")) {
				t.Fatalf("phone number not extracted: %+v %s", contact, out)
			}
		})
	}
}

func FuzzParseEvent(f *testing.F) {
	f.Add([]byte(contractEvent))
	f.Add([]byte(`{"id":"evt_r1","type":"refund.failed","created":1,"data":{"transaction_id":"T","refund_id":"R","amount":1,"currency":"CNY","failure_reason":"x"}}`))
	f.Add([]byte(`{"id":"e","type":"payment.succeeded","created":1,"data":{"transaction_id":"T","amount":1e3,"currency":"CNY","channel":"c","card":{"number":4111111111111111}}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		ev, err := ParseEvent(raw)
		if err != nil {
			var ee *EventError
			if !errors.As(err, &ee) {
				t.Fatalf("error is not *EventError: %v", err)
			}
			return
		}
		if !ev.Type.Valid() || ev.ID == "" || ev.TransactionID == "" || ev.Amount < 0 || len(ev.Currency) != 3 {
			t.Fatalf("accepted an invalid event: %+v", ev)
		}
		for _, s := range []string{ev.ID, ev.TransactionID, ev.OrderID, ev.Message, ev.Code, ev.Channel,
			ev.Card.BIN, ev.Card.Last4, ev.Card.Bank, ev.Customer.ID, ev.Customer.Name, ev.RefundID, ev.FailureReason} {
			if hasPANRun(s) {
				t.Fatalf("card number survived in %q", s)
			}
		}
		if len(ev.Card.Last4) > 4 || len(ev.Card.BIN) > 8 {
			t.Fatalf("card holds more than BIN/last4: %+v", ev.Card)
		}
		// What we accept, we can write back and read again the same.
		out, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseEvent(out)
		if err != nil || !reflect.DeepEqual(again, ev) {
			t.Fatalf("round trip: %+v, %v", again, err)
		}
	})
}

func FuzzSanitizeEvent(f *testing.F) {
	f.Add([]byte(contractEvent))
	f.Add([]byte(`{"data":{"customer":{"phone":13812341234,"email":null},"card":{"number":"4111 1111 1111 1111"}},"n":4111111111111111}`))
	f.Add([]byte(`{"a":"\u00001111111111111111","b":[1e400,-0.4111111111111111]}`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		out, _, err := SanitizeEvent(raw)
		if err != nil {
			if json.Valid(raw) && len(raw) <= MaxEventBytes {
				t.Fatalf("valid JSON refused: %v", err)
			}
			return
		}
		if !json.Valid(out) {
			t.Fatalf("output is not JSON: %q", out)
		}
		if hasPANRun(string(out)) {
			t.Fatalf("output holds a card number: %q", out)
		}
	})
}
