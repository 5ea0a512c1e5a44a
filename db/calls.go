package db

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"paymend/domain"
)

// CreateCallTask opens a call for a payment (one open call per payment: a second is
// ErrDuplicate) and notes it on the timeline.
func (s *Store) CreateCallTask(ctx context.Context, merchantID, txID int64, script, phoneMasked, by string, now time.Time) (int64, error) {
	var id int64
	err := s.InTx(ctx, func(tx *Store) error {
		const q = `INSERT INTO call_tasks (merchant_id, transaction_id, script, phone_masked, created_by)
			SELECT $1, id, $3, $4, $5 FROM transactions WHERE merchant_id = $1 AND id = $2 RETURNING id`
		if err := tx.x.QueryRowxContext(ctx, q, merchantID, txID, script, phoneMasked, by).Scan(&id); err != nil {
			return mapErr(err)
		}
		return tx.AppendTimeline(ctx, merchantID, txID, domain.TimelineEntry{At: now, Kind: "call.created", Actor: by,
			Summary: "Call task " + phoneMasked, Details: mustJSONBytes(map[string]any{"to": phoneMasked, "call_id": id})})
	})
	if err != nil {
		return 0, fmt.Errorf("db: create call task: %w", err)
	}
	return id, nil
}

// CallTasks lists the merchant's calls with a status, newest first (at most 200).
func (s *Store) CallTasks(ctx context.Context, merchantID int64, status string) ([]domain.CallTask, error) {
	const q = `SELECT c.id, c.transaction_id, t.platform_id, c.script, c.phone_masked, c.status, c.outcome, c.notes,
			c.created_by, c.created_at, c.done_by, c.done_at
		FROM call_tasks c JOIN transactions t ON t.merchant_id = c.merchant_id AND t.id = c.transaction_id
		WHERE c.merchant_id = $1 AND c.status = $2 ORDER BY c.created_at DESC, c.id DESC LIMIT 200`
	var out []domain.CallTask
	if err := sqlxSelect(ctx, s, &out, q, merchantID, status); err != nil {
		return nil, fmt.Errorf("db: call tasks: %w", err)
	}
	return out, nil
}

// CallTask returns one call.
func (s *Store) CallTask(ctx context.Context, merchantID, id int64) (domain.CallTask, error) {
	const q = `SELECT c.id, c.transaction_id, t.platform_id, c.script, c.phone_masked, c.status, c.outcome, c.notes,
			c.created_by, c.created_at, c.done_by, c.done_at
		FROM call_tasks c JOIN transactions t ON t.merchant_id = c.merchant_id AND t.id = c.transaction_id
		WHERE c.merchant_id = $1 AND c.id = $2`
	var c domain.CallTask
	if err := s.x.QueryRowxContext(ctx, q, merchantID, id).StructScan(&c); err != nil {
		return c, fmt.Errorf("db: call task %d: %w", id, mapErr(err))
	}
	return c, nil
}

// CompleteCallTask records the outcome of an open call and notes it on the timeline.
func (s *Store) CompleteCallTask(ctx context.Context, merchantID, id int64, outcome, notes, by string, now time.Time) error {
	return s.InTx(ctx, func(tx *Store) error {
		const q = `UPDATE call_tasks SET status = 'done', outcome = $3, notes = $4, done_by = $5, done_at = $6
			WHERE merchant_id = $1 AND id = $2 AND status = 'open' RETURNING transaction_id`
		var txID int64
		if err := tx.x.QueryRowxContext(ctx, q, merchantID, id, outcome, notes, by, now).Scan(&txID); err != nil {
			if mapErr(err) == ErrNotFound {
				return ErrConflict
			}
			return mapErr(err)
		}
		return tx.AppendTimeline(ctx, merchantID, txID, domain.TimelineEntry{At: now, Kind: "call.done", Actor: by,
			Summary: "Call " + outcome, Details: mustJSONBytes(map[string]any{"outcome": outcome, "note": notes, "call_id": id})})
	})
}

func mustJSONBytes(v map[string]any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte("{}")
	}
	return b
}
