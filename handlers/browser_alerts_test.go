package handlers_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"paymend/domain"
	"paymend/platform/sandbox"
)

// platformSide runs the sandbox platform for merchant code: its webhooks go to the
// console, and its customer side (SMTP server, in-app receiver) is where the
// merchant's channels point.
func (e *env) platformSide(code string) *httptest.Server {
	e.t.Helper()
	sb := sandbox.New(sandbox.Config{ConsoleURL: e.srv.URL, Secrets: map[string][]byte{code: []byte(e.secret[code])},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := httptest.NewServer(sb.Handler())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sb.ServeSMTP(ctx, ln); close(done) }()
	e.t.Cleanup(func() { cancel(); <-done; srv.Close(); sb.Close() })
	host, portS, _ := net.SplitHostPort(ln.Addr().String())
	port, _ := strconv.Atoi(portS)
	if err := e.store.SaveChannelSettings(context.Background(), e.m[code].ID, domain.ChannelSettings{Channel: domain.NotifyEmail,
		Enabled: true, Host: host, Port: port, Security: "none", From: "PayMend <alerts@shop.test>"}, ""); err != nil {
		e.t.Fatal(err)
	}
	return srv
}

// TestBrowserThresholdBurstAlertOnDashboardAndEmail: an admin lowers the failure-rate
// threshold and adds an on-call address; the sandbox platform sends a burst of 202
// failures; the alert job opens an alert that the dashboard shows, and the on-call
// address gets the e-mail at the SMTP server.
func TestBrowserThresholdBurstAlertOnDashboardAndEmail(t *testing.T) {
	e := newEnv(t)
	platform := e.platformSide("alpha")
	ctx := newBrowser(t, 1280, 1000)
	rule := e.defaultRule("alpha")
	do(t, ctx,
		signIn(e, "/settings/alerts", "admin@alpha.test"),
		visible(sel("rules-table")),
		clickAndLoad(`[data-testid="rule-row"] a`),
		visible(sel("rule-form")),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('#rule-threshold').value = '10';
			document.querySelector('#rule-emails').value = 'oncall@alpha.test'`),
		shot("alerts-rule-form"),
		clickAndLoad(sel("rule-save")),
		visible(sel("rules-table")),
		shot("alerts-rules"),
	)
	got, _ := e.store.AlertRule(context.Background(), e.m["alpha"].ID, rule.ID, false)
	if got.Threshold != 0.10 || len(got.Emails) != 1 || got.Emails[0] != "oncall@alpha.test" {
		t.Fatalf("rule after the form: %+v", got)
	}
	// The platform's burst: 60 failures of code 202 over two seconds.
	e.clock.Advance(time.Since(e.clock.Now()))
	resp, err := http.Post(platform.URL+"/_sandbox/burst", "application/json",
		bytes.NewReader([]byte(`{"merchant_code":"alpha","code":"202","count":60,"seconds":2}`)))
	if err != nil || resp.StatusCode >= 300 {
		t.Fatalf("burst: %v %v", resp, err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(30 * time.Second)
	for n := 0; n < 60; {
		if time.Now().After(deadline) {
			t.Fatalf("only %d burst payments arrived", n)
		}
		time.Sleep(200 * time.Millisecond)
		e.store.DB().Get(&n, `SELECT count(*) FROM transactions WHERE merchant_id = $1 AND code = '202'`, e.m["alpha"].ID)
	}
	// The periodic evaluation, now rather than in up to 30 s: the same River job.
	e.clock.Advance(time.Since(e.clock.Now()))
	if _, err := e.jobs.Client.Insert(context.Background(), jobsAlertEval(), nil); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(20 * time.Second); len(e.ruleAlerts("alpha", rule.ID)) == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no alert opened")
		}
		time.Sleep(100 * time.Millisecond)
	}
	do(t, ctx, chromedp.Navigate(e.srv.URL+"/?range=24h"), visible(sel("dash-alert")), shot("alerts-dashboard"))
	if s := text(t, ctx, sel("dash-alert")); !strings.Contains(s, "支付失败率过高") || !strings.Contains(s, "100.0%") {
		t.Fatalf("dashboard alert %q", s)
	}
	if s := text(t, ctx, sel("kpi-now-failure-rate")); !strings.Contains(s, "100.0%") {
		t.Fatalf("failure rate now %q", s)
	}
	m := waitMail(t, platform, "oncall@alpha.test", "告警")
	if !strings.Contains(m.Text, "100.0%") || !strings.Contains(m.Subject, "支付失败率过高") {
		t.Fatalf("alert mail %+v", m)
	}
	// The alert's page, acknowledged from the browser.
	do(t, ctx, clickAndLoad(`[data-testid="dash-alert"] a`), visible(sel("alert-timeline")), shot("alerts-detail"),
		clickAndLoad(sel("alert-ack-button")), visible(sel("alert-status")), shot("alerts-acknowledged"))
	if s := text(t, ctx, sel("alert-status")); s != "已确认" {
		t.Fatalf("status after acknowledging %q", s)
	}
}
