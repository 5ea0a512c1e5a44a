package sandbox

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"paymend/domain"
)

// Transaction is the JSON form of a transaction in the sandbox's answers
// (GET /v1/transactions/{id}, POST /_sandbox/payments).
type Transaction struct {
	ID            string        `json:"id"`
	TransactionID string        `json:"transaction_id"`
	MerchantCode  string        `json:"merchant_code"`
	OrderID       string        `json:"order_id"`
	Status        domain.Status `json:"status"`
	Amount        int64         `json:"amount"`
	Debited       int64         `json:"debited"`
	Refunded      int64         `json:"refunded"`
	Currency      string        `json:"currency"`
	Channel       string        `json:"channel"`
	Code          string        `json:"code,omitempty"`
	Message       string        `json:"message,omitempty"`
	Card          *domain.Card  `json:"card,omitempty"`
	CreatedAt     time.Time     `json:"created_at"`
	UpdatedAt     time.Time     `json:"updated_at"`
}

// Refund is the JSON form of a refund (POST /v1/refunds and friends).
type Refund struct {
	ID            string    `json:"id"`
	TransactionID string    `json:"transaction_id"`
	Amount        int64     `json:"amount"`
	Currency      string    `json:"currency"`
	Reason        string    `json:"reason"`
	Status        string    `json:"status"`
	FailureReason string    `json:"failure_reason"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

// Refund states.
const (
	refundPending   = "pending"
	refundSucceeded = "succeeded"
	refundFailed    = "failed"
)

const maxBodyBytes = 1 << 20

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// writeError answers {"error":{"code","message"}}, as the platform does.
func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": message}})
}

// decodeBody reads a JSON request body into v.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", "request body too large")
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		writeError(w, http.StatusBadRequest, "invalid_json", "request body is not valid JSON for this endpoint")
		return false
	}
	return true
}

// withAPIKey requires "Authorization: Bearer <APIKey>".
func (s *Sandbox) withAPIKey(h http.HandlerFunc) http.Handler {
	want := []byte("Bearer " + s.cfg.APIKey)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="oulepay-sandbox"`)
			writeError(w, http.StatusUnauthorized, "unauthorized", "missing or wrong API key")
			return
		}
		h(w, r)
	})
}

// withFaults applies the current fault mode to the /v1 API.
func (s *Sandbox) withFaults(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := s.Fault()
		if f == FaultSlow || f == FaultTimeout {
			// Read the body first: net/http notices a client hanging up (and cancels
			// r.Context) only once the request body has been consumed.
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
			if err != nil {
				writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", "request body too large")
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		switch f {
		case FaultSlow:
			t := time.NewTimer(s.cfg.SlowDelay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-r.Context().Done():
				return
			case <-s.ctx.Done():
				writeError(w, http.StatusServiceUnavailable, "shutting_down", "sandbox is shutting down")
				return
			}
		case FaultError:
			writeError(w, http.StatusInternalServerError, "internal_error", "sandbox fault mode: error")
			return
		case FaultTimeout:
			t := time.NewTimer(s.cfg.HangTimeout)
			defer t.Stop()
			select {
			case <-t.C:
				writeError(w, http.StatusGatewayTimeout, "timeout", "sandbox fault mode: timeout")
			case <-r.Context().Done():
			case <-s.ctx.Done():
				writeError(w, http.StatusServiceUnavailable, "shutting_down", "sandbox is shutting down")
			}
			return
		}
		h.ServeHTTP(w, r)
	})
}

// GET /v1/transactions/{id}
func (s *Sandbox) getTransaction(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	t, ok := s.txns[r.PathValue("id")]
	var view Transaction
	if ok {
		view = s.txnView(t)
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "transaction_not_found", "no such transaction")
		return
	}
	writeJSON(w, http.StatusOK, view)
}

// refundRequest is the body of POST /v1/refunds.
type refundRequest struct {
	TransactionID string          `json:"transaction_id"`
	Amount        json.RawMessage `json:"amount"`
	Reason        string          `json:"reason"`
}

// POST /v1/refunds
func (s *Sandbox) createRefund(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		writeError(w, http.StatusBadRequest, "idempotency_key_required", "the Idempotency-Key header is required")
		return
	}
	if len(key) > 255 {
		writeError(w, http.StatusBadRequest, "invalid_idempotency_key", "Idempotency-Key is longer than 255 characters")
		return
	}
	var req refundRequest
	if !decodeBody(w, r, &req) {
		return
	}
	amount, err := strconv.ParseInt(string(req.Amount), 10, 64)
	switch {
	case req.TransactionID == "":
		writeError(w, http.StatusBadRequest, "invalid_request", "transaction_id is required")
		return
	case err != nil:
		writeError(w, http.StatusBadRequest, "invalid_request", "amount must be an integer in minor units")
		return
	case amount <= 0:
		writeError(w, http.StatusUnprocessableEntity, "invalid_amount", "amount must be positive")
		return
	case len([]rune(req.Reason)) > 500:
		writeError(w, http.StatusBadRequest, "invalid_request", "reason is longer than 500 characters")
		return
	}
	sum := sha256.Sum256([]byte(req.TransactionID + "\x00" + strconv.FormatInt(amount, 10) + "\x00" + req.Reason))
	digest := hex.EncodeToString(sum[:])

	now := s.clock.Now().UTC()
	s.mu.Lock()
	if e, ok := s.idem[key]; ok {
		rf, kept := s.refunds[e.refundID]
		var view Refund
		if kept {
			view = refundView(rf)
		}
		s.mu.Unlock()
		switch {
		case e.digest != digest:
			writeError(w, http.StatusConflict, "idempotency_key_reused", "this Idempotency-Key was used with a different request")
		case !kept: // evicted with its transaction (capacity)
			writeError(w, http.StatusGone, "refund_expired", "the refund for this Idempotency-Key is no longer kept")
		default:
			w.Header().Set("Idempotent-Replayed", "true")
			writeJSON(w, http.StatusOK, view)
		}
		return
	}
	t, ok := s.txns[req.TransactionID]
	if !ok {
		s.mu.Unlock()
		writeError(w, http.StatusNotFound, "transaction_not_found", "no such transaction")
		return
	}
	if refundable := t.Debited - s.refundedLocked(t.ID, true); amount > refundable {
		s.mu.Unlock()
		writeError(w, http.StatusUnprocessableEntity, "amount_exceeds_refundable",
			"amount exceeds what can still be refunded ("+strconv.FormatInt(max(refundable, 0), 10)+" "+t.Currency+")")
		return
	}
	rf := &refund{
		ID: newRefundID(), TransactionID: t.ID, Merchant: t.Merchant, Amount: amount,
		Currency: t.Currency, Reason: req.Reason, Status: refundPending, CreatedAt: now, UpdatedAt: now,
	}
	s.refunds[rf.ID] = rf
	s.refundsOf[t.ID] = append(s.refundsOf[t.ID], rf.ID)
	s.idem[key] = idemEntry{refundID: rf.ID, digest: digest}
	s.stats.RefundsCreated++
	fail := t.FailRefunds || strings.HasSuffix(t.ID, RefundFailMarker) || s.Fault() == FaultRefundFail
	view := refundView(rf)
	s.mu.Unlock()

	s.log.Info("sandbox refund created", "refund", rf.ID, "transaction", rf.TransactionID, "amount", amount)
	s.after(s.cfg.RefundDelay, func() { s.settleRefund(rf.ID, fail) })
	writeJSON(w, http.StatusCreated, view)
}

// settleRefund moves a pending refund to its final state and tells the console.
func (s *Sandbox) settleRefund(id string, fail bool) {
	now := s.clock.Now().UTC()
	s.mu.Lock()
	rf, ok := s.refunds[id]
	if !ok || rf.Status != refundPending {
		s.mu.Unlock()
		return
	}
	t := s.txns[rf.TransactionID]
	ev := domain.PaymentEvent{
		ID: newEventID(), Created: now, OccurredAt: now,
		TransactionID: rf.TransactionID, RefundID: rf.ID, Amount: rf.Amount, Currency: rf.Currency,
	}
	if fail {
		rf.Status = refundFailed
		rf.FailureReason = "收款账户状态异常,原路退回失败 (destination account closed; refund could not be returned)"
		ev.Type, ev.FailureReason = domain.EventRefundFailed, rf.FailureReason
	} else {
		rf.Status = refundSucceeded
		ev.Type = domain.EventRefundSucceeded
	}
	rf.UpdatedAt = now
	if t != nil {
		ev.OrderID, ev.Channel = t.OrderID, t.Channel
		if done := s.refundedLocked(t.ID, false); done > 0 && t.Debited > 0 {
			if done >= t.Debited {
				t.Status = domain.StatusRefunded
			} else {
				t.Status = domain.StatusPartiallyRefunded
			}
			t.UpdatedAt = now
		}
	}
	merchant := rf.Merchant
	s.mu.Unlock()
	s.log.Info("sandbox refund settled", "refund", id, "status", string(ev.Type))
	s.sendEvent(merchant, ev)
}

// refundedLocked sums a transaction's refunds: succeeded ones, plus pending ones
// when withPending (what is committed and may not be refunded again).
func (s *Sandbox) refundedLocked(txnID string, withPending bool) int64 {
	var sum int64
	for _, id := range s.refundsOf[txnID] {
		rf := s.refunds[id]
		if rf.Status == refundSucceeded || (withPending && rf.Status == refundPending) {
			sum += rf.Amount
		}
	}
	return sum
}

// GET /v1/refunds/{id}
func (s *Sandbox) getRefund(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	rf, ok := s.refunds[r.PathValue("id")]
	var view Refund
	if ok {
		view = refundView(rf)
	}
	s.mu.Unlock()
	if !ok {
		writeError(w, http.StatusNotFound, "refund_not_found", "no such refund")
		return
	}
	writeJSON(w, http.StatusOK, view)
}

// GET /v1/refunds?transaction_id=…
func (s *Sandbox) listRefunds(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("transaction_id")
	if id == "" {
		writeError(w, http.StatusBadRequest, "invalid_request", "transaction_id is required")
		return
	}
	s.mu.Lock()
	out := make([]Refund, 0, len(s.refundsOf[id]))
	for _, rid := range s.refundsOf[id] {
		out = append(out, refundView(s.refunds[rid]))
	}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
}

func refundView(rf *refund) Refund {
	return Refund{
		ID: rf.ID, TransactionID: rf.TransactionID, Amount: rf.Amount, Currency: rf.Currency,
		Reason: rf.Reason, Status: rf.Status, FailureReason: rf.FailureReason,
		CreatedAt: rf.CreatedAt, UpdatedAt: rf.UpdatedAt,
	}
}

// txnView is the JSON form of t; the caller holds s.mu.
func (s *Sandbox) txnView(t *txn) Transaction {
	v := Transaction{
		ID: t.ID, TransactionID: t.ID, MerchantCode: t.Merchant, OrderID: t.OrderID, Status: t.Status,
		Amount: t.Amount, Debited: t.Debited, Refunded: s.refundedLocked(t.ID, false),
		Currency: t.Currency, Channel: t.Channel, Code: t.Code, Message: t.Message,
		CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt,
	}
	if t.Card != (domain.Card{}) {
		c := t.Card
		v.Card = &c
	}
	return v
}
