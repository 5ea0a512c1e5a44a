package handlers

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"paymend/db"
	"paymend/domain"
	"paymend/i18n"
	"paymend/views"
	"paymend/web"
)

// Auth signs people in and out and remembers their language.
type Auth struct{ Deps }

// Routes registers the login, logout and language routes.
func (h *Auth) Routes() {
	a := h.App
	a.Public.GET("/login", h.LoginForm)
	a.Public.POST("/login", h.Login, a.RateLimit("login-ip", time.Minute, a.LoginPerMinute(), web.ClientIP))
	a.Public.POST("/logout", h.Logout)
	a.Public.POST("/lang", h.SetLang)
}

// LoginForm shows the login page, or sends a signed-in user on.
func (h *Auth) LoginForm(c echo.Context) error {
	if _, ok := web.PrincipalOf(c); ok {
		return c.Redirect(http.StatusSeeOther, web.SafeBack(c.QueryParam("next")))
	}
	return web.Render(c, http.StatusOK, views.LoginPage(views.LoginForm{Next: web.SafeBack(c.QueryParam("next"))}), nil)
}

// Login checks the credentials. Unknown address, wrong password, disabled and locked
// accounts all get the same answer, so the form tells an attacker nothing.
func (h *Auth) Login(c echo.Context) error {
	email := strings.ToLower(strings.TrimSpace(c.FormValue("email")))
	pw := c.FormValue("password")
	next := web.SafeBack(c.FormValue("next"))
	if next == "/login" {
		next = "/"
	}
	ctx := c.Request().Context()
	now := h.now()
	fail := func(reason string, u *domain.User) error {
		e := web.AuditEntry(c, "login", email, domain.AuditFailed)
		e.Actor = email
		mid := int64(0)
		if u != nil {
			mid, e.UserID = u.MerchantID, &u.ID
		}
		h.auditFor(c, mid, e, map[string]any{"reason": reason})
		return web.Render(c, http.StatusUnauthorized, views.LoginPage(views.LoginForm{
			Email: email, Next: next, Error: web.T(c, "login.failed")}), nil)
	}
	if email == "" || pw == "" || !validText(email, 254) || len(pw) > 256 {
		return fail("empty", nil)
	}
	u, err := h.Store.UserForLogin(ctx, email)
	if errors.Is(err, db.ErrNotFound) {
		web.CheckPassword("", pw)
		return fail("unknown_user", nil)
	}
	if err != nil {
		return err
	}
	if u.Locked(now) {
		web.CheckPassword("", pw)
		return fail("locked", &u)
	}
	if !web.CheckPassword(u.PasswordHash, pw) {
		locked, err := h.Store.RecordLoginFailure(ctx, u.MerchantID, u.ID, now)
		if err != nil {
			return err
		}
		reason := "bad_password"
		if locked {
			reason = "bad_password_locked"
		}
		return fail(reason, &u)
	}
	if u.DisabledAt != nil {
		return fail("disabled", &u)
	}
	if err := h.Store.RecordLoginSuccess(ctx, u.MerchantID, u.ID, now); err != nil {
		return err
	}
	if err := h.App.Login(c, u); err != nil {
		return err
	}
	e := web.AuditEntry(c, "login", email, domain.AuditOK)
	e.Actor, e.UserID = u.Email, &u.ID
	h.auditFor(c, u.MerchantID, e, nil)
	return c.Redirect(http.StatusSeeOther, next)
}

// Logout ends the session server-side.
func (h *Auth) Logout(c echo.Context) error {
	if p, ok := web.PrincipalOf(c); ok {
		h.audit(c, "logout", p.User.Email, domain.AuditOK, nil)
	}
	if err := h.App.Logout(c); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/login")
}

// SetLang switches the UI language, remembered in a cookie and on the user.
func (h *Auth) SetLang(c echo.Context) error {
	l, ok := i18n.Parse(c.FormValue("lang"))
	if !ok {
		return web.Fail(http.StatusBadRequest, "invalid_request", "error.bad_language")
	}
	c.SetCookie(&http.Cookie{Name: web.LangCookie, Value: string(l), Path: "/", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: h.App.SecureRequest(c.Request())})
	if p, ok := web.PrincipalOf(c); ok {
		if err := h.Store.SetUserLang(c.Request().Context(), p.Merchant.ID, p.User.ID, string(l)); err != nil {
			return err
		}
	}
	return c.Redirect(http.StatusSeeOther, web.SafeBack(c.FormValue("back")))
}
