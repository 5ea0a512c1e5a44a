// Package web assembles PayMend's HTTP stack on Echo: sessions, authentication,
// tenancy, CSRF protection, security headers, request ids, logging, rate limits,
// rendering and error pages.
package web

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"paymend/domain"
	"paymend/i18n"
)

// Principal is who a request acts for: a signed-in user or an API key, always bound to
// exactly one merchant.
type Principal struct {
	User     domain.User
	Merchant domain.Merchant
	Role     domain.Role
	APIKey   *domain.APIKey
	Session  *domain.Session
}

// Actor names the principal in the audit log.
func (p Principal) Actor() string {
	if p.APIKey != nil {
		return "api:" + p.APIKey.Name
	}
	return p.User.Email
}

// UserID is the acting user's id, nil for API keys.
func (p Principal) UserID() *int64 {
	if p.APIKey != nil || p.User.ID == 0 {
		return nil
	}
	id := p.User.ID
	return &id
}

const principalKey = "paymend.principal"

// PrincipalOf returns the request's principal; ok is false on public routes.
func PrincipalOf(c echo.Context) (Principal, bool) {
	p, ok := c.Get(principalKey).(Principal)
	return p, ok
}

// MustPrincipal returns the principal of an authenticated route. Routes behind
// RequireSession/RequireAPIKey always have one.
func MustPrincipal(c echo.Context) Principal {
	p, _ := PrincipalOf(c)
	return p
}

// MerchantID is the tenant every store call of this request is scoped to.
func MerchantID(c echo.Context) int64 { return MustPrincipal(c).Merchant.ID }

// Lang is the request's UI language.
func Lang(c echo.Context) i18n.Lang { return i18n.FromContext(c.Request().Context()) }

// T translates key into the request's language.
func T(c echo.Context, key string, args ...any) string { return i18n.T(Lang(c), key, args...) }

// RequestID returns the request's id (also in the X-Request-Id header).
func RequestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}

// ClientIP returns the client address as Echo's configured IP extractor sees it.
func ClientIP(c echo.Context) string { return c.RealIP() }

// AuditEntry prefills an audit entry with who, from where and which request.
func AuditEntry(c echo.Context, action, target, result string) domain.AuditEntry {
	p, _ := PrincipalOf(c)
	e := domain.AuditEntry{Action: action, Target: target, Result: result, IP: ClientIP(c),
		RequestID: RequestID(c), At: time.Now().UTC()}
	if p.Merchant.ID != 0 {
		e.Actor = p.Actor()
		e.UserID = p.UserID()
	}
	return e
}

func setLang(c echo.Context, l i18n.Lang) {
	r := c.Request()
	c.SetRequest(r.WithContext(i18n.WithLang(r.Context(), l)))
}

// Backend is what the web stack needs from storage. *db.Store satisfies it.
type Backend interface {
	SessionByID(ctx context.Context, id string, now time.Time) (domain.Session, error)
	CreateSession(ctx context.Context, merchantID int64, s domain.Session) error
	TouchSession(ctx context.Context, merchantID int64, id string, now, expires time.Time) error
	SaveSessionData(ctx context.Context, merchantID int64, id string, data []byte) error
	DeleteSession(ctx context.Context, id string) error
	APIKeyByHash(ctx context.Context, hash string, now time.Time) (domain.APIKey, error)
	Merchant(ctx context.Context, merchantID int64) (domain.Merchant, error)
	HitRateLimit(ctx context.Context, key string, window time.Duration, limit int, now time.Time) (bool, error)
	Audit(ctx context.Context, merchantID int64, e domain.AuditEntry, details map[string]any) error
	Ping(ctx context.Context) error
}

// IsHTMX reports whether the request came from htmx and wants a fragment (not a
// boosted navigation, not a history restore).
func IsHTMX(r *http.Request) bool {
	return r.Header.Get("HX-Request") == "true" && r.Header.Get("HX-Boosted") == "" &&
		r.Header.Get("HX-History-Restore-Request") == ""
}
