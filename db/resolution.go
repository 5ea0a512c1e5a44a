package db

import (
	"context"
	"fmt"
	"time"

	"github.com/lib/pq"

	"paymend/domain"
)

// MoveResolution moves one transaction's playbook from state from to state to, only if
// it is still in from (a concurrent change makes it ErrConflict), and records the
// step on the timeline in the same transaction.
func (s *Store) MoveResolution(ctx context.Context, merchantID, txID int64, from, to domain.ResolutionState, entry domain.TimelineEntry, now time.Time) error {
	return s.InTx(ctx, func(tx *Store) error {
		const q = `UPDATE transactions SET resolution_state = $4,
				resolved_at = CASE WHEN $5 THEN $6::timestamptz ELSE NULL END, updated_at = $6
			WHERE merchant_id = $1 AND id = $2 AND resolution_state = $3`
		res, err := tx.x.ExecContext(ctx, q, merchantID, txID, string(from), string(to), to.Terminal(), now)
		if err != nil {
			return fmt.Errorf("db: resolution %d: %w", txID, mapErr(err))
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrConflict
		}
		entry.At = now
		return tx.AppendTimeline(ctx, merchantID, txID, entry)
	})
}

// ResolutionCandidate is a transaction a bulk action may move.
type ResolutionCandidate struct {
	ID    int64  `db:"id"`
	State string `db:"resolution_state"`
	Code  string `db:"code"`
}

// ResolutionCandidates loads the merchant's transactions among ids that ever failed.
// Ids of other merchants are silently absent.
func (s *Store) ResolutionCandidates(ctx context.Context, merchantID int64, ids []int64) ([]ResolutionCandidate, error) {
	const q = `SELECT id, resolution_state, code FROM transactions
		WHERE merchant_id = $1 AND id = ANY($2) AND failed_at IS NOT NULL ORDER BY id`
	var out []ResolutionCandidate
	if err := sqlxSelect(ctx, s, &out, q, merchantID, pq.Array(ids)); err != nil {
		return nil, fmt.Errorf("db: resolution candidates: %w", err)
	}
	return out, nil
}

// ResolutionTime is how long closing a failure took, per code.
type ResolutionTime struct {
	Code   string  `db:"code"`
	Closed int64   `db:"closed"`
	Median float64 `db:"median_s"` // seconds
	P90    float64 `db:"p90_s"`
}

// ResolutionTimes returns median and p90 time from failure to closed, per code, for
// failures closed in [from, to).
func (s *Store) ResolutionTimes(ctx context.Context, merchantID int64, from, to time.Time) ([]ResolutionTime, error) {
	const q = `SELECT code, count(*) AS closed,
			percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM resolved_at - failed_at)) AS median_s,
			percentile_cont(0.9) WITHIN GROUP (ORDER BY extract(epoch FROM resolved_at - failed_at)) AS p90_s
		FROM transactions
		WHERE merchant_id = $1 AND resolved_at >= $2 AND resolved_at < $3 AND failed_at IS NOT NULL
			AND resolved_at >= failed_at AND code <> ''
		GROUP BY code ORDER BY code`
	var out []ResolutionTime
	if err := sqlxSelect(ctx, s, &out, q, merchantID, from, to); err != nil {
		return nil, fmt.Errorf("db: resolution times: %w", err)
	}
	return out, nil
}
