package db

import (
	"context"
	"fmt"

	"github.com/lib/pq"

	"paymend/domain"
)

// UpsertOrders stores order reports in one statement. A report older than the stored
// one (by the order system's updated_at) changes nothing, so the final state does not
// depend on the order reports arrive in.
func (s *Store) UpsertOrders(ctx context.Context, merchantID int64, os []domain.Order) error {
	ids, statuses, currencies := make([]string, len(os)), make([]string, len(os)), make([]string, len(os))
	amounts := make([]int64, len(os))
	times := make([]string, len(os))
	for i, o := range os {
		ids[i], statuses[i], amounts[i], currencies[i] = o.OrderID, o.Status, o.Amount, o.Currency
		times[i] = o.UpdatedAt.UTC().Format("2006-01-02T15:04:05.999999Z07:00")
	}
	const q = `INSERT INTO orders AS o (merchant_id, order_id, status, amount, currency, updated_at)
		SELECT DISTINCT ON (order_id) $1, order_id, status, amount, currency, updated_at
		FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[], $6::timestamptz[])
			AS v (order_id, status, amount, currency, updated_at)
		ORDER BY order_id, updated_at DESC
		ON CONFLICT (merchant_id, order_id) DO UPDATE SET status = EXCLUDED.status, amount = EXCLUDED.amount,
			currency = EXCLUDED.currency, updated_at = EXCLUDED.updated_at, received_at = now()
		WHERE EXCLUDED.updated_at >= o.updated_at`
	_, err := s.x.ExecContext(ctx, q, merchantID, pq.Array(ids), pq.Array(statuses), pq.Array(amounts),
		pq.Array(currencies), pq.Array(times))
	if err != nil {
		return fmt.Errorf("db: upsert orders: %w", mapErr(err))
	}
	return nil
}

// Order returns one order.
func (s *Store) Order(ctx context.Context, merchantID int64, orderID string) (domain.Order, error) {
	var o domain.Order
	err := s.x.QueryRowxContext(ctx, `SELECT order_id, status, amount, currency, updated_at FROM orders
		WHERE merchant_id = $1 AND order_id = $2`, merchantID, orderID).StructScan(&o)
	if err != nil {
		return o, fmt.Errorf("db: order %q: %w", orderID, mapErr(err))
	}
	return o, nil
}
