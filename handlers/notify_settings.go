package handlers

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"paymend/db"
	"paymend/domain"
	"paymend/views"
	"paymend/web"
)

// NotifySettings is where an admin sets up channels, limits and automatic rules.
type NotifySettings struct{ Deps }

// Routes registers the admin-only notification settings.
func (h *NotifySettings) Routes() {
	g := h.App.Console.Group("/settings/notifications", web.RequireRole(domain.RoleAdmin))
	g.GET("", h.Show)
	g.POST("/channel", h.SaveChannel)
	g.POST("/policy", h.SavePolicy)
	g.POST("/rules", h.CreateRule)
	g.POST("/rules/:id/toggle", h.ToggleRule)
	g.POST("/test", h.Test)
}

// Test queues a test message on a channel to a recipient the admin gives; the send
// happens in a job and its outcome appears under "recent tests".
func (h *NotifySettings) Test(c echo.Context) error {
	ch, ok := parseChannel(c.FormValue("channel"))
	to := strings.TrimSpace(c.FormValue("to"))
	if !ok || !validText(to, 254) {
		return h.invalid(c, "test", "nsettings.err.test")
	}
	masked := to
	switch ch {
	case domain.NotifySMS:
		if !domain.ValidPhone(to) {
			return h.invalid(c, "test", "nsettings.err.test")
		}
		masked = domain.MaskPhone(to)
	case domain.NotifyEmail:
		if !domain.ValidEmail(to) {
			return h.invalid(c, "test", "nsettings.err.test")
		}
		masked = domain.MaskEmail(to)
	case domain.NotifyInApp:
		if to == "" {
			return h.invalid(c, "test", "nsettings.err.test")
		}
	}
	sealed, err := h.Sealer.Seal(to)
	if err != nil {
		return err
	}
	p := web.MustPrincipal(c)
	if err := h.Notices.EnqueueTest(c.Request().Context(), p.Merchant.ID, string(ch), sealed, masked, p.Actor()); err != nil {
		return err
	}
	web.AddFlash(c, "ok", web.T(c, "nsettings.test_queued", masked))
	return web.Redirect(c, "/settings/notifications")
}

func (h *NotifySettings) view(c echo.Context) (views.NotifySettingsView, error) {
	ctx := c.Request().Context()
	mid := web.MerchantID(c)
	v := views.NotifySettingsView{Channels: map[domain.NotifyChannel]domain.ChannelSettings{}, Errors: map[string]string{}}
	cs, err := h.Store.ChannelSettings(ctx, mid)
	if err != nil {
		return v, err
	}
	for _, s := range cs {
		if s.Secret != "" {
			s.Secret = "set" // never show a secret, only that one is stored
		}
		v.Channels[s.Channel] = s
	}
	if v.Policy, _, err = h.Store.NotifyPolicy(ctx, mid, false); err != nil {
		return v, err
	}
	if v.Rules, err = h.Store.NotifyRules(ctx, mid); err != nil {
		return v, err
	}
	v.Tests, _, err = h.Store.AuditLog(ctx, mid, db.AuditFilter{Action: "notification.test", Limit: 5})
	return v, err
}

func (h *NotifySettings) render(c echo.Context, status int, v views.NotifySettingsView) error {
	return web.Render(c, status, views.NotifySettingsPage(web.Shell(c, "settings", web.T(c, "nsettings.title")), v), nil)
}

// Show renders the page.
func (h *NotifySettings) Show(c echo.Context) error {
	v, err := h.view(c)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, v)
}

func (h *NotifySettings) invalid(c echo.Context, field, key string) error {
	v, err := h.view(c)
	if err != nil {
		return err
	}
	v.Errors[field] = web.T(c, key)
	return h.render(c, http.StatusUnprocessableEntity, v)
}

// SaveChannel stores one channel's settings; an empty secret keeps the stored one.
func (h *NotifySettings) SaveChannel(c echo.Context) error {
	ch, ok := parseChannel(c.FormValue("channel"))
	if !ok {
		return web.Fail(http.StatusUnprocessableEntity, "invalid_channel", "notice.err.channel")
	}
	cs := domain.ChannelSettings{Channel: ch, Enabled: c.FormValue("enabled") == "1"}
	field := string(ch)
	for _, f := range []string{"url", "host", "username", "from", "sender_id", "secret"} {
		if !validText(c.FormValue(f), 500) {
			return h.invalid(c, field, "nsettings.err.text")
		}
	}
	switch ch {
	case domain.NotifySMS, domain.NotifyInApp:
		cs.URL, cs.SenderID = strings.TrimSpace(c.FormValue("url")), strings.TrimSpace(c.FormValue("sender_id"))
		if u, err := url.Parse(cs.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return h.invalid(c, field, "nsettings.err.url")
		}
	case domain.NotifyEmail:
		cs.Host, cs.Username, cs.From = strings.TrimSpace(c.FormValue("host")), strings.TrimSpace(c.FormValue("username")), strings.TrimSpace(c.FormValue("from"))
		cs.Security = c.FormValue("security")
		if p := c.FormValue("port"); p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return h.invalid(c, field, "nsettings.err.port")
			}
			cs.Port = n
		}
		if cs.Host == "" || cs.From == "" || (cs.Security != "none" && cs.Security != "starttls" && cs.Security != "tls") {
			return h.invalid(c, field, "nsettings.err.email")
		}
	}
	sealed := ""
	if s := c.FormValue("secret"); s != "" {
		var err error
		if sealed, err = h.Sealer.Seal(s); err != nil {
			return err
		}
	}
	if err := h.Store.SaveChannelSettings(c.Request().Context(), web.MerchantID(c), cs, sealed); err != nil {
		return err
	}
	h.audit(c, "settings.channel", string(ch), domain.AuditOK, map[string]any{"enabled": cs.Enabled, "secret_changed": sealed != ""})
	web.AddFlash(c, "ok", web.T(c, "nsettings.saved"))
	return web.Redirect(c, "/settings/notifications")
}

// SavePolicy stores quiet hours and the daily cap.
func (h *NotifySettings) SavePolicy(c echo.Context) error {
	num := func(name string, lo, hi int) (int, bool) {
		n, err := strconv.Atoi(c.FormValue(name))
		return n, err == nil && n >= lo && n <= hi
	}
	qs, ok1 := num("quiet_start", 0, 23)
	qe, ok2 := num("quiet_end", 0, 23)
	cap, ok3 := num("daily_cap", 1, 50)
	if !ok1 || !ok2 || !ok3 {
		return h.invalid(c, "policy", "nsettings.err.policy")
	}
	p := domain.NotifyPolicy{QuietStart: qs, QuietEnd: qe, DailyCap: cap}
	if err := h.Store.SaveNotifyPolicy(c.Request().Context(), web.MerchantID(c), p); err != nil {
		return err
	}
	h.audit(c, "settings.notify_policy", "", domain.AuditOK, map[string]any{"quiet_start": qs, "quiet_end": qe, "daily_cap": cap})
	web.AddFlash(c, "ok", web.T(c, "nsettings.saved"))
	return web.Redirect(c, "/settings/notifications")
}

// CreateRule adds an automatic rule; it applies to failures from now on.
func (h *NotifySettings) CreateRule(c echo.Context) error {
	form, _ := c.FormParams()
	r := domain.NotifyRule{Name: strings.TrimSpace(c.FormValue("name")), Enabled: true,
		Code: strings.TrimSpace(c.FormValue("code")), Category: domain.Category(c.FormValue("category"))}
	for _, ch := range form["channels"] {
		if ch != "" {
			r.Channels = append(r.Channels, domain.NotifyChannel(ch))
		}
	}
	mins, err := strconv.Atoi(c.FormValue("delay_minutes"))
	if err != nil {
		mins = -1
	}
	r.Delay = time.Duration(mins) * time.Minute
	if !validText(r.Name, 100) || r.Validate() != nil {
		return h.invalid(c, "rule", "nsettings.err.rule")
	}
	ctx := c.Request().Context()
	mid := web.MerchantID(c)
	err = h.Store.InTx(ctx, func(tx *db.Store) error {
		if _, err := tx.CreateNotifyRule(ctx, mid, r); err != nil {
			return err
		}
		return tx.InitNotifyWatermark(ctx, mid)
	})
	if err != nil {
		return err
	}
	h.audit(c, "settings.notify_rule", r.Name, domain.AuditOK, map[string]any{"code": r.Code, "category": r.Category,
		"channels": r.Channels, "delay_minutes": mins})
	web.AddFlash(c, "ok", web.T(c, "nsettings.rule_created"))
	return web.Redirect(c, "/settings/notifications")
}

// ToggleRule switches a rule on or off.
func (h *NotifySettings) ToggleRule(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	ctx := c.Request().Context()
	mid := web.MerchantID(c)
	rules, err := h.Store.NotifyRules(ctx, mid)
	if err != nil {
		return err
	}
	for _, r := range rules {
		if r.ID == id {
			if err := h.Store.SetNotifyRuleEnabled(ctx, mid, id, !r.Enabled); err != nil {
				return err
			}
			h.audit(c, "settings.notify_rule_toggle", r.Name, domain.AuditOK, map[string]any{"enabled": !r.Enabled})
			return web.Redirect(c, "/settings/notifications")
		}
	}
	return web.Fail(http.StatusNotFound, "not_found", "error.not_found")
}
