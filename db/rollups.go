package db

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"paymend/domain"
)

// RollupMinuteRetention is how long minute rollups are kept (alert windows are at
// most a day; the baseline check reads hourly rollups).
const RollupMinuteRetention = 48 * time.Hour

// rollupBatch is how many pending deltas one apply statement takes.
const rollupBatch = 20000

// RollupCounts are summed rollup columns.
type RollupCounts struct {
	Attempts     int64 `db:"attempts"`
	Succeeded    int64 `db:"succeeded"`
	Failed       int64 `db:"failed"`
	Pending      int64 `db:"pending"`
	Refunded     int64 `db:"refunded"`
	Amount       int64 `db:"amount"`
	FailedAmount int64 `db:"failed_amount"`
}

// Settled is failed + succeeded: the attempts a failure rate is taken over.
func (c RollupCounts) Settled() int64 { return c.Failed + c.Succeeded }

// FailureRate is failed / (failed + succeeded), 0 when nothing settled.
func (c RollupCounts) FailureRate() float64 {
	if c.Settled() == 0 {
		return 0
	}
	return float64(c.Failed) / float64(c.Settled())
}

// rollupDims expands one change into the dimensions it counts in (SQL, over d).
const rollupDims = `CROSS JOIN LATERAL (VALUES ('all', '' COLLATE "C"), ('code', d.code), ('channel', d.channel),
	('bank', d.bank), ('bin', d.card_bin), ('band', rollup_band(d.amount) COLLATE "C"), ('res', d.resolution_state)) v(dim, val)`

// rollupMeasures turn d (with a sign) into the counted columns.
const rollupMeasures = `d.sign::bigint AS n,
	CASE WHEN d.pay_status = 'succeeded' THEN d.sign ELSE 0 END::bigint AS s,
	CASE WHEN d.pay_status = 'failed' THEN d.sign ELSE 0 END::bigint AS f,
	CASE WHEN d.pay_status = 'pending' THEN d.sign ELSE 0 END::bigint AS p,
	CASE WHEN d.refunded THEN d.sign ELSE 0 END::bigint AS r,
	d.sign * d.amount AS a,
	CASE WHEN d.pay_status = 'failed' THEN d.sign * d.amount ELSE 0 END AS fa`

const rollupSums = `sum(n), sum(s), sum(f), sum(p), sum(r), sum(a), sum(fa)`

const rollupCols = `attempts, succeeded, failed, pending, refunded, amount, failed_amount`

func rollupUpsert(table string) string {
	bucket := "bucket"
	if table == "rollup_daily" {
		bucket = "day"
	}
	add := func(c string) string { return c + " = " + table + "." + c + " + EXCLUDED." + c }
	return `ON CONFLICT (merchant_id, dim, ` + bucket + `, val) DO UPDATE SET ` + add("attempts") + ", " + add("succeeded") +
		", " + add("failed") + ", " + add("pending") + ", " + add("refunded") + ", " + add("amount") + ", " + add("failed_amount")
}

// lockRollups serialises the delta applier and the rebuild. LOCK does not take a
// snapshot, so a REPEATABLE READ transaction that starts with it sees everything
// committed before it got the lock.
const lockRollups = `LOCK TABLE rollup_minute IN SHARE ROW EXCLUSIVE MODE`

// ApplyRollupDeltas moves pending changes of transactions into the rollups until
// none are left and returns how many it applied. Each batch is deleted and added in
// one statement, so every change counts exactly once whatever order the writers
// committed in; a change committed meanwhile waits for the next call. Minute rows
// are kept only from now - RollupMinuteRetention.
func (s *Store) ApplyRollupDeltas(ctx context.Context, now time.Time) (int64, error) {
	var total int64
	for {
		var n int64
		err := s.InTx(ctx, func(tx *Store) error {
			if _, err := tx.x.ExecContext(ctx, lockRollups); err != nil {
				return err
			}
			q := `WITH d AS (
					DELETE FROM rollup_deltas WHERE ctid = ANY(ARRAY(SELECT ctid FROM rollup_deltas LIMIT $1))
					RETURNING *),
				x AS (
					SELECT d.merchant_id, d.occurred_at, (d.occurred_at AT TIME ZONE m.time_zone)::date AS day, v.dim, v.val,
						` + rollupMeasures + `
					FROM d JOIN merchants m ON m.id = d.merchant_id ` + rollupDims + `),
				mi AS (
					INSERT INTO rollup_minute (merchant_id, bucket, dim, val, ` + rollupCols + `)
					SELECT merchant_id, date_trunc('minute', occurred_at, 'UTC'), dim, val, ` + rollupSums + `
					FROM x WHERE occurred_at >= $2 GROUP BY 1, 2, 3, 4
					` + rollupUpsert("rollup_minute") + `),
				ho AS (
					INSERT INTO rollup_hourly (merchant_id, bucket, dim, val, ` + rollupCols + `)
					SELECT merchant_id, date_trunc('hour', occurred_at, 'UTC'), dim, val, ` + rollupSums + `
					FROM x GROUP BY 1, 2, 3, 4
					` + rollupUpsert("rollup_hourly") + `),
				da AS (
					INSERT INTO rollup_daily (merchant_id, day, dim, val, ` + rollupCols + `)
					SELECT merchant_id, day, dim, val, ` + rollupSums + `
					FROM x GROUP BY 1, 2, 3, 4
					` + rollupUpsert("rollup_daily") + `)
				SELECT count(*) FROM d`
			return tx.x.QueryRowxContext(ctx, q, rollupBatch, now.Add(-RollupMinuteRetention)).Scan(&n)
		})
		if err != nil {
			return total, fmt.Errorf("db: apply rollup deltas: %w", mapErr(err))
		}
		total += n
		if n < rollupBatch {
			return total, nil
		}
	}
}

// RebuildRollups recomputes the rollups of the given merchants (all when empty)
// exactly from the transactions. It runs in one REPEATABLE READ transaction: the
// pending deltas its snapshot includes are dropped (the recount has them), those
// committed later stay for the applier.
func (s *Store) RebuildRollups(ctx context.Context, merchantIDs []int64, now time.Time) error {
	if s.db == nil {
		return fmt.Errorf("db: rebuild rollups needs its own transaction")
	}
	tx, err := s.db.BeginTxx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead})
	if err != nil {
		return fmt.Errorf("db: rebuild rollups: %w", err)
	}
	defer tx.Rollback()
	all := len(merchantIDs) == 0
	ids := pq.Array(merchantIDs)
	steps := []struct {
		q    string
		args []any
	}{
		{lockRollups, nil},
		{`DELETE FROM rollup_deltas WHERE $1 OR merchant_id = ANY($2)`, []any{all, ids}},
		{`DELETE FROM rollup_minute WHERE $1 OR merchant_id = ANY($2)`, []any{all, ids}},
		{`DELETE FROM rollup_hourly WHERE $1 OR merchant_id = ANY($2)`, []any{all, ids}},
		{`DELETE FROM rollup_daily WHERE $1 OR merchant_id = ANY($2)`, []any{all, ids}},
		{`ANALYZE rollup_hourly`, nil},
		{`ANALYZE rollup_daily`, nil},
	}
	for i, st := range steps {
		if i == len(steps)-2 { // before ANALYZE: recount and write
			if err := recountInto(ctx, tx, all, ids, now.Add(-RollupMinuteRetention)); err != nil {
				return fmt.Errorf("db: rebuild rollups: %w", mapErr(err))
			}
		}
		if _, err := tx.ExecContext(ctx, st.q, st.args...); err != nil {
			return fmt.Errorf("db: rebuild rollups: %w", mapErr(err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("db: rebuild rollups: %w", mapErr(err))
	}
	return nil
}

type rollupKey struct {
	merchant int64
	bucket   string
	dim, val string
}

// rollupAgg sums payments into the three grains in memory (the rebuild and the
// demo seeder: one pass over the rows instead of seven expanded copies per grain in
// SQL — 1M payments took ~50 s that way on two cores). Minutes and hours are UTC, as
// the applier's date_trunc(…, 'UTC'); local days and the amount band (domain.BandOf
// mirrors the SQL function rollup_band) are computed here — the recount tests hold
// both paths together.
type rollupAgg struct {
	minuteSince time.Time
	grains      [3]map[rollupKey]*RollupCounts // minute, hour, day
}

func newRollupAgg(minuteSince time.Time) *rollupAgg {
	return &rollupAgg{minuteSince: minuteSince, grains: [3]map[rollupKey]*RollupCounts{{}, {}, {}}}
}

// add counts one payment.
func (g *rollupAgg) add(mid int64, loc *time.Location, at time.Time, status string, refunded bool,
	code, channel, bank, bin string, amount int64, res string) {
	c := RollupCounts{Attempts: 1, Amount: amount}
	switch status {
	case "succeeded":
		c.Succeeded = 1
	case "failed":
		c.Failed, c.FailedAmount = 1, amount
	case "pending":
		c.Pending = 1
	}
	if refunded {
		c.Refunded = 1
	}
	at = at.UTC()
	dims := [7][2]string{{"all", ""}, {"code", code}, {"channel", channel}, {"bank", bank}, {"bin", bin},
		{"band", domain.BandOf(amount).Key}, {"res", res}}
	buckets := [3]string{at.Truncate(time.Minute).Format(time.RFC3339), at.Truncate(time.Hour).Format(time.RFC3339),
		at.In(loc).Format(time.DateOnly)}
	for gi, bucket := range buckets {
		if gi == 0 && at.Before(g.minuteSince) {
			continue
		}
		for _, d := range dims {
			k := rollupKey{mid, bucket, d[0], d[1]}
			x := g.grains[gi][k]
			if x == nil {
				x = &RollupCounts{}
				g.grains[gi][k] = x
			}
			x.Attempts += c.Attempts
			x.Succeeded += c.Succeeded
			x.Failed += c.Failed
			x.Pending += c.Pending
			x.Refunded += c.Refunded
			x.Amount += c.Amount
			x.FailedAmount += c.FailedAmount
		}
	}
}

// flush adds the sums to the rollup tables inside tx (which must hold lockRollups):
// COPY into a scratch table, then one upsert per grain.
func (g *rollupAgg) flush(ctx context.Context, tx *sql.Tx) error {
	for gi, table := range [3]string{"rollup_minute", "rollup_hourly", "rollup_daily"} {
		if len(g.grains[gi]) == 0 {
			continue
		}
		bucketType, bucketCol := "timestamptz", "bucket"
		if table == "rollup_daily" {
			bucketType, bucketCol = "date", "day"
		}
		if _, err := tx.ExecContext(ctx, `CREATE TEMP TABLE rollup_add (merchant_id bigint, b `+bucketType+`, dim text, val text,
				attempts bigint, succeeded bigint, failed bigint, pending bigint, refunded bigint, amount bigint,
				failed_amount bigint) ON COMMIT DROP`); err != nil {
			return err
		}
		stmt, err := tx.PrepareContext(ctx, pq.CopyIn("rollup_add", "merchant_id", "b", "dim", "val", "attempts", "succeeded",
			"failed", "pending", "refunded", "amount", "failed_amount"))
		if err != nil {
			return err
		}
		for k, x := range g.grains[gi] {
			if _, err := stmt.ExecContext(ctx, k.merchant, k.bucket, k.dim, k.val, x.Attempts, x.Succeeded, x.Failed,
				x.Pending, x.Refunded, x.Amount, x.FailedAmount); err != nil {
				stmt.Close()
				return err
			}
		}
		if _, err := stmt.ExecContext(ctx); err != nil {
			stmt.Close()
			return err
		}
		if err := stmt.Close(); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO `+table+` (merchant_id, `+bucketCol+`, dim, val, `+rollupCols+`)
				SELECT merchant_id, b, dim, val, `+rollupCols+` FROM rollup_add `+rollupUpsert(table)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DROP TABLE rollup_add`); err != nil {
			return err
		}
	}
	return nil
}

// merchantZones loads the time zones of the given merchants (all when all).
func merchantZones(ctx context.Context, q sqlx.QueryerContext, all bool, ids any) (map[int64]*time.Location, error) {
	zones := map[int64]*time.Location{}
	var ms []struct {
		ID int64  `db:"id"`
		TZ string `db:"time_zone"`
	}
	if err := sqlx.SelectContext(ctx, q, &ms, `SELECT id, time_zone FROM merchants WHERE $1 OR id = ANY($2)`, all, ids); err != nil {
		return nil, err
	}
	for _, m := range ms {
		loc, err := time.LoadLocation(m.TZ)
		if err != nil {
			return nil, fmt.Errorf("merchant %d time zone %q: %w", m.ID, m.TZ, err)
		}
		zones[m.ID] = loc
	}
	return zones, nil
}

// recountInto streams the payments once (one snapshot, the caller's) and adds their
// sums to the (emptied) rollups.
func recountInto(ctx context.Context, tx *sqlx.Tx, all bool, ids any, minuteSince time.Time) error {
	zones, err := merchantZones(ctx, tx, all, ids)
	if err != nil {
		return err
	}
	const q = `SELECT merchant_id, (extract(epoch FROM occurred_at) * 1000000)::bigint, pay_status, refunded_amount > 0,
			code, channel, bank, card_bin, amount, resolution_state
		FROM transactions WHERE has_payment AND ($1 OR merchant_id = ANY($2))`
	rows, err := tx.QueryContext(ctx, q, all, ids)
	if err != nil {
		return err
	}
	defer rows.Close()
	agg := newRollupAgg(minuteSince)
	var (
		mid, micros, amount                   int64
		refunded                              bool
		status, code, channel, bank, bin, res string
	)
	for rows.Next() {
		if err := rows.Scan(&mid, &micros, &status, &refunded, &code, &channel, &bank, &bin, &amount, &res); err != nil {
			return err
		}
		agg.add(mid, zones[mid], time.UnixMicro(micros), status, refunded, code, channel, bank, bin, amount, res)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows.Close()
	return agg.flush(ctx, tx.Tx)
}

// SeedRollups collects the rollups of rows a bulk load writes with the delta
// trigger switched off, and adds them in the load's own transaction.
type SeedRollups struct {
	agg *rollupAgg
	mid int64
	loc *time.Location
}

// StartSeedRollups prepares to count merchantID's bulk-loaded payments.
func (s *Store) StartSeedRollups(ctx context.Context, merchantID int64, now time.Time) (*SeedRollups, error) {
	zones, err := merchantZones(ctx, s.x, false, pq.Array([]int64{merchantID}))
	if err != nil {
		return nil, err
	}
	return &SeedRollups{agg: newRollupAgg(now.Add(-RollupMinuteRetention)), mid: merchantID, loc: zones[merchantID]}, nil
}

// Add counts one loaded payment (refunded_amount 0, has_payment true).
func (r *SeedRollups) Add(at time.Time, status, code, channel, bank, bin string, amount int64, res string) {
	r.agg.add(r.mid, r.loc, at, status, false, code, channel, bank, bin, amount, res)
}

// Finish adds the counted payments to the rollups; s must be the load's transaction.
func (r *SeedRollups) Finish(ctx context.Context, s *Store) error {
	if s.tx == nil {
		return fmt.Errorf("db: seed rollups outside the load's transaction")
	}
	if _, err := s.x.ExecContext(ctx, lockRollups); err != nil {
		return err
	}
	return r.agg.flush(ctx, s.tx.Tx)
}

// PruneRollups drops minute rows past retention and rows whose counts all went
// back to zero (a payment that moved to another code leaves one behind).
func (s *Store) PruneRollups(ctx context.Context, now time.Time) error {
	return s.InTx(ctx, func(tx *Store) error {
		for _, q := range []string{
			lockRollups,
			`DELETE FROM rollup_minute WHERE bucket < $1`,
			`DELETE FROM rollup_minute WHERE attempts = 0 AND succeeded = 0 AND failed = 0 AND pending = 0 AND refunded = 0 AND amount = 0 AND failed_amount = 0`,
			`DELETE FROM rollup_hourly WHERE attempts = 0 AND succeeded = 0 AND failed = 0 AND pending = 0 AND refunded = 0 AND amount = 0 AND failed_amount = 0`,
			`DELETE FROM rollup_daily WHERE attempts = 0 AND succeeded = 0 AND failed = 0 AND pending = 0 AND refunded = 0 AND amount = 0 AND failed_amount = 0`,
		} {
			var args []any
			if q == `DELETE FROM rollup_minute WHERE bucket < $1` {
				args = []any{now.Add(-RollupMinuteRetention)}
			}
			if _, err := tx.x.ExecContext(ctx, q, args...); err != nil {
				return fmt.Errorf("db: prune rollups: %w", mapErr(err))
			}
		}
		return nil
	})
}

// DimRow is one dimension value's counts in a period and the period before.
type DimRow struct {
	Dim  string `db:"dim"`
	Val  string `db:"val"`
	Cur  RollupCounts
	Prev RollupCounts
}

type dimRowScan struct {
	Dim              string `db:"dim"`
	Val              string `db:"val"`
	Attempts         int64  `db:"attempts"`
	Succeeded        int64  `db:"succeeded"`
	Failed           int64  `db:"failed"`
	Pending          int64  `db:"pending"`
	Refunded         int64  `db:"refunded"`
	Amount           int64  `db:"amount"`
	FailedAmount     int64  `db:"failed_amount"`
	PrevAttempts     int64  `db:"prev_attempts"`
	PrevSucceeded    int64  `db:"prev_succeeded"`
	PrevFailed       int64  `db:"prev_failed"`
	PrevPending      int64  `db:"prev_pending"`
	PrevRefunded     int64  `db:"prev_refunded"`
	PrevAmount       int64  `db:"prev_amount"`
	PrevFailedAmount int64  `db:"prev_failed_amount"`
}

// rangeCols names the rollup table and bucket column a range reads.
func rangeCols(r domain.DashRange) (table, col string, from, to, prevFrom any) {
	if r.Hourly {
		return "rollup_hourly", "bucket", r.From, r.To, r.PrevFrom
	}
	return "rollup_daily", "day", r.FromDay.Format(time.DateOnly), r.ToDay.Format(time.DateOnly), r.PrevFromDay.Format(time.DateOnly)
}

// DashTotals sums each value of dims over the range and over the period before, in
// one pass over the rollups.
func (s *Store) DashTotals(ctx context.Context, merchantID int64, r domain.DashRange, dims []string) ([]DimRow, error) {
	table, col, from, to, prevFrom := rangeCols(r)
	sums := func(prefix, cond string) string {
		out := ""
		for i, c := range []string{"attempts", "succeeded", "failed", "pending", "refunded", "amount", "failed_amount"} {
			if i > 0 {
				out += ", "
			}
			out += fmt.Sprintf("coalesce(sum(%s) FILTER (WHERE %s), 0) AS %s%s", c, cond, prefix, c)
		}
		return out
	}
	q := `SELECT dim, val, ` + sums("", col+" >= $3") + `, ` + sums("prev_", col+" < $3") + `
		FROM ` + table + ` WHERE merchant_id = $1 AND dim = ANY($2) AND ` + col + ` >= $4 AND ` + col + ` < $5
		GROUP BY dim, val`
	var rows []dimRowScan
	if err := sqlxSelect(ctx, s, &rows, q, merchantID, pq.Array(dims), from, prevFrom, to); err != nil {
		return nil, fmt.Errorf("db: dashboard totals: %w", err)
	}
	out := make([]DimRow, len(rows))
	for i, x := range rows {
		out[i] = DimRow{Dim: x.Dim, Val: x.Val,
			Cur:  RollupCounts{x.Attempts, x.Succeeded, x.Failed, x.Pending, x.Refunded, x.Amount, x.FailedAmount},
			Prev: RollupCounts{x.PrevAttempts, x.PrevSucceeded, x.PrevFailed, x.PrevPending, x.PrevRefunded, x.PrevAmount, x.PrevFailedAmount}}
	}
	return out, nil
}

// SeriesPoint is one bucket of the failure-rate chart.
type SeriesPoint struct {
	At time.Time `db:"at"`
	RollupCounts
}

// DashSeries returns the range's buckets (hours up to 7 days, local days beyond) of
// dimension 'all', oldest first; buckets without payments are absent.
func (s *Store) DashSeries(ctx context.Context, merchantID int64, r domain.DashRange, loc *time.Location) ([]SeriesPoint, error) {
	var q string
	var from, to any
	if r.SeriesHourly {
		q = `SELECT bucket AS at, ` + rollupCols + ` FROM rollup_hourly
			WHERE merchant_id = $1 AND dim = 'all' AND bucket >= $2 AND bucket < $3 ORDER BY bucket`
		from, to = r.From, r.To
	} else {
		q = `SELECT day::timestamp AS at, ` + rollupCols + ` FROM rollup_daily
			WHERE merchant_id = $1 AND dim = 'all' AND day >= $2 AND day < $3 ORDER BY day`
		from, to = r.FromDay.Format(time.DateOnly), r.ToDay.Format(time.DateOnly)
	}
	var out []SeriesPoint
	if err := sqlxSelect(ctx, s, &out, q, merchantID, from, to); err != nil {
		return nil, fmt.Errorf("db: dashboard series: %w", err)
	}
	if !r.SeriesHourly { // a local date, read back as midnight UTC: make it local midnight
		for i := range out {
			y, m, d := out[i].At.Date()
			out[i].At = time.Date(y, m, d, 0, 0, 0, 0, loc)
		}
	}
	return out, nil
}

// DashHourOfDay sums the range's hourly rollups by local hour of day (0–23).
func (s *Store) DashHourOfDay(ctx context.Context, merchantID int64, r domain.DashRange, tz string) ([24]RollupCounts, error) {
	const q = `SELECT extract(hour FROM bucket AT TIME ZONE $4)::int AS hour,
			sum(attempts) AS attempts, sum(succeeded) AS succeeded, sum(failed) AS failed, sum(pending) AS pending,
			sum(refunded) AS refunded, sum(amount) AS amount, sum(failed_amount) AS failed_amount
		FROM rollup_hourly WHERE merchant_id = $1 AND dim = 'all' AND bucket >= $2 AND bucket < $3 GROUP BY 1`
	var rows []struct {
		Hour int `db:"hour"`
		RollupCounts
	}
	var out [24]RollupCounts
	if err := sqlxSelect(ctx, s, &rows, q, merchantID, r.From, r.To, tz); err != nil {
		return out, fmt.Errorf("db: hour of day: %w", err)
	}
	for _, x := range rows {
		if x.Hour >= 0 && x.Hour < 24 {
			out[x.Hour] = x.RollupCounts
		}
	}
	return out, nil
}

// WindowCounts sums minute rollups of one dimension value over [from, to).
func (s *Store) WindowCounts(ctx context.Context, merchantID int64, dim, val string, from, to time.Time) (RollupCounts, error) {
	return s.windowCounts(ctx, "rollup_minute", merchantID, dim, val, from, to)
}

// WindowCountsHourly sums hourly rollups of one dimension value over the hours
// starting in [from, to).
func (s *Store) WindowCountsHourly(ctx context.Context, merchantID int64, dim, val string, from, to time.Time) (RollupCounts, error) {
	return s.windowCounts(ctx, "rollup_hourly", merchantID, dim, val, from, to)
}

func (s *Store) windowCounts(ctx context.Context, table string, merchantID int64, dim, val string, from, to time.Time) (RollupCounts, error) {
	q := `SELECT coalesce(sum(attempts), 0) AS attempts, coalesce(sum(succeeded), 0) AS succeeded,
			coalesce(sum(failed), 0) AS failed, coalesce(sum(pending), 0) AS pending, coalesce(sum(refunded), 0) AS refunded,
			coalesce(sum(amount), 0) AS amount, coalesce(sum(failed_amount), 0) AS failed_amount
		FROM ` + table + ` WHERE merchant_id = $1 AND dim = $2 AND val = $3 AND bucket >= $4 AND bucket < $5`
	var c RollupCounts
	if err := s.x.QueryRowxContext(ctx, q, merchantID, dim, val, from, to).StructScan(&c); err != nil {
		return c, fmt.Errorf("db: window counts: %w", mapErr(err))
	}
	return c, nil
}

// RefundOutcomes counts refund outcomes reported by the platform in [from, to):
// failed ones and all of them.
func (s *Store) RefundOutcomes(ctx context.Context, merchantID int64, from, to time.Time) (failed, total int64, err error) {
	const q = `SELECT count(*) FILTER (WHERE type = 'refund.failed'), count(*) FROM transaction_events
		WHERE merchant_id = $1 AND type IN ('refund.failed', 'refund.succeeded') AND occurred_at >= $2 AND occurred_at < $3`
	err = s.x.QueryRowxContext(ctx, q, merchantID, from, to).Scan(&failed, &total)
	if err != nil {
		err = fmt.Errorf("db: refund outcomes: %w", mapErr(err))
	}
	return failed, total, err
}

// NotificationOutcomes counts the customer notices created in [from, to): those
// that failed and all of them.
func (s *Store) NotificationOutcomes(ctx context.Context, merchantID int64, from, to time.Time) (failed, total int64, err error) {
	const q = `SELECT count(*) FILTER (WHERE state = 'failed'), count(*) FROM notifications
		WHERE merchant_id = $1 AND created_at >= $2 AND created_at < $3`
	err = s.x.QueryRowxContext(ctx, q, merchantID, from, to).Scan(&failed, &total)
	if err != nil {
		err = fmt.Errorf("db: notification outcomes: %w", mapErr(err))
	}
	return failed, total, err
}

// WindowCountsSplit sums minute rollups of one dimension value over [from, mid) and
// [mid, to) in one pass.
func (s *Store) WindowCountsSplit(ctx context.Context, merchantID int64, dim, val string, from, mid, to time.Time) (before, after RollupCounts, err error) {
	const q = `SELECT bucket >= $5 AS late, sum(attempts) AS attempts, sum(succeeded) AS succeeded, sum(failed) AS failed,
			sum(pending) AS pending, sum(refunded) AS refunded, sum(amount) AS amount, sum(failed_amount) AS failed_amount
		FROM rollup_minute WHERE merchant_id = $1 AND dim = $2 AND val = $3 AND bucket >= $4 AND bucket < $6 GROUP BY 1`
	var rows []struct {
		Late bool `db:"late"`
		RollupCounts
	}
	if err := sqlxSelect(ctx, s, &rows, q, merchantID, dim, val, from, mid, to); err != nil {
		return before, after, fmt.Errorf("db: window counts: %w", err)
	}
	for _, r := range rows {
		if r.Late {
			after = r.RollupCounts
		} else {
			before = r.RollupCounts
		}
	}
	return before, after, nil
}
