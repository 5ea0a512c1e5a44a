package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"paymend/db"
	"paymend/domain"
	"paymend/views"
	"paymend/web"
)

// Resolution moves failed payments through the guide's playbook: reason confirmed →
// customer notified → remedy offered → funds checked → closed.
type Resolution struct{ Deps }

// Routes registers the playbook actions (operators and admins).
func (h *Resolution) Routes() {
	g := h.App.Console.Group("/transactions", web.RequireRole(domain.RoleOperator))
	g.POST("/:id/resolution", h.Step)
	g.POST("/bulk-resolution", h.Bulk)
}

// Step applies one playbook action to one payment. The form names the state the
// operator saw; if someone else moved the case meanwhile, nothing changes and the
// operator is told.
func (h *Resolution) Step(c echo.Context) error {
	tx, err := h.loadTx(c)
	if err != nil {
		return err
	}
	if tx.FailedAt == nil {
		return web.Fail(http.StatusUnprocessableEntity, "not_failed", "playbook.err.not_failed")
	}
	p := web.MustPrincipal(c)
	action := domain.ResolutionAction(c.FormValue("action"))
	if !action.Valid() {
		return web.Fail(http.StatusUnprocessableEntity, "invalid_action", "playbook.err.action")
	}
	if action.AdminOnly() && !p.Role.AtLeast(domain.RoleAdmin) {
		return web.Fail(http.StatusForbidden, "forbidden", "error.forbidden")
	}
	from := domain.ResolutionState(tx.ResolutionState)
	if seen := c.FormValue("from"); seen != "" && seen != string(from) {
		return web.Fail(http.StatusConflict, "conflict", "playbook.err.stale")
	}
	to, err := domain.NextState(from, action)
	if err != nil {
		return web.Fail(http.StatusUnprocessableEntity, "illegal_transition", "playbook.err.illegal")
	}
	details := map[string]any{"from": from, "to": to, "action": action}
	if action == domain.DoOfferRemedy {
		remedy := domain.RemedyKind(c.FormValue("remedy"))
		if !remedy.Valid() {
			return web.Fail(http.StatusUnprocessableEntity, "invalid_remedy", "playbook.err.remedy")
		}
		details["remedy"] = remedy
	}
	note := strings.TrimSpace(c.FormValue("note"))
	if !validText(note, 1000) {
		return web.Fail(http.StatusUnprocessableEntity, "note_too_long", "playbook.err.note")
	}
	if note != "" {
		details["note"] = note
	}
	entry := domain.TimelineEntry{Kind: "resolution." + string(action), Actor: p.Actor(),
		Summary: fmt.Sprintf("%s: %s → %s", action, from, to), Details: mustMarshal(details)}
	err = h.Store.MoveResolution(c.Request().Context(), p.Merchant.ID, tx.ID, from, to, entry, h.now())
	if errors.Is(err, db.ErrConflict) {
		return web.Fail(http.StatusConflict, "conflict", "playbook.err.stale")
	}
	if err != nil {
		return err
	}
	h.audit(c, "transaction.resolution", tx.PlatformID, domain.AuditOK, details)
	web.AddFlash(c, "ok", web.T(c, "playbook.moved", to.Label(string(web.Lang(c)))))
	return web.Redirect(c, "/transactions/"+strconv.FormatInt(tx.ID, 10))
}

// Bulk applies one step to many selected payments of the merchant; payments for which
// the step is not allowed from their current state are skipped and counted.
func (h *Resolution) Bulk(c echo.Context) error {
	p := web.MustPrincipal(c)
	back := web.SafeBack(c.FormValue("back"))
	action := domain.ResolutionAction(c.FormValue("action"))
	allowed := false
	for _, a := range views.BulkActions {
		allowed = allowed || a == action
	}
	if !allowed {
		return web.Fail(http.StatusUnprocessableEntity, "invalid_action", "playbook.err.action")
	}
	form, err := c.FormParams()
	if err != nil {
		return web.Fail(http.StatusBadRequest, "invalid_request", "error.bad_request")
	}
	var ids []int64
	for _, s := range form["ids"] {
		if id, err := strconv.ParseInt(s, 10, 64); err == nil && id > 0 {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 || len(ids) > 500 {
		web.AddFlash(c, "error", web.T(c, "playbook.bulk_none"))
		return web.Redirect(c, back)
	}
	ctx := c.Request().Context()
	cands, err := h.Store.ResolutionCandidates(ctx, p.Merchant.ID, ids)
	if err != nil {
		return err
	}
	moved, skipped := 0, len(ids)-len(cands)
	for _, cand := range cands {
		from := domain.ResolutionState(cand.State)
		to, err := domain.NextState(from, action)
		if err != nil {
			skipped++
			continue
		}
		entry := domain.TimelineEntry{Kind: "resolution." + string(action), Actor: p.Actor(),
			Summary: fmt.Sprintf("%s (bulk): %s → %s", action, from, to),
			Details: mustMarshal(map[string]any{"from": from, "to": to, "action": action, "bulk": true})}
		err = h.Store.MoveResolution(ctx, p.Merchant.ID, cand.ID, from, to, entry, h.now())
		if errors.Is(err, db.ErrConflict) {
			skipped++
			continue
		}
		if err != nil {
			return err
		}
		moved++
	}
	h.audit(c, "transaction.bulk_resolution", string(action), domain.AuditOK,
		map[string]any{"requested": len(ids), "moved": moved, "skipped": skipped})
	web.AddFlash(c, "ok", web.T(c, "playbook.bulk_done", moved, skipped))
	return web.Redirect(c, back)
}
