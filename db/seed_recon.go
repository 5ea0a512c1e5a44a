package db

import (
	"context"
	"fmt"
	"time"
)

// DeleteSeededRefunds removes what refunds and reconciliation hold on the merchant's
// seeded payments (run before DeleteSeeded): refunds, findings, platform checks and
// the demo orders.
func (s *Store) DeleteSeededRefunds(ctx context.Context, merchantID int64) error {
	return s.InTx(ctx, func(tx *Store) error {
		for _, q := range []string{
			`CREATE TEMP TABLE seeded_tx ON COMMIT DROP AS SELECT t.id, t.order_id FROM transactions t
				WHERE t.merchant_id = $1 AND EXISTS (SELECT 1 FROM transaction_events e
				WHERE e.merchant_id = t.merchant_id AND e.platform_id = t.platform_id AND e.source = 'seed')`,
			`UPDATE refunds SET finding_id = NULL WHERE merchant_id = $1 AND transaction_id IN (SELECT id FROM seeded_tx)`,
			`DELETE FROM recon_findings WHERE merchant_id = $1 AND (transaction_id IN (SELECT id FROM seeded_tx)
				OR order_id IN (SELECT order_id FROM seeded_tx))`,
			`DELETE FROM refunds WHERE merchant_id = $1 AND transaction_id IN (SELECT id FROM seeded_tx)`,
			`DELETE FROM recon_checks WHERE merchant_id = $1 AND transaction_id IN (SELECT id FROM seeded_tx)`,
			`DELETE FROM orders WHERE merchant_id = $1 AND order_id IN (SELECT order_id FROM seeded_tx)`,
		} {
			if _, err := tx.x.ExecContext(ctx, q, merchantID); err != nil {
				return fmt.Errorf("db: delete seeded refunds: %w", mapErr(err))
			}
		}
		return nil
	})
}

// SeedDemoOrders reports an order for every demo order of the last 7 days, as an
// order system would: paid orders completed, abandoned ones closed, and a few of the
// problems reconciliation exists for (about 1 % charged but closed, 1 % with another
// amount, 1 % paid without a successful charge). Deterministic per payment id.
func (s *Store) SeedDemoOrders(ctx context.Context, merchantID int64, now time.Time) (int64, error) {
	const q = `WITH o AS (
			SELECT order_id, bool_or(pay_status = 'succeeded') AS paid, max(amount) AS amount, min(currency) AS currency,
				max(occurred_at) AS at, min(id) AS first_id
			FROM transactions WHERE merchant_id = $1 AND order_id <> '' AND occurred_at > $2 AND has_payment
			GROUP BY order_id)
		INSERT INTO orders (merchant_id, order_id, status, amount, currency, updated_at)
		SELECT $1, order_id,
			CASE WHEN paid AND first_id % 97 = 0 THEN 'closed'
				WHEN paid THEN 'completed'
				WHEN first_id % 89 = 0 THEN 'paid'
				ELSE 'closed' END,
			CASE WHEN paid AND first_id % 101 = 0 THEN amount + 1000 ELSE amount END,
			currency, least(at + interval '2 minutes', $3)
		FROM o
		ON CONFLICT (merchant_id, order_id) DO NOTHING`
	res, err := s.x.ExecContext(ctx, q, merchantID, now.Add(-ReconLookback), now)
	if err != nil {
		return 0, fmt.Errorf("db: seed demo orders: %w", mapErr(err))
	}
	return res.RowsAffected()
}

// AdoptRow is a captured payment a sandbox platform should know.
type AdoptRow struct {
	PlatformID string `db:"platform_id"`
	OrderID    string `db:"order_id"`
	Amount     int64  `db:"amount"`
	Currency   string `db:"currency"`
	Channel    string `db:"channel"`
}

// AdoptableTransactions lists a merchant's captured payments since a time (at most
// limit, newest first), for a sandbox platform that must know them to refund them.
func (s *Store) AdoptableTransactions(ctx context.Context, merchantID int64, since time.Time, limit int) ([]AdoptRow, error) {
	var out []AdoptRow
	err := sqlxSelect(ctx, s, &out, `SELECT platform_id, order_id, amount, currency, channel FROM transactions
		WHERE merchant_id = $1 AND pay_status = 'succeeded' AND occurred_at > $2 ORDER BY occurred_at DESC LIMIT $3`,
		merchantID, since, limit)
	return out, err
}
