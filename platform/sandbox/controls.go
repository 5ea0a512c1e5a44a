package sandbox

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"

	"paymend/domain"
)

// Outcome is what a simulated payment does.
type Outcome string

// Payment outcomes for POST /_sandbox/payments.
const (
	OutcomeFailed    Outcome = "failed"    // payment.failed, nothing debited
	OutcomeSucceeded Outcome = "succeeded" // payment.succeeded, debited
	// OutcomeTimeoutThenSuccess: the money is debited at once but the platform
	// first reports payment.failed with code 202, and payment.succeeded later.
	OutcomeTimeoutThenSuccess Outcome = "timeout_then_success"
)

// PaymentRequest is the body of POST /_sandbox/payments. Only the outcome matters;
// everything else has a realistic default.
type PaymentRequest struct {
	MerchantCode  string           `json:"merchant_code"`            // default "demo"
	TransactionID string           `json:"transaction_id,omitempty"` // default T + random base32
	OrderID       string           `json:"order_id"`                 // default O + random base32
	Amount        int64            `json:"amount"`                   // minor units; default 12900
	Currency      string           `json:"currency"`                 // default CNY
	Channel       string           `json:"channel"`                  // default card
	Outcome       Outcome          `json:"outcome"`                  // default failed
	Code          string           `json:"code,omitempty"`           // failed only; default 101
	Message       string           `json:"message,omitempty"`        // default the code's message
	Customer      *domain.Customer `json:"customer,omitempty"`       // default a random customer
	Card          *domain.Card     `json:"card,omitempty"`           // default a random card for card/unionpay
	// RefundOutcome "failed" makes every refund of this transaction fail (its id
	// then ends with RefundFailMarker).
	RefundOutcome string `json:"refund_outcome,omitempty"`
}

// errInvalid marks a request the caller got wrong (400).
type errInvalid struct{ msg string }

func (e errInvalid) Error() string { return e.msg }

func invalid(format string, args ...any) error { return errInvalid{fmt.Sprintf(format, args...)} }

// CreatePayment creates a transaction with the requested outcome and sends its
// webhook(s) to the console in the background. It returns the transaction.
func (s *Sandbox) CreatePayment(req PaymentRequest) (Transaction, error) {
	if err := s.normalizePayment(&req); err != nil {
		return Transaction{}, err
	}
	now := s.clock.Now().UTC()
	t := &txn{
		ID: req.TransactionID, Merchant: req.MerchantCode, OrderID: req.OrderID,
		Amount: req.Amount, Currency: req.Currency, Channel: req.Channel,
		Customer: *req.Customer, FailRefunds: req.RefundOutcome == "failed" || strings.HasSuffix(req.TransactionID, RefundFailMarker),
		CreatedAt: now, UpdatedAt: now,
	}
	if req.Card != nil {
		t.Card = *req.Card
	}
	var first domain.EventType
	switch req.Outcome {
	case OutcomeSucceeded:
		t.Status, t.Debited, first = domain.StatusSucceeded, req.Amount, domain.EventPaymentSucceeded
	case OutcomeFailed:
		t.Status, t.Code, t.Message, first = domain.StatusFailed, req.Code, req.Message, domain.EventPaymentFailed
	case OutcomeTimeoutThenSuccess:
		// The bank took the money but the answer timed out: the customer is told
		// the payment failed although it was debited.
		t.Status, t.Code, t.Message, first = domain.StatusFailed, "202", codeMessage("202"), domain.EventPaymentFailed
		t.Debited = req.Amount
	}

	s.mu.Lock()
	if _, dup := s.txns[t.ID]; dup {
		s.mu.Unlock()
		return Transaction{}, invalid("transaction_id %s exists already", t.ID)
	}
	s.storeTxnLocked(t)
	s.stats.Payments++
	ev := eventFor(t, first, now)
	view := s.txnView(t)
	s.mu.Unlock()

	s.sendEvent(t.Merchant, ev)
	if req.Outcome == OutcomeTimeoutThenSuccess {
		s.after(s.cfg.TimeoutThenSuccess, func() { s.succeedLater(t.ID) })
	}
	return view, nil
}

// succeedLater turns a timed-out payment into a success and reports it.
func (s *Sandbox) succeedLater(id string) {
	now := s.clock.Now().UTC()
	s.mu.Lock()
	t, ok := s.txns[id]
	if !ok || t.Status != domain.StatusFailed {
		s.mu.Unlock()
		return
	}
	t.Status, t.Code, t.Message, t.UpdatedAt = domain.StatusSucceeded, "", "", now
	ev := eventFor(t, domain.EventPaymentSucceeded, now)
	s.mu.Unlock()
	s.sendEvent(t.Merchant, ev)
}

// storeTxnLocked adds t, evicting the oldest transactions beyond capacity.
func (s *Sandbox) storeTxnLocked(t *txn) {
	s.txns[t.ID] = t
	s.txnOrder = append(s.txnOrder, t.ID)
	for len(s.txnOrder) > maxTransactions {
		old := s.txnOrder[0]
		s.txnOrder = s.txnOrder[1:]
		for _, rid := range s.refundsOf[old] {
			delete(s.refunds, rid)
		}
		delete(s.refundsOf, old)
		delete(s.txns, old)
	}
}

// eventFor is the payment webhook for t's current state.
func eventFor(t *txn, typ domain.EventType, now time.Time) domain.PaymentEvent {
	ev := domain.PaymentEvent{
		ID: newEventID(), Type: typ, Created: now, OccurredAt: now,
		TransactionID: t.ID, OrderID: t.OrderID, Amount: t.Amount, Currency: t.Currency,
		Channel: t.Channel, Card: t.Card, Customer: t.Customer,
	}
	if typ == domain.EventPaymentFailed {
		ev.Code, ev.Message = t.Code, t.Message
	}
	return ev
}

func (s *Sandbox) normalizePayment(req *PaymentRequest) error {
	if req.MerchantCode == "" {
		req.MerchantCode = s.cfg.StreamMerchant
	}
	if req.Outcome == "" {
		req.Outcome = OutcomeFailed
	}
	if req.Amount == 0 {
		req.Amount = 12900
	}
	if req.Currency == "" {
		req.Currency = "CNY"
	}
	if req.Channel == "" {
		req.Channel = "card"
	}
	if req.OrderID == "" {
		req.OrderID = newOrderID()
	}
	switch {
	case !plainToken(req.MerchantCode, 64):
		return invalid("merchant_code must be up to 64 letters, digits, '-' or '_'")
	case req.Amount < 0 || req.Amount > 10_000_000_000_000:
		return invalid("amount must be between 1 and 10000000000000 minor units")
	case len(req.Currency) != 3 || strings.ToUpper(req.Currency) != req.Currency || !plainToken(req.Currency, 3):
		return invalid("currency must be 3 upper-case letters")
	case !plainToken(req.Channel, 32):
		return invalid("channel must be up to 32 letters, digits, '-' or '_'")
	case !plainToken(req.OrderID, 64):
		return invalid("order_id must be up to 64 letters, digits, '-' or '_'")
	case len(req.Code) > 32 || len([]rune(req.Message)) > 200:
		return invalid("code or message too long")
	}
	switch req.Outcome {
	case OutcomeFailed:
		if req.Code == "" {
			req.Code = "101"
		}
		if req.Message == "" {
			req.Message = codeMessage(req.Code)
		}
	case OutcomeSucceeded, OutcomeTimeoutThenSuccess:
		req.Code, req.Message = "", ""
	default:
		return invalid("outcome must be failed, succeeded or timeout_then_success")
	}
	switch req.RefundOutcome {
	case "", "succeeded":
	case "failed":
		if req.TransactionID == "" {
			req.TransactionID = newTxnID() + RefundFailMarker
		}
	default:
		return invalid("refund_outcome must be succeeded or failed")
	}
	if req.TransactionID == "" {
		req.TransactionID = newTxnID()
	}
	if !plainToken(req.TransactionID, 64) {
		return invalid("transaction_id must be up to 64 letters, digits, '-' or '_'")
	}
	if req.Customer == nil {
		s.genMu.Lock()
		c := s.cfg.Generator.Next(s.clock.Now()).Customer
		s.genMu.Unlock()
		if c == nil {
			c = &domain.Customer{ID: newID("C", 10), Name: "测试用户"}
		}
		req.Customer = c
	}
	if req.Card == nil && (req.Channel == "card" || req.Channel == "unionpay") {
		req.Card = &domain.Card{BIN: "622202", Last4: "1234", Bank: "ICBC"}
	}
	return nil
}

// plainToken reports whether s is 1..max ASCII letters, digits, '-' or '_'.
func plainToken(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, r := range s {
		if r > unicode.MaxASCII || !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// POST /_sandbox/payments
func (s *Sandbox) postPayment(w http.ResponseWriter, r *http.Request) {
	var req PaymentRequest
	if !decodeBody(w, r, &req) {
		return
	}
	t, err := s.CreatePayment(req)
	if err != nil {
		var bad errInvalid
		if errors.As(err, &bad) {
			writeError(w, http.StatusBadRequest, "invalid_request", bad.msg)
			return
		}
		writeError(w, http.StatusInternalServerError, "internal_error", "could not create the payment")
		return
	}
	writeJSON(w, http.StatusCreated, t)
}

// BurstRequest is the body of POST /_sandbox/burst.
type BurstRequest struct {
	MerchantCode string `json:"merchant_code"` // default "demo"
	Code         string `json:"code"`          // default 202
	Count        int    `json:"count"`         // 1..10000
	Seconds      int    `json:"seconds"`       // 0..3600: spread over this long
}

// Burst sends req.Count failed payments with req.Code spread evenly over
// req.Seconds, in the background. It returns at once.
func (s *Sandbox) Burst(req BurstRequest) error {
	if req.MerchantCode == "" {
		req.MerchantCode = s.cfg.StreamMerchant
	}
	if req.Code == "" {
		req.Code = "202"
	}
	switch {
	case req.Count < 1 || req.Count > 10000:
		return invalid("count must be 1 to 10000")
	case req.Seconds < 0 || req.Seconds > 3600:
		return invalid("seconds must be 0 to 3600")
	case !plainToken(req.MerchantCode, 64) || len(req.Code) > 32:
		return invalid("bad merchant_code or code")
	}
	gap := time.Duration(req.Seconds) * time.Second / time.Duration(req.Count)
	s.log.Info("sandbox burst", "merchant", req.MerchantCode, "code", req.Code, "count", req.Count, "seconds", req.Seconds)
	s.goBackground(func() {
		tick := time.NewTicker(max(gap, time.Millisecond))
		defer tick.Stop()
		for i := 0; i < req.Count; i++ {
			if i > 0 && gap > 0 {
				select {
				case <-s.ctx.Done():
					return
				case <-tick.C:
				}
			} else if s.ctx.Err() != nil {
				return
			}
			s.genMu.Lock()
			p := s.cfg.Generator.Next(s.clock.Now())
			s.genMu.Unlock()
			p.MerchantCode, p.TransactionID, p.RefundOutcome = req.MerchantCode, "", ""
			p.Outcome, p.Code, p.Message = OutcomeFailed, req.Code, ""
			if _, err := s.CreatePayment(p); err != nil {
				s.log.Warn("sandbox burst payment", "err", err)
			}
		}
	})
	return nil
}

// POST /_sandbox/burst
func (s *Sandbox) postBurst(w http.ResponseWriter, r *http.Request) {
	var req BurstRequest
	if !decodeBody(w, r, &req) {
		return
	}
	if err := s.Burst(req); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"accepted": req.Count, "code": req.Code, "seconds": req.Seconds})
}

// GET /_sandbox/faults
func (s *Sandbox) getFaults(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"mode": s.Fault(), "modes": Faults})
}

// POST /_sandbox/faults
func (s *Sandbox) postFaults(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Mode Fault `json:"mode"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	if err := s.SetFault(req.Mode); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", "mode must be ok, slow, error, timeout or refund_fail")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"mode": req.Mode})
}

// stream sends a payment about every StreamInterval (jittered) until ctx is done.
func (s *Sandbox) stream(ctx context.Context) {
	for {
		s.genMu.Lock()
		p := s.cfg.Generator.Next(s.clock.Now())
		s.genMu.Unlock()
		if p.MerchantCode == "" {
			p.MerchantCode = s.cfg.StreamMerchant
		}
		if _, err := s.CreatePayment(p); err != nil {
			s.log.Warn("sandbox stream payment", "err", err)
		}
		wait := s.cfg.StreamInterval/2 + time.Duration(randN(int64(s.cfg.StreamInterval)))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-s.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// ImportRequest is the body of POST /_sandbox/transactions: it tells the sandbox
// about a transaction that exists elsewhere (say, in the console's seeded demo
// data) so that refunds of it work. No webhook is sent.
type ImportRequest struct {
	TransactionID string        `json:"transaction_id"`
	MerchantCode  string        `json:"merchant_code"` // default "demo"
	OrderID       string        `json:"order_id"`
	Amount        int64         `json:"amount"`
	Debited       *int64        `json:"debited,omitempty"` // default: amount when succeeded, else 0
	Currency      string        `json:"currency"`          // default CNY
	Channel       string        `json:"channel"`           // default card
	Status        domain.Status `json:"status"`            // failed, succeeded or pending; default succeeded
}

// ImportTransaction records a transaction without sending webhooks. Importing an
// id that exists returns the stored transaction unchanged (created is false).
func (s *Sandbox) ImportTransaction(req ImportRequest) (t Transaction, created bool, err error) {
	if req.MerchantCode == "" {
		req.MerchantCode = s.cfg.StreamMerchant
	}
	if req.Currency == "" {
		req.Currency = "CNY"
	}
	if req.Channel == "" {
		req.Channel = "card"
	}
	if req.Status == "" {
		req.Status = domain.StatusSucceeded
	}
	debited := int64(0)
	if req.Status == domain.StatusSucceeded {
		debited = req.Amount
	}
	if req.Debited != nil {
		debited = *req.Debited
	}
	switch {
	case !plainToken(req.TransactionID, 64):
		return t, false, invalid("transaction_id must be up to 64 letters, digits, '-' or '_'")
	case !plainToken(req.MerchantCode, 64) || !plainToken(req.Channel, 32):
		return t, false, invalid("bad merchant_code or channel")
	case req.OrderID != "" && !plainToken(req.OrderID, 64):
		return t, false, invalid("bad order_id")
	case req.Amount <= 0 || req.Amount > 10_000_000_000_000 || debited < 0 || debited > req.Amount:
		return t, false, invalid("amount must be positive and debited between 0 and amount")
	case len(req.Currency) != 3 || strings.ToUpper(req.Currency) != req.Currency || !plainToken(req.Currency, 3):
		return t, false, invalid("currency must be 3 upper-case letters")
	case req.Status != domain.StatusFailed && req.Status != domain.StatusSucceeded && req.Status != domain.StatusPending:
		return t, false, invalid("status must be failed, succeeded or pending")
	}
	now := s.clock.Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.txns[req.TransactionID]; ok {
		return s.txnView(old), false, nil
	}
	nt := &txn{
		ID: req.TransactionID, Merchant: req.MerchantCode, OrderID: req.OrderID, Amount: req.Amount,
		Debited: debited, Currency: req.Currency, Channel: req.Channel, Status: req.Status,
		FailRefunds: strings.HasSuffix(req.TransactionID, RefundFailMarker), CreatedAt: now, UpdatedAt: now,
	}
	s.storeTxnLocked(nt)
	return s.txnView(nt), true, nil
}

// POST /_sandbox/transactions
func (s *Sandbox) postImport(w http.ResponseWriter, r *http.Request) {
	var req ImportRequest
	if !decodeBody(w, r, &req) {
		return
	}
	t, created, err := s.ImportTransaction(req)
	if err != nil {
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, t)
}
