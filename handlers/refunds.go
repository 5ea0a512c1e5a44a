package handlers

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"paymend/db"
	"paymend/domain"
	"paymend/views"
	"paymend/web"
)

// RefundQueue inserts a refund's submit job inside the transaction that made the
// refund ready. jobs.Runner implements it; main wires it in.
type RefundQueue interface {
	EnqueueRefund(ctx context.Context, tx *sql.Tx, merchantID, refundID int64) error
}

// Refunds gives money back: from a payment's page, the refunds list (with
// approvals) and the API. Every refund goes to the platform from a job, once.
type Refunds struct{ Deps }

// Routes registers the refund pages, actions and API.
func (h *Refunds) Routes() {
	op := web.RequireRole(domain.RoleOperator)
	admin := web.RequireRole(domain.RoleAdmin)
	h.App.Console.GET("/refunds", h.List)
	h.App.Console.POST("/transactions/:id/refunds", h.Create, op)
	h.App.Console.POST("/refunds/:id/approve", h.Approve, admin)
	h.App.Console.POST("/refunds/:id/reject", h.Reject, admin)
	h.App.Console.POST("/refunds/:id/retry", h.Retry, op)
	h.App.Console.POST("/settings/refunds", h.SavePolicy, admin)
	h.App.API.POST("/refunds", h.APICreate)
	h.App.API.GET("/refunds/:id", h.APIGet)
}

// enqueue hands a ready refund to the job queue inside its transaction.
func (d Deps) enqueueRefund(ctx context.Context, tx *db.Store, r domain.Refund) error {
	if d.Refunds == nil {
		return errors.New("refunds: no job queue configured")
	}
	return d.Refunds.EnqueueRefund(ctx, tx.Tx(), r.MerchantID, r.ID)
}

// refundProblem turns a refusal into the user's language (flash or API error).
func refundProblem(err error) *web.Problem {
	var p *domain.RefundProblem
	switch {
	case errors.As(err, &p):
		return web.Fail(http.StatusUnprocessableEntity, p.Code, p.Key, p.Args...)
	case errors.Is(err, db.ErrKeyReused):
		return web.Fail(http.StatusConflict, "idempotency_key_reused", "refund.err.key_reused")
	case errors.Is(err, db.ErrNotApprover):
		return web.Fail(http.StatusForbidden, "not_approver", "refund.err.not_approver")
	case errors.Is(err, db.ErrConflict):
		return web.Fail(http.StatusConflict, "conflict", "refund.err.stale")
	case errors.Is(err, db.ErrNotFound):
		return web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	return nil
}

// Create asks for a refund of a payment from its page. The form carries a one-time
// key, so double clicks and resubmits make one refund.
func (h *Refunds) Create(c echo.Context) error {
	tx, err := h.loadTx(c)
	if err != nil {
		return err
	}
	p := web.MustPrincipal(c)
	back := "/transactions/" + strconv.FormatInt(tx.ID, 10) + "#refunds"
	amount, perr := domain.ParseMoney(strings.TrimSpace(c.FormValue("amount")), tx.Currency)
	if perr != nil {
		web.AddFlash(c, "error", web.T(c, "refund.err.amount_format"))
		return web.Redirect(c, back)
	}
	key := strings.TrimSpace(c.FormValue("key"))
	if key != "" {
		if !validText(key, 100) {
			return web.Fail(http.StatusBadRequest, "invalid_key", "error.bad_request")
		}
		key = "form:" + key
	}
	in := db.NewRefund{TransactionID: tx.ID, Request: domain.RefundRequest{Amount: amount, Reason: c.FormValue("reason")},
		RequestKey: key, Source: domain.RefundFromConsole, RequestedBy: p.UserID(), RequestedLabel: p.Actor(), Now: h.now()}
	if fid, err := strconv.ParseInt(c.FormValue("finding"), 10, 64); err == nil && fid > 0 {
		in.FindingID = &fid
		in.Source = domain.RefundFromFinding
	}
	r, replay, err := h.Store.CreateRefund(c.Request().Context(), p.Merchant.ID, in, h.enqueueRefund)
	if prob := refundProblem(err); prob != nil {
		h.audit(c, "refund.request", tx.PlatformID, domain.AuditDenied, map[string]any{"amount": amount, "error": prob.Code})
		web.AddFlash(c, "error", web.T(c, prob.Key, prob.Args...))
		return web.Redirect(c, back)
	}
	if err != nil {
		return err
	}
	if !replay {
		h.audit(c, "refund.request", tx.PlatformID, domain.AuditOK, map[string]any{"refund": r.PublicID,
			"amount": r.Amount, "state": r.State, "reason": r.Reason})
	}
	msg := "refund.flash.requested"
	if r.State == domain.RefundAwaitingApproval {
		msg = "refund.flash.awaiting"
	}
	web.AddFlash(c, "ok", web.T(c, msg, r.Money().String()))
	return web.Redirect(c, web.SafeBack(cmp.Or(c.FormValue("back"), back)))
}

func (h *Refunds) refundParam(c echo.Context) (domain.Refund, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return domain.Refund{}, web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	r, err := h.Store.Refund(c.Request().Context(), web.MerchantID(c), id)
	if errors.Is(err, db.ErrNotFound) {
		return r, web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	return r, err
}

// Approve lets a second person (an admin who did not ask) send a large refund.
func (h *Refunds) Approve(c echo.Context) error { return h.decide(c, true) }

// Reject turns a large refund down.
func (h *Refunds) Reject(c echo.Context) error { return h.decide(c, false) }

func (h *Refunds) decide(c echo.Context, approve bool) error {
	r, err := h.refundParam(c)
	if err != nil {
		return err
	}
	p := web.MustPrincipal(c)
	note := strings.TrimSpace(c.FormValue("note"))
	if !validText(note, 500) {
		return web.Fail(http.StatusUnprocessableEntity, "note_too_long", "refund.err.note")
	}
	action := map[bool]string{true: "refund.approve", false: "refund.reject"}[approve]
	_, err = h.Store.DecideRefund(c.Request().Context(), p.Merchant.ID, r.ID, p.User, approve, note, h.now(), h.enqueueRefund)
	back := web.SafeBack(cmp.Or(c.FormValue("back"), "/refunds?state=awaiting_approval"))
	if prob := refundProblem(err); prob != nil {
		h.audit(c, action, r.PublicID, domain.AuditDenied, map[string]any{"error": prob.Code})
		web.AddFlash(c, "error", web.T(c, prob.Key, prob.Args...))
		return web.Redirect(c, back)
	}
	if err != nil {
		return err
	}
	h.audit(c, action, r.PublicID, domain.AuditOK, map[string]any{"amount": r.Amount, "transaction": r.PlatformTx, "note": note})
	web.AddFlash(c, "ok", web.T(c, action+".done", r.Money().String()))
	return web.Redirect(c, back)
}

// Retry sends a refund that failed or never reached the platform again.
func (h *Refunds) Retry(c echo.Context) error {
	r, err := h.refundParam(c)
	if err != nil {
		return err
	}
	p := web.MustPrincipal(c)
	again, err := h.Store.RetryRefund(c.Request().Context(), p.Merchant.ID, r.ID, p.UserID(), p.Actor(), h.now(), h.enqueueRefund)
	back := web.SafeBack(cmp.Or(c.FormValue("back"), "/transactions/"+strconv.FormatInt(r.TransactionID, 10)+"#refunds"))
	if prob := refundProblem(err); prob != nil {
		h.audit(c, "refund.retry", r.PublicID, domain.AuditDenied, map[string]any{"error": prob.Code})
		web.AddFlash(c, "error", web.T(c, prob.Key, prob.Args...))
		return web.Redirect(c, back)
	}
	if err != nil {
		return err
	}
	h.audit(c, "refund.retry", r.PublicID, domain.AuditOK, map[string]any{"refund": again.PublicID, "state": again.State})
	web.AddFlash(c, "ok", web.T(c, "refund.flash.retried", again.Money().String()))
	return web.Redirect(c, back)
}

// List shows the merchant's refunds, newest first; "awaiting approval" is the
// approvers' worklist.
func (h *Refunds) List(c echo.Context) error {
	p := web.MustPrincipal(c)
	f := db.RefundFilter{State: c.QueryParam("state")}
	if f.State != "" && !domain.RefundState(f.State).Valid() {
		return web.Fail(http.StatusBadRequest, "bad_filter", "error.bad_filter")
	}
	var err error
	if f.Before, err = beforeParam(c); err != nil {
		return err
	}
	ctx := c.Request().Context()
	rows, next, err := h.Store.Refunds(ctx, p.Merchant.ID, f)
	if err != nil {
		return err
	}
	waiting, err := h.Store.CountRefunds(ctx, p.Merchant.ID, domain.RefundAwaitingApproval)
	if err != nil {
		return err
	}
	v := views.RefundsView{State: f.State, Rows: rows, Next: next, Waiting: waiting, User: p.User,
		CanAct: p.Role.AtLeast(domain.RoleOperator)}
	return web.Render(c, http.StatusOK, views.RefundsPage(web.Shell(c, "refunds", web.T(c, "refund.title")), v), nil)
}

// refundPanel is the refund card on a payment's page.
func (d Deps) refundPanel(c echo.Context, tx domain.Transaction) (*views.RefundPanel, error) {
	ctx := c.Request().Context()
	p := web.MustPrincipal(c)
	refunds, err := d.Store.RefundsOf(ctx, tx.MerchantID, tx.ID)
	if err != nil {
		return nil, err
	}
	avail, err := d.Store.Refundable(ctx, tx.MerchantID, tx)
	if err != nil {
		return nil, err
	}
	if avail.Captured == 0 && len(refunds) == 0 {
		return nil, nil // nothing was taken, nothing to give back
	}
	policy, err := d.Store.RefundPolicy(ctx, tx.MerchantID)
	if err != nil {
		return nil, err
	}
	return &views.RefundPanel{TxID: tx.ID, Avail: avail, Refunds: refunds, Policy: policy, User: p.User,
		CanAct: p.Role.AtLeast(domain.RoleOperator), Key: domain.NewRefundID()[3:]}, nil
}

// SavePolicy stores the approval threshold, the reconciliation grace period and the
// automatic refund policy.
func (h *Refunds) SavePolicy(c echo.Context) error {
	p := web.MustPrincipal(c)
	pol := domain.DefaultRefundPolicy()
	fail := func(key string) error {
		web.AddFlash(c, "error", web.T(c, key))
		return web.Redirect(c, "/settings#refunds")
	}
	if s := strings.TrimSpace(c.FormValue("approval_above")); s != "" {
		v, err := domain.ParseMoney(s, p.Merchant.Currency)
		if err != nil {
			return fail("refund.err.policy_amount")
		}
		pol.ApprovalAbove = &v
	}
	g, err := strconv.Atoi(strings.TrimSpace(c.FormValue("grace_minutes")))
	if err != nil || g < 1 || g > 10080 {
		return fail("refund.err.policy_minutes")
	}
	pol.GraceMinutes = g
	if s := strings.TrimSpace(c.FormValue("auto_refund_minutes")); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > 10080 {
			return fail("refund.err.policy_minutes")
		}
		pol.AutoRefundMinutes = &v
	}
	pol.AutoRefundNotify = c.FormValue("auto_refund_notify") == "on" || c.FormValue("auto_refund_notify") == "true"
	if err := h.Store.SaveRefundPolicy(c.Request().Context(), p.Merchant.ID, pol); err != nil {
		return err
	}
	h.audit(c, "settings.refunds", "", domain.AuditOK, map[string]any{"approval_above": pol.ApprovalAbove,
		"grace_minutes": pol.GraceMinutes, "auto_refund_minutes": pol.AutoRefundMinutes, "notify": pol.AutoRefundNotify})
	web.AddFlash(c, "ok", web.T(c, "refund.flash.policy"))
	return web.Redirect(c, "/settings#refunds")
}

// RefundJSON is a refund in the API.
type RefundJSON struct {
	ID               string     `json:"id"`
	TransactionID    string     `json:"transaction_id"`
	Amount           int64      `json:"amount"`
	Currency         string     `json:"currency"`
	Reason           string     `json:"reason"`
	Status           string     `json:"status"`
	FailureReason    string     `json:"failure_reason,omitempty"`
	PlatformRefundID string     `json:"platform_refund_id,omitempty"`
	RequiresApproval bool       `json:"requires_approval"`
	CreatedAt        time.Time  `json:"created_at"`
	UpdatedAt        time.Time  `json:"updated_at"`
	FinishedAt       *time.Time `json:"finished_at,omitempty"`
}

func refundJSON(r domain.Refund) RefundJSON {
	out := RefundJSON{ID: r.PublicID, TransactionID: r.PlatformTx, Amount: r.Amount, Currency: r.Currency, Reason: r.Reason,
		Status: string(r.State), FailureReason: r.FailureReason, CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt,
		FinishedAt: r.FinishedAt, RequiresApproval: r.State == domain.RefundAwaitingApproval || r.ApprovedBy != nil}
	if r.PlatformRefundID != nil {
		out.PlatformRefundID = *r.PlatformRefundID
	}
	return out
}

// APICreate answers POST /api/v1/refunds. The Idempotency-Key header is required:
// the same key with the same body answers with the same refund (200), with another
// body 409; a new refund is 201.
func (h *Refunds) APICreate(c echo.Context) error {
	key := strings.TrimSpace(c.Request().Header.Get("Idempotency-Key"))
	if key == "" || len(key) > 255 || !validText(key, 255) {
		return web.Fail(http.StatusBadRequest, "idempotency_key_required", "refund.err.key_required")
	}
	var body struct {
		TransactionID string          `json:"transaction_id"`
		Amount        json.RawMessage `json:"amount"`
		Currency      string          `json:"currency"`
		Reason        string          `json:"reason"`
	}
	raw, err := io.ReadAll(io.LimitReader(c.Request().Body, 64<<10))
	if err != nil || json.Unmarshal(raw, &body) != nil {
		return web.Fail(http.StatusBadRequest, "invalid_json", "error.bad_request")
	}
	amount, err := strconv.ParseInt(string(body.Amount), 10, 64)
	if err != nil {
		return web.Fail(http.StatusUnprocessableEntity, "invalid_amount", "refund.err.amount_minor")
	}
	if body.TransactionID == "" || !validText(body.TransactionID, 64) {
		return web.Fail(http.StatusUnprocessableEntity, "invalid_transaction", "refund.err.transaction")
	}
	p := web.MustPrincipal(c)
	in := db.NewRefund{PlatformTx: body.TransactionID, RequestKey: "api:" + key, Source: domain.RefundFromAPI,
		RequestedLabel: p.Actor(), Now: h.now(),
		Request: domain.RefundRequest{TransactionID: body.TransactionID, Amount: amount, Currency: body.Currency, Reason: body.Reason}}
	r, replay, err := h.Store.CreateRefund(c.Request().Context(), p.Merchant.ID, in, h.enqueueRefund)
	if errors.Is(err, db.ErrNotFound) {
		return web.Fail(http.StatusNotFound, "transaction_not_found", "refund.err.unknown_tx")
	}
	if prob := refundProblem(err); prob != nil {
		h.audit(c, "refund.request", body.TransactionID, domain.AuditDenied, map[string]any{"amount": amount, "error": prob.Code})
		return prob
	}
	if err != nil {
		return err
	}
	if replay {
		return c.JSON(http.StatusOK, refundJSON(r))
	}
	h.audit(c, "refund.request", r.PlatformTx, domain.AuditOK, map[string]any{"refund": r.PublicID, "amount": r.Amount,
		"state": r.State, "reason": r.Reason})
	return c.JSON(http.StatusCreated, refundJSON(r))
}

// APIGet answers GET /api/v1/refunds/{id}.
func (h *Refunds) APIGet(c echo.Context) error {
	r, err := h.Store.RefundByPublicID(c.Request().Context(), web.MerchantID(c), c.Param("id"))
	if errors.Is(err, db.ErrNotFound) {
		return web.Fail(http.StatusNotFound, "refund_not_found", "error.not_found")
	}
	if err != nil {
		return fmt.Errorf("api: refund: %w", err)
	}
	return c.JSON(http.StatusOK, refundJSON(r))
}

// beforeParam reads the keyset page key "before" (an id; 0 when absent).
func beforeParam(c echo.Context) (int64, error) {
	b := c.QueryParam("before")
	if b == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(b, 10, 64)
	if err != nil || n <= 0 {
		return 0, web.Fail(http.StatusBadRequest, "bad_filter", "error.bad_filter")
	}
	return n, nil
}
