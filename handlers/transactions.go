package handlers

import (
	"encoding/csv"
	"errors"
	"fmt"
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

// Transactions is where operators find failed payments.
type Transactions struct{ Deps }

// Routes registers the list, the detail page and the export.
func (h *Transactions) Routes() {
	g := h.App.Console.Group("/transactions")
	g.GET("", h.List)
	g.GET("/export.csv", h.Export)
	g.GET("/:id", h.Show)
}

// MaxExportRows caps one CSV export.
const MaxExportRows = 1_000_000

func filterMessages(c echo.Context, errs []FilterError) []views.FieldMsg {
	out := make([]views.FieldMsg, 0, len(errs))
	for _, e := range errs {
		out = append(out, views.FieldMsg{Param: e.Param, Msg: web.T(c, e.Key)})
	}
	return out
}

// List shows failed payments (or any status), filtered, newest first, keyset paged.
// htmx asks for the table alone; a cold load of the same URL renders the whole page.
func (h *Transactions) List(c echo.Context) error {
	p := web.MustPrincipal(c)
	ctx := c.Request().Context()
	cat, err := h.catalog(c)
	if err != nil {
		return err
	}
	tq := parseTxQuery(c.QueryParams(), p.Merchant, cat, "failed")
	v := views.TxListView{Query: c.QueryParams(), Catalog: cat, CanAct: p.Role.AtLeast(domain.RoleOperator),
		FormValues: map[string]string{}}
	loc := p.Merchant.Location()
	for _, name := range []string{"from", "to"} {
		if s := c.QueryParam(name); s != "" {
			if t, ok := parseTime(s, loc, name == "to"); ok {
				v.FormValues[name] = t.In(loc).Format("2006-01-02T15:04")
			}
		}
	}
	now := h.now().In(loc)
	for _, q := range []struct {
		key string
		d   time.Duration
	}{{"tx.quick.1h", time.Hour}, {"tx.quick.24h", 24 * time.Hour}, {"tx.quick.7d", 7 * 24 * time.Hour}, {"tx.quick.30d", 30 * 24 * time.Hour}} {
		qs := url.Values{}
		for k, vs := range c.QueryParams() {
			qs[k] = append([]string(nil), vs...)
		}
		qs.Del("to")
		qs.Del("cursor")
		qs.Set("from", now.Add(-q.d).Format("2006-01-02T15:04"))
		v.Quick = append(v.Quick, views.QuickRange{Label: web.T(c, q.key), Href: "/transactions?" + qs.Encode()})
	}
	status := http.StatusOK
	if len(tq.Errors) > 0 {
		status = http.StatusBadRequest
		v.Errors = filterMessages(c, tq.Errors)
	} else {
		rows, next, err := h.Store.Transactions(ctx, p.Merchant.ID, tq.Filter)
		if err != nil {
			return err
		}
		v.Rows, v.Next = rows, next.Encode()
	}
	shell := web.Shell(c, "transactions", web.T(c, "tx.title"))
	if c.Request().Header.Get("HX-Request") != "true" {
		banks, err := h.banks.Get(p.Merchant.ID, h.now(), func() ([]string, error) { return h.Store.Banks(ctx, p.Merchant.ID) })
		if err != nil {
			return err
		}
		v.Banks = banks
	}
	return web.Render(c, status, views.TransactionsPage(shell, v), views.TxTable(shell, v))
}

// loadTx finds the transaction named in the path for the request's merchant.
func (d Deps) loadTx(c echo.Context) (domain.Transaction, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return domain.Transaction{}, web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	tx, err := d.Store.Transaction(c.Request().Context(), web.MerchantID(c), id)
	if errors.Is(err, db.ErrNotFound) {
		return tx, web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	return tx, err
}

// Show is the transaction detail page: why it failed, every field, the timeline and
// the raw events.
func (h *Transactions) Show(c echo.Context) error {
	tx, err := h.loadTx(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	cat, err := h.catalog(c)
	if err != nil {
		return err
	}
	events, err := h.Store.Events(ctx, tx.MerchantID, tx.PlatformID)
	if err != nil {
		return err
	}
	tl, err := h.Store.Timeline(ctx, tx.MerchantID, tx.ID)
	if err != nil {
		return err
	}
	entry := cat.Lookup(tx.Code)
	p := web.MustPrincipal(c)
	state := domain.ResolutionState(tx.ResolutionState)
	v := views.TxDetailView{Tx: tx, Entry: entry, Events: events, Timeline: tl,
		CanAct: p.Role.AtLeast(domain.RoleOperator), IsAdmin: p.Role.AtLeast(domain.RoleAdmin),
		Allowed: domain.AllowedActions(state), Remedy: domain.SuggestedRemedy(entry)}
	v.Recommended, v.Hint = domain.RecommendedAction(state, entry)
	if v.CanAct && tx.FailedAt != nil {
		nf, err := (&Notifications{h.Deps}).noticeForm(c, tx, "", "")
		if err != nil {
			return err
		}
		v.Notice = &nf
	}
	if v.Refunds, err = h.refundPanel(c, tx); err != nil {
		return err
	}
	return web.Render(c, http.StatusOK, views.TransactionPage(web.Shell(c, "transactions", tx.PlatformID), v), nil)
}

// exportHeader is the CSV export's columns: masked data only.
var exportHeader = []string{"transaction_id", "order_id", "occurred_at", "status", "amount", "currency", "channel",
	"code", "category", "message", "card_bin", "card_last4", "bank", "customer_id", "customer_name",
	"customer_phone", "customer_email", "resolution_state", "refunded_amount"}

// writeCSVRow writes a row with cells that a spreadsheet would run as a formula
// (starting with = + - @, tab or CR) prefixed by an apostrophe.
func writeCSVRow(w *csv.Writer, row []string) error {
	for i, v := range row {
		if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) && !isNumber(v) {
			row[i] = "'" + v
		}
	}
	return w.Write(row)
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// Export streams the current filter as CSV (masked data only, at most 1M rows). Rows
// are written as they are read, in keyset batches, so memory stays flat.
func (h *Transactions) Export(c echo.Context) error {
	p := web.MustPrincipal(c)
	cat, err := h.catalog(c)
	if err != nil {
		return err
	}
	tq := parseTxQuery(c.QueryParams(), p.Merchant, cat, "failed")
	if len(tq.Errors) > 0 {
		return web.Fail(http.StatusBadRequest, "invalid_filter", tq.Errors[0].Key)
	}
	tq.Filter.Cursor = domain.Cursor{}
	h.audit(c, "transaction.export", c.QueryString(), domain.AuditOK, nil)
	name := fmt.Sprintf("paymend-%s-%s.csv", p.Merchant.Code, h.now().In(p.Merchant.Location()).Format("20060102-1504"))
	res := c.Response()
	res.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	res.Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+name+`"`)
	res.WriteHeader(http.StatusOK)
	_, _ = res.Write([]byte("\xEF\xBB\xBF")) // BOM: spreadsheet apps then read the Chinese text right
	w := csv.NewWriter(res)
	_ = w.Write(exportHeader)
	loc := p.Merchant.Location()
	n := 0
	err = h.Store.EachTransaction(c.Request().Context(), p.Merchant.ID, tq.Filter, MaxExportRows, func(t domain.Transaction) error {
		n++
		if err := writeCSVRow(w, []string{t.PlatformID, t.OrderID, t.OccurredAt.In(loc).Format(time.RFC3339), string(t.Status),
			domain.Money{Amount: t.Amount, Currency: t.Currency}.Plain(), t.Currency, t.Channel, t.Code,
			string(cat.CategoryOf(t.Code)), t.Message, t.CardBIN, t.CardLast4, t.Bank, t.CustomerRef,
			domain.MaskName(t.CustomerName), t.PhoneMasked, t.EmailMasked, t.ResolutionState,
			domain.Money{Amount: t.RefundedAmount, Currency: t.Currency}.Plain()}); err != nil {
			return err
		}
		if n%1000 == 0 {
			w.Flush()
			res.Flush()
		}
		return nil
	})
	w.Flush()
	if err != nil {
		// Headers are gone; the truncated file ends with a marker line instead.
		h.Log.Error("export failed", "err", err, "request_id", web.RequestID(c))
		_, _ = res.Write([]byte("# export interrupted\n"))
	}
	return nil
}
