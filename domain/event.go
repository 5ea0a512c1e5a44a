package domain

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// EventType names a platform webhook event.
type EventType string

// The platform's event types (CONTRACT.md, "Platform webhook").
const (
	EventPaymentFailed    EventType = "payment.failed"
	EventPaymentSucceeded EventType = "payment.succeeded"
	EventPaymentPending   EventType = "payment.pending"
	EventRefundSucceeded  EventType = "refund.succeeded"
	EventRefundFailed     EventType = "refund.failed"
)

// EventTypes lists every known event type.
var EventTypes = []EventType{EventPaymentFailed, EventPaymentSucceeded, EventPaymentPending, EventRefundSucceeded, EventRefundFailed}

// Valid reports whether t is a known event type.
func (t EventType) Valid() bool { return slices.Contains(EventTypes, t) }

// IsRefund reports whether t is about a refund rather than a payment.
func (t EventType) IsRefund() bool { return t == EventRefundSucceeded || t == EventRefundFailed }

// PaymentStatus is the transaction status a payment event reports; ok is false for
// refund events and unknown types.
func (t EventType) PaymentStatus() (s Status, ok bool) {
	switch t {
	case EventPaymentFailed:
		return StatusFailed, true
	case EventPaymentSucceeded:
		return StatusSucceeded, true
	case EventPaymentPending:
		return StatusPending, true
	}
	return "", false
}

// MaxEventBytes is the largest webhook body ParseEvent and SanitizeEvent accept.
const MaxEventBytes = 1 << 20

// Limits on event fields; longer values are refused.
const (
	maxEventIDLen       = 100
	maxEventTxnIDLen    = 64
	maxEventRefIDLen    = 64 // order_id, refund_id, customer.id
	maxEventChannelLen  = 32
	maxEventCodeLen     = 32
	maxEventTextRunes   = 500 // message, failure_reason
	maxEventNameRunes   = 100
	maxEventBankRunes   = 64
	maxEventPhoneLen    = 32
	maxEventEmailLen    = 254
	maxEventAmount      = 10_000_000_000_000 // 1e13 minor units
	maxEventUnixSeconds = 253402300799       // 9999-12-31T23:59:59Z
)

// PaymentEvent is one platform webhook event. Payment events describe a
// transaction; refund events (Type.IsRefund) carry RefundID, Amount as the refunded
// amount and, on refund.failed, FailureReason.
//
// Customer.Phone and Customer.Email are plaintext: seal them before storing. Every
// other string has been through ScrubPAN and Card holds at most BIN and last 4.
// MarshalJSON writes the wire form (contact data included).
type PaymentEvent struct {
	ID            string
	Type          EventType
	Created       time.Time
	TransactionID string
	OrderID       string
	Amount        int64
	Currency      string
	Channel       string
	Code          string
	Message       string
	Card          Card
	Customer      Customer
	OccurredAt    time.Time
	RefundID      string
	FailureReason string
}

// EventError says which field of a webhook body is wrong and why. Its text is safe
// to send back to the platform in a 400 answer.
type EventError struct {
	Field  string
	Reason string
}

func (e *EventError) Error() string {
	return "event: " + e.Field + ": " + e.Reason
}

func eventErr(field, format string, args ...any) *EventError {
	return &EventError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Wire shapes. Amount and created are raw so that strings and floats are refused
// instead of coerced; card numbers are raw because senders use strings or numbers.
type eventWireIn struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Created json.RawMessage `json:"created"`
	Data    *eventDataIn    `json:"data"`
}

type eventDataIn struct {
	TransactionID string          `json:"transaction_id"`
	OrderID       string          `json:"order_id"`
	RefundID      string          `json:"refund_id"`
	Amount        json.RawMessage `json:"amount"`
	Currency      string          `json:"currency"`
	Channel       string          `json:"channel"`
	Code          string          `json:"code"`
	Message       string          `json:"message"`
	FailureReason string          `json:"failure_reason"`
	Card          *struct {
		BIN        string          `json:"bin"`
		Last4      string          `json:"last4"`
		Bank       string          `json:"bank"`
		Number     json.RawMessage `json:"number"`
		PAN        json.RawMessage `json:"pan"`
		CardNumber json.RawMessage `json:"card_number"`
	} `json:"card"`
	Customer   *eventCustomerIn `json:"customer"`
	OccurredAt string           `json:"occurred_at"`
}

type eventCustomerIn struct {
	ID    string          `json:"id"`
	Name  string          `json:"name"`
	Phone json.RawMessage `json:"phone"`
	Email json.RawMessage `json:"email"`
}

// ParseEvent decodes and validates a webhook body. Unknown fields are ignored;
// known fields are checked strictly. Errors are *EventError.
func ParseEvent(raw []byte) (PaymentEvent, error) {
	var ev PaymentEvent
	if len(raw) > MaxEventBytes {
		return ev, eventErr("body", "larger than %d bytes", MaxEventBytes)
	}
	if !json.Valid(raw) {
		return ev, eventErr("body", "invalid JSON")
	}
	// NUL cannot be stored in PostgreSQL text; no real field carries one.
	if bytes.Contains(raw, []byte(`\u0000`)) {
		return ev, eventErr("body", "contains a NUL character")
	}
	var w eventWireIn
	if err := json.Unmarshal(raw, &w); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			field := te.Field
			if field == "" {
				field = "body"
			}
			return ev, eventErr(field, "wrong type (%s)", te.Value)
		}
		return ev, eventErr("body", "invalid JSON")
	}

	var err error
	if ev.ID, err = eventIdent("id", w.ID, maxEventIDLen, true); err != nil {
		return ev, err
	}
	ev.Type = EventType(w.Type)
	if w.Type == "" {
		return ev, eventErr("type", "required")
	}
	if !ev.Type.Valid() {
		return ev, eventErr("type", "unknown event type")
	}
	created, err := eventInt("created", w.Created, 1, maxEventUnixSeconds)
	if err != nil {
		return ev, err
	}
	ev.Created = time.Unix(created, 0).UTC()
	d := w.Data
	if d == nil {
		return ev, eventErr("data", "required")
	}
	if ev.TransactionID, err = eventIdent("data.transaction_id", d.TransactionID, maxEventTxnIDLen, true); err != nil {
		return ev, err
	}
	if ev.OrderID, err = eventIdent("data.order_id", d.OrderID, maxEventRefIDLen, false); err != nil {
		return ev, err
	}
	if ev.RefundID, err = eventIdent("data.refund_id", d.RefundID, maxEventRefIDLen, ev.Type.IsRefund()); err != nil {
		return ev, err
	}
	if ev.Amount, err = eventInt("data.amount", d.Amount, 0, maxEventAmount); err != nil {
		return ev, err
	}
	if !eventCurrency(d.Currency) {
		return ev, eventErr("data.currency", "must be 3 upper-case letters")
	}
	ev.Currency = d.Currency
	if ev.Channel, err = eventIdent("data.channel", d.Channel, maxEventChannelLen, !ev.Type.IsRefund()); err != nil {
		return ev, err
	}
	if ev.Code, err = eventIdent("data.code", d.Code, maxEventCodeLen, false); err != nil {
		return ev, err
	}
	if ev.Message, err = eventText("data.message", d.Message, maxEventTextRunes); err != nil {
		return ev, err
	}
	if ev.FailureReason, err = eventText("data.failure_reason", d.FailureReason, maxEventTextRunes); err != nil {
		return ev, err
	}
	if c := d.Card; c != nil {
		if ev.Card, err = eventCard(c.BIN, c.Last4, c.Bank, c.Number, c.PAN, c.CardNumber); err != nil {
			return ev, err
		}
	}
	if c := d.Customer; c != nil {
		if ev.Customer, err = eventCustomer(c); err != nil {
			return ev, err
		}
	}
	ev.OccurredAt = ev.Created
	if d.OccurredAt != "" {
		t, perr := time.Parse(time.RFC3339Nano, d.OccurredAt)
		if perr != nil {
			return ev, eventErr("data.occurred_at", "not an RFC 3339 time")
		}
		ev.OccurredAt = t.UTC()
	}
	return ev, nil
}

// eventIdent validates an identifier-like string: length-capped, no control
// characters, PAN-scrubbed.
func eventIdent(field, s string, max int, required bool) (string, error) {
	if s == "" {
		if required {
			return "", eventErr(field, "required")
		}
		return "", nil
	}
	if len(s) > max {
		return "", eventErr(field, "longer than %d characters", max)
	}
	if strings.IndexFunc(s, unicode.IsControl) >= 0 {
		return "", eventErr(field, "contains control characters")
	}
	s, _ = ScrubPAN(s)
	return s, nil
}

// eventText validates free text: capped in characters, PAN-scrubbed.
func eventText(field, s string, maxRunes int) (string, error) {
	if utf8.RuneCountInString(s) > maxRunes {
		return "", eventErr(field, "longer than %d characters", maxRunes)
	}
	s, _ = ScrubPAN(s)
	return s, nil
}

// eventInt reads a JSON integer within [min, max]; strings, floats, exponents and
// missing values are refused.
func eventInt(field string, raw json.RawMessage, min, max int64) (int64, error) {
	s := string(bytes.TrimSpace(raw))
	if s == "" || s == "null" {
		return 0, eventErr(field, "required")
	}
	if s[0] == '-' {
		return 0, eventErr(field, "must not be negative")
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, eventErr(field, "must be an integer")
		}
		if n > max/10+1 {
			return 0, eventErr(field, "out of range")
		}
		n = n*10 + int64(c-'0')
	}
	if n < min || n > max {
		return 0, eventErr(field, "out of range")
	}
	return n, nil
}

func eventCurrency(s string) bool {
	if len(s) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if s[i] < 'A' || s[i] > 'Z' {
			return false
		}
	}
	return true
}

// eventCard keeps BIN, last 4 and bank. A full card number in number/pan/card_number,
// or pasted into bin or last4, is reduced to its BIN and last 4.
func eventCard(bin, last4, bank string, numbers ...json.RawMessage) (Card, error) {
	var c Card
	var err error
	if c.Bank, err = eventText("data.card.bank", bank, maxEventBankRunes); err != nil {
		return c, err
	}
	for _, raw := range numbers {
		if pan := eventRawString(raw); pan != "" {
			if b, l, ok := CardFromPAN(pan); ok {
				c.BIN, c.Last4 = b, l
			}
		}
	}
	if bin != "" {
		if b, l, ok := CardFromPAN(bin); ok {
			c.BIN = b
			if c.Last4 == "" {
				c.Last4 = l
			}
		} else if len(bin) < 4 || len(bin) > 8 || !sigDecimal(bin, 8) {
			return c, eventErr("data.card.bin", "must be 4 to 8 digits")
		} else {
			c.BIN = bin
		}
	}
	if last4 != "" {
		if _, l, ok := CardFromPAN(last4); ok {
			c.Last4 = l
		} else if len(last4) != 4 || !sigDecimal(last4, 4) {
			return c, eventErr("data.card.last4", "must be 4 digits")
		} else {
			c.Last4 = last4
		}
	}
	return c, nil
}

func eventCustomer(in *eventCustomerIn) (Customer, error) {
	var c Customer
	var err error
	if c.ID, err = eventIdent("data.customer.id", in.ID, maxEventRefIDLen, false); err != nil {
		return c, err
	}
	if c.Name, err = eventText("data.customer.name", in.Name, maxEventNameRunes); err != nil {
		return c, err
	}
	c.Phone = strings.TrimSpace(eventRawString(in.Phone))
	if len(c.Phone) > maxEventPhoneLen {
		return c, eventErr("data.customer.phone", "longer than %d characters", maxEventPhoneLen)
	}
	c.Email = strings.TrimSpace(eventRawString(in.Email))
	if len(c.Email) > maxEventEmailLen {
		return c, eventErr("data.customer.email", "longer than %d characters", maxEventEmailLen)
	}
	return c, nil
}

// eventRawString returns a JSON string's value or a JSON number's text; anything
// else gives "".
func eventRawString(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return s
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return string(raw)
	}
	return ""
}

// Outgoing wire shape, used by MarshalJSON (the sandbox sends this).
type eventWireOut struct {
	ID      string       `json:"id"`
	Type    EventType    `json:"type"`
	Created int64        `json:"created"`
	Data    eventDataOut `json:"data"`
}

type eventDataOut struct {
	TransactionID string    `json:"transaction_id"`
	OrderID       string    `json:"order_id,omitempty"`
	RefundID      string    `json:"refund_id,omitempty"`
	Amount        int64     `json:"amount"`
	Currency      string    `json:"currency"`
	Channel       string    `json:"channel,omitempty"`
	Code          string    `json:"code,omitempty"`
	Message       string    `json:"message,omitempty"`
	FailureReason string    `json:"failure_reason,omitempty"`
	Card          *Card     `json:"card,omitempty"`
	Customer      *Customer `json:"customer,omitempty"`
	OccurredAt    string    `json:"occurred_at,omitempty"`
}

// MarshalJSON writes e in the platform's webhook body shape, the inverse of
// ParseEvent. It includes the customer's phone and e-mail: never log its output.
func (e PaymentEvent) MarshalJSON() ([]byte, error) {
	out := eventWireOut{
		ID:      e.ID,
		Type:    e.Type,
		Created: e.Created.Unix(),
		Data: eventDataOut{
			TransactionID: e.TransactionID,
			OrderID:       e.OrderID,
			RefundID:      e.RefundID,
			Amount:        e.Amount,
			Currency:      e.Currency,
			Channel:       e.Channel,
			Code:          e.Code,
			Message:       e.Message,
			FailureReason: e.FailureReason,
		},
	}
	if e.Card != (Card{}) {
		c := e.Card
		out.Data.Card = &c
	}
	if e.Customer != (Customer{}) {
		c := e.Customer
		out.Data.Customer = &c
	}
	if !e.OccurredAt.IsZero() {
		out.Data.OccurredAt = e.OccurredAt.UTC().Format(time.RFC3339Nano)
	}
	return json.Marshal(out)
}

// SanitizeEvent prepares a raw webhook body for storage. It removes
// data.customer.phone and data.customer.email from the document and returns them
// (with the customer's id and name) in contact, for the caller to seal; reduces a
// full card number under data.card (number, pan, card_number) to BIN and last 4;
// and runs ScrubPAN over every other string, object key and number, so a number
// that is a card number becomes the masked string. Big numbers keep their digits.
// The output is compact JSON with keys sorted; it never contains a 13–19 digit run
// that passes Luhn.
func SanitizeEvent(raw []byte) (clean []byte, contact Customer, err error) {
	if len(raw) > MaxEventBytes {
		return nil, contact, eventErr("body", "larger than %d bytes", MaxEventBytes)
	}
	if !json.Valid(raw) {
		return nil, contact, eventErr("body", "invalid JSON")
	}
	var tree any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&tree); err != nil {
		return nil, contact, eventErr("body", "invalid JSON")
	}

	// Read the contact the way ParseEvent does (same key matching), then drop every
	// key that encoding/json would have matched to phone or email.
	var w struct {
		Data struct {
			Customer eventCustomerIn `json:"customer"`
		} `json:"data"`
	}
	_ = json.Unmarshal(raw, &w) // type errors only leave fields empty
	contact = Customer{
		ID:    eventScrub(w.Data.Customer.ID),
		Name:  eventScrub(w.Data.Customer.Name),
		Phone: strings.TrimSpace(eventRawString(w.Data.Customer.Phone)),
		Email: strings.TrimSpace(eventRawString(w.Data.Customer.Email)),
	}
	if root, ok := tree.(map[string]any); ok {
		for _, data := range eventChildren(root, "data") {
			for _, cust := range eventChildren(data, "customer") {
				eventDelete(cust, "phone", "email")
			}
			for _, card := range eventChildren(data, "card") {
				eventMaskCard(card)
			}
		}
	}
	tree = eventSanitizeValue(tree)

	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(tree); err != nil {
		return nil, contact, fmt.Errorf("event: re-encode: %w", err)
	}
	out := bytes.TrimRight(buf.Bytes(), "\n")
	// Safety net: JSON escapes (\u0000) next to digits can form a run in the
	// encoded text that no single decoded string had. Masking keeps a run's first
	// six digits, where such escape digits sit, so the JSON stays valid.
	if s, changed := ScrubPAN(string(out)); changed {
		out = []byte(s)
	}
	return out, contact, nil
}

// eventFold folds a key the way encoding/json matches object keys to struct
// fields (ASCII upper case, otherwise the smallest rune of the fold set).
func eventFold(s string) string {
	return strings.Map(func(r rune) rune {
		if r < utf8.RuneSelf {
			return unicode.ToUpper(r)
		}
		for {
			r2 := unicode.SimpleFold(r)
			if r2 <= r {
				return r2
			}
			r = r2
		}
	}, s)
}

// eventChildren returns the object values of m under keys matching name.
func eventChildren(m map[string]any, name string) []map[string]any {
	var out []map[string]any
	want := eventFold(name)
	for k, v := range m {
		if child, ok := v.(map[string]any); ok && eventFold(k) == want {
			out = append(out, child)
		}
	}
	return out
}

func eventDelete(m map[string]any, names ...string) {
	for k := range m {
		f := eventFold(k)
		for _, n := range names {
			if f == eventFold(n) {
				delete(m, k)
			}
		}
	}
}

// eventMaskCard reduces full card numbers in a card object to BIN******last4 and
// drops number fields that hold a long digit string that is not a card number.
func eventMaskCard(card map[string]any) {
	for k, v := range card {
		switch eventFold(k) {
		case "NUMBER", "PAN", "CARD_NUMBER":
		default:
			continue
		}
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case json.Number:
			s = string(x)
		default:
			continue
		}
		if bin, last4, ok := CardFromPAN(s); ok {
			card[k] = bin + PANMask + last4
		} else if panCountDigits(s) >= 12 {
			delete(card, k)
		}
	}
}

func eventScrub(s string) string {
	s, _ = ScrubPAN(s)
	return s
}

// eventSanitizeValue scrubs PANs from every string, key and number under v.
func eventSanitizeValue(v any) any {
	switch x := v.(type) {
	case string:
		s, _ := ScrubPAN(x)
		return s
	case json.Number:
		if s, changed := ScrubPAN(string(x)); changed {
			return s
		}
		return x
	case []any:
		for i := range x {
			x[i] = eventSanitizeValue(x[i])
		}
		return x
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys) // deterministic when two scrubbed keys collide
		out := make(map[string]any, len(x))
		for _, k := range keys {
			sk, _ := ScrubPAN(k)
			out[sk] = eventSanitizeValue(x[k])
		}
		return out
	}
	return v
}
