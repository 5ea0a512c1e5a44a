package db_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"paymend/db"
	"paymend/domain"
)

// rollupKey names one rollup row.
type rollupKey struct {
	merchant int64
	bucket   string
	dim, val string
}

// recount computes what the rollup tables must hold, in Go, from the raw
// transactions (minute rows only from minSince).
func recount(t *testing.T, s *db.Store, minSince time.Time) map[string]map[rollupKey]db.RollupCounts {
	t.Helper()
	var rows []struct {
		MerchantID int64     `db:"merchant_id"`
		OccurredAt time.Time `db:"occurred_at"`
		PayStatus  string    `db:"pay_status"`
		Refunded   int64     `db:"refunded_amount"`
		Code       string    `db:"code"`
		Channel    string    `db:"channel"`
		Bank       string    `db:"bank"`
		BIN        string    `db:"card_bin"`
		Amount     int64     `db:"amount"`
		Res        string    `db:"resolution_state"`
		TZ         string    `db:"time_zone"`
	}
	err := s.DB().Select(&rows, `SELECT t.merchant_id, t.occurred_at, t.pay_status, t.refunded_amount, t.code, t.channel,
		t.bank, t.card_bin, t.amount, t.resolution_state, m.time_zone
		FROM transactions t JOIN merchants m ON m.id = t.merchant_id WHERE t.has_payment`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[rollupKey]db.RollupCounts{"minute": {}, "hour": {}, "day": {}}
	for _, r := range rows {
		loc, _ := time.LoadLocation(r.TZ)
		c := db.RollupCounts{Attempts: 1, Amount: r.Amount}
		switch r.PayStatus {
		case "succeeded":
			c.Succeeded = 1
		case "failed":
			c.Failed, c.FailedAmount = 1, r.Amount
		case "pending":
			c.Pending = 1
		}
		if r.Refunded > 0 {
			c.Refunded = 1
		}
		dims := [][2]string{{"all", ""}, {"code", r.Code}, {"channel", r.Channel}, {"bank", r.Bank}, {"bin", r.BIN},
			{"band", domain.BandOf(r.Amount).Key}, {"res", r.Res}}
		buckets := map[string]string{
			"hour": r.OccurredAt.UTC().Truncate(time.Hour).Format(time.RFC3339),
			"day":  r.OccurredAt.In(loc).Format(time.DateOnly),
		}
		if !r.OccurredAt.Before(minSince) {
			buckets["minute"] = r.OccurredAt.UTC().Truncate(time.Minute).Format(time.RFC3339)
		}
		for g, b := range buckets {
			for _, d := range dims {
				k := rollupKey{r.MerchantID, b, d[0], d[1]}
				x := out[g][k]
				x.Attempts += c.Attempts
				x.Succeeded += c.Succeeded
				x.Failed += c.Failed
				x.Pending += c.Pending
				x.Refunded += c.Refunded
				x.Amount += c.Amount
				x.FailedAmount += c.FailedAmount
				out[g][k] = x
			}
		}
	}
	return out
}

// stored reads the rollup tables (rows with all-zero counts are left out).
func stored(t *testing.T, s *db.Store) map[string]map[rollupKey]db.RollupCounts {
	t.Helper()
	out := map[string]map[rollupKey]db.RollupCounts{"minute": {}, "hour": {}, "day": {}}
	for g, q := range map[string]string{
		"minute": `SELECT merchant_id, to_char(bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS b, dim, val, attempts, succeeded, failed, pending, refunded, amount, failed_amount FROM rollup_minute`,
		"hour":   `SELECT merchant_id, to_char(bucket AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS b, dim, val, attempts, succeeded, failed, pending, refunded, amount, failed_amount FROM rollup_hourly`,
		"day":    `SELECT merchant_id, to_char(day, 'YYYY-MM-DD') AS b, dim, val, attempts, succeeded, failed, pending, refunded, amount, failed_amount FROM rollup_daily`,
	} {
		var rows []struct {
			MerchantID int64  `db:"merchant_id"`
			B          string `db:"b"`
			Dim        string `db:"dim"`
			Val        string `db:"val"`
			db.RollupCounts
		}
		if err := s.DB().Select(&rows, q); err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if r.RollupCounts != (db.RollupCounts{}) {
				out[g][rollupKey{r.MerchantID, r.B, r.Dim, r.Val}] = r.RollupCounts
			}
		}
	}
	return out
}

func compareRollups(t *testing.T, label string, want, got map[string]map[rollupKey]db.RollupCounts) {
	t.Helper()
	for _, g := range []string{"minute", "hour", "day"} {
		bad := 0
		for k, w := range want[g] {
			if got[g][k] != w {
				if bad < 5 {
					t.Errorf("%s: %s %+v: rollup %+v, recount %+v", label, g, k, got[g][k], w)
				}
				bad++
			}
		}
		for k, x := range got[g] {
			if _, ok := want[g][k]; !ok {
				if bad < 5 {
					t.Errorf("%s: %s %+v: rollup %+v, recount nothing", label, g, k, x)
				}
				bad++
			}
		}
		if bad > 0 {
			t.Fatalf("%s: %d %s rows differ (of %d)", label, bad, g, len(want[g]))
		}
		if len(want[g]) == 0 {
			t.Fatalf("%s: nothing to compare at %s", label, g)
		}
	}
}

// TestRollupsEqualRecountAfterRandomIngestion ingests random, repeated, out-of-order
// platform events for two merchants in two time zones from several goroutines
// while the applier runs concurrently, moves resolutions and deletes some payments,
// then checks the rollups against a recount of the raw data, and that a rebuild
// gives the same.
func TestRollupsEqualRecountAfterRandomIngestion(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	a := mustMerchant(t, s, "alpha")
	b := mustMerchant(t, s, "beta")
	if _, err := s.DB().Exec(`UPDATE merchants SET time_zone = 'America/New_York' WHERE id = $1`, b.ID); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	codes := []string{"101", "202", "301", "401"}
	channels := []string{"card", "wechat", "alipay"}
	banks := []string{"ICBC", "CMB", ""}
	types := []string{"payment.failed", "payment.failed", "payment.succeeded", "payment.pending", "refund.succeeded", "refund.failed"}
	const payments = 300
	type ev struct {
		mid int64
		rec db.EventRecord
	}
	rng := rand.New(rand.NewPCG(1, 2))
	var events []ev
	for i := range payments {
		mid := a.ID
		if i%3 == 0 {
			mid = b.ID
		}
		pid := fmt.Sprintf("T%04d", i)
		// Each payment gets 1–4 events, some of them later repeated; times within
		// the last three days (some older than minute retention).
		base := now.Add(-time.Duration(rng.IntN(72*60)) * time.Minute)
		for j := range 1 + rng.IntN(4) {
			typ := types[rng.IntN(len(types))]
			rec := db.EventRecord{EventID: fmt.Sprintf("evt_%s_%d", pid, j), Type: typ, PlatformID: pid,
				Amount: int64(500 + rng.IntN(3_000_000)), Payload: []byte(`{}`), Currency: "CNY",
				OccurredAt: base.Add(time.Duration(rng.IntN(600)) * time.Second), Channel: channels[rng.IntN(3)],
				Bank: banks[rng.IntN(3)], CardBIN: fmt.Sprintf("62%04d", rng.IntN(3)), OrderID: "O" + pid}
			if typ == "payment.failed" {
				rec.Code = codes[rng.IntN(len(codes))]
			}
			if typ == "refund.succeeded" || typ == "refund.failed" {
				rec.RefundID, rec.Amount = fmt.Sprintf("R%s%d", pid, j), 100
			}
			events = append(events, ev{mid, rec})
			if rng.IntN(5) == 0 {
				events = append(events, ev{mid, rec}) // delivered twice
			}
		}
	}
	rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })

	// Four senders and an applier at once.
	var wg sync.WaitGroup
	next := make(chan ev)
	errs := make(chan error, 8)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range next {
				if _, err := s.IngestEvent(ctx, e.mid, e.rec); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	stop := make(chan struct{})
	applied := make(chan struct{})
	go func() {
		defer close(applied)
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := s.ApplyRollupDeltas(ctx, now); err != nil {
				errs <- err
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	for _, e := range events {
		next <- e
	}
	close(next)
	wg.Wait()
	close(stop)
	<-applied
	select {
	case err := <-errs:
		t.Fatal(err)
	default:
	}
	// Operators move resolutions; some payments disappear (a reseed does that).
	if _, err := s.DB().Exec(`UPDATE transactions SET resolution_state = 'confirmed' WHERE pay_status = 'failed' AND id % 4 = 0`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(`DELETE FROM transactions WHERE id % 17 = 0`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ApplyRollupDeltas(ctx, now); err != nil {
		t.Fatal(err)
	}
	minSince := now.Add(-db.RollupMinuteRetention)
	want := recount(t, s, minSince)
	compareRollups(t, "incremental", want, stored(t, s))

	// Rebuilding from raw data gives the same, and pending deltas are not counted twice.
	if _, err := s.DB().Exec(`UPDATE transactions SET code = '999' WHERE id % 5 = 0 AND pay_status = 'failed'`); err != nil {
		t.Fatal(err)
	}
	if err := s.RebuildRollups(ctx, nil, now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ApplyRollupDeltas(ctx, now); err != nil {
		t.Fatal(err)
	}
	want = recount(t, s, minSince)
	compareRollups(t, "rebuild", want, stored(t, s))
	if err := s.PruneRollups(ctx, now); err != nil {
		t.Fatal(err)
	}
	compareRollups(t, "pruned", want, stored(t, s))
}

// TestSeedLeavesExactRollups: the demo seeder loads without per-row deltas and
// rebuilds the merchant's rollups once.
func TestSeedLeavesExactRollups(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	m := mustMerchant(t, s, "demo")
	sealer, _ := domain.NewSealer(make([]byte, 32))
	now := time.Now().UTC()
	if _, err := s.SeedDemoTransactions(ctx, m.ID, db.DemoSeed{N: 3000, Now: now, Seed: 3, Sealer: sealer}); err != nil {
		t.Fatal(err)
	}
	var pending int
	s.DB().Get(&pending, `SELECT count(*) FROM rollup_deltas`)
	if pending != 0 {
		t.Fatalf("%d deltas left after the seed", pending)
	}
	compareRollups(t, "seed", recount(t, s, now.Add(-db.RollupMinuteRetention)), stored(t, s))
}
