package handlers_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"paymend/db"
	"paymend/db/dbtest"
	"paymend/domain"
	"paymend/web"
)

// BenchmarkRiskCheck500 drives POST /api/v1/risk/check at a fixed 500 requests per
// second (open loop: request i is due at start + i × 2 ms whatever came before,
// and its latency counts from then, so a stall shows up instead of slowing the
// generator) through the whole Echo stack: API key, merchant, rate limit, cached
// rules, the counters query, the insert logging the decision. Each merchant has
// 200,000 earlier decisions over the last day (20,000 customers, 50 BINs).
// "demo-rules" is CONTRACT.md's two amount rules (no counters needed);
// "all-counters" adds customer and BIN velocity and daily amount/count rules, so
// every check reads every counter. Target: p99 < 10 ms.
//
//	go test ./handlers -run '^$' -bench RiskCheck500 -benchtime 5000x
func BenchmarkRiskCheck500(b *testing.B) {
	d, _ := dbtest.New(b)
	e := newEnvOn(b, db.New(d), func(c *web.Config) { c.APIPerMinute = 1_000_000 })
	ctx := context.Background()
	keys := map[string]string{}
	for _, code := range []string{"alpha", "beta"} {
		mid := e.m[code].ID
		if err := e.store.SeedDemoRiskRules(ctx, mid, "CNY", e.clock.Now()); err != nil {
			b.Fatal(err)
		}
		if code == "beta" {
			for _, r := range []domain.RiskRule{
				{Name: "customer velocity", Kind: domain.RiskVelocityCustomer, Action: domain.RiskBlock, Count: 5, Window: 10},
				{Name: "BIN velocity", Kind: domain.RiskVelocityBIN, Action: domain.RiskVerify, Count: 200, Window: 1},
				{Name: "daily amount", Kind: domain.RiskDailyAmount, Action: domain.RiskBlock, Amount: 10_000_000, Currency: "CNY"},
				{Name: "daily count", Kind: domain.RiskDailyCount, Action: domain.RiskVerify, Count: 20},
			} {
				r.Enabled = true
				if _, err := e.store.CreateRiskRule(ctx, mid, r, nil, e.clock.Now()); err != nil {
					b.Fatal(err)
				}
			}
		}
		if _, err := e.store.DB().Exec(`INSERT INTO risk_decisions (merchant_id, customer_id, amount, currency, channel, card_bin, decision, created_at)
			SELECT $1, 'C' || (g % 20000), 1000 + (g * 7919) % 500000, 'CNY', 'card', (622200 + g % 50)::text,
				CASE WHEN g % 50 = 0 THEN 'block' ELSE 'allow' END, $2::timestamptz - (g * interval '432 milliseconds')
			FROM generate_series(1, 200000) g`, mid, e.clock.Now()); err != nil {
			b.Fatal(err)
		}
		keys[code] = "pm_live_bench_risk_key_" + code + "_0123456789"
		if _, err := e.store.CreateAPIKey(ctx, mid, "bench", keys[code][:12], web.HashAPIKey(keys[code]), nil); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := e.store.DB().Exec(`VACUUM ANALYZE risk_decisions`); err != nil {
		b.Fatal(err)
	}
	rate := 500
	if r, err := strconv.Atoi(os.Getenv("PAYMEND_BENCH_RATE")); err == nil && r > 0 {
		rate = r // to find the knee: PAYMEND_BENCH_RATE=100 …
	}
	b.Run("demo-rules", func(b *testing.B) { driveRiskChecks(b, e, keys["alpha"], rate) })
	b.Run("all-counters", func(b *testing.B) { driveRiskChecks(b, e, keys["beta"], rate) })
}

func driveRiskChecks(b *testing.B, e *env, key string, rate int) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}, Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	rng := rand.New(rand.NewPCG(1, 2))
	bodies := make([][]byte, 4096)
	for i := range bodies {
		bodies[i] = fmt.Appendf(nil, `{"customer_id":"C%d","amount":%d,"currency":"CNY","channel":"card","card_bin":"%d"}`,
			rng.IntN(20000), 1000+rng.IntN(800000), 622200+rng.IntN(50))
	}
	// Warm up connections, prepared statements and the rules cache.
	for i := 0; i < 50; i++ {
		post(b, client, e.srv.URL, key, bodies[i])
	}
	lat := make([]time.Duration, b.N)
	var failed atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		due := start.Add(time.Duration(i) * time.Second / time.Duration(rate))
		time.Sleep(time.Until(due))
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if st := post(b, client, e.srv.URL, key, bodies[i%len(bodies)]); st != http.StatusOK {
				failed.Add(1)
			}
			lat[i] = time.Since(due)
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if failed.Load() > 0 {
		b.Fatalf("%d of %d checks failed", failed.Load(), b.N)
	}
	b.ReportMetric(ms(pct(lat, 0.50)), "p50-ms")
	b.ReportMetric(ms(pct(lat, 0.99)), "p99-ms")
	b.ReportMetric(ms(pct(lat, 0.999)), "p99.9-ms")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
}

func post(b *testing.B, c *http.Client, base, key string, body []byte) int {
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/risk/check", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		b.Error(err)
		return 0
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
