package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"paymend/domain"
	"paymend/i18n"
	"paymend/static"
)

// Config is what the web stack is built from.
type Config struct {
	Backend Backend
	Secret  []byte // PAYMEND_SECRET: session hashing and signed links
	Logger  *slog.Logger
	Now     func() time.Time
	// LoginPerMinute caps POST /login per client IP (default 20).
	LoginPerMinute int
	// APIPerMinute caps API calls per key (default 6000).
	APIPerMinute int
	// SecureCookies marks cookies Secure and sends HSTS even when TLS ends at a proxy
	// in front (set when PAYMEND_BASE_URL is https).
	SecureCookies bool
	// TrustProxy takes the client address from X-Forwarded-For (only behind a proxy
	// that sets it), so per-IP limits see clients, not the proxy.
	TrustProxy bool
}

// App is the assembled HTTP stack and its route groups.
type App struct {
	Echo     *echo.Echo
	Sessions *PGStore
	// Public routes need no login; Console routes need a session; API routes an API key.
	Public, Console, API *echo.Group
	cfg                  Config
	log                  *slog.Logger
	largeBody            map[string]bool // routes that enforce their own body limit
	now                  func() time.Time
	// apiKeys remembers, for APIKeyCacheTTL, a presented key's record and merchant by
	// the key's hash: two statements fewer on every API call. Revoking a key clears
	// it here at once; other replicas notice within the TTL.
	apiKeys sync.Map // hash → apiKeyHit
}

// APIKeyCacheTTL is how long a replica trusts a looked-up API key.
const APIKeyCacheTTL = 2 * time.Second

type apiKeyHit struct {
	key   domain.APIKey
	m     domain.Merchant
	until time.Time
}

// ForgetAPIKeys drops the remembered API keys (after a revocation).
func (a *App) ForgetAPIKeys() { a.apiKeys.Clear() }

// apiKey returns the live key for a hash and its merchant, from memory when fresh.
func (a *App) apiKey(ctx context.Context, hash string) (domain.APIKey, domain.Merchant, error) {
	if v, ok := a.apiKeys.Load(hash); ok {
		if hit := v.(apiKeyHit); time.Now().Before(hit.until) {
			return hit.key, hit.m, nil
		}
	}
	k, err := a.cfg.Backend.APIKeyByHash(ctx, hash, a.now())
	if err != nil {
		return k, domain.Merchant{}, err
	}
	m, err := a.cfg.Backend.Merchant(ctx, k.MerchantID)
	if err != nil {
		return k, m, err
	}
	a.apiKeys.Store(hash, apiKeyHit{key: k, m: m, until: time.Now().Add(APIKeyCacheTTL)})
	return k, m, nil
}

const sessionKey = "paymend.session"

// New assembles Echo with PayMend's middleware. Handlers add their routes to the groups.
func New(cfg Config) *App {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return time.Now().UTC() }
	}
	if cfg.LoginPerMinute == 0 {
		cfg.LoginPerMinute = 20
	}
	if cfg.APIPerMinute == 0 {
		cfg.APIPerMinute = 6000
	}
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = echo.ExtractIPDirect()
	if cfg.TrustProxy {
		e.IPExtractor = echo.ExtractIPFromXFFHeader()
	}
	a := &App{Echo: e, cfg: cfg, log: cfg.Logger, now: cfg.Now, largeBody: map[string]bool{}}
	secure := func(r *http.Request) bool { return cfg.SecureCookies || isTLS(r) }
	a.Sessions = NewPGStore(cfg.Backend, cfg.Secret, secure, cfg.Now)
	e.HTTPErrorHandler = a.ErrorHandler

	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := langFromRequest(r)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(i18n.T(l, "error.cross_origin")))
	}))

	e.Use(a.recover)
	e.Use(middleware.RequestIDWithConfig(middleware.RequestIDConfig{Generator: func() string { return RandomToken(9) }}))
	e.Use(securityHeaders(secure))
	e.Use(a.accessLog)
	e.Use(echo.WrapMiddleware(cop.Handler))
	e.Use(detectLang)

	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok") })
	e.GET("/readyz", a.ready)
	e.GET("/static/*", echo.WrapHandler(http.StripPrefix("/static/", staticHandler())))

	limit := middleware.BodyLimitWithConfig(middleware.BodyLimitConfig{Limit: "1M",
		Skipper: func(c echo.Context) bool { return a.largeBody[c.Path()] }})
	a.Public = e.Group("", limit, a.optionalSession)
	a.Console = e.Group("", limit, a.requireSession)
	a.API = e.Group("/api/v1", limit, a.requireAPIKey)
	return a
}

func staticHandler() http.Handler {
	fs := http.FileServerFS(static.FS)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("v") != "" {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		}
		fs.ServeHTTP(w, r)
	})
}

func isTLS(r *http.Request) bool { return r.TLS != nil }

// securityHeaders sets the headers every response carries.
func securityHeaders(secure func(*http.Request) bool) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			h := c.Response().Header()
			h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
				"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("X-Frame-Options", "DENY")
			h.Set("Referrer-Policy", "same-origin")
			h.Set("Cross-Origin-Opener-Policy", "same-origin")
			h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
			if secure(c.Request()) {
				h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
			}
			if !strings.HasPrefix(c.Request().URL.Path, "/static/") {
				h.Set("Cache-Control", "no-store")
			}
			return next(c)
		}
	}
}

// recover turns a panic into a logged 500 instead of a dropped connection.
func (a *App) recover(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if r == http.ErrAbortHandler {
					panic(r)
				}
				a.log.Error("panic", "panic", r, "path", c.Request().URL.Path, "request_id", RequestID(c))
				err = errors.New("panic")
			}
		}()
		return next(c)
	}
}

// accessLog writes one structured line per request. It never logs query strings,
// bodies or headers, which may carry tokens or customer data.
func (a *App) accessLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		if c.Request().URL.Path == "/healthz" || strings.HasPrefix(c.Request().URL.Path, "/static/") {
			return nil
		}
		attrs := []any{"method", c.Request().Method, "route", c.Path(), "status", c.Response().Status,
			"ms", time.Since(start).Milliseconds(), "request_id", RequestID(c), "ip", c.RealIP()}
		if p, ok := PrincipalOf(c); ok {
			attrs = append(attrs, "merchant", p.Merchant.ID)
		}
		a.log.Info("http", attrs...)
		return nil
	}
}

func (a *App) ready(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), 2*time.Second)
	defer cancel()
	if err := a.cfg.Backend.Ping(ctx); err != nil {
		return c.String(http.StatusServiceUnavailable, "database unavailable")
	}
	return c.String(http.StatusOK, "ready")
}

// LangCookie remembers the chosen UI language for visitors who are not signed in.
const LangCookie = "pm_lang"

// langFromRequest is the language before we know the user: the remembered choice,
// else zh-CN. The console deliberately ignores Accept-Language: its users are the
// merchant's operators and Chinese is their default.
func langFromRequest(r *http.Request) i18n.Lang {
	if ck, err := r.Cookie(LangCookie); err == nil {
		if l, ok := i18n.Parse(ck.Value); ok {
			return l
		}
	}
	return i18n.Default
}

func detectLang(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		setLang(c, langFromRequest(c.Request()))
		return next(c)
	}
}

// loadSession attaches the session's principal, if any. It returns an error only when
// the database could not be asked.
func (a *App) loadSession(c echo.Context) (bool, error) {
	sess, err := a.Sessions.Get(c.Request(), SessionCookie)
	if err != nil {
		return false, Fail(http.StatusServiceUnavailable, "unavailable", "error.unavailable")
	}
	c.Set(sessionKey, sess)
	if sess.IsNew {
		return false, nil
	}
	rec, ok := sess.Values["_rec"].(*domain.Session)
	if !ok {
		return false, nil
	}
	u, m := rec.User, rec.Merchant
	if u.DisabledAt != nil {
		// A disabled user's sessions end at once, even one opened before.
		sess.Options.MaxAge = -1
		_ = sess.Save(c.Request(), c.Response())
		return false, nil
	}
	p := Principal{User: u, Merchant: m, Role: u.Role, Session: rec}
	c.Set(principalKey, p)
	if l, ok := i18n.Parse(u.Lang); ok {
		setLang(c, l)
	}
	return true, nil
}

func (a *App) optionalSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if _, err := a.loadSession(c); err != nil {
			return err
		}
		return next(c)
	}
}

func (a *App) requireSession(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ok, err := a.loadSession(c)
		if err != nil {
			return err
		}
		if !ok {
			dest := "/login"
			if c.Request().Method == http.MethodGet && c.Request().URL.Path != "/" {
				dest += "?next=" + url.QueryEscape(c.Request().URL.RequestURI())
			}
			return Redirect(c, dest)
		}
		return next(c)
	}
}

// SessionOf returns the request's gorilla session (nil on API routes).
func SessionOf(c echo.Context) *sessions.Session {
	s, _ := c.Get(sessionKey).(*sessions.Session)
	return s
}

// Login starts a fresh session for u (a new id every time, so a session fixed before
// login is useless) and ends the one the request came with.
func (a *App) Login(c echo.Context, u domain.User) error {
	if old := SessionOf(c); old != nil && !old.IsNew {
		old.Options.MaxAge = -1
		if err := old.Save(c.Request(), c.Response()); err != nil {
			return err
		}
	}
	sess, err := a.Sessions.New(c.Request(), SessionCookie)
	if err != nil {
		return err
	}
	sess.ID, sess.IsNew = "", true
	for k := range sess.Values {
		delete(sess.Values, k)
	}
	sess.Values[sessUserID] = u.ID
	sess.Values[sessMerchantID] = u.MerchantID
	if err := a.Sessions.Save(c.Request(), c.Response(), sess); err != nil {
		return err
	}
	c.Set(sessionKey, sess)
	return nil
}

// Logout deletes the request's session server-side and clears the cookie.
func (a *App) Logout(c echo.Context) error {
	sess := SessionOf(c)
	if sess == nil || sess.IsNew {
		return nil
	}
	sess.Options.MaxAge = -1
	return sess.Save(c.Request(), c.Response())
}

// RequireRole refuses the route to principals below min with 403.
func RequireRole(min domain.Role) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			p, ok := PrincipalOf(c)
			if !ok || !p.Role.AtLeast(min) {
				return Fail(http.StatusForbidden, "forbidden", "error.forbidden")
			}
			return next(c)
		}
	}
}

// HashAPIKey is how API keys are stored and looked up.
func HashAPIKey(key string) string {
	s := sha256.Sum256([]byte(key))
	return hex.EncodeToString(s[:])
}

// requireAPIKey authenticates "Authorization: Bearer <key>"; a key acts with operator
// rights for its merchant.
func (a *App) requireAPIKey(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		auth := c.Request().Header.Get(echo.HeaderAuthorization)
		key, ok := strings.CutPrefix(auth, "Bearer ")
		if !ok || key == "" || len(key) > 200 {
			return Fail(http.StatusUnauthorized, "unauthorized", "api.unauthorized")
		}
		k, m, err := a.apiKey(c.Request().Context(), HashAPIKey(strings.TrimSpace(key)))
		if errors.Is(err, domain.ErrNotFound) {
			return Fail(http.StatusUnauthorized, "unauthorized", "api.unauthorized")
		}
		if err != nil {
			return Fail(http.StatusServiceUnavailable, "unavailable", "error.unavailable")
		}
		okRate, err := a.cfg.Backend.HitRateLimit(c.Request().Context(), "api:"+HashAPIKey(key)[:16], time.Minute, a.cfg.APIPerMinute, a.now())
		if err == nil && !okRate {
			return Fail(http.StatusTooManyRequests, "rate_limited", "error.rate_limited")
		}
		c.Set(principalKey, Principal{Merchant: m, Role: domain.RoleOperator, APIKey: &k})
		if l, ok := i18n.Parse(c.Request().Header.Get("Accept-Language")); ok {
			setLang(c, l)
		} else {
			setLang(c, i18n.EN)
		}
		return next(c)
	}
}

// RateLimit allows limit requests per window for the key the function derives from
// the request (e.g. the client IP); counters live in the database.
func (a *App) RateLimit(prefix string, window time.Duration, limit int, key func(echo.Context) string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ok, err := a.cfg.Backend.HitRateLimit(c.Request().Context(), prefix+":"+key(c), window, limit, a.now())
			if err != nil {
				return Fail(http.StatusServiceUnavailable, "unavailable", "error.unavailable")
			}
			if !ok {
				c.Response().Header().Set("Retry-After", itoa(int(window.Seconds())))
				return Fail(http.StatusTooManyRequests, "rate_limited", "error.rate_limited")
			}
			return next(c)
		}
	}
}

// OwnBodyLimit exempts a route from the 1 MB default body limit; the handler must
// enforce its own (uploads). Call it while registering routes.
func (a *App) OwnBodyLimit(route string) { a.largeBody[route] = true }

// LoginPerMinute is the configured per-IP login limit.
func (a *App) LoginPerMinute() int { return a.cfg.LoginPerMinute }

// SecureRequest reports whether cookies for r must be Secure.
func (a *App) SecureRequest(r *http.Request) bool { return a.cfg.SecureCookies || isTLS(r) }

// Now is the stack's clock.
func (a *App) Now() time.Time { return a.now() }

// Secret is the key for signed links.
func (a *App) Secret() []byte { return a.cfg.Secret }
