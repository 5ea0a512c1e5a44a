package handlers_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds the browser: $CHROMIUM, else Debian's. Browser journeys are part
// of `make test`, which installs Chromium; a bare `go test` without it skips them.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" || os.Getenv("PAYMEND_REQUIRE_BROWSER") != "" {
		t.Fatal("Chromium not found; `make test` installs it")
	}
	t.Skip("Chromium not found; run `make test` to install it")
	return ""
}

// newBrowser starts headless Chromium with a phone or desktop viewport.
func newBrowser(t *testing.T, width, height int) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(width, height),
	)
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	// The first run starts the browser and must not carry a timeout; later steps may.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	ctx, cancel3 := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel3)
	return ctx
}

// do runs browser steps and fails the test on the first error.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// text returns the visible text of the first element matching css.
func text(t *testing.T, ctx context.Context, css string) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
	if err != nil {
		t.Fatalf("text of %s: %v", css, err)
	}
	return v
}

func location(t *testing.T, ctx context.Context) string {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func click(css string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(css)) }

// clickAndLoad clicks something that submits or navigates and waits for the new page,
// so nothing reads the old document while the next one loads.
func clickAndLoad(css string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Evaluate[chromedp.Void](`window.__paymendOld = true`),
		click(css),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			// Evaluations fail while the page is replaced; keep asking until the new
			// document has loaded.
			deadline := time.Now().Add(15 * time.Second)
			for time.Now().Before(deadline) {
				ok, err := chromedp.Evaluate[bool](`!window.__paymendOld && document.readyState === 'complete'`)(ctx, tg)
				if err == nil && ok {
					return nil
				}
				time.Sleep(50 * time.Millisecond)
			}
			return fmt.Errorf("page did not load after clicking %s", css)
		}),
	)
}
func visible(css string) chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(css))
}
func keys(css, v string) chromedp.Action[chromedp.Void] {
	return chromedp.SendKeys(chromedp.CSS(css), v)
}

// shot saves a screenshot when PAYMEND_SHOTS names a folder, for looking at pages.
func shot(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		dir := os.Getenv("PAYMEND_SHOTS")
		if dir == "" {
			return nil
		}
		buf, err := chromedp.FullScreenshot(100)(ctx, tg)
		if err != nil {
			return err
		}
		_ = os.MkdirAll(dir, 0o755)
		return os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
	})
}

func sel(id string) string { return `[data-testid="` + id + `"]` }

// signIn opens next through the login page as email.
func signIn(e *env, next, email string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(e.srv.URL+"/login?next="+next),
		keys("#email", email),
		keys("#password", testPassword),
		clickAndLoad(sel("login-submit")),
	)
}

func TestBrowserLoginSwitchLanguageLogout(t *testing.T) {
	e := newEnv(t)
	ctx := newBrowser(t, 1280, 900)
	do(t, ctx,
		chromedp.Navigate(e.srv.URL+"/"),
		visible(sel("login-form")),
		shot("login"),
		keys("#email", "admin@alpha.test"),
		keys("#password", testPassword),
		click(sel("login-submit")),
		visible(sel("nav")),
		shot("overview-zh"),
	)
	if nav, h1 := text(t, ctx, sel("nav")), text(t, ctx, "h1"); !strings.Contains(nav, "失败交易") || h1 != "概览" {
		t.Fatalf("shell not in Chinese: nav %q h1 %q", nav, h1)
	}
	do(t, ctx, click(sel("lang-en")), visible(sel("lang-zh")), shot("overview-en"))
	if nav, h1 := text(t, ctx, sel("nav")), text(t, ctx, "h1"); !strings.Contains(nav, "Failed payments") || h1 != "Overview" {
		t.Fatalf("not English after switch: nav %q h1 %q", nav, h1)
	}
	do(t, ctx, click(sel("logout")), visible(sel("login-form")))
	// After logout the console is closed again.
	do(t, ctx, chromedp.Navigate(e.srv.URL+"/users"), visible(sel("login-form")))
	if loc := location(t, ctx); !strings.Contains(loc, "/login") {
		t.Fatalf("after logout /users went to %s", loc)
	}
}

func TestBrowserFilterByCodeOpenRowSeeTimeline(t *testing.T) {
	e := newEnv(t)
	now := e.clock.Now()
	for i, code := range []string{"101", "202", "101", "301", "101"} {
		tx := fmt.Sprintf("TJOURNEY%d", i)
		e.deliver("alpha", event("evt_j"+tx, "payment.failed", tx, func(d map[string]any) {
			d["code"], d["message"] = code, "msg "+code
			d["occurred_at"] = now.Add(-time.Duration(i) * time.Minute).Format(time.RFC3339)
		}), now).Body.Close()
	}
	// One of the 101s later succeeds, so its timeline has two events.
	e.deliver("alpha", event("evt_jok", "payment.succeeded", "TJOURNEY0", func(d map[string]any) {
		d["occurred_at"] = now.Add(time.Minute).Format(time.RFC3339)
	}), now).Body.Close()
	ctx := newBrowser(t, 1366, 900)
	do(t, ctx,
		signIn(e, "/transactions", "operator@alpha.test"),
		visible(sel("tx-table")),
		chromedp.SetValue(chromedp.CSS(sel("filter-status")), "all"),
		chromedp.SetValue(chromedp.CSS(sel("filter-code")), "101"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid="filter-code"]').dispatchEvent(new Event('change', {bubbles: true}))`),
		chromedp.Poll[chromedp.Void](`location.search.includes('code=101') && document.querySelectorAll('[data-testid="tx-row"]').length === 3`),
		shot("transactions-101"),
	)
	codes, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid="tx-row"]')].map(r => r.dataset.code)`))
	if err != nil || len(codes) != 3 || codes[0] != "101" || codes[2] != "101" {
		t.Fatalf("filtered rows %v %v", codes, err)
	}
	// The pushed URL is shareable: loaded cold it shows the same rows.
	loc := location(t, ctx)
	do(t, ctx, chromedp.Navigate(loc), visible(sel("tx-table")))
	if n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="tx-row"]').length`)); n != 3 {
		t.Fatalf("cold load of %s: %d rows", loc, n)
	}
	do(t, ctx, click(`[data-code="101"] `+sel("tx-link")), visible(sel("tx-timeline")), shot("transaction-detail"))
	if why := text(t, ctx, sel("tx-reason")); !strings.Contains(why, "101") || !strings.Contains(why, "余额不足") {
		t.Fatalf("reason card: %q", why)
	}
	kinds, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid="timeline-entry"]')].map(e => e.dataset.kind)`))
	if len(kinds) < 1 || kinds[0] != "payment.failed" {
		t.Fatalf("timeline kinds %v", kinds)
	}
	if phone := text(t, ctx, sel("tx-phone")); phone != "138****1234" {
		t.Fatalf("phone shown as %q", phone)
	}
}

func TestBrowserPlaybookFor202(t *testing.T) {
	e := newEnv(t)
	now := e.clock.Now()
	e.deliver("alpha", event("evt_pb", "payment.failed", "TPLAY", func(d map[string]any) {
		d["code"], d["message"] = "202", "交易超时"
	}), now).Body.Close()
	ctx := newBrowser(t, 1280, 1000)
	do(t, ctx,
		signIn(e, "/transactions", "operator@alpha.test"),
		visible(`[data-code="202"]`),
		click(`[data-code="202"] `+sel("tx-link")),
		visible(sel("playbook")),
	)
	if why := text(t, ctx, sel("tx-explanation")); len(why) < 10 {
		t.Fatalf("explanation %q", why)
	}
	// Follow the recommended step each time until the case is closed.
	var seen []string
	for i := 0; i < 6; i++ {
		n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="playbook-recommended"]').length`))
		if n == 0 {
			break
		}
		v, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('[data-testid="playbook-recommended"]').value`))
		seen = append(seen, v)
		if v == "offer_remedy" {
			do(t, ctx, keys(sel("playbook-note"), "建议客户稍后重试"))
		}
		if i == 0 {
			do(t, ctx, shot("playbook-202"))
		}
		do(t, ctx, clickAndLoad(sel("playbook-recommended")), visible(sel("flash")+" .flash"))
	}
	n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="playbook-resolve"]').length`))
	if n == 1 {
		do(t, ctx, clickAndLoad(sel("playbook-resolve")), visible(sel("flash")+" .flash"))
	}
	do(t, ctx, shot("playbook-resolved"))
	if st := text(t, ctx, sel("tx-resolution")); st != "已解决" && st != "客户重试成功" {
		t.Fatalf("state after steps %v: %q", seen, st)
	}
	kinds, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid="timeline-entry"]')].map(e => e.dataset.kind)`))
	if len(kinds) < 4 {
		t.Fatalf("timeline %v after %v", kinds, seen)
	}
}

// TestBrowserAdminPagesRender opens every admin page in both languages: each has its
// heading and main content, and (with PAYMEND_SHOTS) leaves a screenshot to look at.
func TestBrowserAdminPagesRender(t *testing.T) {
	e := newEnv(t)
	e.ingest("alpha", 30, nil)
	ctx := newBrowser(t, 1280, 900)
	do(t, ctx,
		chromedp.Navigate(e.srv.URL+"/login"),
		keys("#email", "admin@alpha.test"),
		keys("#password", testPassword),
		click(sel("login-submit")),
		visible(sel("nav")),
	)
	pages := map[string]string{"/": "kpis", "/users": "users-table", "/audit": "audit-table", "/settings": "api-keys",
		"/transactions/import": "import-form", "/transactions": "tx-table", "/codes": "codes-table",
		"/notifications": "notices-table", "/settings/notifications": "notify-rules", "/calls": "calls", "/codes/101": "code-kpi-failures",
		"/refunds": "refunds-table", "/reconciliation": "recon-table"}
	for _, lang := range []string{"zh", "en"} {
		for path, id := range pages {
			do(t, ctx, chromedp.Navigate(e.srv.URL+path), visible(sel(id)), shot(lang+strings.ReplaceAll(path, "/", "_")))
			if h := text(t, ctx, "h1"); h == "" {
				t.Errorf("%s (%s) has no heading", path, lang)
			}
		}
		if lang == "zh" {
			do(t, ctx, click(sel("lang-en")), visible(sel("lang-zh")))
		}
	}
}

func TestBrowserBulkSMSToThreeCustomers(t *testing.T) {
	e := newEnv(t)
	side := e.customerSide("alpha")
	now := e.clock.Now()
	for i := 0; i < 4; i++ {
		tx := fmt.Sprintf("TSMS%d", i)
		e.deliver("alpha", event("evt_"+tx, "payment.failed", tx, func(d map[string]any) {
			d["occurred_at"] = now.Add(-time.Duration(i) * time.Minute).Format(time.RFC3339)
			d["customer"] = map[string]any{"id": fmt.Sprintf("C%d", i), "name": "客户", "phone": fmt.Sprintf("+861380013800%d", i)}
		}), now).Body.Close()
	}
	ctx := newBrowser(t, 1366, 900)
	do(t, ctx,
		signIn(e, "/transactions", "operator@alpha.test"),
		visible(sel("tx-table")),
		chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll('[data-testid="tx-select"]')].slice(0, 3).forEach(b => b.click())`),
		chromedp.SetValue(chromedp.CSS(sel("bulk-channel")), "sms"),
		shot("bulk-select"),
		clickAndLoad(sel("bulk-notify")),
		visible(sel("bulk-confirm")),
		shot("bulk-confirm"),
	)
	if n := text(t, ctx, sel("bulk-reachable")+" .kpi-value"); n != "3" {
		t.Fatalf("confirmation says %s reachable", n)
	}
	do(t, ctx, clickAndLoad(sel("bulk-confirm-send")), visible(sel("tx-table")))
	// Each of the three timelines shows the notice sent, once the worker has run.
	rows, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid="tx-link"]')].slice(0, 3).map(a => a.href)`))
	for _, href := range rows {
		deadline := time.Now().Add(20 * time.Second)
		for {
			do(t, ctx, chromedp.Navigate(href), visible(sel("tx-timeline")))
			kinds, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid="timeline-entry"]')].map(e => e.dataset.kind)`))
			if strings.Contains(strings.Join(kinds, ","), "notification.sent") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: timeline %v", href, kinds)
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	do(t, ctx, shot("notice-sent-timeline"))
	sms := 0
	for _, m := range received(t, side) {
		if m.Channel == "sms" {
			sms++
		}
	}
	if sms != 3 {
		t.Fatalf("customers received %d SMS", sms)
	}
}
