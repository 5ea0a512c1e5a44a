package db

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"

	"paymend/domain"
)

// EventRecord is one platform event ready to store: scrubbed payload, contact sealed.
type EventRecord struct {
	EventID     string
	Type        string // payment.failed, payment.succeeded, payment.pending, refund.succeeded, refund.failed
	Source      string // webhook, import, seed
	PlatformID  string
	RefundID    string
	Amount      int64 // the payment amount, or the refund amount for refund events
	Payload     []byte
	PhoneSealed string
	EmailSealed string
	OccurredAt  time.Time

	OrderID, Currency, Channel, Code, Message string
	CardBIN, CardLast4, Bank                  string
	CustomerRef, CustomerName                 string
	PhoneMasked, EmailMasked                  string
}

// IngestResult says what storing an event did.
type IngestResult struct {
	Duplicate     bool  // the event id was already stored: nothing changed
	TransactionID int64 // PayMend's id of the transaction the event belongs to
}

// payStatusOf maps an event type to the payment status it implies. A refund says
// nothing about the payment (a failed payment may be refunded money it took), so it
// carries the lowest rank and never raises the status.
func payStatusOf(typ string) string {
	switch typ {
	case "payment.failed":
		return "failed"
	case "payment.succeeded":
		return "succeeded"
	default:
		return "pending"
	}
}

// IngestEvent stores one platform event and folds it into its transaction so that the
// final state never depends on the order events arrive in: a payment's status only
// moves up pending < failed < succeeded, the failure code is that of the latest
// failure, and the refunded amount is the sum over distinct successful refunds.
// A repeated event id changes nothing.
func (s *Store) IngestEvent(ctx context.Context, merchantID int64, e EventRecord) (IngestResult, error) {
	var res IngestResult
	var err error
	if strings.HasPrefix(e.Type, "refund.") {
		err = s.ingestRefund(ctx, merchantID, e, &res)
	} else {
		err = s.ingestPayment(ctx, merchantID, e, &res)
	}
	if err != nil {
		return res, fmt.Errorf("db: ingest %s: %w", e.EventID, err)
	}
	return res, nil
}

// ingestPayment stores a payment event and folds it into its transaction in one
// statement, so the hot webhook path costs one round trip and is atomic on its own.
func (s *Store) ingestPayment(ctx context.Context, merchantID int64, e EventRecord, res *IngestResult) error {
	var failedAt any
	if e.Type == "payment.failed" {
		failedAt = e.OccurredAt
	}
	var needsClose bool
	const q = `WITH ev AS (
			INSERT INTO transaction_events (merchant_id, event_id, type, platform_id, refund_id, amount,
				payload, phone_sealed, email_sealed, source, occurred_at)
			VALUES ($1, $22, $23, $2, '', $4, $24, $15, $16, $25, $19)
			ON CONFLICT (merchant_id, event_id) DO NOTHING RETURNING 1),
		tx AS (
			INSERT INTO transactions AS t (` + txInsertCols + `)
			SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21
			WHERE EXISTS (SELECT 1 FROM ev)
			` + txMerge + `
			RETURNING id)
		SELECT coalesce((SELECT id FROM tx), 0),
			-- Does another payment of the order make a close necessary? (One index probe;
			-- most orders have a single payment and skip the second statement.)
			$3 <> '' AND EXISTS (SELECT 1 FROM transactions o
				WHERE o.merchant_id = $1 AND o.order_id = $3 AND o.platform_id <> $2 AND (
					($7 = 'succeeded' AND o.failed_at IS NOT NULL AND o.resolution_state NOT IN (` + terminalStates + `))
					OR ($7 = 'failed' AND o.pay_status = 'succeeded')))`
	err := s.x.QueryRowxContext(ctx, q, merchantID, e.PlatformID, e.OrderID, e.Amount, e.Currency, e.Channel,
		payStatusOf(e.Type), e.Code, e.Message, e.CardBIN, e.CardLast4, e.Bank, e.CustomerRef, e.CustomerName,
		e.PhoneSealed, e.EmailSealed, e.PhoneMasked, e.EmailMasked, e.OccurredAt, failedAt, true,
		e.EventID, e.Type, string(e.Payload), orDefault(e.Source, "webhook")).Scan(&res.TransactionID, &needsClose)
	if err != nil {
		return mapErr(err)
	}
	if res.TransactionID == 0 { // the event id was known: nothing changed
		res.Duplicate = true
		err := s.x.QueryRowxContext(ctx, `SELECT id FROM transactions WHERE merchant_id = $1 AND platform_id = $2`,
			merchantID, e.PlatformID).Scan(&res.TransactionID)
		if err = mapErr(err); err != nil && err != ErrNotFound { // an id reused for another payment is still a duplicate
			return err
		}
		return nil
	}
	if needsClose {
		return s.CloseRetriedOrders(ctx, merchantID, []string{e.OrderID})
	}
	return nil
}

// OpenRecentFailedOrders lists orders with an open failure in the last window, for
// the sweep that catches a failure and a success of one order committed at the same
// moment (each then saw no sign of the other).
func (s *Store) OpenRecentFailedOrders(ctx context.Context, merchantID int64, since time.Time) ([]string, error) {
	const q = `SELECT DISTINCT order_id FROM transactions
		WHERE merchant_id = $1 AND status = 'failed' AND occurred_at >= $2 AND order_id <> ''
			AND resolution_state NOT IN (` + terminalStates + `)`
	var out []string
	err := sqlxSelect(ctx, s, &out, q, merchantID, since)
	return out, err
}

// MerchantIDs lists every merchant (system jobs visit each).
func (s *Store) MerchantIDs(ctx context.Context) ([]int64, error) {
	var out []int64
	err := sqlxSelect(ctx, s, &out, `SELECT id FROM merchants ORDER BY id`)
	return out, err
}

// CloseRetriedOrders closes the open failures of orders that some payment has since
// paid ("customer retried successfully") and notes it on their timelines. Ingestion
// runs it after an event's fold committed when the fold saw another payment of the
// order that calls for it; a failure and a success committed at the very same moment
// see no sign of each other, and the minute sweep (jobs) closes those.
func (s *Store) CloseRetriedOrders(ctx context.Context, merchantID int64, orderIDs []string) error {
	const q = `WITH paid AS (
			SELECT order_id, min(platform_id) AS paid_by FROM transactions
			WHERE merchant_id = $1 AND order_id = ANY($2) AND order_id <> '' AND pay_status = 'succeeded'
			GROUP BY order_id),
		closed AS (
			UPDATE transactions c SET resolution_state = 'retried_success', resolved_at = now(), updated_at = now()
			FROM paid WHERE c.merchant_id = $1 AND c.order_id = paid.order_id AND c.platform_id <> paid.paid_by
				AND c.failed_at IS NOT NULL AND c.resolution_state NOT IN (` + terminalStates + `)
			RETURNING c.id, paid.paid_by)
		INSERT INTO timeline (merchant_id, transaction_id, at, kind, actor, summary, details)
		SELECT $1, id, now(), 'resolution.auto_retried', 'system',
			'Closed automatically: the same order was paid by ' || paid_by, jsonb_build_object('paid_by', paid_by)
		FROM closed`
	if _, err := s.x.ExecContext(ctx, q, merchantID, pq.Array(orderIDs)); err != nil {
		return fmt.Errorf("close retried orders: %w", mapErr(err))
	}
	return nil
}

// ingestRefund stores a refund event; the refunded amount is recomputed from every
// distinct successful refund, which needs the new event row visible, hence a
// transaction of several statements (refund events are rare).
func (s *Store) ingestRefund(ctx context.Context, merchantID int64, e EventRecord, res *IngestResult) error {
	return s.InTx(ctx, func(tx *Store) error {
		const qe = `INSERT INTO transaction_events (merchant_id, event_id, type, platform_id, refund_id, amount,
				payload, phone_sealed, email_sealed, source, occurred_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
			ON CONFLICT (merchant_id, event_id) DO NOTHING RETURNING id`
		var evID int64
		err := tx.x.QueryRowxContext(ctx, qe, merchantID, e.EventID, e.Type, e.PlatformID, e.RefundID, e.Amount,
			string(e.Payload), e.PhoneSealed, e.EmailSealed, orDefault(e.Source, "webhook"), e.OccurredAt).Scan(&evID)
		if mapErr(err) == ErrNotFound {
			res.Duplicate = true
			return tx.x.QueryRowxContext(ctx, `SELECT id FROM transactions WHERE merchant_id = $1 AND platform_id = $2`,
				merchantID, e.PlatformID).Scan(&res.TransactionID)
		}
		if err != nil {
			return fmt.Errorf("insert event: %w", mapErr(err))
		}
		if err := tx.upsertTransaction(ctx, merchantID, e, true, &res.TransactionID); err != nil {
			return err
		}
		if e.RefundID != "" {
			// A refund the console made converges on what the platform reports.
			if _, _, err := tx.applyRefundEvents(ctx, merchantID, e.RefundID, time.Now().UTC()); err != nil {
				return err
			}
		}
		if e.Type != "refund.succeeded" {
			return nil
		}
		const qr = `UPDATE transactions SET refunded_amount = (
				SELECT coalesce(sum(amount), 0) FROM (
					SELECT DISTINCT ON (refund_id) amount FROM transaction_events
					WHERE merchant_id = $1 AND platform_id = $2 AND type = 'refund.succeeded'
					ORDER BY refund_id, id) r)
			WHERE merchant_id = $1 AND id = $3`
		if _, err := tx.x.ExecContext(ctx, qr, merchantID, e.PlatformID, res.TransactionID); err != nil {
			return fmt.Errorf("refunded amount: %w", mapErr(err))
		}
		return nil
	})
}

func (s *Store) upsertTransaction(ctx context.Context, merchantID int64, e EventRecord, isRefund bool, id *int64) error {
	// For refund events only the status and existence matter; the row's descriptive
	// fields wait for the payment event (has_payment = false until then).
	amount, failedAt, code, message := e.Amount, any(nil), e.Code, e.Message
	if isRefund {
		amount, code, message = 0, "", ""
	}
	if e.Type == "payment.failed" {
		failedAt = e.OccurredAt
	}
	const q = `INSERT INTO transactions AS t (` + txInsertCols + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)
		` + txMerge + `
		RETURNING id`
	err := s.x.QueryRowxContext(ctx, q, merchantID, e.PlatformID, e.OrderID, amount, e.Currency, e.Channel,
		payStatusOf(e.Type), code, message, e.CardBIN, e.CardLast4, e.Bank, e.CustomerRef, e.CustomerName,
		e.PhoneSealed, e.EmailSealed, e.PhoneMasked, e.EmailMasked, e.OccurredAt, failedAt, !isRefund).Scan(id)
	if err != nil {
		return fmt.Errorf("upsert transaction: %w", mapErr(err))
	}
	return nil
}

// eventSummary is the plain-English line the API shows for a platform event.
// txInsertCols are the columns an event sets on its transaction.
const txInsertCols = `merchant_id, platform_id, order_id, amount, currency, channel,
	pay_status, code, message, card_bin, card_last4, bank, customer_ref, customer_name,
	phone_sealed, email_sealed, phone_masked, email_masked, occurred_at, failed_at, has_payment`

// txMerge folds an incoming event's view of a transaction (EXCLUDED) into the stored
// one (t) so that the result is the same whatever order events arrive in.
const txMerge = `ON CONFLICT (merchant_id, platform_id) DO UPDATE SET
			pay_status = CASE WHEN (CASE EXCLUDED.pay_status WHEN 'succeeded' THEN 3 WHEN 'failed' THEN 2 ELSE 1 END)
				> (CASE t.pay_status WHEN 'succeeded' THEN 3 WHEN 'failed' THEN 2 ELSE 1 END)
				THEN EXCLUDED.pay_status ELSE t.pay_status END,
			code = CASE WHEN EXCLUDED.failed_at IS NOT NULL AND (t.failed_at IS NULL OR EXCLUDED.failed_at > t.failed_at
				OR (EXCLUDED.failed_at = t.failed_at AND EXCLUDED.code > t.code)) THEN EXCLUDED.code ELSE t.code END,
			message = CASE WHEN EXCLUDED.failed_at IS NOT NULL AND (t.failed_at IS NULL OR EXCLUDED.failed_at > t.failed_at
				OR (EXCLUDED.failed_at = t.failed_at AND EXCLUDED.code > t.code)
				OR (EXCLUDED.failed_at = t.failed_at AND EXCLUDED.code = t.code AND EXCLUDED.message > t.message))
				THEN EXCLUDED.message ELSE t.message END,
			failed_at = GREATEST(t.failed_at, EXCLUDED.failed_at),
			amount = CASE WHEN t.has_payment THEN t.amount ELSE EXCLUDED.amount END,
			occurred_at = CASE WHEN NOT EXCLUDED.has_payment THEN t.occurred_at
				WHEN NOT t.has_payment THEN EXCLUDED.occurred_at
				ELSE LEAST(t.occurred_at, EXCLUDED.occurred_at) END,
			order_id = COALESCE(NULLIF(t.order_id, ''), EXCLUDED.order_id),
			currency = COALESCE(NULLIF(t.currency, ''), EXCLUDED.currency),
			channel = COALESCE(NULLIF(t.channel, ''), EXCLUDED.channel),
			card_bin = COALESCE(NULLIF(t.card_bin, ''), EXCLUDED.card_bin),
			card_last4 = COALESCE(NULLIF(t.card_last4, ''), EXCLUDED.card_last4),
			bank = COALESCE(NULLIF(t.bank, ''), EXCLUDED.bank),
			customer_ref = COALESCE(NULLIF(t.customer_ref, ''), EXCLUDED.customer_ref),
			customer_name = COALESCE(NULLIF(t.customer_name, ''), EXCLUDED.customer_name),
			phone_sealed = COALESCE(NULLIF(t.phone_sealed, ''), EXCLUDED.phone_sealed),
			email_sealed = COALESCE(NULLIF(t.email_sealed, ''), EXCLUDED.email_sealed),
			phone_masked = COALESCE(NULLIF(t.phone_masked, ''), EXCLUDED.phone_masked),
			email_masked = COALESCE(NULLIF(t.email_masked, ''), EXCLUDED.email_masked),
			has_payment = t.has_payment OR EXCLUDED.has_payment,
			-- A payment that failed and then went through closes its own case.
			resolution_state = CASE WHEN t.resolution_state IN (` + terminalStates + `) THEN t.resolution_state
				WHEN (EXCLUDED.pay_status = 'succeeded' OR t.pay_status = 'succeeded')
					AND coalesce(t.failed_at, EXCLUDED.failed_at) IS NOT NULL THEN 'retried_success'
				ELSE t.resolution_state END,
			resolved_at = CASE WHEN t.resolution_state IN (` + terminalStates + `) THEN t.resolved_at
				WHEN (EXCLUDED.pay_status = 'succeeded' OR t.pay_status = 'succeeded')
					AND coalesce(t.failed_at, EXCLUDED.failed_at) IS NOT NULL THEN now()
				ELSE t.resolved_at END,
			updated_at = now()`

// terminalStates are the closed resolution states, as an SQL list.
const terminalStates = `'resolved', 'retried_success', 'refunded', 'written_off'`

func eventSummary(kind string, details []byte) string {
	var d struct {
		Code, Message, Currency string
		Amount                  int64
		RefundID                string `json:"refund_id"`
	}
	_ = json.Unmarshal(details, &d)
	switch kind {
	case "payment.failed":
		return strings.TrimSpace(fmt.Sprintf("Payment failed: %s %s", d.Code, d.Message))
	case "payment.succeeded":
		return "Payment succeeded"
	case "payment.pending":
		return "Payment pending"
	case "refund.succeeded":
		return fmt.Sprintf("Refund %s succeeded: %s", d.RefundID, domain.Money{Amount: d.Amount, Currency: d.Currency})
	case "refund.failed":
		return fmt.Sprintf("Refund %s failed", d.RefundID)
	}
	return kind
}

// AppendTimeline adds one entry to a transaction's timeline.
func (s *Store) AppendTimeline(ctx context.Context, merchantID, transactionID int64, e domain.TimelineEntry) error {
	const q = `INSERT INTO timeline (merchant_id, transaction_id, at, kind, actor, summary, details)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`
	if len(e.Details) == 0 {
		e.Details = []byte("{}")
	}
	if e.At.IsZero() {
		e.At = time.Now().UTC()
	}
	_, err := s.x.ExecContext(ctx, q, merchantID, transactionID, e.At, e.Kind, e.Actor, e.Summary, string(e.Details))
	if err != nil {
		return fmt.Errorf("timeline: %w", mapErr(err))
	}
	return nil
}

// Timeline lists a transaction's history oldest first: the platform's events (kept
// once, in transaction_events) merged with what people and jobs did (timeline).
func (s *Store) Timeline(ctx context.Context, merchantID, transactionID int64) ([]domain.TimelineEntry, error) {
	const q = `SELECT id, at, kind, actor, summary, details FROM (
			SELECT e.id, e.occurred_at AS at, e.type AS kind, 'platform' AS actor, '' AS summary,
				jsonb_build_object('event_id', e.event_id, 'code', e.payload->'data'->>'code',
					'message', e.payload->'data'->>'message', 'amount', e.amount,
					'currency', e.payload->'data'->>'currency', 'refund_id', e.refund_id,
					'failure_reason', e.payload->'data'->>'failure_reason') AS details, 0 AS src
			FROM transaction_events e JOIN transactions t ON t.merchant_id = e.merchant_id AND t.platform_id = e.platform_id
			WHERE t.merchant_id = $1 AND t.id = $2
			UNION ALL
			SELECT id, at, kind, actor, summary, details, 1 FROM timeline WHERE merchant_id = $1 AND transaction_id = $2
		) x ORDER BY at, src, id`
	var out []domain.TimelineEntry
	if err := sqlxSelect(ctx, s, &out, q, merchantID, transactionID); err != nil {
		return nil, fmt.Errorf("db: timeline %d: %w", transactionID, err)
	}
	for i := range out {
		if out[i].Summary == "" {
			out[i].Summary = eventSummary(out[i].Kind, out[i].Details)
		}
	}
	return out, nil
}

// Events lists a transaction's stored raw events in the order they happened.
func (s *Store) Events(ctx context.Context, merchantID int64, platformID string) ([]domain.StoredEvent, error) {
	const q = `SELECT id, event_id, type, source, payload, occurred_at, received_at FROM transaction_events
		WHERE merchant_id = $1 AND platform_id = $2 ORDER BY occurred_at, id`
	var out []domain.StoredEvent
	if err := sqlxSelect(ctx, s, &out, q, merchantID, platformID); err != nil {
		return nil, fmt.Errorf("db: events %s: %w", platformID, err)
	}
	return out, nil
}

const txCols = `id, merchant_id, platform_id, order_id, amount, currency, channel, pay_status, status,
	refunded_amount, code, message, card_bin, card_last4, bank, customer_ref, customer_name,
	phone_masked, email_masked, occurred_at, failed_at, resolution_state, resolved_at, created_at, updated_at`

// Transaction returns one transaction by PayMend's id.
func (s *Store) Transaction(ctx context.Context, merchantID, id int64) (domain.Transaction, error) {
	const q = `SELECT ` + txCols + ` FROM transactions WHERE merchant_id = $1 AND id = $2`
	var t domain.Transaction
	if err := s.x.QueryRowxContext(ctx, q, merchantID, id).StructScan(&t); err != nil {
		return t, fmt.Errorf("db: transaction %d: %w", id, mapErr(err))
	}
	return t, nil
}

// TransactionByPlatformID returns one transaction by the platform's transaction id.
func (s *Store) TransactionByPlatformID(ctx context.Context, merchantID int64, platformID string) (domain.Transaction, error) {
	const q = `SELECT ` + txCols + ` FROM transactions WHERE merchant_id = $1 AND platform_id = $2`
	var t domain.Transaction
	if err := s.x.QueryRowxContext(ctx, q, merchantID, platformID).StructScan(&t); err != nil {
		return t, fmt.Errorf("db: transaction %q: %w", platformID, mapErr(err))
	}
	return t, nil
}

// TransactionsByID loads the merchant's transactions among ids (others' are absent).
func (s *Store) TransactionsByID(ctx context.Context, merchantID int64, ids []int64) ([]domain.Transaction, error) {
	const q = `SELECT ` + txCols + ` FROM transactions WHERE merchant_id = $1 AND id = ANY($2) ORDER BY occurred_at DESC, id DESC`
	var out []domain.Transaction
	if err := sqlxSelect(ctx, s, &out, q, merchantID, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("db: transactions by id: %w", err)
	}
	return out, nil
}

// SealedContact returns a transaction's sealed phone and e-mail, for the few actions
// that must reach the customer.
func (s *Store) SealedContact(ctx context.Context, merchantID, id int64) (phone, email string, err error) {
	const q = `SELECT phone_sealed, email_sealed FROM transactions WHERE merchant_id = $1 AND id = $2`
	err = s.x.QueryRowxContext(ctx, q, merchantID, id).Scan(&phone, &email)
	return phone, email, mapErr(err)
}

// TxFilter narrows the transactions list. Zero fields do not filter.
type TxFilter struct {
	Statuses   []string
	Codes      []string // any of these codes
	NotCodes   []string // none of these codes (the "unclassified" category)
	Channel    string
	Bank       string
	Resolution string
	From, To   time.Time
	MinAmount  *int64
	MaxAmount  *int64
	Q          string // transaction id, order id, customer id, or customer name prefix
	NoMatch    bool   // the filters contradict each other: match nothing
	Cursor     domain.Cursor
	Limit      int
}

// where builds the filter's SQL condition with positional args, starting at $1 = merchant.
func (f TxFilter) where(merchantID int64) (string, []any) {
	conds := []string{"merchant_id = $1"}
	args := []any{merchantID}
	add := func(cond string, vals ...any) {
		for _, v := range vals {
			args = append(args, v)
			cond = strings.Replace(cond, "?", fmt.Sprintf("$%d", len(args)), 1)
		}
		conds = append(conds, cond)
	}
	if f.NoMatch {
		conds = append(conds, "FALSE")
	}
	switch len(f.Statuses) {
	case 0:
	case 1:
		add("status = ?", f.Statuses[0])
	default:
		add("status = ANY(?)", pq.Array(f.Statuses))
	}
	switch len(f.Codes) {
	case 0:
	case 1:
		add("code = ?", f.Codes[0])
	default:
		add("code = ANY(?)", pq.Array(f.Codes))
	}
	if len(f.NotCodes) > 0 {
		add("code <> ALL(?)", pq.Array(f.NotCodes))
	}
	if f.Channel != "" {
		add("channel = ?", f.Channel)
	}
	if f.Bank != "" {
		add("bank = ?", f.Bank)
	}
	if f.Resolution != "" {
		add("resolution_state = ?", f.Resolution)
	}
	if !f.From.IsZero() {
		add("occurred_at >= ?", f.From)
	}
	if !f.To.IsZero() {
		add("occurred_at < ?", f.To)
	}
	if f.MinAmount != nil {
		add("amount >= ?", *f.MinAmount)
	}
	if f.MaxAmount != nil {
		add("amount <= ?", *f.MaxAmount)
	}
	if f.Q != "" {
		add("(platform_id = ? OR order_id = ? OR customer_ref = ? OR customer_name LIKE ? || '%')",
			f.Q, f.Q, f.Q, escapeLike(f.Q))
	}
	if !f.Cursor.IsZero() {
		add("(occurred_at, id) < (?, ?)", f.Cursor.At, f.Cursor.ID)
	}
	return strings.Join(conds, " AND "), args
}

// Transactions lists the merchant's transactions newest first, keyset paged, and
// returns the next page's cursor (zero at the end).
func (s *Store) Transactions(ctx context.Context, merchantID int64, f TxFilter) ([]domain.Transaction, domain.Cursor, error) {
	return s.listTransactions(ctx, merchantID, f, clampLimit(f.Limit))
}

func (s *Store) listTransactions(ctx context.Context, merchantID int64, f TxFilter, limit int) ([]domain.Transaction, domain.Cursor, error) {
	where, args := f.where(merchantID)
	q := `SELECT ` + txCols + ` FROM transactions WHERE ` + where +
		fmt.Sprintf(` ORDER BY occurred_at DESC, id DESC LIMIT %d`, limit+1)
	var out []domain.Transaction
	if err := sqlxSelect(ctx, s, &out, q, args...); err != nil {
		return nil, domain.Cursor{}, fmt.Errorf("db: transactions: %w", err)
	}
	var next domain.Cursor
	if len(out) > limit {
		out = out[:limit]
		next = out[len(out)-1].Cursor()
	}
	return out, next, nil
}

// EachTransaction streams every transaction matching f (ignoring Limit), newest first,
// in keyset batches so that a million-row export never holds more than one batch.
func (s *Store) EachTransaction(ctx context.Context, merchantID int64, f TxFilter, max int, fn func(domain.Transaction) error) error {
	n := 0
	for {
		page, next, err := s.listTransactions(ctx, merchantID, f, 1000)
		if err != nil {
			return err
		}
		for _, t := range page {
			if max > 0 && n >= max {
				return nil
			}
			if err := fn(t); err != nil {
				return err
			}
			n++
		}
		if next.IsZero() {
			return nil
		}
		f.Cursor = next
	}
}

// Banks lists the distinct banks seen for the merchant, for filter menus.
func (s *Store) Banks(ctx context.Context, merchantID int64) ([]string, error) {
	// A loose index scan: one probe per distinct bank instead of reading every row.
	const q = `WITH RECURSIVE b AS (
			(SELECT bank FROM transactions WHERE merchant_id = $1 ORDER BY bank LIMIT 1)
			UNION ALL
			SELECT (SELECT bank FROM transactions WHERE merchant_id = $1 AND bank > b.bank ORDER BY bank LIMIT 1)
			FROM b WHERE b.bank IS NOT NULL)
		SELECT bank FROM b WHERE bank IS NOT NULL AND bank <> ''`
	var out []string
	if err := sqlxSelect(ctx, s, &out, q, merchantID); err != nil {
		return nil, fmt.Errorf("db: banks: %w", err)
	}
	return out, nil
}
