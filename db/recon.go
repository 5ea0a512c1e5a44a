package db

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lib/pq"

	"paymend/domain"
)

// ReconLookback is how far back reconciliation looks at orders and payments.
const ReconLookback = 7 * 24 * time.Hour

// Finding is a reconciliation finding as stored.
type Finding struct {
	ID            int64      `db:"id"`
	MerchantID    int64      `db:"merchant_id"`
	Kind          string     `db:"kind"`
	OrderID       string     `db:"order_id"`
	TransactionID *int64     `db:"transaction_id"`
	PlatformTx    string     `db:"platform_tx"`
	Amount        int64      `db:"amount"`
	OrderAmount   *int64     `db:"order_amount"`
	Currency      string     `db:"currency"`
	Detail        string     `db:"detail"`
	State         string     `db:"state"`
	Resolution    string     `db:"resolution"`
	Note          string     `db:"note"`
	RefundID      *int64     `db:"refund_id"`
	ResolvedBy    *int64     `db:"resolved_by"`
	ResolvedAt    *time.Time `db:"resolved_at"`
	FirstSeenAt   time.Time  `db:"first_seen_at"`
	LastSeenAt    time.Time  `db:"last_seen_at"`
	OrderStatus   *string    `db:"order_status"`
	RefundState   *string    `db:"refund_state"`
	RefundPublic  *string    `db:"refund_public_id"`
}

const findingCols = `f.id, f.merchant_id, f.kind, f.order_id, f.transaction_id, f.platform_tx, f.amount, f.order_amount,
	f.currency, f.detail, f.state, f.resolution, f.note, f.refund_id, f.resolved_by, f.resolved_at, f.first_seen_at,
	f.last_seen_at, o.status AS order_status, r.state AS refund_state, r.public_id AS refund_public_id`

const findingFrom = ` FROM recon_findings f
	LEFT JOIN orders o ON o.merchant_id = f.merchant_id AND o.order_id = f.order_id
	LEFT JOIN refunds r ON r.id = f.refund_id`

// ReconCandidate is a payment whose outcome the platform should confirm.
type ReconCandidate struct {
	TransactionID int64  `db:"id"`
	PlatformID    string `db:"platform_id"`
}

// ReconCandidates lists payments on reported orders whose outcome the console cannot
// trust: pending past the grace period, or failed on a network/timeout code (the
// bank may have taken the money anyway), not asked about recently; at most limit.
func (s *Store) ReconCandidates(ctx context.Context, merchantID int64, now time.Time, grace time.Duration, codes []string, limit int) ([]ReconCandidate, error) {
	const q = `SELECT t.id, t.platform_id FROM transactions t
		JOIN orders o ON o.merchant_id = t.merchant_id AND o.order_id = t.order_id
		LEFT JOIN recon_checks c ON c.merchant_id = t.merchant_id AND c.transaction_id = t.id
		WHERE t.merchant_id = $1 AND t.has_payment AND t.occurred_at > $2 AND t.occurred_at <= $3
			AND (t.pay_status = 'pending' OR (t.pay_status = 'failed' AND t.code = ANY($4)))
			AND o.status NOT IN ('paid', 'completed')
			AND (c.transaction_id IS NULL OR (c.checks < 5 AND c.checked_at < $5 AND (NOT c.answered OR c.platform_status = 'pending')))
		ORDER BY t.occurred_at DESC LIMIT $6`
	var out []ReconCandidate
	err := sqlxSelect(ctx, s, &out, q, merchantID, now.Add(-ReconLookback), now.Add(-grace), pq.StringArray(codes),
		now.Add(-10*time.Minute), limit)
	if err != nil {
		return nil, fmt.Errorf("db: recon candidates: %w", err)
	}
	return out, nil
}

// RecordReconCheck stores what the platform said about a payment (answered false:
// it could not be reached).
func (s *Store) RecordReconCheck(ctx context.Context, merchantID, txID int64, answered bool, status string, debited int64, errText string, now time.Time) error {
	const q = `INSERT INTO recon_checks (merchant_id, transaction_id, checked_at, answered, platform_status, debited, error)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (merchant_id, transaction_id) DO UPDATE SET checked_at = EXCLUDED.checked_at,
			checks = recon_checks.checks + 1, answered = EXCLUDED.answered,
			platform_status = CASE WHEN EXCLUDED.answered THEN EXCLUDED.platform_status ELSE recon_checks.platform_status END,
			debited = CASE WHEN EXCLUDED.answered THEN EXCLUDED.debited ELSE recon_checks.debited END,
			error = EXCLUDED.error`
	if _, err := s.x.ExecContext(ctx, q, merchantID, txID, now, answered, status, debited, errText); err != nil {
		return fmt.Errorf("db: recon check %d: %w", txID, mapErr(err))
	}
	return nil
}

// ReconScope is the orders (and their payments) a run looks at.
type ReconScope struct {
	Orders  []domain.ReconOrder
	Charges map[string][]domain.ReconCharge // by order id
}

// LoadReconScope reads the orders reported or changed since `since` (plus the
// orders of payments named in extra) with every payment for them. A payment's
// Refunded counts what came back and what the console's refunds still hold.
func (s *Store) LoadReconScope(ctx context.Context, merchantID int64, since time.Time, extraOrders []string) (ReconScope, error) {
	out := ReconScope{Charges: map[string][]domain.ReconCharge{}}
	const qo = `SELECT order_id, status, amount, currency, updated_at FROM orders
		WHERE merchant_id = $1 AND (updated_at > $2 OR received_at > $2 OR order_id = ANY($3))`
	rows, err := s.x.QueryxContext(ctx, qo, merchantID, since, pq.StringArray(extraOrders))
	if err != nil {
		return out, fmt.Errorf("db: recon orders: %w", mapErr(err))
	}
	for rows.Next() {
		var o domain.ReconOrder
		if err := rows.Scan(&o.OrderID, &o.Status, &o.Amount, &o.Currency, &o.UpdatedAt); err != nil {
			rows.Close()
			return out, err
		}
		out.Orders = append(out.Orders, o)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return out, mapErr(err)
	}
	ids := make([]string, len(out.Orders))
	for i, o := range out.Orders {
		ids[i] = o.OrderID
	}
	const qt = `SELECT t.id, t.order_id, t.platform_id, t.pay_status, t.amount, t.currency, t.occurred_at,
			t.refunded_amount + coalesce((SELECT sum(amount) FROM refunds r WHERE r.merchant_id = t.merchant_id
				AND r.transaction_id = t.id AND r.state IN ('requested', 'awaiting_approval', 'submitted', 'not_submitted')), 0),
			coalesce(c.debited, 0), coalesce(NOT c.answered OR c.platform_status = 'pending', false)
		FROM transactions t
		LEFT JOIN recon_checks c ON c.merchant_id = t.merchant_id AND c.transaction_id = t.id
		WHERE t.merchant_id = $1 AND t.order_id = ANY($2) AND t.has_payment`
	rows, err = s.x.QueryxContext(ctx, qt, merchantID, pq.StringArray(ids))
	if err != nil {
		return out, fmt.Errorf("db: recon charges: %w", mapErr(err))
	}
	defer rows.Close()
	for rows.Next() {
		var c domain.ReconCharge
		var orderID string
		if err := rows.Scan(&c.TransactionID, &orderID, &c.PlatformTx, &c.PayStatus, &c.Amount, &c.Currency, &c.OccurredAt,
			&c.Refunded, &c.Debited, &c.Asked); err != nil {
			return out, err
		}
		if c.PayStatus == domain.StatusSucceeded {
			c.Debited = 0 // the platform's debited figure matters only while the console thinks it failed
		}
		out.Charges[orderID] = append(out.Charges[orderID], c)
	}
	return out, mapErr(rows.Err())
}

// OrdersOfTransactions returns the order ids of payments (for feedback-triggered runs).
func (s *Store) OrdersOfTransactions(ctx context.Context, merchantID int64, txIDs []int64) ([]string, error) {
	var out []string
	err := sqlxSelect(ctx, s, &out, `SELECT DISTINCT order_id FROM transactions WHERE merchant_id = $1 AND id = ANY($2) AND order_id <> ''`,
		merchantID, pq.Int64Array(txIDs))
	return out, err
}

// ReconRun is one reconciliation run's record.
type ReconRun struct {
	ID         int64      `db:"id"`
	Trigger    string     `db:"trigger"`
	StartedAt  time.Time  `db:"started_at"`
	FinishedAt *time.Time `db:"finished_at"`
	Orders     int        `db:"orders"`
	Queried    int        `db:"queried"`
	Opened     int        `db:"opened"`
	Closed     int        `db:"closed"`
	Error      string     `db:"error"`
}

// StartReconRun records that a run began.
func (s *Store) StartReconRun(ctx context.Context, merchantID int64, trigger string, now time.Time) (int64, error) {
	var id int64
	err := s.x.QueryRowxContext(ctx, `INSERT INTO recon_runs (merchant_id, trigger, started_at) VALUES ($1, $2, $3) RETURNING id`,
		merchantID, trigger, now).Scan(&id)
	return id, mapErr(err)
}

// FinishReconRun records a run's outcome.
func (s *Store) FinishReconRun(ctx context.Context, merchantID, id int64, r ReconRun, now time.Time) error {
	_, err := s.x.ExecContext(ctx, `UPDATE recon_runs SET finished_at = $3, orders = $4, queried = $5, opened = $6, closed = $7, error = $8
		WHERE merchant_id = $1 AND id = $2`, merchantID, id, now, r.Orders, r.Queried, r.Opened, r.Closed, r.Error)
	return mapErr(err)
}

// LastReconRuns lists a merchant's latest runs.
func (s *Store) LastReconRuns(ctx context.Context, merchantID int64, n int) ([]ReconRun, error) {
	var out []ReconRun
	err := sqlxSelect(ctx, s, &out, `SELECT id, trigger, started_at, finished_at, orders, queried, opened, closed, error
		FROM recon_runs WHERE merchant_id = $1 ORDER BY id DESC LIMIT $2`, merchantID, n)
	return out, err
}

// SaveFindings records what a run found: new problems open, known ones are seen
// again (one that had cleared up by itself reopens; one a person settled stays
// settled), and open ones on the run's orders that were not found again are closed
// as cleared. It returns how many opened and closed.
func (s *Store) SaveFindings(ctx context.Context, merchantID int64, scope []string, found []domain.ReconFinding, now time.Time) (opened, closed int, err error) {
	err = s.InTx(ctx, func(tx *Store) error {
		n := len(found)
		kinds, orders, ptx, cur, det := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		txs, amts, oamts := make([]int64, n), make([]int64, n), make([]int64, n)
		for i, fd := range found {
			kinds[i], orders[i], txs[i], ptx[i] = string(fd.Kind), fd.OrderID, fd.TransactionID, fd.PlatformTx
			amts[i], oamts[i], cur[i], det[i] = fd.Amount, fd.OrderAmount, fd.Currency, fd.Detail
		}
		// One statement for the whole run; a finding seen again keeps its state unless it
		// had cleared up by itself, in which case it reopens.
		const q = `INSERT INTO recon_findings AS f (merchant_id, kind, order_id, transaction_id, platform_tx, amount, order_amount,
				currency, detail, first_seen_at, last_seen_at)
			SELECT $1, v.kind, v.order_id, nullif(v.tx, 0), v.ptx, v.amount, v.oamount, v.currency, v.detail, $10, $10
			FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[], $6::bigint[], $7::bigint[], $8::text[], $9::text[])
				AS v (kind, order_id, tx, ptx, amount, oamount, currency, detail)
			ON CONFLICT (merchant_id, kind, order_id, platform_tx) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at,
				amount = EXCLUDED.amount, order_amount = EXCLUDED.order_amount, detail = EXCLUDED.detail,
				state = CASE WHEN f.resolution = 'cleared' THEN 'open' ELSE f.state END,
				resolution = CASE WHEN f.resolution = 'cleared' THEN '' ELSE f.resolution END,
				resolved_at = CASE WHEN f.resolution = 'cleared' THEN NULL ELSE f.resolved_at END
			RETURNING (xmax = 0)`
		if n > 0 {
			rows, err := tx.x.QueryxContext(ctx, q, merchantID, pq.StringArray(kinds), pq.StringArray(orders), pq.Int64Array(txs),
				pq.StringArray(ptx), pq.Int64Array(amts), pq.Int64Array(oamts), pq.StringArray(cur), pq.StringArray(det), now)
			if err != nil {
				return fmt.Errorf("save findings: %w", mapErr(err))
			}
			for rows.Next() {
				var inserted bool
				if err := rows.Scan(&inserted); err != nil {
					rows.Close()
					return err
				}
				if inserted {
					opened++
				}
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("save findings: %w", mapErr(err))
			}
		}
		res, err := tx.x.ExecContext(ctx, `UPDATE recon_findings SET state = 'resolved', resolution = 'cleared', resolved_at = $3
			WHERE merchant_id = $1 AND state = 'open' AND order_id = ANY($2) AND last_seen_at < $3`,
			merchantID, pq.StringArray(scope), now)
		if err != nil {
			return fmt.Errorf("clear findings: %w", mapErr(err))
		}
		cleared, _ := res.RowsAffected()
		closed = int(cleared)
		return nil
	})
	return opened, closed, err
}

// FindingFilter narrows the findings worklist.
type FindingFilter struct {
	Kind   string
	State  string // "" = open and refunding
	Before int64
	Limit  int
}

// Findings lists the worklist, newest first, with the next page's key.
func (s *Store) Findings(ctx context.Context, merchantID int64, f FindingFilter) ([]Finding, int64, error) {
	if f.Limit <= 0 || f.Limit > 200 {
		f.Limit = 50
	}
	q := `SELECT ` + findingCols + findingFrom + `
		WHERE f.merchant_id = $1 AND ($2 = '' OR f.kind = $2)
			AND (($3 = '' AND f.state IN ('open', 'refunding')) OR f.state = $3) AND ($4 = 0 OR f.id < $4)
		ORDER BY f.id DESC LIMIT $5`
	var out []Finding
	if err := sqlxSelect(ctx, s, &out, q, merchantID, f.Kind, f.State, f.Before, f.Limit+1); err != nil {
		return nil, 0, fmt.Errorf("db: findings: %w", err)
	}
	var next int64
	if len(out) > f.Limit {
		out = out[:f.Limit]
		next = out[len(out)-1].ID
	}
	return out, next, nil
}

// FindingCounts counts open findings by kind.
func (s *Store) FindingCounts(ctx context.Context, merchantID int64) (map[string]int, error) {
	rows, err := s.x.QueryxContext(ctx, `SELECT kind, count(*) FROM recon_findings
		WHERE merchant_id = $1 AND state IN ('open', 'refunding') GROUP BY kind`, merchantID)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, mapErr(rows.Err())
}

// Finding returns one of the merchant's findings.
func (s *Store) Finding(ctx context.Context, merchantID, id int64) (Finding, error) {
	var f Finding
	err := s.x.QueryRowxContext(ctx, `SELECT `+findingCols+findingFrom+` WHERE f.merchant_id = $1 AND f.id = $2`,
		merchantID, id).StructScan(&f)
	if err != nil {
		return f, fmt.Errorf("db: finding %d: %w", id, mapErr(err))
	}
	return f, nil
}

// SettleFinding closes an open finding by hand: "fulfilled" (the order was in fact
// delivered) or "ignored" (with a reason). ErrConflict when it is not open.
func (s *Store) SettleFinding(ctx context.Context, merchantID, id int64, resolution, note string, by *int64, now time.Time) error {
	state := domain.FindingResolved
	if resolution == "ignored" {
		state = domain.FindingIgnored
	}
	res, err := s.x.ExecContext(ctx, `UPDATE recon_findings SET state = $3, resolution = $4, note = $5, resolved_by = $6, resolved_at = $7
		WHERE merchant_id = $1 AND id = $2 AND state = 'open'`, merchantID, id, state, resolution, note, by, now)
	if err != nil {
		return fmt.Errorf("db: settle finding %d: %w", id, mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := s.Finding(ctx, merchantID, id); errors.Is(err, ErrNotFound) {
			return ErrNotFound
		}
		return ErrConflict
	}
	return nil
}

// AutoRefundable lists open "charged, order not completed" findings older than
// minutes with no refund yet, for the automatic refund policy.
func (s *Store) AutoRefundable(ctx context.Context, merchantID int64, before time.Time, limit int) ([]Finding, error) {
	var out []Finding
	err := sqlxSelect(ctx, s, &out, `SELECT `+findingCols+findingFrom+`
		WHERE f.merchant_id = $1 AND f.state = 'open' AND f.kind = 'charged_not_completed' AND f.refund_id IS NULL
			AND f.transaction_id IS NOT NULL AND f.first_seen_at <= $2
		ORDER BY f.id LIMIT $3`, merchantID, before, limit)
	return out, err
}

// FindingsByIDs returns the merchant's findings among ids (others' are left out).
func (s *Store) FindingsByIDs(ctx context.Context, merchantID int64, ids []int64) ([]Finding, error) {
	var out []Finding
	err := sqlxSelect(ctx, s, &out, `SELECT `+findingCols+findingFrom+` WHERE f.merchant_id = $1 AND f.id = ANY($2) ORDER BY f.id`,
		merchantID, pq.Int64Array(ids))
	return out, err
}
