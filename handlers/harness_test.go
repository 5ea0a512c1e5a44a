package handlers_test

import (
	"context"
	"errors"
	"io"
	stdlog "log"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"golang.org/x/crypto/bcrypt"

	"paymend/db"
	"paymend/db/dbtest"
	"paymend/domain"
	"paymend/handlers"
	"paymend/jobs"
	"paymend/platform"
	"paymend/platform/sandbox"
	"paymend/web"
)

const testPassword = "correct-horse-battery-staple"

// testHash is computed once and at bcrypt's lowest cost: the stored hash carries its
// cost, so logins in tests stay fast while production hashes use web.HashPassword.
var testHash = sync.OnceValue(func() string {
	h, err := bcrypt.GenerateFromPassword([]byte(testPassword), bcrypt.MinCost)
	if err != nil {
		panic(err)
	}
	return string(h)
})

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// env is a running console on a fresh database with two merchants, "alpha" and
// "beta", each with an admin, an operator and a viewer.
type env struct {
	t      testing.TB
	srv    *httptest.Server
	store  *db.Store
	sealer *domain.Sealer
	clock  *clock
	app    *web.App
	m      map[string]domain.Merchant
	users  map[string]domain.User // by e-mail
	secret map[string]string      // merchant code → webhook secret
	jobs   *jobs.Runner
	// platform is the sandbox OulePay platform the jobs talk to (refunds, queries).
	platform    *sandbox.Sandbox
	platformSrv *httptest.Server
	loseAnswers atomic.Int32 // refund answers the proxy in front of the platform drops
	// onRefundAnswer (a func()) runs when the platform's answer to a refund passes
	// the proxy, before the console sees it.
	onRefundAnswer atomic.Value
}

type envOpt func(*web.Config)

// newEnvB is newEnv for benchmarks.
func newEnvB(b *testing.B) *env {
	b.Helper()
	d, _ := dbtest.New(b)
	return newEnvOn(b, db.New(d))
}

func newEnv(t *testing.T, opts ...envOpt) *env {
	t.Helper()
	d, _ := dbtest.New(t)
	store := db.New(d)
	return newEnvOn(t, store, opts...)
}

func newEnvOn(t testing.TB, store *db.Store, opts ...envOpt) *env {
	t.Helper()
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i + 1)
	}
	sealer, err := domain.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: store, sealer: sealer, clock: &clock{t: time.Now().UTC()},
		m: map[string]domain.Merchant{}, users: map[string]domain.User{}, secret: map[string]string{}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg := web.Config{Backend: store, Secret: []byte("test-secret-test-secret-test-secret!!"), Logger: log,
		Now: e.clock.Now, LoginPerMinute: 1000}
	for _, o := range opts {
		o(&cfg)
	}
	e.app = web.New(cfg)
	e.srv = httptest.NewServer(e.app.Echo)
	t.Cleanup(e.srv.Close)
	// The platform: a sandbox that sends its webhooks to this console, signed with the
	// secrets the merchants below get.
	e.platform = sandbox.New(sandbox.Config{ConsoleURL: e.srv.URL, Logger: log, RefundDelay: 50 * time.Millisecond,
		WebhookBackoff: 50 * time.Millisecond, TimeoutThenSuccess: 300 * time.Millisecond, SlowDelay: 300 * time.Millisecond,
		HangTimeout: 2 * time.Second,
		Secrets:     map[string][]byte{"alpha": []byte("whsec_alpha_secret"), "beta": []byte("whsec_beta_secret")}})
	e.platformSrv = httptest.NewServer(e.platform.Handler())
	// The console reaches the platform through a proxy that can lose the platform's
	// answer to a refund after the platform acted on it (the "did it go through?" case).
	target, _ := url.Parse(e.platformSrv.URL)
	front := httputil.NewSingleHostReverseProxy(target)
	front.ModifyResponse = func(r *http.Response) error {
		if r.Request.Method == http.MethodPost && r.Request.URL.Path == "/v1/refunds" {
			if h, _ := e.onRefundAnswer.Load().(func()); h != nil {
				h()
			}
			if e.loseAnswers.Add(-1) >= 0 {
				return errors.New("answer lost on the way back")
			}
		}
		return nil
	}
	front.ErrorLog = stdlog.New(io.Discard, "", 0)
	frontSrv := httptest.NewServer(front)
	t.Cleanup(func() { frontSrv.Close(); e.platformSrv.Close(); e.platform.Close() })
	pc := platform.New(frontSrv.URL, "sandbox", platform.WithAttemptTimeout(500*time.Millisecond),
		platform.WithBackoff(20*time.Millisecond), platform.WithMaxAttempts(2))
	runner, err := jobs.Start(context.Background(), jobs.Config{DB: store.DB().DB, Store: store, Sealer: sealer, Log: log,
		Now: e.clock.Now, FetchPoll: 100 * time.Millisecond, RulesEvery: 500 * time.Millisecond, Platform: pc,
		RefundRetry: 100 * time.Millisecond, RefundPoll: 200 * time.Millisecond, BaseURL: e.srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		runner.Stop(ctx)
	})
	e.jobs = runner
	handlers.Register(handlers.Deps{App: e.app, Store: store, Sealer: sealer, Log: log, BaseURL: e.srv.URL, Notices: runner,
		Refunds: runner, Recons: runner})
	ctx := context.Background()
	hash := testHash()
	for _, code := range []string{"alpha", "beta"} {
		secret := "whsec_" + code + "_secret"
		sealed, _ := sealer.Seal(secret)
		m, err := store.CreateMerchant(ctx, domain.Merchant{Code: code, Name: code + " 商店"}, []string{sealed})
		if err != nil {
			t.Fatal(err)
		}
		e.m[code], e.secret[code] = m, secret
		for _, r := range domain.Roles {
			email := string(r) + "@" + code + ".test"
			u, err := store.CreateUser(ctx, m.ID, domain.User{Email: email, Role: r, PasswordHash: hash})
			if err != nil {
				t.Fatal(err)
			}
			e.users[email] = u
		}
	}
	return e
}

// browser is a cookie-keeping client that does not follow redirects.
func (e *env) browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// login returns a browser signed in as email.
func (e *env) login(email string) *http.Client {
	e.t.Helper()
	c := e.browser()
	resp := e.post(c, "/login", url.Values{"email": {email}, "password": {testPassword}})
	if resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("login %s: status %d", email, resp.StatusCode)
	}
	return c
}

func (e *env) get(c *http.Client, path string, hdr ...string) *http.Response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

func (e *env) post(c *http.Client, path string, form url.Values, hdr ...string) *http.Response {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

// doc parses a response body as HTML and closes it.
func doc(t *testing.T, resp *http.Response) *goquery.Document {
	t.Helper()
	defer resp.Body.Close()
	d, err := goquery.NewDocumentFromReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func tid(id string) string { return `[data-testid="` + id + `"]` }
