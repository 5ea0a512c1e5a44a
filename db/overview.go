package db

import (
	"context"
	"fmt"
	"time"
)

// Summary counts a merchant's payments in a period.
type Summary struct {
	Total        int64 `db:"total"`
	Failed       int64 `db:"failed"`
	Succeeded    int64 `db:"succeeded"`
	FailedAmount int64 `db:"failed_amount"`
	Unresolved   int64 `db:"unresolved"`
	CustomersHit int64 `db:"customers_hit"`
}

// FailureRate is failed / (failed + succeeded), 0 when nothing settled.
func (s Summary) FailureRate() float64 {
	if s.Failed+s.Succeeded == 0 {
		return 0
	}
	return float64(s.Failed) / float64(s.Failed+s.Succeeded)
}

// Summarize counts the merchant's payments with occurred_at in [from, to).
func (s *Store) Summarize(ctx context.Context, merchantID int64, from, to time.Time) (Summary, error) {
	const q = `SELECT count(*) AS total,
			count(*) FILTER (WHERE pay_status = 'failed') AS failed,
			count(*) FILTER (WHERE pay_status = 'succeeded') AS succeeded,
			coalesce(sum(amount) FILTER (WHERE pay_status = 'failed'), 0) AS failed_amount,
			count(*) FILTER (WHERE pay_status = 'failed' AND resolved_at IS NULL) AS unresolved,
			count(DISTINCT customer_ref) FILTER (WHERE pay_status = 'failed' AND customer_ref <> '') AS customers_hit
		FROM transactions WHERE merchant_id = $1 AND occurred_at >= $2 AND occurred_at < $3`
	var out Summary
	if err := s.x.QueryRowxContext(ctx, q, merchantID, from, to).StructScan(&out); err != nil {
		return out, fmt.Errorf("db: summarize: %w", mapErr(err))
	}
	return out, nil
}
