package handlers

import (
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

// Calls is the support team's phone worklist: a call task per payment (created by a
// phone notice, see jobs.NotifyWorker), with the script, the number revealed only on
// demand (audited), and the outcome.
type Calls struct{ Deps }

// Routes registers the worklist (operators and admins).
func (h *Calls) Routes() {
	g := h.App.Console.Group("/calls", web.RequireRole(domain.RoleOperator))
	g.GET("", h.List)
	g.POST("/:id/reveal", h.Reveal)
	g.POST("/:id/done", h.Done)
}

var callOutcomes = []string{"reached", "no_answer", "wrong_number", "callback"}

func (h *Calls) render(c echo.Context, status int, v views.CallsView) error {
	return web.Render(c, status, views.CallsPage(web.Shell(c, "calls", web.T(c, "calls.title")), v), nil)
}

// List shows open (or done) calls.
func (h *Calls) List(c echo.Context) error {
	status := c.QueryParam("status")
	if status != "done" {
		status = "open"
	}
	tasks, err := h.Store.CallTasks(c.Request().Context(), web.MerchantID(c), status)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.CallsView{Status: status, Tasks: tasks, Outcomes: callOutcomes})
}

func (h *Calls) task(c echo.Context) (domain.CallTask, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return domain.CallTask{}, web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	t, err := h.Store.CallTask(c.Request().Context(), web.MerchantID(c), id)
	if errors.Is(err, db.ErrNotFound) {
		return t, web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	return t, err
}

// Reveal shows the full number of one open call to the operator about to dial it.
// It is the one place a customer's phone is decrypted for a person, so it is audited.
func (h *Calls) Reveal(c echo.Context) error {
	t, err := h.task(c)
	if err != nil {
		return err
	}
	phone, _, err := h.Store.SealedContact(c.Request().Context(), web.MerchantID(c), t.TransactionID)
	if err != nil {
		return err
	}
	number, err := h.Sealer.Open(phone)
	if err != nil {
		return err
	}
	h.audit(c, "call.reveal", t.PlatformID, domain.AuditOK, nil)
	tasks, err := h.Store.CallTasks(c.Request().Context(), web.MerchantID(c), "open")
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.CallsView{Status: "open", Tasks: tasks, Outcomes: callOutcomes,
		Revealed: map[int64]string{t.ID: number}})
}

// Done records how the call went.
func (h *Calls) Done(c echo.Context) error {
	t, err := h.task(c)
	if err != nil {
		return err
	}
	outcome := c.FormValue("outcome")
	ok := false
	for _, o := range callOutcomes {
		ok = ok || o == outcome
	}
	notes := strings.TrimSpace(c.FormValue("notes"))
	if !ok || !validText(notes, 1000) {
		return web.Fail(http.StatusUnprocessableEntity, "invalid_outcome", "calls.err.outcome")
	}
	p := web.MustPrincipal(c)
	err = h.Store.CompleteCallTask(c.Request().Context(), p.Merchant.ID, t.ID, outcome, notes, p.Actor(), h.now())
	if errors.Is(err, db.ErrConflict) {
		return web.Fail(http.StatusConflict, "conflict", "calls.err.done")
	}
	if err != nil {
		return err
	}
	h.audit(c, "call.done", t.PlatformID, domain.AuditOK, map[string]any{"outcome": outcome})
	web.AddFlash(c, "ok", web.T(c, "calls.recorded"))
	return web.Redirect(c, "/calls")
}
