package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"paymend/db"
	"paymend/domain"
)

// codesNow is where the codes tests stand: a day after e.ingest's payments.
var codesNow = time.Date(2026, 11, 21, 9, 0, 0, 0, time.UTC)

func (e *env) codesSetNow(at time.Time) {
	e.clock.mu.Lock()
	defer e.clock.mu.Unlock()
	e.clock.t = at
}

// codesData gives alpha 30 failures this week (16 × 101, 10 × 202, 4 × the unknown
// ZZ9), 8 × 101 and 1 × 102 the week before, and beta 5 × 101.
func codesData(e *env) {
	e.codesSetNow(codesNow)
	e.ingest("alpha", 30, func(i int, r *db.EventRecord) {
		switch {
		case i%3 == 0:
			r.Code, r.Message = "202", "交易超时"
		case i%5 == 0:
			r.Code, r.Message = "ZZ9", "新的错误"
		}
	})
	e.ingest("alpha", 9, func(i int, r *db.EventRecord) {
		r.EventID, r.PlatformID = fmt.Sprintf("evt_prev_%d", i), fmt.Sprintf("TPREV%04d", i)
		r.OccurredAt = r.OccurredAt.Add(-10 * 24 * time.Hour)
		if i == 8 {
			r.Code = "102"
		}
	})
	e.ingest("beta", 5, nil)
}

func codesByCode(d *goquery.Document, id string) map[string]*goquery.Selection {
	out := map[string]*goquery.Selection{}
	d.Find(tid(id)).Each(func(_ int, s *goquery.Selection) { out[s.AttrOr("data-code", "")] = s })
	return out
}

func codesCell(s *goquery.Selection, id string) string {
	return strings.TrimSpace(s.Find(tid(id)).Text())
}

func TestCodesPageListsEveryCodeWithItsFigures(t *testing.T) {
	e := newEnv(t)
	codesData(e)
	c := e.login("viewer@alpha.test")
	d := doc(t, e.get(c, "/codes"))
	if d.Find(tid("nav-codes")).AttrOr("aria-current", "") != "page" {
		t.Fatal("the codes nav item is not current")
	}
	rows := d.Find(tid("code-row"))
	if rows.Length() < 28 || rows.Length() != len(domain.DefaultCatalog()) {
		t.Fatalf("%d codes listed", rows.Length())
	}
	// Most frequent first, then by code.
	var order []string
	rows.Each(func(_ int, s *goquery.Selection) { order = append(order, s.AttrOr("data-code", "")) })
	if order[0] != "101" || order[1] != "202" || order[2] != "102" && order[2] != "103" {
		t.Fatalf("order %v", order[:4])
	}
	byCode := codesByCode(d, "code-row")
	for code, want := range map[string][4]string{
		"101": {"16", "53.3%", "▲ 100%", "1,016.00 CNY"}, // 8 before
		"202": {"10", "33.3%", "▲ 新出现", "101.35 CNY"},    // 1000+0+3+…+27 minor units
		"102": {"0", "—", "▼ 100%", "0.00 CNY"},
		"103": {"0", "—", "—", "0.00 CNY"},
	} {
		r := byCode[code]
		got := [4]string{codesCell(r, "code-failures"), codesCell(r, "code-share"), codesCell(r, "code-trend"), codesCell(r, "code-amount")}
		if got[0] != want[0] || got[1] != want[1] || got[2] != want[2] || (code != "101" && got[3] != want[3]) {
			t.Errorf("%s: %v, want %v", code, got, want)
		}
	}
	if s := codesCell(d.Selection, "codes-summary"); !strings.Contains(s, "30") || !strings.Contains(s, "9") {
		t.Errorf("summary %q", s)
	}
	if byCode["101"].Find(tid("code-title")).Text() != "余额不足" {
		t.Errorf("101 title %q", byCode["101"].Find(tid("code-title")).Text())
	}
	// The unknown code is listed apart, with its count; a viewer gets no link to document it.
	unknown := codesByCode(d, "unclassified-row")
	if len(unknown) != 1 || unknown["ZZ9"] == nil || unknown["ZZ9"].AttrOr("data-failures", "") != "4" {
		t.Fatalf("unclassified %v", unknown)
	}
	if d.Find(tid("document-link")).Length() != 0 {
		t.Fatal("a viewer is offered to document a code")
	}
	if byCode["ZZ9"] != nil {
		t.Fatal("an unknown code is in the catalog table")
	}
	// Each count links to exactly the payments it counts.
	for _, link := range []struct {
		sel  *goquery.Selection
		want int
	}{{byCode["101"], 16}, {byCode["202"], 10}, {unknown["ZZ9"], 4}} {
		href := link.sel.Find(tid("code-failures-link")).AttrOr("href", "")
		n := doc(t, e.get(c, href)).Find(tid("tx-row")).Length()
		if !strings.HasPrefix(href, "/transactions?") || n != link.want {
			t.Errorf("%s lists %d payments, want %d", href, n, link.want)
		}
	}
	// An admin may document the unknown code.
	ad := doc(t, e.get(e.login("admin@alpha.test"), "/codes"))
	if href := ad.Find(tid("document-link")).AttrOr("href", ""); !strings.HasPrefix(href, "/codes/ZZ9") {
		t.Fatalf("admin's document link %q", href)
	}
	// The payment page calls the unknown code unclassified and still gives advice.
	tx, err := e.store.TransactionByPlatformID(context.Background(), e.m["alpha"].ID, "TALPHA0005")
	if err != nil {
		t.Fatal(err)
	}
	reason := doc(t, e.get(c, fmt.Sprintf("/transactions/%d", tx.ID))).Find(tid("tx-reason"))
	if !strings.Contains(reason.Text(), "未分类") || !strings.Contains(reason.Text(), "ZZ9") ||
		strings.TrimSpace(reason.Find(tid("tx-customer-message")).Text()) == "" {
		t.Fatalf("unknown code on the payment page: %q", reason.Text())
	}
	// So does its own page.
	one := doc(t, e.get(c, "/codes/ZZ9"))
	if one.Find(tid("code-unclassified-note")).Length() != 1 || codesKPI(one, "code-kpi-failures") != "4" {
		t.Fatalf("ZZ9 page: %q", codesKPI(one, "code-kpi-failures"))
	}
}

func TestCodesSearchCategoryPeriodAndFragments(t *testing.T) {
	e := newEnv(t)
	codesData(e)
	c := e.login("operator@alpha.test")
	codes := func(path string) (main, unknown []string) {
		d := doc(t, e.get(c, path))
		d.Find(tid("code-row")).Each(func(_ int, s *goquery.Selection) { main = append(main, s.AttrOr("data-code", "")) })
		d.Find(tid("unclassified-row")).Each(func(_ int, s *goquery.Selection) { unknown = append(unknown, s.AttrOr("data-code", "")) })
		return main, unknown
	}
	if m, u := codes("/codes?q=202"); len(m) != 1 || m[0] != "202" || len(u) != 0 {
		t.Fatalf("q=202: %v %v", m, u)
	}
	if m, u := codes("/codes?q=zz9"); len(m) != 0 || len(u) != 1 {
		t.Fatalf("q=zz9: %v %v", m, u)
	}
	for _, q := range []string{"余额", "INSUFFICIENT"} {
		m, _ := codes("/codes?q=" + url.QueryEscape(q))
		if len(m) == 0 || m[0] != "101" || len(m) > 5 {
			t.Fatalf("q=%s: %v", q, m)
		}
	}
	d := doc(t, e.get(c, "/codes?category=network"))
	net := d.Find(tid("code-row"))
	net.Each(func(_ int, s *goquery.Selection) {
		if s.AttrOr("data-category", "") != "network" {
			t.Fatalf("category=network lists %s", s.AttrOr("data-code", ""))
		}
	})
	if net.Length() < 4 || d.Find(tid("unclassified-row")).Length() != 0 {
		t.Fatalf("category=network: %d rows", net.Length())
	}
	if m, u := codes("/codes?category=unclassified"); len(m) != 0 || len(u) != 1 {
		t.Fatalf("category=unclassified: %v %v", m, u)
	}
	d = doc(t, e.get(c, "/codes?period=24h"))
	r := codesByCode(d, "code-row")["101"]
	if codesCell(r, "code-failures") != "16" || codesCell(r, "code-trend") != "▲ 新出现" {
		t.Fatalf("24h: %q %q", codesCell(r, "code-failures"), codesCell(r, "code-trend"))
	}
	if d.Find(`select[name=period] option[selected]`).AttrOr("value", "") != "24h" {
		t.Fatal("the period menu does not show the period")
	}
	// htmx gets the table alone (catalog and unclassified), with Vary set.
	resp := e.get(c, "/codes?category=funds", "HX-Request", "true")
	if resp.Header.Get("Vary") != "HX-Request" {
		t.Fatalf("Vary = %q", resp.Header.Get("Vary"))
	}
	frag := doc(t, resp)
	if frag.Find(tid("codes-filters")).Length() != 0 || frag.Find("#codes-table").Length() != 1 ||
		frag.Find(tid("code-row")).Length() == 0 || frag.Find(tid("codes-unclassified")).Length() != 1 {
		t.Fatal("fragment is not the table alone")
	}
	if f := doc(t, e.get(c, "/codes")).Find(tid("codes-filters")); f.AttrOr("hx-push-url", "") != "true" ||
		f.AttrOr("hx-target", "") != "#codes-table" {
		t.Fatal("filters do not push their state to the URL")
	}
	for _, q := range []string{"period=1y", "category=nope", "q=" + strings.Repeat("x", 101)} {
		resp := e.get(c, "/codes?"+q)
		if d := doc(t, resp); resp.StatusCode != http.StatusBadRequest || d.Find(tid("filter-errors")).Length() != 1 {
			t.Errorf("%s: %d", q, resp.StatusCode)
		}
	}
	if resp := e.get(c, "/codes/not%20a%20code"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("bad code page: %d", resp.StatusCode)
	}
}

func (e *env) codesAPI(key, path string) (*http.Response, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp, out
}

func codesAPITitle(o map[string]any) string { return o["title"].(map[string]any)["zh-CN"].(string) }

func TestCodeOverrideTakesPrecedenceForThisMerchantOnly(t *testing.T) {
	e := newEnv(t)
	codesData(e)
	ctx := context.Background()
	admin := e.login("admin@alpha.test")
	resp := e.post(admin, "/codes/101", url.Values{"title_zh": {"账户余额不够"}, "title_en": {"Balance too low"}})
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/codes/101" {
		t.Fatalf("override: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	d := doc(t, e.get(admin, "/codes/101"))
	if codesCell(d.Selection, "code-title") != "账户余额不够" || d.Find(tid("code-overridden")).Length() != 1 ||
		!strings.Contains(d.Find(tid("flash")).Text(), "101") {
		t.Fatalf("code page after override: %q", codesCell(d.Selection, "code-title"))
	}
	// Only the title changed: the rest still follows the platform.
	base := domain.NewCatalog(domain.DefaultCatalog(), nil).Lookup("101")
	if codesCell(d.Selection, "code-explanation") != base.Explanation.ZH || d.Find(`[data-testid="code-actions"] li`).Length() != len(base.Actions) {
		t.Fatal("fields not in the post were changed")
	}
	o, err := e.store.CodeOverrides(ctx, e.m["alpha"].ID)
	if err != nil || len(o) != 1 || o[0].Explanation != nil || o[0].Actions != nil || o[0].Category != nil {
		t.Fatalf("stored %+v %v", o, err)
	}
	v := e.login("viewer@alpha.test")
	list := codesByCode(doc(t, e.get(v, "/codes")), "code-row")
	if list["101"].Find(tid("code-title")).Text() != "账户余额不够" || list["101"].Find(tid("code-overridden")).Length() != 1 {
		t.Fatal("codes page does not show the override")
	}
	tx, _ := e.store.TransactionByPlatformID(ctx, e.m["alpha"].ID, "TALPHA0001")
	if r := doc(t, e.get(v, fmt.Sprintf("/transactions/%d", tx.ID))).Find(tid("tx-reason")).Text(); !strings.Contains(r, "账户余额不够") {
		t.Fatalf("payment page shows %q", r)
	}
	key := handlersNewKey(t, e, "alpha")
	if _, one := e.codesAPI(key, "/api/v1/codes/101"); codesAPITitle(one) != "账户余额不够" || one["title"].(map[string]any)["en"] != "Balance too low" {
		t.Fatalf("API shows %v", one["title"])
	}
	// Merchant beta still sees the platform's wording everywhere.
	bv := e.login("viewer@beta.test")
	if s := codesCell(doc(t, e.get(bv, "/codes/101")).Selection, "code-title"); s != "余额不足" {
		t.Fatalf("beta sees %q", s)
	}
	btx, _ := e.store.TransactionByPlatformID(ctx, e.m["beta"].ID, "TBETA0001")
	if r := doc(t, e.get(bv, fmt.Sprintf("/transactions/%d", btx.ID))).Find(tid("tx-reason")).Text(); strings.Contains(r, "账户余额不够") {
		t.Fatal("beta's payment page shows alpha's override")
	}
	if _, one := e.codesAPI(handlersNewKey(t, e, "beta"), "/api/v1/codes/101"); codesAPITitle(one) != "余额不足" {
		t.Fatalf("beta API shows %v", one["title"])
	}
	// Documenting the unknown code makes it known.
	resp = e.post(admin, "/codes/ZZ9", url.Values{"category": {"card"}, "title_zh": {"卡片已注销"}, "title_en": {"Card closed"},
		"actions_shown": {"1"}, "actions": {"change_card", "contact_bank"}, "retry": {"hard"}, "retry_after": {"0"}, "alt_channel": {"alipay"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("document ZZ9: %d", resp.StatusCode)
	}
	d = doc(t, e.get(v, "/codes"))
	if r := codesByCode(d, "code-row")["ZZ9"]; r == nil || r.AttrOr("data-failures", "") != "4" || r.AttrOr("data-category", "") != "card" {
		t.Fatal("documented ZZ9 is not in the catalog table")
	}
	if d.Find(tid("unclassified-row")).Length() != 0 {
		t.Fatal("documented ZZ9 is still unclassified")
	}
	if _, one := e.codesAPI(key, "/api/v1/codes/ZZ9"); one["known"] != true || one["category"] != "card" || one["alt_channel"] != "alipay" {
		t.Fatalf("API ZZ9: %v", one)
	}
	// Reset brings the platform entry back.
	resp = e.post(admin, "/codes/101/reset", nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("reset: %d", resp.StatusCode)
	}
	if s := codesCell(doc(t, e.get(v, "/codes/101")).Selection, "code-title"); s != "余额不足" {
		t.Fatalf("after reset %q", s)
	}
	for action, n := range map[string]int{"code.override": 2, "code.reset": 1} {
		got, _, _ := e.store.AuditLog(ctx, e.m["alpha"].ID, db.AuditFilter{Action: action})
		if len(got) != n || got[0].Target == "" {
			t.Errorf("audit %s: %d entries", action, len(got))
		}
	}
}

func TestCodeOverridesNeedAnAdminAndValidInput(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	form := url.Values{"title_zh": {"改"}}
	for _, who := range []string{"viewer@alpha.test", "operator@alpha.test"} {
		c := e.login(who)
		for _, p := range []string{"/codes/101", "/codes/101/reset", "/codes/import"} {
			if resp := e.post(c, p, form); resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s POST %s: %d", who, p, resp.StatusCode)
			}
		}
		if resp := e.get(c, "/codes/import"); resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s GET /codes/import: %d", who, resp.StatusCode)
		}
		if d := doc(t, e.get(c, "/codes/101")); d.Find(tid("code-form")).Length() != 0 || d.Find(tid("code-entry")).Length() != 1 {
			t.Errorf("%s sees the override form", who)
		}
	}
	admin := e.login("admin@alpha.test")
	bad := url.Values{"customer_message_zh": {"因风控拦截,支付失败"}, "title_en": {strings.Repeat("x", 101)},
		"retry_after": {"forever"}, "alt_channel": {"fax"}, "actions_shown": {"1"}, "actions": {"confirm_balance", "teleport"}}
	resp := e.post(admin, "/codes/101", bad)
	d := doc(t, resp)
	if resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("invalid override: %d", resp.StatusCode)
	}
	for id, want := range map[string]string{
		"error-customer_message_zh": "客户提示不得透露风控信息",
		"error-title_en":            "超过 100 个字符",
		"error-retry_after":         "秒数",
		"error-alt_channel":         "未知的支付渠道",
		"error-actions":             "未知的处理建议",
	} {
		if got := codesCell(d.Selection, id); !strings.Contains(got, want) {
			t.Errorf("%s = %q, want %q", id, got, want)
		}
	}
	// What the admin typed is kept for correction.
	if d.Find(`#customer_message_zh`).Text() != "因风控拦截,支付失败" {
		t.Fatal("the form lost the input")
	}
	if o, _ := e.store.CodeOverrides(ctx, e.m["alpha"].ID); len(o) != 0 {
		t.Fatalf("an invalid override was stored: %+v", o)
	}
	// In English for an English-speaking admin; htmx gets the form alone.
	e.post(admin, "/lang", url.Values{"lang": {"en"}, "back": {"/codes"}}).Body.Close()
	resp = e.post(admin, "/codes/101", bad, "HX-Request", "true")
	d = doc(t, resp)
	if resp.StatusCode != http.StatusUnprocessableEntity || d.Find(tid("code-entry")).Length() != 0 || d.Find("#code-form").Length() != 1 {
		t.Fatalf("htmx invalid override: %d", resp.StatusCode)
	}
	if got := codesCell(d.Selection, "error-customer_message_zh"); got != "must not mention risk control" {
		t.Fatalf("English message %q", got)
	}
}

func (e *env) uploadCodes(c *http.Client, name string, content []byte) *http.Response {
	e.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fw, _ := w.CreateFormFile("file", name)
	fw.Write(content)
	w.Close()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/codes/import", &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

func codesKPI(d *goquery.Document, id string) string {
	return strings.TrimSpace(d.Find(tid(id) + " .kpi-value").Text())
}

func TestCodesCSVImportReportsEachRow(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin := e.login("admin@alpha.test")
	if d := doc(t, e.get(admin, "/codes/import")); d.Find(tid("codes-import-form")).Length() != 1 {
		t.Fatal("no import form")
	}
	csvText := "\xEF\xBB\xBF" + strings.Join(domain.CatalogCSVColumns, ",") + "\n" +
		"101,funds,余额不足(本店),Insufficient balance (ours),说明,Explanation,请确认余额后重试。,Please check your balance and try again.,confirm_balance|change_card,hard,0,\n" +
		"102,nonsense,标题,Title,说明,Explanation,请更换银行卡。,Please use another card.,change_card,hard,0,\n" +
		"NEW1,card,新错误,New error,说明,Explanation,请更换银行卡。,Please use another card.,change_card,soft,10m,wechat\n" +
		"103,funds,标题,Title,说明,Explanation,因风控拦截,Blocked,change_card,hard,0,\n"
	resp := e.uploadCodes(admin, "catalog.csv", []byte(csvText))
	d := doc(t, resp)
	if resp.StatusCode != http.StatusOK || d.Find(tid("codes-import-report")).Length() != 1 {
		t.Fatalf("import: %d %s", resp.StatusCode, d.Find(tid("codes-import-error")).Text())
	}
	for id, want := range map[string]string{"codes-import-rows": "4", "codes-import-stored": "2", "codes-import-rejected": "2", "codes-import-unchanged": "0"} {
		if got := codesKPI(d, id); got != want {
			t.Errorf("%s = %s, want %s", id, got, want)
		}
	}
	rejected := map[string]string{}
	d.Find(tid("codes-import-line-rejected")).Each(func(_ int, s *goquery.Selection) { rejected[s.AttrOr("data-row", "")] = s.Text() })
	if !strings.Contains(rejected["3"], "未知的分类") || !strings.Contains(rejected["5"], "客户提示不得透露风控信息") {
		t.Fatalf("rejected rows %v", rejected)
	}
	key := handlersNewKey(t, e, "alpha")
	if _, one := e.codesAPI(key, "/api/v1/codes/NEW1"); one["known"] != true || one["retry_after_seconds"] != float64(600) ||
		one["retryable"] != true || one["category"] != "card" {
		t.Fatalf("imported NEW1: %v", one)
	}
	if _, one := e.codesAPI(key, "/api/v1/codes/101"); codesAPITitle(one) != "余额不足(本店)" || len(one["actions"].([]any)) != 2 {
		t.Fatalf("imported 101: %v", one)
	}
	if _, one := e.codesAPI(key, "/api/v1/codes/102"); codesAPITitle(one) == "标题" {
		t.Fatal("a rejected row was stored")
	}
	if got, _, _ := e.store.AuditLog(ctx, e.m["alpha"].ID, db.AuditFilter{Action: "code.import"}); len(got) != 1 {
		t.Fatal("import not audited")
	}
	// Whole-file problems are explained, and nothing changes.
	for _, bad := range []struct {
		name string
		body []byte
	}{
		{"x.csv", []byte("title_zh,title_en\n余额,Balance\n")},
		{"x.json", []byte(`{"codes": "nope"}`)},
		{"x.csv", []byte("   ")},
		{"big.csv", bytes.Repeat([]byte("a"), 3<<20)},
	} {
		resp := e.uploadCodes(admin, bad.name, bad.body)
		if d := doc(t, resp); resp.StatusCode != http.StatusBadRequest || d.Find(tid("codes-import-error")).Length() != 1 {
			t.Errorf("%s (%d bytes): %d", bad.name, len(bad.body), resp.StatusCode)
		}
	}
	if resp := e.post(admin, "/codes/import", url.Values{"file": {"x"}}); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("form post without a file: %d", resp.StatusCode)
	}
}

func TestCodesJSONExportImportRoundTrip(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@alpha.test")
	e.post(admin, "/codes/101", url.Values{"title_zh": {"账户余额不够"}}).Body.Close()
	viewer := e.login("viewer@alpha.test")
	resp := e.get(viewer, "/codes/export.json")
	exported := []byte(body(t, resp))
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") ||
		!strings.Contains(resp.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export headers %v", resp.Header)
	}
	entries, err := domain.ParseCatalogJSON(exported)
	if err != nil || len(entries) != len(domain.DefaultCatalog()) {
		t.Fatalf("export: %d entries, %v", len(entries), err)
	}
	if entries[0].Code != "101" || entries[0].Title.ZH != "账户余额不够" {
		t.Fatalf("export shows %+v", entries[0].Title)
	}
	// Importing the export changes nothing.
	d := doc(t, e.uploadCodes(admin, "paymend-codes.json", exported))
	if codesKPI(d, "codes-import-unchanged") != fmt.Sprint(len(entries)) || codesKPI(d, "codes-import-stored") != "0" {
		t.Fatalf("re-import: stored %s unchanged %s", codesKPI(d, "codes-import-stored"), codesKPI(d, "codes-import-unchanged"))
	}
	// Edit one, add one, break two: the good rows go in, the bad are reported.
	entries[1].Title = domain.Text{ZH: "超出每日限额", EN: "Over the daily limit"}
	added := entries[2]
	added.Code, added.Category = "NEW2", domain.CategoryCard
	var raw []json.RawMessage
	b, _ := domain.MarshalCatalogJSON(append(entries, added))
	json.Unmarshal(b, &raw)
	raw = append(raw, json.RawMessage(`{"code":"BAD1","category":"card","title":{"zh-CN":"x"},"retry_after":"forever"}`),
		json.RawMessage(`{"code":"has space","category":"card","title":{"zh-CN":"x"}}`))
	edited, _ := json.Marshal(map[string]any{"codes": raw})
	resp = e.uploadCodes(admin, "upload.bin", edited) // detected by content
	d = doc(t, resp)
	for id, want := range map[string]string{"codes-import-rows": fmt.Sprint(len(entries) + 3), "codes-import-stored": "2",
		"codes-import-unchanged": fmt.Sprint(len(entries) - 1), "codes-import-rejected": "2"} {
		if got := codesKPI(d, id); got != want {
			t.Errorf("%s = %s, want %s", id, got, want)
		}
	}
	if r := d.Find(tid("codes-import-line-rejected")).First(); r.AttrOr("data-row", "") != fmt.Sprint(len(entries)+2) || !strings.Contains(r.Text(), "retry_after") {
		t.Fatalf("bad entry report: %q", r.Text())
	}
	again, err := domain.ParseCatalogJSON([]byte(body(t, e.get(viewer, "/codes/export.json"))))
	if err != nil || len(again) != len(entries)+1 {
		t.Fatalf("second export: %d, %v", len(again), err)
	}
	byCode := map[string]domain.CodeEntry{}
	for _, x := range again {
		byCode[x.Code] = x
	}
	if byCode["102"].Title.ZH != "超出每日限额" || byCode["NEW2"].Category != domain.CategoryCard || byCode["101"].Title.ZH != "账户余额不够" {
		t.Fatal("second export lacks the import")
	}
	// The CSV export carries the same catalog and reads back without a problem.
	resp = e.get(viewer, "/codes/export.csv")
	csvEntries, rowErrs, err := domain.ReadCatalogCSV(strings.NewReader(body(t, resp)))
	if err != nil || len(rowErrs) != 0 || len(csvEntries) != len(again) {
		t.Fatalf("csv export: %d entries, %v, %v", len(csvEntries), rowErrs, err)
	}
	// Importing the platform's own entry for 101 drops the merchant's change.
	platform, _ := domain.MarshalCatalogJSON(domain.DefaultCatalog()[:1])
	e.uploadCodes(admin, "platform.json", platform).Body.Close()
	if d := doc(t, e.get(viewer, "/codes/101")); d.Find(tid("code-overridden")).Length() != 0 || codesCell(d.Selection, "code-title") != "余额不足" {
		t.Fatal("the platform entry did not replace the override")
	}
}

func TestCodesAPI(t *testing.T) {
	e := newEnv(t)
	if resp, out := e.codesAPI("", "/api/v1/codes"); resp.StatusCode != http.StatusUnauthorized || out["error"] == nil {
		t.Fatalf("no key: %d", resp.StatusCode)
	}
	if resp, _ := e.codesAPI("pm_live_wrong", "/api/v1/codes/101"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad key: %d", resp.StatusCode)
	}
	key := handlersNewKey(t, e, "alpha")
	resp, out := e.codesAPI(key, "/api/v1/codes")
	data, _ := out["data"].([]any)
	if resp.StatusCode != http.StatusOK || len(data) != len(domain.DefaultCatalog()) {
		t.Fatalf("list: %d, %d codes", resp.StatusCode, len(data))
	}
	first := data[0].(map[string]any)
	for _, f := range []string{"code", "category", "title", "explanation", "customer_message", "actions", "retryable",
		"retry", "retry_after_seconds", "alt_channel", "known"} {
		if _, ok := first[f]; !ok {
			t.Errorf("field %s missing", f)
		}
	}
	msg := first["customer_message"].(map[string]any)
	if first["code"] != "101" || msg["zh-CN"] == "" || msg["en"] == "" || first["retryable"] != false || first["known"] != true {
		t.Fatalf("101: %v", first)
	}
	if _, one := e.codesAPI(key, "/api/v1/codes/202"); one["retryable"] != true || one["retry"] != "soft" || one["retry_after_seconds"] != float64(300) {
		t.Fatalf("202: %v", one)
	}
	resp, one := e.codesAPI(key, "/api/v1/codes/XYZ-77")
	if resp.StatusCode != http.StatusOK || one["known"] != false || one["category"] != "unclassified" || one["code"] != "XYZ-77" ||
		len(one["actions"].([]any)) == 0 {
		t.Fatalf("unknown code: %d %v", resp.StatusCode, one)
	}
	for _, bad := range []string{"/api/v1/codes/bad%21", "/api/v1/codes/" + strings.Repeat("9", 17)} {
		resp, out := e.codesAPI(key, bad)
		if resp.StatusCode != http.StatusBadRequest || out["error"].(map[string]any)["code"] != "invalid_code" {
			t.Errorf("%s: %d %v", bad, resp.StatusCode, out)
		}
	}
}
