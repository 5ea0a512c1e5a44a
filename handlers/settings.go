package handlers

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"paymend/db"
	"paymend/domain"
	"paymend/views"
	"paymend/web"
)

// Settings is the admin's merchant configuration: webhook secrets and API keys.
type Settings struct{ Deps }

// Routes registers the admin-only settings routes.
func (h *Settings) Routes() {
	g := h.App.Console.Group("/settings", web.RequireRole(domain.RoleAdmin))
	g.GET("", h.Show)
	g.POST("/apikeys", h.CreateKey)
	g.POST("/apikeys/:id/revoke", h.RevokeKey)
	g.POST("/webhook/rotate", h.RotateSecret)
	g.POST("/webhook/finish", h.FinishRotation)
}

// NewAPIKeySecret returns a fresh API key: a recognisable prefix and 32 random bytes.
func NewAPIKeySecret() string { return "pm_live_" + web.RandomToken(32) }

// StoreAPIKey stores key (by hash) for the merchant.
func StoreAPIKey(ctx context.Context, s *db.Store, merchantID int64, name, key string, by *int64) (domain.APIKey, error) {
	prefix := key
	if len(prefix) > 12 {
		prefix = prefix[:12]
	}
	return s.CreateAPIKey(ctx, merchantID, name, prefix, web.HashAPIKey(key), by)
}

func (h *Settings) view(c echo.Context) (views.SettingsView, error) {
	p := web.MustPrincipal(c)
	ctx := c.Request().Context()
	keys, err := h.Store.APIKeys(ctx, p.Merchant.ID)
	if err != nil {
		return views.SettingsView{}, err
	}
	secrets, err := h.webhookSecrets(ctx, p.Merchant.ID)
	if err != nil {
		return views.SettingsView{}, err
	}
	pol, err := h.Store.RefundPolicy(ctx, p.Merchant.ID)
	if err != nil {
		return views.SettingsView{}, err
	}
	return views.SettingsView{Keys: keys, Secrets: secrets, Refunds: pol, Currency: p.Merchant.Currency,
		WebhookURL: h.BaseURL + "/webhooks/oulepay/" + p.Merchant.Code}, nil
}

// webhookSecrets opens the merchant's sealed webhook secrets, current first.
func (h *Settings) webhookSecrets(ctx context.Context, merchantID int64) ([]string, error) {
	return openSecrets(ctx, h.Store, h.Sealer, merchantID)
}

func openSecrets(ctx context.Context, s *db.Store, sealer *domain.Sealer, merchantID int64) ([]string, error) {
	sealed, err := s.WebhookSecrets(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(sealed))
	for _, v := range sealed {
		plain, err := sealer.Open(v)
		if err != nil {
			return nil, err
		}
		out = append(out, plain)
	}
	return out, nil
}

func (h *Settings) render(c echo.Context, status int, v views.SettingsView) error {
	return web.Render(c, status, views.SettingsPage(web.Shell(c, "settings", web.T(c, "settings.title")), v), nil)
}

// Show renders the settings page.
func (h *Settings) Show(c echo.Context) error {
	v, err := h.view(c)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, v)
}

// CreateKey creates an API key and shows it once.
func (h *Settings) CreateKey(c echo.Context) error {
	name := strings.TrimSpace(c.FormValue("name"))
	v, err := h.view(c)
	if err != nil {
		return err
	}
	if name == "" || !validText(name, 100) {
		v.KeyError = web.T(c, "settings.err.key_name")
		return h.render(c, http.StatusUnprocessableEntity, v)
	}
	p := web.MustPrincipal(c)
	key := NewAPIKeySecret()
	k, err := StoreAPIKey(c.Request().Context(), h.Store, p.Merchant.ID, name, key, p.UserID())
	if err != nil {
		return err
	}
	h.audit(c, "apikey.create", k.Name+" ("+k.Prefix+"…)", domain.AuditOK, nil)
	if v, err = h.view(c); err != nil {
		return err
	}
	v.NewKey = key
	return h.render(c, http.StatusOK, v)
}

// RevokeKey revokes a key at once.
func (h *Settings) RevokeKey(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	err = h.Store.RevokeAPIKey(c.Request().Context(), web.MerchantID(c), id, h.now())
	h.App.ForgetAPIKeys()
	if errors.Is(err, db.ErrNotFound) {
		return web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	if err != nil {
		return err
	}
	h.audit(c, "apikey.revoke", strconv.FormatInt(id, 10), domain.AuditOK, nil)
	web.AddFlash(c, "ok", web.T(c, "settings.key_revoked"))
	return web.Redirect(c, "/settings")
}

// RotateSecret makes a new webhook secret current and keeps the previous one valid
// until the platform has switched (FinishRotation).
func (h *Settings) RotateSecret(c echo.Context) error {
	ctx := c.Request().Context()
	mid := web.MerchantID(c)
	old, err := h.Store.WebhookSecrets(ctx, mid)
	if err != nil {
		return err
	}
	if len(old) > 1 {
		// A second rotation would drop the secret the platform may still sign with.
		web.AddFlash(c, "error", web.T(c, "settings.err.rotating"))
		return web.Redirect(c, "/settings")
	}
	sealed, err := h.Sealer.Seal("whsec_" + web.RandomToken(24))
	if err != nil {
		return err
	}
	keep := []string{sealed}
	if len(old) > 0 {
		keep = append(keep, old[0])
	}
	if err := h.Store.SetWebhookSecrets(ctx, mid, keep); err != nil {
		return err
	}
	h.audit(c, "settings.webhook_rotate", "", domain.AuditOK, nil)
	web.AddFlash(c, "ok", web.T(c, "settings.rotated"))
	return web.Redirect(c, "/settings")
}

// FinishRotation drops every secret but the current one.
func (h *Settings) FinishRotation(c echo.Context) error {
	ctx := c.Request().Context()
	mid := web.MerchantID(c)
	old, err := h.Store.WebhookSecrets(ctx, mid)
	if err != nil {
		return err
	}
	if len(old) > 1 {
		if err := h.Store.SetWebhookSecrets(ctx, mid, old[:1]); err != nil {
			return err
		}
		h.audit(c, "settings.webhook_finish", "", domain.AuditOK, nil)
	}
	return web.Redirect(c, "/settings")
}
