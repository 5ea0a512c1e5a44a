package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"net/url"
	"path"
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

// Codes is the failure-code catalog area (issue 4): pages, overrides, import/export
// and the codes API.
type Codes struct{ Deps }

// Routes registers the catalog routes: the pages and exports for every role, changes
// for admins, and the API.
func (h *Codes) Routes() {
	admin := web.RequireRole(domain.RoleAdmin)
	h.App.OwnBodyLimit("/codes/import")
	g := h.App.Console.Group("/codes")
	g.GET("", h.List)
	g.GET("/export.json", h.ExportJSON)
	g.GET("/export.csv", h.ExportCSV)
	g.GET("/import", h.ImportForm, admin)
	g.POST("/import", h.Import, admin)
	g.GET("/:code", h.Show)
	g.POST("/:code", h.Override, admin)
	g.POST("/:code/reset", h.Reset, admin)

	h.App.API.GET("/codes", h.APIList)
	h.App.API.GET("/codes/:code", h.APIGet)
}

// catalogKey memoises the merchant's catalog for the rest of the request.
const catalogKey = "paymend.catalog"

// catalog returns the failure-code catalog as the request's merchant sees it: the
// platform catalog with the merchant's overrides laid over it.
func (d Deps) catalog(c echo.Context) (*domain.Catalog, error) {
	if cat, ok := c.Get(catalogKey).(*domain.Catalog); ok {
		return cat, nil
	}
	_, cat, err := d.overridesAndCatalog(c)
	return cat, err
}

// overridesAndCatalog loads the request merchant's overrides and builds its catalog.
func (d Deps) overridesAndCatalog(c echo.Context) ([]domain.CodeOverride, *domain.Catalog, error) {
	overrides, cat, err := d.catalogFor(c.Request().Context(), web.MerchantID(c))
	if err != nil {
		return nil, nil, err
	}
	c.Set(catalogKey, cat)
	return overrides, cat, nil
}

// catalogFor builds merchantID's catalog where no signed-in principal names the
// merchant (webhooks, public pages).
func (d Deps) catalogFor(ctx context.Context, merchantID int64) ([]domain.CodeOverride, *domain.Catalog, error) {
	overrides, err := d.Store.CodeOverrides(ctx, merchantID)
	if err != nil {
		return nil, nil, fmt.Errorf("codes: catalog of %d: %w", merchantID, err)
	}
	return overrides, domain.NewCatalog(domain.DefaultCatalog(), overrides), nil
}

// platformCatalog is the catalog without any merchant's changes.
func platformCatalog() *domain.Catalog { return domain.NewCatalog(domain.DefaultCatalog(), nil) }

// codesPeriods are the periods the figures cover.
var codesPeriods = map[string]time.Duration{"24h": 24 * time.Hour, "7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour}

// codesDefaultPeriod is the period shown when none is asked for.
const codesDefaultPeriod = "7d"

// codesWindow is a period ending now and the one of equal length before it. The end
// is rounded up to the next minute so the links to the transactions list, which
// take minutes, name exactly the same range.
type codesWindow struct {
	From, To, PrevFrom time.Time
}

func (h *Codes) window(period string) codesWindow {
	d := codesPeriods[period]
	to := h.now().UTC().Truncate(time.Minute).Add(time.Minute)
	return codesWindow{From: to.Add(-d), To: to, PrevFrom: to.Add(-2 * d)}
}

// codesFigures are the per-code failure counts of a period and the one before.
type codesFigures struct {
	cur, prev      map[string]db.CodeStat
	ttr            map[string]db.ResolutionTime
	total, prevTot int64
	window         codesWindow
	currency       string
	loc            *time.Location
}

func (h *Codes) periodFigures(c echo.Context, period string) (codesFigures, error) {
	p := web.MustPrincipal(c)
	ctx := c.Request().Context()
	w := h.window(period)
	cur, err := h.Store.CodeStats(ctx, p.Merchant.ID, w.From, w.To)
	if err != nil {
		return codesFigures{}, err
	}
	prev, err := h.Store.CodeStats(ctx, p.Merchant.ID, w.PrevFrom, w.From)
	if err != nil {
		return codesFigures{}, err
	}
	times, err := h.Store.ResolutionTimes(ctx, p.Merchant.ID, w.From, w.To)
	if err != nil {
		return codesFigures{}, err
	}
	f := codesFigures{cur: map[string]db.CodeStat{}, prev: map[string]db.CodeStat{}, ttr: map[string]db.ResolutionTime{},
		window: w, currency: p.Merchant.Currency, loc: p.Merchant.Location()}
	for _, rt := range times {
		f.ttr[rt.Code] = rt
	}
	for _, s := range cur {
		f.cur[s.Code] = s
		f.total += s.Failures
	}
	for _, s := range prev {
		f.prev[s.Code] = s
		f.prevTot += s.Failures
	}
	return f, nil
}

// row is one code's figures. The list link shows every payment that failed with the
// code in the period (status=all: refunded failures and later successes included),
// which is exactly the set CodeStats counts.
func (f codesFigures) row(e domain.CodeEntry, overridden bool) views.CodeRow {
	s := f.cur[e.Code]
	r := views.CodeRow{Entry: e, Overridden: overridden, Failures: s.Failures, Prev: f.prev[e.Code].Failures,
		Amount: domain.Money{Amount: s.Amount, Currency: f.currency}, Customers: s.Customers}
	if f.total > 0 {
		r.Share = float64(s.Failures) / float64(f.total)
	}
	if rt, ok := f.ttr[e.Code]; ok {
		r.Closed = rt.Closed
		r.TTRMedian = time.Duration(rt.Median * float64(time.Second))
		r.TTRP90 = time.Duration(rt.P90 * float64(time.Second))
	}
	q := url.Values{"status": {"all"}, "code": {e.Code},
		"from": {f.window.From.In(f.loc).Format("2006-01-02T15:04")}, "to": {f.window.To.In(f.loc).Format("2006-01-02T15:04")}}
	r.ListHref = "/transactions?" + q.Encode()
	return r
}

func overriddenSet(overrides []domain.CodeOverride) map[string]bool {
	m := make(map[string]bool, len(overrides))
	for _, o := range overrides {
		m[o.Code] = true
	}
	return m
}

// codesMatch reports whether an entry matches the search text: part of its code, or
// of its title in either language, ignoring case.
func codesMatch(e domain.CodeEntry, q string) bool {
	if q == "" {
		return true
	}
	q = strings.ToLower(q)
	for _, s := range []string{e.Code, e.Title.ZH, e.Title.EN} {
		if strings.Contains(strings.ToLower(s), q) {
			return true
		}
	}
	return false
}

func sortCodeRows(rows []views.CodeRow) {
	slices.SortStableFunc(rows, func(a, b views.CodeRow) int {
		if a.Failures != b.Failures {
			if a.Failures > b.Failures {
				return -1
			}
			return 1
		}
		return domain.CompareCodes(a.Entry.Code, b.Entry.Code)
	})
}

// List is the catalog page: every code with its figures for the period, most
// frequent first, and the unclassified codes seen in failures. htmx asks for the
// table alone; a cold load of the same URL renders the whole page.
func (h *Codes) List(c echo.Context) error {
	p := web.MustPrincipal(c)
	overrides, cat, err := h.overridesAndCatalog(c)
	if err != nil {
		return err
	}
	q := c.QueryParams()
	v := views.CodesView{Query: q, Period: q.Get("period"), IsAdmin: p.Role.AtLeast(domain.RoleAdmin)}
	if v.Period == "" {
		v.Period = codesDefaultPeriod
	}
	var errs []FilterError
	if _, ok := codesPeriods[v.Period]; !ok {
		errs = append(errs, FilterError{"period", "codes.err.period"})
		v.Period = codesDefaultPeriod
	}
	category := domain.Category(strings.TrimSpace(q.Get("category")))
	if category != "" && !category.Valid() {
		errs = append(errs, FilterError{"category", "filter.err.category"})
	}
	search := strings.TrimSpace(q.Get("q"))
	if len(search) > 100 {
		errs = append(errs, FilterError{"q", "filter.err.q"})
	}
	for _, e := range cat.All() {
		if e.Known() {
			v.CatalogLen++
		}
	}
	status := http.StatusOK
	if len(errs) > 0 {
		status = http.StatusBadRequest
		v.Errors = filterMessages(c, errs)
	} else {
		f, err := h.periodFigures(c, v.Period)
		if err != nil {
			return err
		}
		v.Total, v.PrevTotal = f.total, f.prevTot
		over := overriddenSet(overrides)
		for _, e := range cat.All() {
			if !e.Known() || (category != "" && e.Category != category) || !codesMatch(e, search) {
				continue
			}
			v.Rows = append(v.Rows, f.row(e, over[e.Code]))
		}
		if category == "" || category == domain.CategoryUnclassified {
			for code, s := range f.cur {
				e := cat.Lookup(code)
				if code == "" || s.Failures == 0 || e.Known() || !codesMatch(e, search) {
					continue
				}
				v.Unknown = append(v.Unknown, f.row(e, over[code]))
			}
		}
		sortCodeRows(v.Rows)
		sortCodeRows(v.Unknown)
	}
	shell := web.Shell(c, "codes", web.T(c, "codes.title"))
	return web.Render(c, status, views.CodesPage(shell, v), views.CodesTable(shell, v))
}

// codeParam is the code named in the path; a malformed one is not found.
func codeParam(c echo.Context) (string, error) {
	code, err := url.PathUnescape(c.Param("code"))
	if err != nil || !domain.ValidCode(code) {
		return "", web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	return code, nil
}

// codeOverrideOf returns the merchant's override of code, if any.
func codeOverrideOf(overrides []domain.CodeOverride, code string) *domain.CodeOverride {
	for i := range overrides {
		if overrides[i].Code == code {
			return &overrides[i]
		}
	}
	return nil
}

// Show is one code's page: what it means, what to tell the customer, what to do, its
// figures, and for admins the form that adjusts it for this merchant.
func (h *Codes) Show(c echo.Context) error {
	code, err := codeParam(c)
	if err != nil {
		return err
	}
	return h.renderCode(c, http.StatusOK, code, nil)
}

// renderCode renders the code page with form f, or a fresh form when f is nil.
func (h *Codes) renderCode(c echo.Context, status int, code string, f *views.CodeForm) error {
	p := web.MustPrincipal(c)
	overrides, cat, err := h.overridesAndCatalog(c)
	if err != nil {
		return err
	}
	if f == nil {
		fresh := formFor(code, codeOverrideOf(overrides, code))
		f = &fresh
	}
	period := c.QueryParam("period")
	if _, ok := codesPeriods[period]; !ok {
		period = codesDefaultPeriod
	}
	figs, err := h.periodFigures(c, period)
	if err != nil {
		return err
	}
	v := views.CodeDetailView{Row: figs.row(cat.Lookup(code), codeOverrideOf(overrides, code) != nil), Period: period,
		CanEdit: p.Role.AtLeast(domain.RoleAdmin), Form: *f}
	fb, err := h.Store.FeedbackStats(c.Request().Context(), p.Merchant.ID, figs.window.From, figs.window.To, code)
	if err != nil {
		return err
	}
	v.Feedback = &views.FeedbackSummaryView{S: fb, Code: code}
	shell := web.Shell(c, "codes", code+" · "+web.T(c, "codes.title"))
	return web.Render(c, status, views.CodePage(shell, v), views.CodeOverrideForm(*f))
}

// formFor fills the override form: texts show only what the merchant changed (the
// platform's text is the placeholder, and an empty box keeps it); the choices show
// the entry as it stands.
func formFor(code string, o *domain.CodeOverride) views.CodeForm {
	base := platformCatalog().Lookup(code)
	e := base
	if o != nil {
		e = o.Apply(base)
	}
	f := views.CodeForm{Code: code, Values: map[string]string{}, Actions: map[domain.Action]bool{},
		Errors: map[string]string{}, Platform: base, Unknown: !base.Known()}
	if o != nil {
		for name, t := range map[string]*domain.Text{"title": o.Title, "explanation": o.Explanation, "customer_message": o.CustomerMessage} {
			if t != nil {
				f.Values[name+"_zh"], f.Values[name+"_en"] = t.ZH, t.EN
			}
		}
	}
	if e.Known() {
		f.Values["category"] = string(e.Category)
	}
	for _, a := range e.Actions {
		f.Actions[a] = true
	}
	f.Values["retry"] = string(e.Retry)
	f.Values["retry_after"] = strconv.FormatInt(int64(e.RetryAfter/time.Second), 10)
	f.Values["alt_channel"] = e.AltChannel
	return f
}

// formText reads a text input: trimmed, line breaks normalised.
func formText(c echo.Context, name string) string {
	s := strings.ReplaceAll(c.FormValue(name), "\r\n", "\n")
	return strings.TrimSpace(strings.ReplaceAll(s, "\r", "\n"))
}

// overrideFromForm reads the form into an override that holds only what differs
// from the platform entry base, so later platform improvements still reach the
// fields the merchant did not change.
func overrideFromForm(c echo.Context, code string, base domain.CodeEntry, f *views.CodeForm) domain.CodeOverride {
	o := domain.CodeOverride{Code: code}
	text := func(name string, b domain.Text) *domain.Text {
		zh, en := formText(c, name+"_zh"), formText(c, name+"_en")
		f.Values[name+"_zh"], f.Values[name+"_en"] = zh, en
		if zh == b.ZH {
			zh = ""
		}
		if en == b.EN {
			en = ""
		}
		if zh == "" && en == "" {
			return nil
		}
		return &domain.Text{ZH: zh, EN: en}
	}
	o.Title = text("title", base.Title)
	o.Explanation = text("explanation", base.Explanation)
	o.CustomerMessage = text("customer_message", base.CustomerMessage)

	form, _ := c.FormParams()
	has := func(name string) bool { _, ok := form[name]; return ok }
	if v := strings.TrimSpace(c.FormValue("category")); v != "" {
		f.Values["category"] = v
		if cat := domain.Category(v); cat != base.Category {
			o.Category = &cat
		}
	}
	var picked []domain.Action
	for _, a := range form["actions"] {
		act := domain.Action(a)
		if !slices.Contains(picked, act) {
			picked = append(picked, act)
		}
		f.Actions[act] = true
	}
	// Unticked boxes are not sent at all; the hidden actions_shown field tells an
	// emptied list from a post that did not include the list.
	if has("actions_shown") && !sameActionSet(picked, base.Actions) {
		// The platform's order first, then the additions in the order of the form.
		ordered := []domain.Action{}
		for _, a := range base.Actions {
			if slices.Contains(picked, a) {
				ordered = append(ordered, a)
			}
		}
		for _, a := range picked {
			if !slices.Contains(ordered, a) {
				ordered = append(ordered, a)
			}
		}
		o.Actions = ordered
	}
	retry := domain.RetryKind(strings.TrimSpace(c.FormValue("retry")))
	f.Values["retry"] = string(retry)
	if retry != "" && retry != base.Retry {
		o.Retry = &retry
	}
	f.Values["retry_after"] = strings.TrimSpace(c.FormValue("retry_after"))
	if d, err := domain.ParseRetryAfter(f.Values["retry_after"]); err != nil {
		f.Errors["retry_after"] = web.T(c, "codes.err.retry_after")
	} else if has("retry_after") && d != base.RetryAfter {
		o.RetryAfter = &d
	}
	alt := strings.TrimSpace(c.FormValue("alt_channel"))
	f.Values["alt_channel"] = alt
	if has("alt_channel") && alt != base.AltChannel {
		o.AltChannel = &alt
	}
	return o
}

func sameActionSet(a, b []domain.Action) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// overrideErrors validates each field of o on its own so that every bad field gets
// its message at once, in the user's language.
func overrideErrors(c echo.Context, o domain.CodeOverride, f *views.CodeForm) {
	lang := string(web.Lang(c))
	parts := []domain.CodeOverride{
		{Code: o.Code, Category: o.Category}, {Code: o.Code, Title: o.Title},
		{Code: o.Code, Explanation: o.Explanation}, {Code: o.Code, CustomerMessage: o.CustomerMessage},
		{Code: o.Code, Actions: o.Actions}, {Code: o.Code, Retry: o.Retry},
		{Code: o.Code, RetryAfter: o.RetryAfter}, {Code: o.Code, AltChannel: o.AltChannel},
	}
	for _, part := range parts {
		var fe *domain.FieldError
		if err := domain.ValidateOverride(part); errors.As(err, &fe) {
			name := fe.Field
			if name == "customer_message" { // a rule about both languages: shown under the first
				name = "customer_message_zh"
			}
			if _, taken := f.Errors[name]; !taken {
				f.Errors[name] = fe.Msg.In(lang)
			}
		}
	}
}

// overrideFields names the fields an override sets, for the audit log.
func overrideFields(o domain.CodeOverride) []string {
	var out []string
	for name, set := range map[string]bool{"category": o.Category != nil, "title": o.Title != nil,
		"explanation": o.Explanation != nil, "customer_message": o.CustomerMessage != nil, "actions": o.Actions != nil,
		"retry": o.Retry != nil, "retry_after": o.RetryAfter != nil, "alt_channel": o.AltChannel != nil} {
		if set {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

// Override stores the admin's adjustment of a code for this merchant. An adjustment
// that equals the platform entry removes the override.
func (h *Codes) Override(c echo.Context) error {
	code, err := codeParam(c)
	if err != nil {
		return err
	}
	base := platformCatalog().Lookup(code)
	f := views.CodeForm{Code: code, Values: map[string]string{}, Actions: map[domain.Action]bool{},
		Errors: map[string]string{}, Platform: base, Unknown: !base.Known()}
	o := overrideFromForm(c, code, base, &f)
	overrideErrors(c, o, &f)
	if len(f.Errors) > 0 {
		h.audit(c, "code.override", code, domain.AuditFailed, map[string]any{"invalid": slices.Sorted(maps.Keys(f.Errors))})
		return h.renderCode(c, http.StatusUnprocessableEntity, code, &f)
	}
	p := web.MustPrincipal(c)
	ctx := c.Request().Context()
	fields := overrideFields(o)
	if len(fields) == 0 {
		if err := h.Store.DeleteCodeOverride(ctx, p.Merchant.ID, code); err != nil && !errors.Is(err, db.ErrNotFound) {
			return err
		}
	} else if err := h.Store.UpsertCodeOverride(ctx, p.Merchant.ID, o, p.UserID()); err != nil {
		return err
	}
	c.Set(catalogKey, nil)
	h.audit(c, "code.override", code, domain.AuditOK, map[string]any{"fields": fields})
	web.AddFlash(c, "ok", web.T(c, "codes.saved", code))
	return web.Redirect(c, "/codes/"+url.PathEscape(code))
}

// Reset removes the merchant's adjustment of a code: the platform entry applies again.
func (h *Codes) Reset(c echo.Context) error {
	code, err := codeParam(c)
	if err != nil {
		return err
	}
	err = h.Store.DeleteCodeOverride(c.Request().Context(), web.MerchantID(c), code)
	if err != nil && !errors.Is(err, db.ErrNotFound) {
		return err
	}
	if err == nil {
		h.audit(c, "code.reset", code, domain.AuditOK, nil)
	}
	c.Set(catalogKey, nil)
	web.AddFlash(c, "ok", web.T(c, "codes.reset_done", code))
	return web.Redirect(c, "/codes/"+url.PathEscape(code))
}

// knownEntries is the catalog as the merchant sees it, without the stand-ins for
// codes nobody has classified: what an export holds, and what an import accepts.
func knownEntries(cat *domain.Catalog) []domain.CodeEntry {
	var out []domain.CodeEntry
	for _, e := range cat.All() {
		if e.Known() {
			out = append(out, e)
		}
	}
	return out
}

func (h *Codes) exportName(c echo.Context, ext string) string {
	p := web.MustPrincipal(c)
	return fmt.Sprintf("paymend-codes-%s-%s.%s", p.Merchant.Code, h.now().In(p.Merchant.Location()).Format("20060102"), ext)
}

// ExportJSON downloads the merchant's catalog in the catalog JSON format.
func (h *Codes) ExportJSON(c echo.Context) error {
	cat, err := h.catalog(c)
	if err != nil {
		return err
	}
	b, err := domain.MarshalCatalogJSON(knownEntries(cat))
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+h.exportName(c, "json")+`"`)
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSONCharsetUTF8, b)
}

// ExportCSV downloads the merchant's catalog as CSV (with a BOM so spreadsheet apps
// read the Chinese right; the import skips it).
func (h *Codes) ExportCSV(c echo.Context) error {
	cat, err := h.catalog(c)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	buf.WriteString("\xEF\xBB\xBF")
	if err := domain.WriteCatalogCSV(&buf, knownEntries(cat)); err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+h.exportName(c, "csv")+`"`)
	return c.Blob(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

// MaxCodeImportBytes bounds an uploaded catalog file.
const MaxCodeImportBytes = 2 << 20

func (h *Codes) renderImport(c echo.Context, status int, v views.CodeImportView) error {
	return web.Render(c, status, views.CodeImportPage(web.Shell(c, "codes", web.T(c, "codes.import.title")), v), nil)
}

// ImportForm shows the catalog upload form.
func (h *Codes) ImportForm(c echo.Context) error {
	return h.renderImport(c, http.StatusOK, views.CodeImportView{})
}

func (h *Codes) importFail(c echo.Context, key string) error {
	return h.renderImport(c, http.StatusBadRequest, views.CodeImportView{Error: web.T(c, key)})
}

// importedEntry is a valid entry of an upload and where it was.
type importedEntry struct {
	Row   int // 0 when the format does not say (CSV accepted rows)
	Entry domain.CodeEntry
}

// Import reads a catalog file (CSV or JSON), reports on every row, and stores the
// valid rows as the merchant's entries: a row that equals the platform entry drops
// the merchant's override, a row equal to what the merchant already sees changes
// nothing, any other becomes a full override (so an unknown code becomes known).
func (h *Codes) Import(c echo.Context) error {
	r := c.Request()
	r.Body = http.MaxBytesReader(c.Response(), r.Body, MaxCodeImportBytes+64<<10) // room for the multipart framing
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "multipart/form-data" {
		return h.importFail(c, "codes.import.err.no_file")
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return h.importFail(c, "codes.import.err.no_file")
	}
	var data []byte
	var name, ctype string
	for {
		part, err := mr.NextPart()
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return h.importFail(c, "codes.import.err.too_large")
		}
		if err != nil {
			return h.importFail(c, "codes.import.err.no_file")
		}
		if part.FormName() != "file" {
			continue
		}
		name, ctype = part.FileName(), part.Header.Get("Content-Type")
		data, err = io.ReadAll(io.LimitReader(part, MaxCodeImportBytes+1))
		if errors.As(err, &mbe) || len(data) > MaxCodeImportBytes {
			return h.importFail(c, "codes.import.err.too_large")
		}
		if err != nil {
			return h.importFail(c, "codes.import.err.no_file")
		}
		break
	}
	if len(bytes.TrimSpace(bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF")))) == 0 {
		return h.importFail(c, "codes.import.err.empty")
	}
	lang := string(web.Lang(c))
	report := views.CodeImportReport{Format: importFormat(name, ctype, data)}
	var entries []importedEntry
	if report.Format == "json" {
		var ok bool
		if entries, report.Lines, ok = h.readJSONRows(c, data); !ok {
			return h.importFail(c, "codes.import.err.json")
		}
	} else {
		es, rowErrs, err := domain.ReadCatalogCSV(bytes.NewReader(data))
		if err != nil {
			return h.importFail(c, "codes.import.err.csv")
		}
		for _, re := range rowErrs {
			report.Lines = append(report.Lines, views.CodeImportLine{Row: re.Row, Code: re.Code, Outcome: "rejected",
				Field: re.Field, Reason: re.Reason.In(lang)})
		}
		for _, e := range es {
			entries = append(entries, importedEntry{Entry: e})
		}
	}
	report.Rejected = len(report.Lines)
	report.Rows = report.Rejected + len(entries)

	p := web.MustPrincipal(c)
	_, cat, err := h.overridesAndCatalog(c)
	if err != nil {
		return err
	}
	base := platformCatalog()
	var done []views.CodeImportLine
	err = h.Store.InTx(r.Context(), func(tx *db.Store) error {
		done = done[:0]
		for _, ie := range entries {
			e := ie.Entry
			o := fullOverride(e)
			platform := base.Lookup(e.Code)
			want := o.Apply(platform)
			line := views.CodeImportLine{Row: ie.Row, Code: e.Code, Outcome: "stored"}
			switch {
			case sameEntry(want, cat.Lookup(e.Code)):
				line.Outcome = "unchanged"
			case base.Has(e.Code) && sameEntry(want, platform):
				if err := tx.DeleteCodeOverride(r.Context(), p.Merchant.ID, e.Code); err != nil && !errors.Is(err, db.ErrNotFound) {
					return err
				}
			default:
				if err := tx.UpsertCodeOverride(r.Context(), p.Merchant.ID, o, p.UserID()); err != nil {
					return err
				}
			}
			done = append(done, line)
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.Set(catalogKey, nil)
	for _, l := range done {
		if l.Outcome == "stored" {
			report.Stored++
		} else {
			report.Unchanged++
		}
	}
	report.Lines = append(report.Lines, done...)
	h.audit(c, "code.import", name, domain.AuditOK, map[string]any{"format": report.Format, "rows": report.Rows,
		"stored": report.Stored, "unchanged": report.Unchanged, "rejected": report.Rejected})
	return h.renderImport(c, http.StatusOK, views.CodeImportView{Report: &report})
}

// importFormat decides between CSV and JSON: by the file name, then the declared
// type, then the first character.
func importFormat(name, ctype string, data []byte) string {
	switch strings.ToLower(path.Ext(name)) {
	case ".json":
		return "json"
	case ".csv":
		return "csv"
	}
	if mt, _, _ := mime.ParseMediaType(ctype); mt == "application/json" {
		return "json"
	} else if mt == "text/csv" {
		return "csv"
	}
	t := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF")), " \t\r\n")
	if len(t) > 0 && (t[0] == '[' || t[0] == '{') {
		return "json"
	}
	return "csv"
}

// readJSONRows reads the catalog JSON format entry by entry so that one bad entry is
// reported instead of refusing the whole file. ok is false when the file is not a
// JSON array of objects (or {"codes":[…]}) at all.
func (h *Codes) readJSONRows(c echo.Context, data []byte) (entries []importedEntry, rejected []views.CodeImportLine, ok bool) {
	lang := string(web.Lang(c))
	t := bytes.TrimLeft(bytes.TrimPrefix(data, []byte("\xEF\xBB\xBF")), " \t\r\n")
	var raws []json.RawMessage
	if len(t) > 0 && t[0] == '{' {
		var wrap struct {
			Codes []json.RawMessage `json:"codes"`
		}
		if json.Unmarshal(t, &wrap) != nil {
			return nil, nil, false
		}
		raws = wrap.Codes
	} else if json.Unmarshal(t, &raws) != nil {
		return nil, nil, false
	}
	if len(raws) > domain.MaxCatalogCSVRows {
		return nil, nil, false
	}
	seen := map[string]int{}
	for i, raw := range raws {
		row := i + 1
		var e domain.CodeEntry
		if err := json.Unmarshal(raw, &e); err != nil {
			var probe struct {
				Code string `json:"code"`
			}
			_ = json.Unmarshal(raw, &probe)
			code := probe.Code
			if !domain.ValidCode(code) {
				code = ""
			}
			rejected = append(rejected, views.CodeImportLine{Row: row, Code: code, Outcome: "rejected",
				Reason: web.T(c, "codes.import.err.entry")})
			continue
		}
		var fe *domain.FieldError
		if err := domain.ValidateEntry(e); errors.As(err, &fe) {
			code := e.Code
			if !domain.ValidCode(code) {
				code = ""
			}
			rejected = append(rejected, views.CodeImportLine{Row: row, Code: code, Outcome: "rejected",
				Field: fe.Field, Reason: fe.Msg.In(lang)})
			continue
		}
		if first, dup := seen[e.Code]; dup {
			rejected = append(rejected, views.CodeImportLine{Row: row, Code: e.Code, Outcome: "rejected",
				Field: "code", Reason: web.T(c, "codes.import.err.duplicate", first)})
			continue
		}
		seen[e.Code] = row
		entries = append(entries, importedEntry{Row: row, Entry: e})
	}
	return entries, rejected, true
}

// fullOverride turns an imported entry into an override that sets every field.
func fullOverride(e domain.CodeEntry) domain.CodeOverride {
	cat, retry, wait, alt := e.Category, e.Retry, e.RetryAfter, e.AltChannel
	title, expl, msg := e.Title, e.Explanation, e.CustomerMessage
	actions := slices.Clone(e.Actions)
	if actions == nil {
		actions = []domain.Action{}
	}
	return domain.CodeOverride{Code: e.Code, Category: &cat, Title: &title, Explanation: &expl,
		CustomerMessage: &msg, Actions: actions, Retry: &retry, RetryAfter: &wait, AltChannel: &alt}
}

func sameEntry(a, b domain.CodeEntry) bool {
	return a.Code == b.Code && a.Category == b.Category && a.Title == b.Title && a.Explanation == b.Explanation &&
		a.CustomerMessage == b.CustomerMessage && slices.Equal(a.Actions, b.Actions) && a.Retry == b.Retry &&
		a.RetryAfter == b.RetryAfter && a.AltChannel == b.AltChannel
}

// CodeJSON is a catalog entry as the API shows it. Texts carry both languages.
type CodeJSON struct {
	Code              string                        `json:"code"`
	Category          domain.Category               `json:"category"`
	CategoryLabel     domain.Text                   `json:"category_label"`
	Title             domain.Text                   `json:"title"`
	Explanation       domain.Text                   `json:"explanation"`
	CustomerMessage   domain.Text                   `json:"customer_message"`
	Actions           []domain.Action               `json:"actions"`
	ActionLabels      map[domain.Action]domain.Text `json:"action_labels"`
	Retryable         bool                          `json:"retryable"`
	Retry             domain.RetryKind              `json:"retry"`
	RetryAfterSeconds int64                         `json:"retry_after_seconds"`
	AltChannel        string                        `json:"alt_channel"`
	Known             bool                          `json:"known"`
}

func codeJSON(e domain.CodeEntry) CodeJSON {
	out := CodeJSON{Code: e.Code, Category: e.Category,
		CategoryLabel: domain.Text{ZH: e.Category.Label("zh-CN"), EN: e.Category.Label("en")},
		Title:         e.Title, Explanation: e.Explanation, CustomerMessage: e.CustomerMessage,
		Actions: e.Actions, ActionLabels: map[domain.Action]domain.Text{}, Retryable: e.Retryable(), Retry: e.Retry,
		RetryAfterSeconds: int64(e.RetryAfter / time.Second), AltChannel: e.AltChannel, Known: e.Known()}
	if out.Actions == nil {
		out.Actions = []domain.Action{}
	}
	for _, a := range e.Actions {
		out.ActionLabels[a] = domain.Text{ZH: a.Label("zh-CN"), EN: a.Label("en")}
	}
	return out
}

// APIList answers GET /api/v1/codes: every code the merchant's catalog holds.
func (h *Codes) APIList(c echo.Context) error {
	cat, err := h.catalog(c)
	if err != nil {
		return err
	}
	all := cat.All()
	data := make([]CodeJSON, 0, len(all))
	for _, e := range all {
		data = append(data, codeJSON(e))
	}
	return c.JSON(http.StatusOK, map[string]any{"data": data})
}

// APIGet answers GET /api/v1/codes/{code}. An unknown code is never an error: it
// gets the unclassified entry (known: false). Only a malformed code is refused.
func (h *Codes) APIGet(c echo.Context) error {
	code, err := url.PathUnescape(c.Param("code"))
	if err != nil || !domain.ValidCode(code) {
		return web.Fail(http.StatusBadRequest, "invalid_code", "codes.err.code")
	}
	cat, err := h.catalog(c)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, codeJSON(cat.Lookup(code)))
}
