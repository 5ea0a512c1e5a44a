package handlers_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"paymend/db"
	"paymend/db/dbtest"
	"paymend/domain"
	"paymend/handlers"
	"paymend/jobs"
	"paymend/platform/sandbox"
	"paymend/web"
)

// BenchmarkDashboard30d measures the overview dashboard over one million seeded
// payments for a 30-day range: "queries" runs exactly the store calls the page makes
// (target: < 50 ms in total), "page" serves the whole page through Echo.
func BenchmarkDashboard30d(b *testing.B) {
	e, m := millionRowEnv(b)
	ctx := context.Background()
	var have int
	e.store.DB().Get(&have, `SELECT count(*) FROM rollup_daily WHERE merchant_id = $1`, m.ID)
	if have == 0 {
		start := time.Now()
		if err := e.store.RebuildRollups(ctx, []int64{m.ID}, time.Now().UTC()); err != nil {
			b.Fatal(err)
		}
		b.Logf("rollups rebuilt in %s", time.Since(start).Round(time.Millisecond))
	}
	// As autovacuum would have by then (a rebuild leaves the old rows dead).
	if _, err := e.store.DB().Exec(`VACUUM ANALYZE rollup_minute, rollup_hourly, rollup_daily`); err != nil {
		b.Fatal(err)
	}
	var rows int
	e.store.DB().Get(&rows, `SELECT (SELECT count(*) FROM rollup_daily) + (SELECT count(*) FROM rollup_hourly)`)
	b.Logf("rollup rows (daily + hourly): %d", rows)
	loc := m.Location()
	for _, key := range []string{"30d", "7d", "24h"} {
		b.Run("queries-"+key, func(b *testing.B) {
			var lat []time.Duration
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				now := time.Now().UTC()
				r := domain.NewDashRange(key, time.Time{}, time.Time{}, now, loc)
				if _, err := e.store.DashTotals(ctx, m.ID, r, []string{"all", "code", "channel", "bank", "bin", "band", "res"}); err != nil {
					b.Fatal(err)
				}
				both := r
				both.From, both.FromDay = r.PrevFrom, r.PrevFromDay
				if _, err := e.store.DashSeries(ctx, m.ID, both, loc); err != nil {
					b.Fatal(err)
				}
				if _, err := e.store.DashHourOfDay(ctx, m.ID, r, m.TimeZone); err != nil {
					b.Fatal(err)
				}
				end := now.Truncate(time.Minute).Add(time.Minute)
				if _, _, err := e.store.WindowCountsSplit(ctx, m.ID, "all", "", end.Add(-2*time.Hour), end.Add(-time.Hour), end); err != nil {
					b.Fatal(err)
				}
				if _, _, err := e.store.Alerts(ctx, m.ID, db.AlertFilter{Statuses: []string{"firing", "acknowledged"}, Limit: 20}); err != nil {
					b.Fatal(err)
				}
				if _, err := e.store.AlertRules(ctx, m.ID); err != nil {
					b.Fatal(err)
				}
				if _, _, err := e.store.Transactions(ctx, m.ID, db.TxFilter{Statuses: []string{"failed"}, Limit: 10}); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			b.ReportMetric(ms(pct(lat, 0.5)), "p50-ms")
			b.ReportMetric(ms(pct(lat, 0.95)), "p95-ms")
		})
	}
	hash, _ := web.HashPassword("benchmark-password-1")
	u, err := e.store.UserForLogin(ctx, "bench@demo.test")
	if err != nil {
		if u, err = e.store.CreateUser(ctx, m.ID, domain.User{Email: "bench@demo.test", Role: domain.RoleOperator, PasswordHash: hash}); err != nil {
			b.Fatal(err)
		}
	}
	srv := httptest.NewServer(e.app.Echo)
	defer srv.Close()
	jar := e.browserFor(b, srv.URL, u.Email, "benchmark-password-1")
	b.Run("page-30d", func(b *testing.B) {
		var lat []time.Duration
		for i := 0; i < b.N; i++ {
			t0 := time.Now()
			resp, err := jar.Get(srv.URL + "/?range=30d")
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Fatalf("dashboard: %d", resp.StatusCode)
			}
			lat = append(lat, time.Since(t0))
		}
		b.ReportMetric(ms(pct(lat, 0.5)), "p50-ms")
		b.ReportMetric(ms(pct(lat, 0.95)), "p95-ms")
	})
}

// BenchmarkRollupRebuild1M recomputes the million-payment merchant's rollups from
// raw data (`paymend rollup --rebuild`).
func BenchmarkRollupRebuild1M(b *testing.B) {
	e, m := millionRowEnv(b)
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if err := e.store.RebuildRollups(context.Background(), []int64{m.ID}, time.Now().UTC()); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(t0).Seconds(), "s/rebuild")
	}
}

// BenchmarkAlertLatencyAfterBurst runs the console as in production (real clock,
// River with the default 10 s rollup and 30 s alert intervals) and the sandbox
// platform; the platform sends a burst of 120 failures of code 202 over 30 s to a
// merchant with the default rule (> 15 % over 10 min, ≥ 50 attempts). It reports
// the seconds from the burst's first failure to the alert being open (target: < 60 s).
func BenchmarkAlertLatencyAfterBurst(b *testing.B) {
	d, _ := dbtest.New(b)
	store := db.New(d)
	ctx := context.Background()
	sealer, _ := domain.NewSealer(make([]byte, 32))
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	app := web.New(web.Config{Backend: store, Secret: []byte("bench-secret-bench-secret-bench-secret"), Logger: log})
	runner, err := jobs.Start(ctx, jobs.Config{DB: store.DB().DB, Store: store, Sealer: sealer, Log: log})
	if err != nil {
		b.Fatal(err)
	}
	defer runner.Stop(ctx)
	handlers.Register(handlers.Deps{App: app, Store: store, Sealer: sealer, Log: log, BaseURL: "http://bench", Notices: runner})
	srv := httptest.NewServer(app.Echo)
	defer srv.Close()
	var worst time.Duration
	var all []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		code := fmt.Sprintf("lat%d", i)
		secret := "whsec_" + code
		sealed, _ := sealer.Seal(secret)
		m, err := store.CreateMerchant(ctx, domain.Merchant{Code: code, Name: code}, []string{sealed})
		if err != nil {
			b.Fatal(err)
		}
		sb := sandbox.New(sandbox.Config{ConsoleURL: srv.URL, Secrets: map[string][]byte{code: []byte(secret)}, Logger: log})
		psrv := httptest.NewServer(sb.Handler())
		start := time.Now()
		resp, err := http.Post(psrv.URL+"/_sandbox/burst", "application/json",
			bytes.NewReader([]byte(fmt.Sprintf(`{"merchant_code":%q,"code":"202","count":120,"seconds":30}`, code))))
		if err != nil || resp.StatusCode >= 300 {
			b.Fatalf("burst: %v %v", resp, err)
		}
		resp.Body.Close()
		for {
			list, _, err := store.Alerts(ctx, m.ID, db.AlertFilter{Limit: 1})
			if err != nil {
				b.Fatal(err)
			}
			if len(list) > 0 {
				break
			}
			if time.Since(start) > 3*time.Minute {
				b.Fatal("no alert after 3 minutes")
			}
			time.Sleep(100 * time.Millisecond)
		}
		took := time.Since(start)
		all = append(all, took)
		worst = max(worst, took)
		psrv.Close()
		sb.Close()
	}
	b.ReportMetric(worst.Seconds(), "worst-s-to-alert")
	b.ReportMetric(pct(all, 0.5).Seconds(), "median-s-to-alert")
}
