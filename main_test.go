package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"paymend/db"
	"paymend/db/dbtest"
	"paymend/domain"
	"paymend/web"
)

func cli(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(stdin), &out, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return out.String(), err
}

func TestCommands(t *testing.T) {
	d, url := dbtest.New(t)
	t.Setenv("DATABASE_URL", url)
	t.Setenv("PGROOT", t.TempDir()+"/none")
	t.Setenv("PAYMEND_SECRET", strings.Repeat("s", 40))
	t.Setenv("PAYMEND_DATA_KEY", strings.Repeat("ab", 32))
	t.Setenv("PAYMEND_DEMO_PASSWORD", "demo-password-for-tests")
	t.Setenv("PAYMEND_DEMO_WEBHOOK_SECRET", "whsec_demo_test")
	t.Setenv("PAYMEND_DEMO_API_KEY", "pm_live_demo_test_key")
	store := db.New(d)
	ctx := context.Background()

	if out, err := cli(t, "", "migrate"); err != nil || !strings.Contains(out, "applied") {
		t.Fatalf("migrate: %q %v", out, err)
	}
	out, err := cli(t, "", "merchant", "add", "--code", "shop9", "--name", "Shop Nine")
	if err != nil || !strings.Contains(out, "webhook secret (shown once): whsec_") {
		t.Fatalf("merchant add: %q %v", out, err)
	}
	if _, err := cli(t, "", "merchant", "add", "--code", "shop9", "--name", "Again"); err == nil || !strings.Contains(err.Error(), "taken") {
		t.Fatalf("duplicate merchant: %v", err)
	}
	if _, err := cli(t, "", "merchant", "add", "--code", "shop10"); err == nil || !strings.Contains(err.Error(), "--name is required") {
		t.Fatalf("missing flag: %v", err)
	}
	if _, err := cli(t, "password\n", "user", "add", "--merchant", "shop9", "--email", "ops@shop9.test", "--role", "operator"); err == nil {
		t.Fatal("short password accepted")
	}
	if _, err := cli(t, "a-very-good-passphrase\n", "user", "add", "--merchant", "shop9", "--email", "ops@shop9.test", "--role", "boss"); err == nil {
		t.Fatal("bad role accepted")
	}
	if out, err := cli(t, "a-very-good-passphrase\n", "user", "add", "--merchant", "shop9", "--email", "Ops@Shop9.test", "--role", "operator"); err != nil || !strings.Contains(out, "ops@shop9.test") {
		t.Fatalf("user add: %q %v", out, err)
	}
	u, err := store.UserForLogin(ctx, "ops@shop9.test")
	if err != nil || u.Role != "operator" || !web.CheckPassword(u.PasswordHash, "a-very-good-passphrase") {
		t.Fatalf("user: %+v %v", u, err)
	}
	out, err = cli(t, "", "apikey", "create", "--merchant", "shop9", "--name", "erp")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	key := lines[len(lines)-1]
	if k, err := store.APIKeyByHash(ctx, web.HashAPIKey(key), u.CreatedAt); err != nil || k.Name != "erp" {
		t.Fatalf("api key %q: %v", key, err)
	}

	// seed --demo: merchant, three users, API key, transactions; idempotent.
	out, err = cli(t, "", "seed", "--demo", "--transactions", "300")
	if err != nil || !strings.Contains(out, "demo-password-for-tests") || !strings.Contains(out, "seeded 3") ||
		!strings.Contains(out, "/f/") {
		t.Fatalf("seed: %q %v", out, err)
	}
	m, err := store.MerchantByCode(ctx, "demo")
	if err != nil || m.TimeZone != "Asia/Shanghai" || m.Currency != "CNY" {
		t.Fatalf("demo merchant %+v %v", m, err)
	}
	for _, e := range []string{"admin@demo.test", "operator@demo.test", "viewer@demo.test"} {
		if u, err := store.UserForLogin(ctx, e); err != nil || u.MerchantID != m.ID {
			t.Fatalf("%s: %v", e, err)
		}
	}
	if _, err := store.APIKeyByHash(ctx, web.HashAPIKey("pm_live_demo_test_key"), u.CreatedAt); err != nil {
		t.Fatalf("demo api key: %v", err)
	}
	var orders int
	if err := store.DB().Get(&orders, `SELECT count(*) FROM orders WHERE merchant_id = $1`, m.ID); err != nil || orders == 0 {
		t.Fatalf("demo orders: %d %v", orders, err)
	}
	if p, err := store.RefundPolicy(ctx, m.ID); err != nil || p.ApprovalAbove == nil || *p.ApprovalAbove != 100000 {
		t.Fatalf("demo refund policy %+v %v", p, err)
	}
	// A refund of a seeded payment does not stop --refresh from replacing them.
	var paidID int64
	if err := store.DB().Get(&paidID, `SELECT id FROM transactions WHERE merchant_id = $1 AND pay_status = 'succeeded' LIMIT 1`, m.ID); err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.CreateRefund(ctx, m.ID, db.NewRefund{TransactionID: paidID, Source: domain.RefundFromConsole,
		Request: domain.RefundRequest{Amount: 1, Reason: "demo"}, Now: time.Now()},
		func(context.Context, *db.Store, domain.Refund) error { return nil }); err != nil {
		t.Fatal(err)
	}
	n1, _ := store.CountSeeded(ctx, m.ID)
	out, err = cli(t, "", "seed", "--demo", "--transactions", "300")
	if err != nil || !strings.Contains(out, "already present") {
		t.Fatalf("second seed: %q %v", out, err)
	}
	if _, err := cli(t, "", "seed", "--demo", "--transactions", "200", "--refresh"); err != nil {
		t.Fatal(err)
	}
	n2, _ := store.CountSeeded(ctx, m.ID)
	if n1 < 300 || n2 < 200 || n2 >= n1 {
		t.Fatalf("seeded %d then %d", n1, n2)
	}
	var failed, succeeded int
	store.DB().QueryRow(`SELECT count(*) FILTER (WHERE status='failed'), count(*) FILTER (WHERE status='succeeded') FROM transactions WHERE merchant_id=$1`, m.ID).Scan(&failed, &succeeded)
	if failed == 0 || succeeded <= failed {
		t.Fatalf("demo mix: %d failed, %d succeeded", failed, succeeded)
	}
	// The demo has customers' feedback (issue 9), regenerated with --refresh.
	var links, answers, history int
	store.DB().QueryRow(`SELECT (SELECT count(*) FROM feedback_links WHERE merchant_id = $1), (SELECT count(*) FROM feedback WHERE merchant_id = $1),
		(SELECT count(*) FROM feedback_answers WHERE merchant_id = $1)`, m.ID).Scan(&links, &answers, &history)
	if links == 0 || answers == 0 || history != answers || answers >= links {
		t.Fatalf("demo feedback: %d links, %d answers, %d versions", links, answers, history)
	}
	// CONTRACT.md's demo risk rules, seeded once however often seed runs.
	riskRules, _ := store.RiskRules(ctx, m.ID, true)
	if len(riskRules) != 2 || riskRules[0].Action != "verify" || riskRules[0].Amount != 500000 || riskRules[1].Action != "block" || riskRules[1].Amount != 5000000 {
		t.Fatalf("demo risk rules %+v", riskRules)
	}
	if chans, _ := store.PayChannels(ctx, m.ID); len(chans) == 0 {
		t.Fatal("demo channels have no backups")
	}
	// rollup --rebuild recomputes from raw data: the demo's rollups match its payments,
	// and the demo merchant has the default alert rule (CONTRACT).
	if out, err := cli(t, "", "rollup", "--rebuild"); err != nil || !strings.Contains(out, "rebuilt") {
		t.Fatalf("rollup: %q %v", out, err)
	}
	var rolled, rules int
	store.DB().QueryRow(`SELECT coalesce(sum(failed), 0) FROM rollup_daily WHERE merchant_id = $1 AND dim = 'all'`, m.ID).Scan(&rolled)
	store.DB().QueryRow(`SELECT count(*) FROM alert_rules WHERE merchant_id = $1 AND metric = 'failure_rate'
		AND threshold = 0.15 AND window_minutes = 10 AND min_volume = 50 AND enabled`, m.ID).Scan(&rules)
	var demoAlerts int
	store.DB().QueryRow(`SELECT count(*) FROM alerts WHERE merchant_id = $1 AND status = 'resolved'`, m.ID).Scan(&demoAlerts)
	if rolled != failed || rules != 1 || demoAlerts != 1 {
		t.Fatalf("rollup has %d failures of %d; %d default rules; %d demo alerts", rolled, failed, rules, demoAlerts)
	}
	if _, err := cli(t, "", "frobnicate"); err == nil {
		t.Fatal("unknown command accepted")
	}
}

func TestServeStartsAndShutsDownGracefully(t *testing.T) {
	_, url := dbtest.New(t)
	t.Setenv("DATABASE_URL", url)
	t.Setenv("PGROOT", t.TempDir()+"/none")
	t.Setenv("PAYMEND_SECRET", strings.Repeat("s", 40))
	t.Setenv("PAYMEND_DATA_KEY", strings.Repeat("ab", 32))
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	t.Setenv("PAYMEND_ADDR", addr)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve"}, strings.NewReader(""), io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("console never became ready")
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel() // what SIGTERM does through signal.NotifyContext
	select {
	case err := <-done:
		if err != nil && err != http.ErrServerClosed {
			t.Fatalf("serve returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not shut down")
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}
