package handlers

import (
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"paymend/db"
	"paymend/domain"
	"paymend/views"
	"paymend/web"
)

// ReconQueue starts reconciliation runs. jobs.Runner implements it.
type ReconQueue interface {
	EnqueueRecon(ctx context.Context, merchantID int64, trigger string, txIDs []int64) error
}

// Recon is the reconciliation worklist: orders against the platform's payments.
type Recon struct{ Deps }

// Routes registers the worklist, its actions and the orders upload.
func (h *Recon) Routes() {
	op := web.RequireRole(domain.RoleOperator)
	h.App.Console.GET("/reconciliation", h.List)
	h.App.Console.POST("/reconciliation/run", h.Run, op)
	h.App.Console.POST("/reconciliation/orders", h.UploadOrders, op)
	h.App.Console.POST("/reconciliation/bulk", h.Bulk, op)
	h.App.Console.POST("/reconciliation/:id/refund", h.Refund, op)
	h.App.Console.POST("/reconciliation/:id/settle", h.Settle, op)
}

var findingStates = []string{domain.FindingOpen, domain.FindingRefunding, domain.FindingResolved, domain.FindingIgnored}

// List shows open findings (or a chosen state), newest first.
func (h *Recon) List(c echo.Context) error {
	p := web.MustPrincipal(c)
	q := c.QueryParams()
	f := db.FindingFilter{Kind: q.Get("kind"), State: q.Get("state")}
	if (f.Kind != "" && !domain.FindingKind(f.Kind).Valid()) || (f.State != "" && !slices.Contains(findingStates, f.State)) {
		return web.Fail(http.StatusBadRequest, "bad_filter", "error.bad_filter")
	}
	var err error
	if f.Before, err = beforeParam(c); err != nil {
		return err
	}
	ctx := c.Request().Context()
	rows, next, err := h.Store.Findings(ctx, p.Merchant.ID, f)
	if err != nil {
		return err
	}
	counts, err := h.Store.FindingCounts(ctx, p.Merchant.ID)
	if err != nil {
		return err
	}
	runs, err := h.Store.LastReconRuns(ctx, p.Merchant.ID, 5)
	if err != nil {
		return err
	}
	policy, err := h.Store.RefundPolicy(ctx, p.Merchant.ID)
	if err != nil {
		return err
	}
	v := views.ReconView{Query: q, Rows: make([]views.FindingRow, len(rows)), Next: next, Counts: counts,
		CanAct: p.Role.AtLeast(domain.RoleOperator), Policy: policy}
	for i, r := range rows {
		v.Rows[i] = findingRow(r)
	}
	for _, r := range runs {
		v.Runs = append(v.Runs, views.ReconRunRow{Trigger: r.Trigger, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt,
			Orders: r.Orders, Queried: r.Queried, Opened: r.Opened, Closed: r.Closed, Error: r.Error})
	}
	return web.Render(c, http.StatusOK, views.ReconPage(web.Shell(c, "recon", web.T(c, "recon.title")), v), nil)
}

func findingRow(f db.Finding) views.FindingRow {
	r := views.FindingRow{ID: f.ID, Kind: domain.FindingKind(f.Kind), OrderID: f.OrderID, PlatformTx: f.PlatformTx,
		Amount: domain.Money{Amount: f.Amount, Currency: f.Currency}, State: f.State,
		Resolution: f.Resolution, Note: f.Note, FirstSeen: f.FirstSeenAt, LastSeen: f.LastSeenAt}
	if f.TransactionID != nil {
		r.TransactionID = *f.TransactionID
	}
	if f.OrderAmount != nil {
		r.OrderAmount = &domain.Money{Amount: *f.OrderAmount, Currency: f.Currency}
	}
	if f.OrderStatus != nil {
		r.OrderStatus = *f.OrderStatus
	}
	if f.RefundState != nil {
		r.RefundState = domain.RefundState(*f.RefundState)
		r.RefundPublicID = *f.RefundPublic
	}
	// One key per finding and per attempt: a double click makes one refund, a retry
	// after a failed refund a new one.
	r.RefundKey = fmt.Sprintf("finding:%d:%d", f.ID, ptrOr(f.RefundID))
	return r
}

func ptrOr(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// Run starts a reconciliation run now.
func (h *Recon) Run(c echo.Context) error {
	p := web.MustPrincipal(c)
	if h.Recons == nil {
		return errors.New("recon: no job queue configured")
	}
	if err := h.Recons.EnqueueRecon(c.Request().Context(), p.Merchant.ID, "manual", nil); err != nil {
		return err
	}
	h.audit(c, "recon.run", "", domain.AuditOK, nil)
	web.AddFlash(c, "ok", web.T(c, "recon.flash.started"))
	return web.Redirect(c, "/reconciliation")
}

func (h *Recon) findingParam(c echo.Context) (db.Finding, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return db.Finding{}, web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	f, err := h.Store.Finding(c.Request().Context(), web.MerchantID(c), id)
	if errors.Is(err, db.ErrNotFound) {
		return f, web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	return f, err
}

// refundFinding refunds the money a finding is about through the normal refund
// path (remainder check, approval, one job), linked to the finding.
func (h *Recon) refundFinding(c echo.Context, f db.Finding, amount int64, reason string) (domain.Refund, error) {
	p := web.MustPrincipal(c)
	if !domain.FindingKind(f.Kind).Refundable() || f.TransactionID == nil {
		return domain.Refund{}, web.Fail(http.StatusUnprocessableEntity, "not_refundable", "recon.err.not_refundable")
	}
	if f.State != domain.FindingOpen {
		return domain.Refund{}, web.Fail(http.StatusConflict, "conflict", "recon.err.not_open")
	}
	if reason == "" {
		reason = domain.FindingKind(f.Kind).Label(string(web.Lang(c)))
	}
	fid := f.ID
	in := db.NewRefund{TransactionID: *f.TransactionID, FindingID: &fid, Source: domain.RefundFromFinding,
		RequestKey: fmt.Sprintf("finding:%d:%d", f.ID, ptrOr(f.RefundID)), RequestedBy: p.UserID(), RequestedLabel: p.Actor(),
		Now: h.now(), Request: domain.RefundRequest{Amount: amount, Currency: f.Currency, Reason: reason}}
	r, replay, err := h.Store.CreateRefund(c.Request().Context(), p.Merchant.ID, in, h.enqueueRefund)
	if prob := refundProblem(err); prob != nil {
		h.audit(c, "refund.request", f.PlatformTx, domain.AuditDenied, map[string]any{"finding": f.ID, "error": prob.Code})
		return r, prob
	}
	if err == nil && !replay {
		h.audit(c, "refund.request", f.PlatformTx, domain.AuditOK, map[string]any{"refund": r.PublicID, "finding": f.ID,
			"amount": r.Amount, "state": r.State})
	}
	return r, err
}

// Refund gives back the money of one finding (the amount in question, or less).
func (h *Recon) Refund(c echo.Context) error {
	f, err := h.findingParam(c)
	if err != nil {
		return err
	}
	amount := f.Amount
	if s := strings.TrimSpace(c.FormValue("amount")); s != "" {
		if amount, err = domain.ParseMoney(s, f.Currency); err != nil {
			web.AddFlash(c, "error", web.T(c, "refund.err.amount_format"))
			return web.Redirect(c, "/reconciliation")
		}
	}
	r, err := h.refundFinding(c, f, amount, strings.TrimSpace(c.FormValue("reason")))
	var prob *web.Problem
	if errors.As(err, &prob) {
		web.AddFlash(c, "error", web.T(c, prob.Key, prob.Args...))
		return web.Redirect(c, "/reconciliation")
	}
	if err != nil {
		return err
	}
	key := "refund.flash.requested"
	if r.State == domain.RefundAwaitingApproval {
		key = "refund.flash.awaiting"
	}
	web.AddFlash(c, "ok", web.T(c, key, r.Money().String()))
	return web.Redirect(c, web.SafeBack(cmp.Or(c.FormValue("back"), "/reconciliation")))
}

// Settle closes a finding by hand: fulfilled (the order was in fact delivered) or
// ignored (a reason is required).
func (h *Recon) Settle(c echo.Context) error {
	f, err := h.findingParam(c)
	if err != nil {
		return err
	}
	if err := h.settle(c, f, c.FormValue("resolution"), strings.TrimSpace(c.FormValue("note"))); err != nil {
		var prob *web.Problem
		if errors.As(err, &prob) {
			web.AddFlash(c, "error", web.T(c, prob.Key, prob.Args...))
			return web.Redirect(c, "/reconciliation")
		}
		return err
	}
	web.AddFlash(c, "ok", web.T(c, "recon.flash.settled"))
	return web.Redirect(c, "/reconciliation")
}

func (h *Recon) settle(c echo.Context, f db.Finding, resolution, note string) error {
	p := web.MustPrincipal(c)
	switch {
	case resolution != "fulfilled" && resolution != "ignored":
		return web.Fail(http.StatusUnprocessableEntity, "invalid_resolution", "recon.err.resolution")
	case resolution == "ignored" && note == "":
		return web.Fail(http.StatusUnprocessableEntity, "reason_required", "recon.err.ignore_reason")
	case !validText(note, 500):
		return web.Fail(http.StatusUnprocessableEntity, "note_too_long", "refund.err.note")
	}
	err := h.Store.SettleFinding(c.Request().Context(), p.Merchant.ID, f.ID, resolution, note, p.UserID(), h.now())
	if errors.Is(err, db.ErrConflict) {
		return web.Fail(http.StatusConflict, "conflict", "recon.err.not_open")
	}
	if err != nil {
		return err
	}
	h.audit(c, "recon."+resolution, f.OrderID, domain.AuditOK, map[string]any{"finding": f.ID, "kind": f.Kind, "note": note})
	return nil
}

// maxBulkFindings bounds one bulk action.
const maxBulkFindings = 200

// Bulk applies one action to the selected findings and reports how many it did.
func (h *Recon) Bulk(c echo.Context) error {
	form, err := c.FormParams()
	if err != nil {
		return web.Fail(http.StatusBadRequest, "bad_request", "error.bad_request")
	}
	ids := form["ids"]
	if len(ids) == 0 || len(ids) > maxBulkFindings {
		web.AddFlash(c, "error", web.T(c, "recon.err.select", maxBulkFindings))
		return web.Redirect(c, "/reconciliation")
	}
	action, note := form.Get("action"), strings.TrimSpace(form.Get("note"))
	var want []int64
	failed := 0
	for _, s := range ids {
		id, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			failed++
			continue
		}
		want = append(want, id)
	}
	fs, err := h.Store.FindingsByIDs(c.Request().Context(), web.MerchantID(c), want)
	if err != nil {
		return err
	}
	failed += len(want) - len(fs)
	done := 0
	var firstErr string
	for _, f := range fs {
		var err error
		switch action {
		case "refund":
			_, err = h.refundFinding(c, f, f.Amount, note)
		case "fulfilled", "ignored":
			err = h.settle(c, f, action, note)
		default:
			return web.Fail(http.StatusUnprocessableEntity, "invalid_action", "recon.err.resolution")
		}
		var prob *web.Problem
		switch {
		case errors.As(err, &prob):
			failed++
			if firstErr == "" {
				firstErr = f.OrderID + ": " + web.T(c, prob.Key, prob.Args...)
			}
		case err != nil:
			return err
		default:
			done++
		}
	}
	web.AddFlash(c, "ok", web.T(c, "recon.flash.bulk", done))
	if failed > 0 {
		web.AddFlash(c, "error", web.T(c, "recon.flash.bulk_failed", failed, firstErr))
	}
	return web.Redirect(c, "/reconciliation")
}

// ordersCSVColumns are the orders upload's columns.
var ordersCSVColumns = []string{"order_id", "status", "amount", "currency", "updated_at"}

// UploadOrders reads an order-system export (CSV: order_id,status,amount,currency,
// updated_at; amount as 129.00 or in minor units). Every row is checked first; one
// bad row stores nothing and the answer names each problem by line.
func (h *Recon) UploadOrders(c echo.Context) error {
	p := web.MustPrincipal(c)
	fh, err := c.FormFile("file")
	if err != nil {
		web.AddFlash(c, "error", web.T(c, "import.err.no_file"))
		return web.Redirect(c, "/reconciliation")
	}
	if fh.Size > 20<<20 {
		return web.Fail(http.StatusRequestEntityTooLarge, "too_large", "error.too_large")
	}
	file, err := fh.Open()
	if err != nil {
		return err
	}
	defer file.Close()
	orders, problems := parseOrdersCSV(c, file)
	if len(problems) > 0 {
		for i, pr := range problems {
			if i == 5 {
				web.AddFlash(c, "error", web.T(c, "recon.orders.more", len(problems)-5))
				break
			}
			web.AddFlash(c, "error", pr)
		}
		h.audit(c, "recon.orders_upload", fh.Filename, domain.AuditDenied, map[string]any{"problems": len(problems)})
		return web.Redirect(c, "/reconciliation")
	}
	for start := 0; start < len(orders); start += 5000 {
		if err := h.Store.UpsertOrders(c.Request().Context(), p.Merchant.ID, orders[start:min(start+5000, len(orders))]); err != nil {
			return err
		}
	}
	h.audit(c, "recon.orders_upload", fh.Filename, domain.AuditOK, map[string]any{"orders": len(orders)})
	web.AddFlash(c, "ok", web.T(c, "recon.orders.done", len(orders)))
	return web.Redirect(c, "/reconciliation")
}

func parseOrdersCSV(c echo.Context, r io.Reader) ([]domain.Order, []string) {
	rd := csv.NewReader(stripBOM(r))
	rd.FieldsPerRecord = -1
	header, err := rd.Read()
	if err != nil {
		return nil, []string{web.T(c, "import.err.empty")}
	}
	idx := map[string]int{}
	for i, name := range header {
		idx[strings.ToLower(strings.TrimSpace(name))] = i
	}
	for _, need := range ordersCSVColumns {
		if _, ok := idx[need]; !ok {
			return nil, []string{web.T(c, "recon.orders.header", strings.Join(ordersCSVColumns, ","))}
		}
	}
	var out []domain.Order
	var problems []string
	for line := 2; ; line++ {
		rec, err := rd.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			problems = append(problems, web.T(c, "recon.orders.line", line, web.T(c, "import.err.csv")))
			continue
		}
		get := func(col string) string {
			if i := idx[col]; i < len(rec) {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		o := domain.Order{OrderID: get("order_id"), Status: strings.ToLower(get("status")), Currency: strings.ToUpper(get("currency"))}
		amt := get("amount")
		if strings.Contains(amt, ".") {
			o.Amount, err = domain.ParseMoney(amt, o.Currency)
		} else {
			o.Amount, err = strconv.ParseInt(amt, 10, 64)
		}
		if err != nil {
			problems = append(problems, web.T(c, "recon.orders.line", line, web.T(c, "recon.orders.amount")))
			continue
		}
		if o.UpdatedAt, err = time.Parse(time.RFC3339, get("updated_at")); err != nil {
			problems = append(problems, web.T(c, "recon.orders.line", line, web.T(c, "recon.orders.time")))
			continue
		}
		if msg := domain.ValidateOrder(o); msg != "" || !validText(o.OrderID, 64) {
			problems = append(problems, web.T(c, "recon.orders.line", line, cmp.Or(msg, "order_id")))
			continue
		}
		out = append(out, o)
	}
	if len(out) == 0 && len(problems) == 0 {
		problems = append(problems, web.T(c, "import.err.empty"))
	}
	return out, problems
}
