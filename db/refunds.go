package db

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"

	"paymend/domain"
)

// RefundEnqueuer inserts the refund's submit job inside the transaction that made
// the refund ready to go (tx.Tx() is the *sql.Tx), so the refund and its job are
// committed together or not at all.
type RefundEnqueuer func(ctx context.Context, tx *Store, r domain.Refund) error

// NewRefund is a refund to create.
type NewRefund struct {
	TransactionID  int64 // the console's id; or PlatformTx
	PlatformTx     string
	Request        domain.RefundRequest
	RequestKey     string // client's Idempotency-Key or the form's one-time key; "" for none
	Source         string // domain.RefundFrom…
	RequestedBy    *int64
	RequestedLabel string
	FindingID      *int64
	RetryOf        *int64
	Preapproved    *int64 // approver carried over by a retry
	Now            time.Time
}

// Refund errors; test with errors.Is.
var (
	// ErrKeyReused: the request key was used before for a different request.
	ErrKeyReused = errors.New("idempotency key reused with a different request")
	// ErrNotApprover: only an admin who did not ask for a refund may decide it.
	ErrNotApprover = errors.New("only an admin who did not request the refund may decide it")
)

const refundCols = `id, public_id, merchant_id, transaction_id, platform_tx, amount, currency, reason, state,
	failure_reason, platform_refund_id, request_key, request_digest, source, requested_by, requested_label,
	approved_by, decided_at, decision_note, retry_of, finding_id, attempts, submitted_at, finished_at,
	created_at, updated_at`

// RefundPolicy returns the merchant's refund rules (defaults when none saved).
func (s *Store) RefundPolicy(ctx context.Context, merchantID int64) (domain.RefundPolicy, error) {
	var p domain.RefundPolicy // sqlx allocates pointer fields even when no row comes back
	err := s.x.QueryRowxContext(ctx, `SELECT approval_above, grace_minutes, auto_refund_minutes, auto_refund_notify
		FROM refund_policy WHERE merchant_id = $1`, merchantID).StructScan(&p)
	switch err = mapErr(err); {
	case errors.Is(err, ErrNotFound):
		return domain.DefaultRefundPolicy(), nil
	case err != nil:
		return domain.DefaultRefundPolicy(), fmt.Errorf("db: refund policy: %w", err)
	}
	return p, nil
}

// SaveRefundPolicy stores the merchant's refund rules.
func (s *Store) SaveRefundPolicy(ctx context.Context, merchantID int64, p domain.RefundPolicy) error {
	const q = `INSERT INTO refund_policy (merchant_id, approval_above, grace_minutes, auto_refund_minutes, auto_refund_notify, updated_at)
		VALUES ($1, $2, $3, $4, $5, now())
		ON CONFLICT (merchant_id) DO UPDATE SET approval_above = EXCLUDED.approval_above,
			grace_minutes = EXCLUDED.grace_minutes, auto_refund_minutes = EXCLUDED.auto_refund_minutes,
			auto_refund_notify = EXCLUDED.auto_refund_notify, updated_at = now()`
	if _, err := s.x.ExecContext(ctx, q, merchantID, p.ApprovalAbove, p.GraceMinutes, p.AutoRefundMinutes, p.AutoRefundNotify); err != nil {
		return fmt.Errorf("db: save refund policy: %w", mapErr(err))
	}
	return nil
}

// refundableLocked locks the payment's row (so refunds of one payment are decided
// one at a time) and returns it with what may still be refunded.
func (s *Store) refundableLocked(ctx context.Context, merchantID, txID int64, platformTx string) (domain.Transaction, domain.Refundable, error) {
	var t domain.Transaction
	err := s.x.QueryRowxContext(ctx, `SELECT id, merchant_id, platform_id, order_id, amount, currency, pay_status, status,
			refunded_amount, customer_ref, occurred_at, resolution_state
		FROM transactions WHERE merchant_id = $1 AND (id = $2 OR ($2 = 0 AND platform_id = $3)) AND has_payment
		FOR NO KEY UPDATE`, merchantID, txID, platformTx).StructScan(&t)
	if err != nil {
		return t, domain.Refundable{}, mapErr(err)
	}
	r, err := s.refundable(ctx, merchantID, t)
	return t, r, err
}

// Refundable returns what may still be refunded of a payment (without locking; for
// showing the form).
func (s *Store) Refundable(ctx context.Context, merchantID int64, t domain.Transaction) (domain.Refundable, error) {
	return s.refundable(ctx, merchantID, t)
}

func (s *Store) refundable(ctx context.Context, merchantID int64, t domain.Transaction) (domain.Refundable, error) {
	// Held: our refunds that still hold money, plus successful refunds the platform
	// reported that the console did not make (refunded on the platform directly).
	const q = `SELECT
		(SELECT coalesce(sum(amount), 0) FROM refunds
			WHERE merchant_id = $1 AND transaction_id = $2 AND state NOT IN ('failed', 'rejected')) +
		(SELECT coalesce(sum(amount), 0) FROM (
			SELECT DISTINCT ON (e.refund_id) e.amount FROM transaction_events e
			WHERE e.merchant_id = $1 AND e.platform_id = $3 AND e.type = 'refund.succeeded'
				AND NOT EXISTS (SELECT 1 FROM refunds r WHERE r.merchant_id = $1 AND r.platform_refund_id = e.refund_id)
			ORDER BY e.refund_id, e.id) x),
		coalesce((SELECT debited FROM recon_checks WHERE merchant_id = $1 AND transaction_id = $2 AND answered), 0)`
	out := domain.Refundable{Currency: t.Currency}
	var debited int64
	if err := s.x.QueryRowxContext(ctx, q, merchantID, t.ID, t.PlatformID).Scan(&out.Held, &debited); err != nil {
		return out, fmt.Errorf("db: refundable %d: %w", t.ID, mapErr(err))
	}
	if t.PayStatus == domain.StatusSucceeded {
		out.Captured = t.Amount
	} else {
		out.Captured = debited
	}
	return out, nil
}

// CreateRefund records a refund request, or returns the one already made with the
// same request key (replay true). The payment's row is locked while deciding, so
// concurrent requests can never together refund more than was captured. A refund
// that needs approval waits for it; any other is handed to enqueue in the same
// transaction. Validation problems are *domain.RefundProblem; an unknown payment is
// ErrNotFound; a key reused for another request is ErrKeyReused.
func (s *Store) CreateRefund(ctx context.Context, merchantID int64, in NewRefund, enqueue RefundEnqueuer) (r domain.Refund, replay bool, err error) {
	err = s.InTx(ctx, func(tx *Store) error {
		t, avail, err := tx.refundableLocked(ctx, merchantID, in.TransactionID, in.PlatformTx)
		if err != nil {
			return err
		}
		in.Request.TransactionID = t.PlatformID
		digest := domain.RefundDigest(in.Request)
		if in.RequestKey != "" {
			// After the lock: a concurrent twin with this key has committed by now.
			prev, err := tx.refundByKey(ctx, merchantID, in.RequestKey)
			switch {
			case err == nil && prev.RequestDigest != digest:
				return ErrKeyReused
			case err == nil:
				r, replay = prev, true
				return nil
			case !errors.Is(err, ErrNotFound):
				return err
			}
		}
		if p := domain.CheckRefund(in.Request, avail); p != nil {
			return p
		}
		policy, err := tx.RefundPolicy(ctx, merchantID)
		if err != nil {
			return err
		}
		state := domain.RefundRequested
		if in.Preapproved == nil && domain.NeedsApproval(in.Request.Amount, policy.ApprovalAbove) {
			state = domain.RefundAwaitingApproval
		}
		var key *string
		if in.RequestKey != "" {
			key = &in.RequestKey
		}
		const q = `INSERT INTO refunds (public_id, merchant_id, transaction_id, platform_tx, amount, currency, reason, state,
				request_key, request_digest, source, requested_by, requested_label, approved_by, decided_at, retry_of, finding_id,
				created_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, CASE WHEN $14::bigint IS NULL THEN NULL ELSE $15::timestamptz END,
				$16, $17, $15, $15)
			RETURNING ` + refundCols
		err = tx.x.QueryRowxContext(ctx, q, domain.NewRefundID(), merchantID, t.ID, t.PlatformID, in.Request.Amount, t.Currency,
			strings.TrimSpace(in.Request.Reason), state, key, digest, in.Source, in.RequestedBy, in.RequestedLabel,
			in.Preapproved, in.Now, in.RetryOf, in.FindingID).StructScan(&r)
		if err != nil {
			return fmt.Errorf("insert: %w", mapErr(err))
		}
		kind := "refund.requested"
		if state == domain.RefundAwaitingApproval {
			kind = "refund.awaiting_approval"
		}
		if err := tx.refundTimeline(ctx, r, kind, in.RequestedLabel, in.Now, nil); err != nil {
			return err
		}
		if in.FindingID != nil {
			if _, err := tx.x.ExecContext(ctx, `UPDATE recon_findings SET state = 'refunding', refund_id = $3
				WHERE merchant_id = $1 AND id = $2 AND state IN ('open', 'refunding')`, merchantID, *in.FindingID, r.ID); err != nil {
				return fmt.Errorf("finding: %w", mapErr(err))
			}
		}
		if state == domain.RefundRequested {
			return enqueue(ctx, tx, r)
		}
		return nil
	})
	if err != nil {
		var p *domain.RefundProblem
		if errors.As(err, &p) || errors.Is(err, ErrKeyReused) || errors.Is(err, ErrNotFound) {
			return r, false, err
		}
		if errors.Is(err, ErrDuplicate) && in.RequestKey != "" {
			// The same key named another payment in a concurrent request.
			return r, false, ErrKeyReused
		}
		return r, false, fmt.Errorf("db: create refund: %w", err)
	}
	return r, replay, nil
}

func (s *Store) refundByKey(ctx context.Context, merchantID int64, key string) (domain.Refund, error) {
	var r domain.Refund
	err := s.x.QueryRowxContext(ctx, `SELECT `+refundCols+` FROM refunds WHERE merchant_id = $1 AND request_key = $2`,
		merchantID, key).StructScan(&r)
	return r, mapErr(err)
}

// refundTimeline adds a refund step to its payment's timeline.
func (s *Store) refundTimeline(ctx context.Context, r domain.Refund, kind, actor string, at time.Time, extra map[string]any) error {
	d := map[string]any{"refund_id": r.PublicID, "amount": r.Amount, "currency": r.Currency, "reason": r.Reason}
	for k, v := range extra {
		d[k] = v
	}
	b, _ := json.Marshal(d)
	return s.AppendTimeline(ctx, r.MerchantID, r.TransactionID, domain.TimelineEntry{At: at, Kind: kind, Actor: actor,
		Summary: fmt.Sprintf("%s %s %s", kind, r.PublicID, r.Money()), Details: b})
}

// Refund returns one of the merchant's refunds by its console id.
func (s *Store) Refund(ctx context.Context, merchantID, id int64) (domain.Refund, error) {
	var r domain.Refund
	err := s.x.QueryRowxContext(ctx, `SELECT `+refundCols+` FROM refunds WHERE merchant_id = $1 AND id = $2`, merchantID, id).StructScan(&r)
	if err != nil {
		return r, fmt.Errorf("db: refund %d: %w", id, mapErr(err))
	}
	return r, nil
}

// RefundByPublicID returns one of the merchant's refunds by its public id (rf_…).
func (s *Store) RefundByPublicID(ctx context.Context, merchantID int64, publicID string) (domain.Refund, error) {
	var r domain.Refund
	err := s.x.QueryRowxContext(ctx, `SELECT `+refundCols+` FROM refunds WHERE merchant_id = $1 AND public_id = $2`,
		merchantID, publicID).StructScan(&r)
	if err != nil {
		return r, fmt.Errorf("db: refund %s: %w", publicID, mapErr(err))
	}
	return r, nil
}

// RefundsOf lists a payment's refunds, oldest first.
func (s *Store) RefundsOf(ctx context.Context, merchantID, txID int64) ([]domain.Refund, error) {
	var out []domain.Refund
	err := sqlxSelect(ctx, s, &out, `SELECT `+refundCols+` FROM refunds WHERE merchant_id = $1 AND transaction_id = $2 ORDER BY id`,
		merchantID, txID)
	if err != nil {
		return nil, fmt.Errorf("db: refunds of %d: %w", txID, err)
	}
	return out, nil
}

// RefundFilter narrows the refunds list.
type RefundFilter struct {
	State  string
	Before int64 // keyset: ids below this
	Limit  int
}

// Refunds lists the merchant's refunds, newest first, with the next page's key.
func (s *Store) Refunds(ctx context.Context, merchantID int64, f RefundFilter) ([]domain.RefundRow, int64, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	q := `SELECT ` + prefixCols("r", refundCols) + `, u.email AS approver_email
		FROM refunds r LEFT JOIN users u ON u.id = r.approved_by
		WHERE r.merchant_id = $1 AND ($2 = '' OR r.state = $2) AND ($3 = 0 OR r.id < $3)
		ORDER BY r.id DESC LIMIT $4`
	var out []domain.RefundRow
	if err := sqlxSelect(ctx, s, &out, q, merchantID, f.State, f.Before, f.Limit+1); err != nil {
		return nil, 0, fmt.Errorf("db: refunds: %w", err)
	}
	var next int64
	if len(out) > f.Limit {
		out = out[:f.Limit]
		next = out[len(out)-1].ID
	}
	return out, next, nil
}

// CountRefunds counts the merchant's refunds in a state.
func (s *Store) CountRefunds(ctx context.Context, merchantID int64, state domain.RefundState) (int, error) {
	var n int
	err := s.x.QueryRowxContext(ctx, `SELECT count(*) FROM refunds WHERE merchant_id = $1 AND state = $2`, merchantID, state).Scan(&n)
	return n, mapErr(err)
}

// DecideRefund approves (the refund goes to the platform; enqueue runs in the same
// transaction) or rejects a refund awaiting approval. The approver must be an admin
// who did not ask for it: domain.CanApprove. ErrConflict when it is no longer
// awaiting approval.
func (s *Store) DecideRefund(ctx context.Context, merchantID, id int64, approver domain.User, approve bool, note string,
	now time.Time, enqueue RefundEnqueuer) (domain.Refund, error) {
	var r domain.Refund
	err := s.InTx(ctx, func(tx *Store) error {
		err := tx.x.QueryRowxContext(ctx, `SELECT `+refundCols+` FROM refunds WHERE merchant_id = $1 AND id = $2 FOR UPDATE`,
			merchantID, id).StructScan(&r)
		if err != nil {
			return mapErr(err)
		}
		if r.State != domain.RefundAwaitingApproval {
			return ErrConflict
		}
		if !domain.CanApprove(approver, r) {
			return ErrNotApprover
		}
		next, kind := domain.RefundRejected, "refund.rejected"
		if approve {
			next, kind = domain.RefundRequested, "refund.approved"
		}
		err = tx.x.QueryRowxContext(ctx, `UPDATE refunds SET state = $3, approved_by = $4, decided_at = $5, decision_note = $6,
				finished_at = CASE WHEN $3 = 'rejected' THEN $5::timestamptz END, updated_at = $5
			WHERE merchant_id = $1 AND id = $2 RETURNING `+refundCols, merchantID, id, next, approver.ID, now, note).StructScan(&r)
		if err != nil {
			return mapErr(err)
		}
		if err := tx.refundTimeline(ctx, r, kind, approver.Email, now, map[string]any{"note": note}); err != nil {
			return err
		}
		if !approve {
			return tx.reopenFinding(ctx, r)
		}
		return enqueue(ctx, tx, r)
	})
	if err != nil {
		return r, fmt.Errorf("db: decide refund %d: %w", id, err)
	}
	return r, nil
}

// RetryRefund tries a refund again. One that never reached the platform goes again
// under the same key (if the platform did get it, it answers with that refund); one
// the platform failed becomes a new refund (a new key) for the same amount and
// reason, checked against what is left and keeping its approval.
func (s *Store) RetryRefund(ctx context.Context, merchantID, id int64, by *int64, byLabel string, now time.Time,
	enqueue RefundEnqueuer) (domain.Refund, error) {
	var out domain.Refund
	var again *NewRefund
	err := s.InTx(ctx, func(tx *Store) error {
		var r domain.Refund
		err := tx.x.QueryRowxContext(ctx, `SELECT `+refundCols+` FROM refunds WHERE merchant_id = $1 AND id = $2 FOR UPDATE`,
			merchantID, id).StructScan(&r)
		if err != nil {
			return mapErr(err)
		}
		switch r.State {
		case domain.RefundNotSubmitted:
			err = tx.x.QueryRowxContext(ctx, `UPDATE refunds SET state = 'requested', failure_reason = '', updated_at = $3
				WHERE merchant_id = $1 AND id = $2 RETURNING `+refundCols, merchantID, id, now).StructScan(&out)
			if err != nil {
				return mapErr(err)
			}
			if err := tx.refundTimeline(ctx, out, "refund.retried", byLabel, now, nil); err != nil {
				return err
			}
			return enqueue(ctx, tx, out)
		case domain.RefundFailed:
			// The key makes a second click on "retry" return the same new refund.
			again = &NewRefund{TransactionID: r.TransactionID, Request: domain.RefundRequest{Amount: r.Amount, Reason: r.Reason},
				Source: r.Source, RequestedBy: by, RequestedLabel: byLabel, FindingID: r.FindingID, RetryOf: &r.ID,
				Preapproved: r.ApprovedBy, Now: now, RequestKey: "retry:" + r.PublicID}
			return nil
		default:
			return ErrConflict
		}
	})
	if err != nil {
		return out, fmt.Errorf("db: retry refund %d: %w", id, err)
	}
	if again != nil {
		out, _, err = s.CreateRefund(ctx, merchantID, *again, enqueue)
	}
	return out, err
}

// StartRefundAttempt is called by the submit job before it calls the platform: it
// counts the attempt and returns the refund if it still needs submitting.
func (s *Store) StartRefundAttempt(ctx context.Context, merchantID, id int64) (domain.Refund, bool, error) {
	var r domain.Refund
	err := s.x.QueryRowxContext(ctx, `UPDATE refunds SET attempts = attempts + 1
		WHERE merchant_id = $1 AND id = $2 AND state IN ('requested', 'not_submitted') RETURNING `+refundCols,
		merchantID, id).StructScan(&r)
	if err = mapErr(err); errors.Is(err, ErrNotFound) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("db: refund attempt %d: %w", id, err)
	}
	return r, true, nil
}

// RefundOutcome is what the platform (or the job) said about a refund.
type RefundOutcome struct {
	State            domain.RefundState
	PlatformRefundID string
	FailureReason    string
	Via              string // "submit", "poll", "webhook": for the timeline
}

// RecordRefundOutcome moves a refund forward (never back: the UPDATE only matches
// states from which the move is allowed), records the platform's refund id, and
// then applies any final event the platform's webhook already delivered for it.
// It reports whether the refund changed.
func (s *Store) RecordRefundOutcome(ctx context.Context, merchantID, id int64, o RefundOutcome, now time.Time) (domain.Refund, bool, error) {
	var r domain.Refund
	changed := false
	err := s.InTx(ctx, func(tx *Store) error {
		err := tx.x.QueryRowxContext(ctx, `UPDATE refunds SET state = $3,
				platform_refund_id = coalesce(platform_refund_id, nullif($4, '')),
				failure_reason = CASE WHEN $3 IN ('failed', 'not_submitted') THEN $5 ELSE failure_reason END,
				submitted_at = CASE WHEN $3 IN ('submitted', 'succeeded', 'failed') THEN coalesce(submitted_at, $6) ELSE submitted_at END,
				finished_at = CASE WHEN $3 IN ('succeeded', 'failed') THEN $6::timestamptz END, updated_at = $6
			WHERE merchant_id = $1 AND id = $2 AND state = ANY($7) RETURNING `+refundCols,
			merchantID, id, o.State, o.PlatformRefundID, o.FailureReason, now, pq.StringArray(domain.MovableFrom(o.State))).StructScan(&r)
		switch err = mapErr(err); {
		case errors.Is(err, ErrNotFound):
			r, err = tx.Refund(ctx, merchantID, id)
			if err != nil {
				return err
			}
			if r.PlatformRefundID == nil && o.PlatformRefundID != "" {
				_, err = tx.x.ExecContext(ctx, `UPDATE refunds SET platform_refund_id = $3 WHERE merchant_id = $1 AND id = $2`,
					merchantID, id, o.PlatformRefundID)
				return mapErr(err)
			}
			return nil
		case err != nil:
			return err
		}
		changed = true
		switch {
		case o.Via == "webhook": // the platform's event is on the timeline already
		case r.State.Final() && r.PlatformRefundID != nil:
			// Learnt by asking (the webhook may never come): keep it as the platform's
			// event, so the payment's refunded amount and timeline come out the same.
			if err := tx.recordQueriedRefund(ctx, r, o, now); err != nil {
				return err
			}
		default:
			if err := tx.refundTimeline(ctx, r, "refund."+string(o.State), "system", now,
				map[string]any{"failure_reason": o.FailureReason, "via": o.Via}); err != nil {
				return err
			}
		}
		return tx.settleFinding(ctx, r, now)
	})
	if err != nil {
		return r, false, fmt.Errorf("db: refund %d outcome: %w", id, err)
	}
	if !r.State.Final() && r.PlatformRefundID != nil {
		// The webhook may have come first (before the platform id was known here).
		r2, ch, err := s.applyRefundEvents(ctx, merchantID, *r.PlatformRefundID, now)
		if err != nil {
			return r, changed, err
		}
		if ch {
			return r2, true, nil
		}
	}
	return r, changed, nil
}

// applyRefundEvents brings a refund to the final state the platform's refund events
// report for it, if any.
func (s *Store) applyRefundEvents(ctx context.Context, merchantID int64, platformRefundID string, now time.Time) (domain.Refund, bool, error) {
	var typ, reason string
	err := s.x.QueryRowxContext(ctx, `SELECT type, coalesce(payload->'data'->>'failure_reason', '') FROM transaction_events
		WHERE merchant_id = $1 AND refund_id = $2 AND type IN ('refund.succeeded', 'refund.failed')
		ORDER BY (type = 'refund.succeeded') DESC, id LIMIT 1`, merchantID, platformRefundID).Scan(&typ, &reason)
	if err = mapErr(err); errors.Is(err, ErrNotFound) {
		return domain.Refund{}, false, nil
	} else if err != nil {
		return domain.Refund{}, false, fmt.Errorf("db: refund events %s: %w", platformRefundID, err)
	}
	var id int64
	err = s.x.QueryRowxContext(ctx, `SELECT id FROM refunds WHERE merchant_id = $1 AND platform_refund_id = $2`,
		merchantID, platformRefundID).Scan(&id)
	if err = mapErr(err); errors.Is(err, ErrNotFound) {
		return domain.Refund{}, false, nil // a refund made outside the console
	} else if err != nil {
		return domain.Refund{}, false, err
	}
	o := RefundOutcome{State: domain.RefundSucceeded, PlatformRefundID: platformRefundID, Via: "webhook"}
	if typ == "refund.failed" {
		o.State, o.FailureReason = domain.RefundFailed, reason
	}
	return s.RecordRefundOutcome(ctx, merchantID, id, o, now)
}

// settleFinding moves a finding with its refund: resolved when the money is back,
// open again when the refund failed.
func (s *Store) settleFinding(ctx context.Context, r domain.Refund, now time.Time) error {
	if r.FindingID == nil {
		return nil
	}
	switch r.State {
	case domain.RefundSucceeded:
		_, err := s.x.ExecContext(ctx, `UPDATE recon_findings SET state = 'resolved', resolution = 'refunded', resolved_at = $3
			WHERE merchant_id = $1 AND id = $2 AND state IN ('open', 'refunding')`, r.MerchantID, *r.FindingID, now)
		return mapErr(err)
	case domain.RefundFailed:
		return s.reopenFinding(ctx, r)
	}
	return nil
}

func (s *Store) reopenFinding(ctx context.Context, r domain.Refund) error {
	if r.FindingID == nil {
		return nil
	}
	_, err := s.x.ExecContext(ctx, `UPDATE recon_findings SET state = 'open'
		WHERE merchant_id = $1 AND id = $2 AND state = 'refunding' AND refund_id = $3`, r.MerchantID, *r.FindingID, r.ID)
	return mapErr(err)
}

// RefundsToPoll lists submitted refunds not heard of since before, for the poller
// that makes sure a lost webhook cannot leave a refund pending for ever.
func (s *Store) RefundsToPoll(ctx context.Context, before time.Time, limit int) ([]domain.Refund, error) {
	var out []domain.Refund
	err := sqlxSelect(ctx, s, &out, `SELECT `+refundCols+` FROM refunds
		WHERE state = 'submitted' AND updated_at < $1 ORDER BY updated_at LIMIT $2`, before, limit)
	if err != nil {
		return nil, fmt.Errorf("db: refunds to poll: %w", err)
	}
	return out, nil
}

// TouchRefund marks a refund as looked at now (the poller's bookmark).
func (s *Store) TouchRefund(ctx context.Context, merchantID, id int64, now time.Time) error {
	_, err := s.x.ExecContext(ctx, `UPDATE refunds SET updated_at = $3 WHERE merchant_id = $1 AND id = $2`, merchantID, id, now)
	return mapErr(err)
}

// NoteRefundError records why the last attempt to submit a refund did not get an
// answer, while the job keeps trying with the same key.
func (s *Store) NoteRefundError(ctx context.Context, merchantID, id int64, msg string) error {
	if len(msg) > 500 {
		msg = msg[:500]
	}
	_, err := s.x.ExecContext(ctx, `UPDATE refunds SET failure_reason = $3
		WHERE merchant_id = $1 AND id = $2 AND state IN ('requested', 'not_submitted')`, merchantID, id, msg)
	return mapErr(err)
}

// prefixCols qualifies a column list with a table alias.
func prefixCols(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, c := range parts {
		parts[i] = alias + "." + strings.TrimSpace(c)
	}
	return strings.Join(parts, ", ")
}

// recordQueriedRefund stores a refund's final state, as the platform's API answered
// it, as a refund event with source "query" (one per refund and outcome; a webhook
// arriving later is a different event of the same refund and counts once).
func (s *Store) recordQueriedRefund(ctx context.Context, r domain.Refund, o RefundOutcome, now time.Time) error {
	typ := "refund." + string(r.State)
	payload, err := json.Marshal(map[string]any{"id": "query_" + *r.PlatformRefundID + "_" + string(r.State), "type": typ,
		"data": map[string]any{"transaction_id": r.PlatformTx, "refund_id": *r.PlatformRefundID, "amount": r.Amount,
			"currency": r.Currency, "failure_reason": o.FailureReason, "occurred_at": now.UTC().Format(time.RFC3339), "via": o.Via}})
	if err != nil {
		return err
	}
	var res IngestResult
	return s.ingestRefund(ctx, r.MerchantID, EventRecord{EventID: "query_" + *r.PlatformRefundID + "_" + string(r.State),
		Type: typ, Source: "query", PlatformID: r.PlatformTx, RefundID: *r.PlatformRefundID, Amount: r.Amount,
		Currency: r.Currency, Payload: payload, OccurredAt: now}, &res)
}
