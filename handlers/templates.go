package handlers

import (
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"

	"paymend/db"
	"paymend/domain"
	"paymend/views"
	"paymend/web"
)

// Templates lets an admin rewrite the notification texts per code, category and
// channel; a merchant's template replaces the shipped one with the same key.
type Templates struct{ Deps }

// Routes registers the admin-only template editor.
func (h *Templates) Routes() {
	g := h.App.Console.Group("/settings/templates", web.RequireRole(domain.RoleAdmin))
	g.GET("", h.List)
	g.GET("/:key", h.Edit)
	g.POST("/:key", h.Save)
	g.POST("/:key/reset", h.Reset)
}

func (h *Templates) load(c echo.Context) ([]domain.MessageTemplate, map[string]bool, error) {
	ctx := c.Request().Context()
	mid := web.MerchantID(c)
	own, err := h.Store.MessageTemplates(ctx, mid)
	if err != nil {
		return nil, nil, err
	}
	custom := map[string]bool{}
	for _, t := range own {
		custom[t.Key] = true
	}
	return domain.MergeTemplates(domain.DefaultTemplates(), own), custom, nil
}

// List shows every template with a mark on the merchant's own.
func (h *Templates) List(c echo.Context) error {
	ts, custom, err := h.load(c)
	if err != nil {
		return err
	}
	return web.Render(c, http.StatusOK, views.TemplatesPage(web.Shell(c, "settings", web.T(c, "tpl.title")),
		views.TemplatesView{Templates: ts, Custom: custom}), nil)
}

func (h *Templates) find(c echo.Context) (domain.MessageTemplate, bool, error) {
	ts, custom, err := h.load(c)
	if err != nil {
		return domain.MessageTemplate{}, false, err
	}
	for _, t := range ts {
		if t.Key == c.Param("key") {
			return t, custom[t.Key], nil
		}
	}
	return domain.MessageTemplate{}, false, web.Fail(http.StatusNotFound, "not_found", "error.not_found")
}

func (h *Templates) render(c echo.Context, status int, t domain.MessageTemplate, custom bool, errs map[string]string) error {
	v := views.TemplateEditView{T: t, Custom: custom, Errors: errs}
	if len(errs) == 0 {
		_, v.PreviewZH, _ = domain.RenderMessage(t, "zh-CN", domain.SampleMessageVars("zh-CN"))
		_, v.PreviewEN, _ = domain.RenderMessage(t, "en", domain.SampleMessageVars("en"))
		v.CharsZH, v.SegmentsZH = domain.SMSSegments(v.PreviewZH)
	}
	return web.Render(c, status, views.TemplateEditPage(web.Shell(c, "settings", t.Key), v), nil)
}

// Edit shows one template with a preview on sample values.
func (h *Templates) Edit(c echo.Context) error {
	t, custom, err := h.find(c)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, t, custom, nil)
}

// Save validates and stores the merchant's version (audited).
func (h *Templates) Save(c echo.Context) error {
	t, _, err := h.find(c)
	if err != nil {
		return err
	}
	t.Subject = domain.Text{ZH: c.FormValue("subject_zh"), EN: c.FormValue("subject_en")}
	t.Body = domain.Text{ZH: c.FormValue("body_zh"), EN: c.FormValue("body_en")}
	if err := domain.ValidateMessageTemplate(t); err != nil {
		var te *domain.TemplateError
		msg := web.T(c, "error.bad_request")
		field := "form"
		if errors.As(err, &te) {
			msg, field = te.Msg.In(string(web.Lang(c))), te.Field
			if field == "" {
				field = "body"
			}
		}
		return h.render(c, http.StatusUnprocessableEntity, t, false, map[string]string{field: msg})
	}
	if err := h.Store.SaveMessageTemplate(c.Request().Context(), web.MerchantID(c), t); err != nil {
		return err
	}
	h.audit(c, "settings.template", t.Key, domain.AuditOK, nil)
	web.AddFlash(c, "ok", web.T(c, "nsettings.saved"))
	return web.Redirect(c, "/settings/templates/"+t.Key)
}

// Reset drops the merchant's version; the shipped template applies again.
func (h *Templates) Reset(c echo.Context) error {
	key := c.Param("key")
	err := h.Store.DeleteMessageTemplate(c.Request().Context(), web.MerchantID(c), key)
	if errors.Is(err, db.ErrNotFound) {
		return web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	if err != nil {
		return err
	}
	h.audit(c, "settings.template_reset", key, domain.AuditOK, nil)
	return web.Redirect(c, "/settings/templates/"+key)
}
