package handlers_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"paymend/db"
	"paymend/db/dbtest"
	"paymend/domain"
	"paymend/handlers"
	"paymend/web"
)

// benchRows is the data set size the list benchmark runs on (issue 3: 1M).
const benchRows = 1_000_000

// millionRowEnv returns a console over a kept database holding benchRows seeded
// payments for merchant "demo", seeding it on first use (about a minute).
func millionRowEnv(b *testing.B) (*env, domain.Merchant) {
	b.Helper()
	d, _, _ := dbtest.Keep(b, "bench1m")
	store := db.New(d)
	ctx := context.Background()
	m, err := store.MerchantByCode(ctx, "demo")
	if err != nil {
		m, err = store.CreateMerchant(ctx, domain.Merchant{Code: "demo", Name: "Demo"}, []string{})
		if err != nil {
			b.Fatal(err)
		}
	}
	if n, _ := store.CountSeeded(ctx, m.ID); n < benchRows {
		b.Logf("seeding %d payments into the kept benchmark database (once)…", benchRows)
		_ = store.DeleteSeeded(ctx, m.ID)
		sealer, _ := domain.NewSealer(make([]byte, 32))
		start := time.Now()
		if _, err := store.SeedDemoTransactions(ctx, m.ID, db.DemoSeed{N: benchRows, Now: time.Now().UTC(), Seed: 42, Sealer: sealer}); err != nil {
			b.Fatal(err)
		}
		b.Logf("seeded in %s", time.Since(start).Round(time.Millisecond))
	}
	e := &env{t: b, store: store, m: map[string]domain.Merchant{"demo": m}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	e.app = web.New(web.Config{Backend: store, Secret: []byte("bench-secret-bench-secret-bench-secret"), Logger: log})
	sealer, _ := domain.NewSealer(make([]byte, 32))
	handlers.Register(handlers.Deps{App: e.app, Store: store, Sealer: sealer, Log: log, BaseURL: "http://bench", Notices: noQueue{}})
	return e, m
}

func pct(ds []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// BenchmarkListPage serves the failed-payments list page (50 rows) through the whole
// Echo stack with one filter at a time over a million payments, and compares its p95
// with the p95 of the bare store query for the same filter (target: p95 < 30 ms and
// within 3x of the query).
func BenchmarkListPage(b *testing.B) {
	e, m := millionRowEnv(b)
	ctx := context.Background()
	// A signed-in operator's session cookie, made directly in the store.
	hash, _ := web.HashPassword("benchmark-password-1")
	u, err := e.store.UserForLogin(ctx, "bench@demo.test")
	if err != nil {
		u, err = e.store.CreateUser(ctx, m.ID, domain.User{Email: "bench@demo.test", Role: domain.RoleOperator, PasswordHash: hash})
		if err != nil {
			b.Fatal(err)
		}
	}
	srv := httptest.NewServer(e.app.Echo)
	defer srv.Close()
	jar := e.browserFor(b, srv.URL, u.Email, "benchmark-password-1")
	cat := domain.NewCatalog(domain.DefaultCatalog(), nil)
	week := time.Now().In(m.Location()).Add(-7 * 24 * time.Hour).Format("2006-01-02T15:04")
	filters := []string{"", "code=101", "code=301", "category=network", "channel=wechat", "bank=CMB",
		"resolution=new", "min_amount=1000", "from=" + week, "q=C0001", "status=succeeded", "status=pending"}
	for _, f := range filters {
		name := f
		if name == "" {
			name = "status=failed"
		}
		b.Run(name, func(b *testing.B) {
			q, _ := url.ParseQuery(f)
			tq := handlers.ParseTxQueryForBench(q, m, cat)
			var page, bare []time.Duration
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				resp, err := jar.Get(srv.URL + "/transactions?" + f)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("%s: %d", f, resp.StatusCode)
				}
				page = append(page, time.Since(t0))
				t1 := time.Now()
				if _, _, err := e.store.Transactions(ctx, m.ID, tq); err != nil {
					b.Fatal(err)
				}
				bare = append(bare, time.Since(t1))
			}
			p95, s95 := pct(page, 0.95), pct(bare, 0.95)
			b.ReportMetric(ms(p95), "page-p95-ms")
			b.ReportMetric(ms(s95), "sql-p95-ms")
			b.ReportMetric(float64(p95)/float64(max(s95, time.Microsecond)), "page/sql")
		})
	}
}

// browserFor logs the user in over HTTP and returns a cookie-keeping client.
func (e *env) browserFor(b *testing.B, base, email, pw string) *http.Client {
	b.Helper()
	c := e.browser()
	form := url.Values{"email": {email}, "password": {pw}}
	resp, err := c.PostForm(base+"/login", form)
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		b.Fatalf("bench login: %d", resp.StatusCode)
	}
	return c
}

// BenchmarkWebhookIngest sends signed platform events from 16 concurrent senders to
// a real HTTP server and reports events/s and p99 latency; in the same run pgbench
// measures a bare single-row INSERT with 16 clients on the same server (target:
// ≥ 1,000 events/s, p99 < 50 ms, at least half the pgbench rate).
func BenchmarkWebhookIngest(b *testing.B) {
	d, dbURL := dbtest.New(b)
	store := db.New(d)
	ctx := context.Background()
	secret := "whsec_bench"
	sealer, _ := domain.NewSealer(make([]byte, 32))
	sealed, _ := sealer.Seal(secret)
	m, err := store.CreateMerchant(ctx, domain.Merchant{Code: "bench", Name: "Bench"}, []string{sealed})
	if err != nil {
		b.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	app := web.New(web.Config{Backend: store, Secret: []byte("bench-secret-bench-secret-bench-secret"), Logger: log})
	handlers.Register(handlers.Deps{App: app, Store: store, Sealer: sealer, Log: log, BaseURL: "http://bench", Notices: noQueue{}})
	srv := httptest.NewServer(app.Echo)
	defer srv.Close()
	gen := domain.NewDemoGen(7)
	n := max(b.N, 5000)
	bodies := make([][]byte, n)
	now := time.Now()
	for i := range bodies {
		p := gen.Payment(now.Add(-time.Duration(i) * time.Second))
		data := map[string]any{"transaction_id": p.TransactionID, "order_id": p.OrderID, "amount": p.Amount,
			"currency": p.Currency, "channel": p.Channel, "occurred_at": p.OccurredAt.UTC().Format(time.RFC3339),
			"customer": map[string]any{"id": p.CustomerID, "name": p.CustomerName, "phone": p.Phone, "email": p.Email},
			"card":     map[string]any{"bin": p.BIN, "last4": p.Last4, "bank": p.Bank}}
		if p.Code != "" {
			data["code"], data["message"] = p.Code, p.Message
		}
		bodies[i], _ = json.Marshal(map[string]any{"id": fmt.Sprintf("evt_bench_%d", i), "type": "payment." + string(p.Status),
			"created": p.OccurredAt.Unix(), "data": data})
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	next := make(chan int, n)
	for i := range n {
		next <- i
	}
	close(next)
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/webhooks/oulepay/bench", bytes.NewReader(bodies[i]))
				req.Header.Set("Oulepay-Signature", domain.SignWebhook([]byte(secret), time.Now(), bodies[i]))
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					b.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				lat[i] = time.Since(t0)
				if resp.StatusCode != http.StatusOK {
					b.Errorf("event %d: %d", i, resp.StatusCode)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	rate := float64(n) / elapsed.Seconds()
	b.ReportMetric(rate, "events/s")
	b.ReportMetric(ms(pct(lat, 0.99)), "p99-ms")
	var stored int
	store.DB().Get(&stored, `SELECT count(*) FROM transaction_events WHERE merchant_id = $1`, m.ID)
	if stored != n {
		b.Fatalf("stored %d of %d events", stored, n)
	}
	if tps := pgbenchInsertTPS(b, dbURL); tps > 0 {
		b.ReportMetric(tps, "pgbench-insert-tps")
		b.ReportMetric(rate/tps, "events/pgbench")
	}
}

// pgbenchInsertTPS runs pgbench (16 clients, 5 s) doing a bare single-row INSERT on
// the same server; 0 when pgbench is not installed.
func pgbenchInsertTPS(b *testing.B, dbURL string) float64 {
	bin, err := exec.LookPath("pgbench")
	if err != nil {
		matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pgbench")
		if len(matches) == 0 {
			b.Log("pgbench not found; no insert baseline")
			return 0
		}
		bin = matches[len(matches)-1]
	}
	d, _ := dbtest.New(b)
	if _, err := d.Exec(`CREATE TABLE bench_insert (id bigserial PRIMARY KEY, payload text NOT NULL, at timestamptz NOT NULL DEFAULT now())`); err != nil {
		b.Fatal(err)
	}
	script := filepath.Join(b.TempDir(), "insert.sql")
	os.WriteFile(script, []byte("INSERT INTO bench_insert (payload) VALUES ('event');\n"), 0o644)
	var dbName string
	d.Get(&dbName, `SELECT current_database()`)
	u, _ := url.Parse(dbURL)
	port := u.Port()
	out, err := exec.Command(bin, "-n", "-c", "16", "-j", "2", "-T", "5", "-f", script,
		"-h", u.Hostname(), "-p", port, "-U", u.User.Username(), dbName).CombinedOutput()
	if err != nil {
		b.Logf("pgbench failed: %v\n%s", err, out)
		return 0
	}
	m := regexp.MustCompile(`tps = ([0-9.]+)`).FindSubmatch(out)
	if m == nil {
		return 0
	}
	tps, _ := strconv.ParseFloat(string(m[1]), 64)
	return tps
}

// noQueue stands in for the job queue where benchmarks send no notices.
type noQueue struct{}

func (noQueue) EnqueueNotices(context.Context, *sql.Tx, int64, []int64) error { return nil }

func (noQueue) EnqueueTest(context.Context, int64, string, string, string, string) error { return nil }
