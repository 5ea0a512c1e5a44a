package db

import (
	"context"
	"fmt"
)

// ImportRow is one validated row of a platform CSV export, ready to stage.
type ImportRow struct {
	RowNo int
	EventRecord
}

// ImportOutcome says what happened to each staged row.
type ImportOutcome struct {
	Accepted   int
	Duplicates []int // row numbers whose event was already stored (or repeated in the file)
}

// ImportEvents stores platform rows in one transaction: COPY into a staging table,
// insert the new events (a row whose event id exists is a duplicate, so importing a
// file twice changes nothing), then fold them into transactions set-wise with the
// same merge rules as webhooks. rows is called once and streams its rows.
func (s *Store) ImportEvents(ctx context.Context, merchantID int64, rows func(put func(ImportRow) error) error) (ImportOutcome, error) {
	var out ImportOutcome
	err := s.InTx(ctx, func(tx *Store) error {
		if _, err := tx.x.ExecContext(ctx, `CREATE TEMP TABLE import_rows (
				row_no int, event_id text, type text, platform_id text, amount bigint, payload json,
				phone_sealed text, email_sealed text, occurred_at timestamptz,
				order_id text, currency text, channel text, code text, message text, card_bin text, card_last4 text,
				bank text, customer_ref text, customer_name text, phone_masked text, email_masked text) ON COMMIT DROP`); err != nil {
			return fmt.Errorf("staging: %w", err)
		}
		err := tx.copyIn(ctx, "import_rows", []string{"row_no", "event_id", "type", "platform_id", "amount", "payload",
			"phone_sealed", "email_sealed", "occurred_at", "order_id", "currency", "channel", "code", "message",
			"card_bin", "card_last4", "bank", "customer_ref", "customer_name", "phone_masked", "email_masked"},
			func(row func(...any) error) error {
				return rows(func(r ImportRow) error {
					return row(r.RowNo, r.EventID, r.Type, r.PlatformID, r.Amount, string(r.Payload), r.PhoneSealed,
						r.EmailSealed, r.OccurredAt, r.OrderID, r.Currency, r.Channel, r.Code, r.Message, r.CardBIN,
						r.CardLast4, r.Bank, r.CustomerRef, r.CustomerName, r.PhoneMasked, r.EmailMasked)
				})
			})
		if err != nil {
			return err
		}
		if _, err := tx.x.ExecContext(ctx, `CREATE TEMP TABLE import_new ON COMMIT DROP AS SELECT event_id FROM import_rows LIMIT 0`); err != nil {
			return err
		}
		const qe = `WITH ins AS (
				INSERT INTO transaction_events (merchant_id, event_id, type, platform_id, amount, payload,
					phone_sealed, email_sealed, source, occurred_at)
				SELECT $1, event_id, type, platform_id, amount, payload, phone_sealed, email_sealed, 'import', occurred_at
				FROM import_rows ORDER BY row_no
				ON CONFLICT (merchant_id, event_id) DO NOTHING RETURNING event_id)
			INSERT INTO import_new SELECT event_id FROM ins`
		if _, err := tx.x.ExecContext(ctx, qe, merchantID); err != nil {
			return fmt.Errorf("events: %w", mapErr(err))
		}
		// The first row of each new event is accepted; every other row is a duplicate.
		const qd = `SELECT row_no FROM (
				SELECT row_no, event_id, row_number() OVER (PARTITION BY event_id ORDER BY row_no) AS nth FROM import_rows) r
			WHERE nth > 1 OR NOT EXISTS (SELECT 1 FROM import_new n WHERE n.event_id = r.event_id)
			ORDER BY row_no`
		if err := sqlxSelect(ctx, tx, &out.Duplicates, qd); err != nil {
			return fmt.Errorf("duplicates: %w", err)
		}
		if err := tx.x.QueryRowxContext(ctx, `SELECT count(*) FROM import_new`).Scan(&out.Accepted); err != nil {
			return err
		}
		// One row per transaction, as if its events had arrived one by one.
		const qt = `WITH acc AS (
				SELECT DISTINCT ON (r.event_id) r.* FROM import_rows r JOIN import_new n USING (event_id) ORDER BY r.event_id, r.row_no),
			agg AS (
				SELECT platform_id,
					(array_agg(type ORDER BY CASE type WHEN 'payment.succeeded' THEN 3 WHEN 'payment.failed' THEN 2 ELSE 1 END DESC))[1] AS type,
					(array_agg(code ORDER BY occurred_at DESC, code DESC) FILTER (WHERE type = 'payment.failed'))[1] AS code,
					(array_agg(message ORDER BY occurred_at DESC, code DESC) FILTER (WHERE type = 'payment.failed'))[1] AS message,
					max(occurred_at) FILTER (WHERE type = 'payment.failed') AS failed_at,
					min(occurred_at) AS occurred_at,
					(array_agg(amount ORDER BY row_no))[1] AS amount,
					(array_agg(order_id ORDER BY (order_id = ''), row_no))[1] AS order_id,
					(array_agg(currency ORDER BY (currency = ''), row_no))[1] AS currency,
					(array_agg(channel ORDER BY (channel = ''), row_no))[1] AS channel,
					(array_agg(card_bin ORDER BY (card_bin = ''), row_no))[1] AS card_bin,
					(array_agg(card_last4 ORDER BY (card_last4 = ''), row_no))[1] AS card_last4,
					(array_agg(bank ORDER BY (bank = ''), row_no))[1] AS bank,
					(array_agg(customer_ref ORDER BY (customer_ref = ''), row_no))[1] AS customer_ref,
					(array_agg(customer_name ORDER BY (customer_name = ''), row_no))[1] AS customer_name,
					(array_agg(phone_sealed ORDER BY (phone_sealed = ''), row_no))[1] AS phone_sealed,
					(array_agg(email_sealed ORDER BY (email_sealed = ''), row_no))[1] AS email_sealed,
					(array_agg(phone_masked ORDER BY (phone_masked = ''), row_no))[1] AS phone_masked,
					(array_agg(email_masked ORDER BY (email_masked = ''), row_no))[1] AS email_masked
				FROM acc GROUP BY platform_id)
			INSERT INTO transactions AS t (` + txInsertCols + `, resolution_state, resolved_at)
			SELECT $1, platform_id, order_id, amount, currency, channel,
				CASE type WHEN 'payment.succeeded' THEN 'succeeded' WHEN 'payment.failed' THEN 'failed' ELSE 'pending' END,
				coalesce(code, ''), coalesce(message, ''), card_bin, card_last4, bank, customer_ref, customer_name,
				phone_sealed, email_sealed, phone_masked, email_masked, occurred_at, failed_at, true,
				-- failed and then paid within the file: closed, as webhooks would have left it
				CASE WHEN type = 'payment.succeeded' AND failed_at IS NOT NULL THEN 'retried_success' ELSE 'new' END,
				CASE WHEN type = 'payment.succeeded' AND failed_at IS NOT NULL THEN now() END
			FROM agg
			` + txMerge
		if _, err := tx.x.ExecContext(ctx, qt, merchantID); err != nil {
			return fmt.Errorf("transactions: %w", mapErr(err))
		}
		var orders []string
		if err := sqlxSelect(ctx, tx, &orders, `SELECT DISTINCT r.order_id FROM import_rows r JOIN import_new n USING (event_id)
			WHERE r.order_id <> ''`); err != nil {
			return err
		}
		if len(orders) == 0 {
			return nil
		}
		return tx.CloseRetriedOrders(ctx, merchantID, orders)
	})
	if err != nil {
		return out, fmt.Errorf("db: import: %w", err)
	}
	return out, nil
}
