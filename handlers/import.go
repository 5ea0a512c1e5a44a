package handlers

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"paymend/db"
	"paymend/domain"
	"paymend/views"
	"paymend/web"
)

// MaxImportBytes bounds one uploaded platform export.
const MaxImportBytes = 200 << 20

// maxReportRows bounds how many problem rows the report lists (all are counted).
const maxReportRows = 1000

// Import loads a platform CSV export.
type Import struct{ Deps }

// Routes registers the import form and upload (operators and admins).
func (h *Import) Routes() {
	h.App.OwnBodyLimit("/transactions/import")
	g := h.App.Console.Group("/transactions/import", web.RequireRole(domain.RoleOperator))
	g.GET("", h.Form)
	g.POST("", h.Upload)
}

// importColumns are the columns a platform export may carry; the first six are required.
var importColumns = []string{"transaction_id", "status", "amount", "currency", "occurred_at", "channel", "order_id",
	"code", "message", "card_bin", "card_last4", "bank", "customer_id", "customer_name", "customer_phone", "customer_email"}

// Form shows the upload form and the expected columns.
func (h *Import) Form(c echo.Context) error {
	return web.Render(c, http.StatusOK, views.ImportPage(web.Shell(c, "transactions", web.T(c, "import.title")),
		views.ImportView{Columns: importColumns}), nil)
}

func (h *Import) fail(c echo.Context, key string) error {
	v := views.ImportView{Columns: importColumns, Error: web.T(c, key)}
	return web.Render(c, http.StatusBadRequest, views.ImportPage(web.Shell(c, "transactions", web.T(c, "import.title")), v), nil)
}

// Upload streams the file part straight into the import: nothing holds the whole file.
func (h *Import) Upload(c echo.Context) error {
	r := c.Request()
	// A 200 MB upload on a slow link outlasts the server's default read timeout.
	_ = http.NewResponseController(c.Response()).SetReadDeadline(time.Now().Add(15 * time.Minute))
	r.Body = http.MaxBytesReader(c.Response(), r.Body, MaxImportBytes)
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "multipart/form-data" {
		return h.fail(c, "import.err.no_file")
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return h.fail(c, "import.err.no_file")
	}
	var part io.Reader
	for {
		p, err := mr.NextPart()
		if err != nil {
			return h.fail(c, "import.err.no_file")
		}
		if p.FormName() == "file" {
			part = p
			break
		}
	}
	p := web.MustPrincipal(c)
	rd := csv.NewReader(stripBOM(part))
	rd.FieldsPerRecord = -1
	rd.ReuseRecord = true
	header, err := rd.Read()
	if err != nil {
		return h.fail(c, "import.err.empty")
	}
	idx := map[string]int{}
	for i, name := range header {
		idx[strings.ToLower(strings.TrimSpace(name))] = i
	}
	for _, need := range importColumns[:6] {
		if _, ok := idx[need]; !ok {
			return h.fail(c, "import.err.header")
		}
	}
	report := views.ImportReport{}
	reject := func(row int, reason string) {
		report.Rejected++
		if len(report.Problems) < maxReportRows {
			report.Problems = append(report.Problems, views.ImportProblem{Row: row, Outcome: "rejected", Reason: reason})
		}
	}
	rowNo := 1
	out, err := h.Store.ImportEvents(r.Context(), p.Merchant.ID, func(put func(db.ImportRow) error) error {
		for {
			rec, err := rd.Read()
			if errors.Is(err, io.EOF) {
				return nil
			}
			rowNo++
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				reject(rowNo, web.T(c, "import.err.csv"))
				continue
			}
			if err != nil {
				return err
			}
			report.Rows++
			get := func(col string) string {
				if i, ok := idx[col]; ok && i < len(rec) {
					return strings.TrimSpace(rec[i])
				}
				return ""
			}
			ir, problem := h.importRow(c, p.Merchant, get)
			if problem != "" {
				reject(rowNo, problem)
				continue
			}
			ir.RowNo = rowNo
			if err := put(ir); err != nil {
				return err
			}
		}
	})
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return h.fail(c, "import.err.too_large")
	}
	if err != nil {
		return err
	}
	report.Accepted = out.Accepted
	report.Duplicates = len(out.Duplicates)
	for _, n := range out.Duplicates {
		if len(report.Problems) < maxReportRows {
			report.Problems = append(report.Problems, views.ImportProblem{Row: n, Outcome: "duplicate", Reason: web.T(c, "import.duplicate")})
		}
	}
	h.audit(c, "import.transactions", "", domain.AuditOK, map[string]any{"rows": report.Rows,
		"accepted": report.Accepted, "duplicates": report.Duplicates, "rejected": report.Rejected})
	v := views.ImportView{Columns: importColumns, Report: &report}
	return web.Render(c, http.StatusOK, views.ImportPage(web.Shell(c, "transactions", web.T(c, "import.title")), v), nil)
}

// importRow validates one row by turning it into the platform event it stands for
// and running it through the webhook's own parser and sanitiser.
func (h *Import) importRow(c echo.Context, m domain.Merchant, get func(string) string) (db.ImportRow, string) {
	status := get("status")
	typ := domain.EventType("payment." + status)
	if typ.IsRefund() || !typ.Valid() {
		return db.ImportRow{}, web.T(c, "import.err.status", status)
	}
	currency := strings.ToUpper(get("currency"))
	amount, err := domain.ParseMoney(get("amount"), currency)
	if err != nil || get("amount") == "" {
		return db.ImportRow{}, web.T(c, "import.err.amount", get("amount"))
	}
	at, ok := parseTime(get("occurred_at"), m.Location(), false)
	if !ok {
		return db.ImportRow{}, web.T(c, "import.err.time", get("occurred_at"))
	}
	id := get("transaction_id")
	data := map[string]any{"transaction_id": id, "order_id": get("order_id"), "amount": amount,
		"currency": currency, "channel": get("channel"), "occurred_at": at.Format(time.RFC3339),
		"customer": map[string]any{"id": get("customer_id"), "name": get("customer_name"),
			"phone": unmasked(get("customer_phone")), "email": unmasked(get("customer_email"))}}
	if bin, last4, bank := get("card_bin"), get("card_last4"), get("bank"); bin != "" || last4 != "" || bank != "" {
		data["card"] = map[string]any{"bin": bin, "last4": last4, "bank": bank}
	}
	if typ == domain.EventPaymentFailed {
		data["code"], data["message"] = get("code"), get("message")
	}
	// One event per state change: a transaction that failed twice has two rows.
	evID := fmt.Sprintf("imp_%s_%s_%d_%s", id, status, at.Unix(), get("code"))
	raw, _ := json.Marshal(map[string]any{"id": evID, "type": typ, "created": at.Unix(), "data": data})
	ev, err := domain.ParseEvent(raw)
	var ee *domain.EventError
	if errors.As(err, &ee) {
		return db.ImportRow{}, web.T(c, "import.err.field", strings.TrimPrefix(ee.Field, "data."), ee.Reason)
	}
	if err != nil {
		return db.ImportRow{}, web.T(c, "import.err.csv")
	}
	clean, contact, err := domain.SanitizeEvent(raw)
	if err != nil {
		return db.ImportRow{}, web.T(c, "import.err.csv")
	}
	rec, err := eventRecord(h.Sealer, ev, clean, contact, "import")
	if err != nil {
		return db.ImportRow{}, web.T(c, "import.err.csv")
	}
	return db.ImportRow{EventRecord: rec}, ""
}

// unmasked drops contact values that are already masked (a re-imported export).
func unmasked(s string) string {
	if strings.Contains(s, "*") {
		return ""
	}
	return s
}

// stripBOM skips a UTF-8 byte-order mark, which spreadsheet exports often start with.
func stripBOM(r io.Reader) io.Reader {
	br := bufio.NewReader(r)
	if b, err := br.Peek(3); err == nil && string(b) == "\xEF\xBB\xBF" {
		_, _ = br.Discard(3)
	}
	return br
}
