package handlers_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"paymend/db"
	"paymend/web"
)

func TestLoginShowsChineseShellAndLogsOutServerSide(t *testing.T) {
	e := newEnv(t)
	c := e.login("admin@alpha.test")
	d := doc(t, e.get(c, "/"))
	if got := d.Find("html").AttrOr("lang", ""); got != "zh-CN" {
		t.Fatalf("html lang = %q, want zh-CN", got)
	}
	if nav := d.Find(tid("nav")).Text(); !strings.Contains(nav, "失败交易") || !strings.Contains(nav, "审计日志") {
		t.Fatalf("admin nav = %q", nav)
	}
	if who := d.Find(tid("who")).Text(); !strings.Contains(who, "admin@alpha.test") {
		t.Fatalf("who = %q", who)
	}
	u, _ := url.Parse(e.srv.URL)
	old := c.Jar.Cookies(u)
	resp := e.post(c, "/logout", nil)
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
		t.Fatalf("logout: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	// Replaying the old cookie must not work: the session is gone server-side.
	replay := e.browser()
	replay.Jar.SetCookies(u, old)
	if resp := e.get(replay, "/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("old session still valid: %d", resp.StatusCode)
	}
}

func TestLoginFailuresAreGenericAndLockAfterTen(t *testing.T) {
	e := newEnv(t)
	c := e.browser()
	wrong := doc(t, e.post(c, "/login", url.Values{"email": {"admin@alpha.test"}, "password": {"not-the-password"}}))
	unknown := doc(t, e.post(c, "/login", url.Values{"email": {"nobody@alpha.test"}, "password": {"whatever-it-is"}}))
	if a, b := wrong.Find(tid("login-error")).Text(), unknown.Find(tid("login-error")).Text(); a == "" || a != b {
		t.Fatalf("messages differ or empty: %q vs %q", a, b)
	}
	for i := 0; i < 9; i++ {
		e.post(c, "/login", url.Values{"email": {"admin@alpha.test"}, "password": {"still-wrong-pass"}}).Body.Close()
	}
	// Ten failures: even the right password is refused now, with the same message.
	resp := e.post(c, "/login", url.Values{"email": {"admin@alpha.test"}, "password": {testPassword}})
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("locked account logged in: %d", resp.StatusCode)
	}
	e.clock.Advance(31 * time.Minute)
	e.login("admin@alpha.test")
	// Every attempt is in the audit log.
	entries, _, err := e.store.AuditLog(context.Background(), e.m["alpha"].ID, db.AuditFilter{Action: "login", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	failed := 0
	for _, en := range entries {
		if en.Result == "failed" {
			failed++
		}
	}
	if failed != 11 || entries[0].Result != "ok" {
		t.Fatalf("audit: %d failed entries, newest %q", failed, entries[0].Result)
	}
}

func TestLoginRateLimitedPerIP(t *testing.T) {
	e := newEnv(t, func(c *web.Config) { c.LoginPerMinute = 3 })
	c := e.browser()
	var last int
	for i := 0; i < 4; i++ {
		resp := e.post(c, "/login", url.Values{"email": {"x@alpha.test"}, "password": {"whatever-it-is"}})
		last = resp.StatusCode
		resp.Body.Close()
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("4th attempt: %d, want 429", last)
	}
}

func TestSessionIdleAndAbsoluteTimeout(t *testing.T) {
	e := newEnv(t)
	c := e.login("viewer@alpha.test")
	e.clock.Advance(14 * time.Minute)
	if resp := e.get(c, "/"); resp.StatusCode != http.StatusOK {
		t.Fatalf("active session refused: %d", resp.StatusCode)
	}
	e.clock.Advance(16 * time.Minute)
	if resp := e.get(c, "/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("idle session accepted: %d", resp.StatusCode)
	}
	c = e.login("viewer@alpha.test")
	for i := 0; i < 12*6; i++ { // busy for 12 h, a request every 10 min
		e.clock.Advance(10 * time.Minute)
		if resp := e.get(c, "/healthz"); resp.StatusCode != http.StatusOK {
			t.Fatal(resp.StatusCode)
		}
		resp := e.get(c, "/")
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			if i < 71 {
				t.Fatalf("session ended early at step %d", i)
			}
		}
	}
	if resp := e.get(c, "/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("session outlived 12 h: %d", resp.StatusCode)
	}
}

func TestSessionFixationGetsNewID(t *testing.T) {
	e := newEnv(t)
	c := e.browser()
	u, _ := url.Parse(e.srv.URL)
	c.Jar.SetCookies(u, []*http.Cookie{{Name: web.SessionCookie, Value: "attacker-chosen", Path: "/"}})
	e.post(c, "/login", url.Values{"email": {"admin@alpha.test"}, "password": {testPassword}}).Body.Close()
	for _, ck := range c.Jar.Cookies(u) {
		if ck.Name == web.SessionCookie && ck.Value == "attacker-chosen" {
			t.Fatal("session id kept across login")
		}
	}
}

func TestCookieAttributes(t *testing.T) {
	e := newEnv(t)
	resp := e.post(e.browser(), "/login", url.Values{"email": {"admin@alpha.test"}, "password": {testPassword}})
	sc := resp.Header.Get("Set-Cookie")
	for _, want := range []string{web.SessionCookie + "=", "HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(sc, want) {
			t.Fatalf("Set-Cookie %q lacks %q", sc, want)
		}
	}
	if strings.Contains(sc, "Secure") {
		t.Fatalf("Secure on plain HTTP: %q", sc)
	}
}

func TestSecurityHeadersAndCrossOriginPost(t *testing.T) {
	e := newEnv(t)
	resp := e.get(e.browser(), "/login")
	h := resp.Header
	if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") ||
		strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "script-src 'self'") {
		t.Fatalf("CSP = %q", csp)
	}
	if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("Referrer-Policy") == "" || h.Get("X-Request-Id") == "" {
		t.Fatalf("headers: %v", h)
	}
	if h.Get("Strict-Transport-Security") != "" {
		t.Fatal("HSTS over plain HTTP")
	}
	c := e.login("admin@alpha.test")
	resp = e.post(c, "/users", url.Values{"email": {"evil@alpha.test"}, "role": {"admin"}, "password": {"evil-password-123"}},
		"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-site POST: %d", resp.StatusCode)
	}
	if _, err := e.store.UserForLogin(context.Background(), "evil@alpha.test"); err == nil {
		t.Fatal("cross-site POST created a user")
	}
}

func TestLanguageSwitchIsRemembered(t *testing.T) {
	e := newEnv(t)
	c := e.login("operator@alpha.test")
	resp := e.post(c, "/lang", url.Values{"lang": {"en"}, "back": {"/transactions?code=101"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/transactions?code=101" {
		t.Fatalf("lang switch: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	d := doc(t, e.get(c, "/"))
	if d.Find("html").AttrOr("lang", "") != "en" || !strings.Contains(d.Find(tid("nav")).Text(), "Failed payments") {
		t.Fatalf("not English after switch: %q", d.Find(tid("nav")).Text())
	}
	// Remembered on the user: a new browser session is English too.
	c2 := e.login("operator@alpha.test")
	if d := doc(t, e.get(c2, "/")); d.Find("html").AttrOr("lang", "") != "en" {
		t.Fatal("language not remembered for the user")
	}
	// An open redirect through "back" is refused.
	resp = e.post(c, "/lang", url.Values{"lang": {"zh-CN"}, "back": {"//evil.example/x"}})
	if loc := resp.Header.Get("Location"); loc != "/" {
		t.Fatalf("back=%q", loc)
	}
}

func TestHealthAndReadiness(t *testing.T) {
	e := newEnv(t)
	if resp := e.get(e.browser(), "/healthz"); resp.StatusCode != http.StatusOK {
		t.Fatal(resp.StatusCode)
	}
	if resp := e.get(e.browser(), "/readyz"); resp.StatusCode != http.StatusOK {
		t.Fatal(resp.StatusCode)
	}
}
