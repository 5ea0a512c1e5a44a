package handlers_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"paymend/db"
	"paymend/domain"
	"paymend/web"
)

// ingest stores n failed payments for merchant code directly through the store.
func (e *env) ingest(code string, n int, mut func(i int, r *db.EventRecord)) {
	e.t.Helper()
	base := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		r := db.EventRecord{EventID: fmt.Sprintf("evt_%s_%d", code, i), Type: "payment.failed", Source: "webhook",
			PlatformID: fmt.Sprintf("T%s%04d", strings.ToUpper(code), i), OrderID: fmt.Sprintf("O%s%04d", code, i),
			Amount: int64(1000 + i), Currency: "CNY", Channel: "card", Code: "101", Message: "余额不足",
			CardBIN: "622202", CardLast4: "1234", Bank: "ICBC", CustomerRef: fmt.Sprintf("C%d", i%7),
			CustomerName: "李四", PhoneMasked: "138****0000", Payload: []byte(`{}`),
			OccurredAt: base.Add(time.Duration(i/3) * time.Minute)} // three per minute: equal timestamps
		if mut != nil {
			mut(i, &r)
		}
		if _, err := e.store.IngestEvent(context.Background(), e.m[code].ID, r); err != nil {
			e.t.Fatal(err)
		}
	}
}

func TestTransactionsKeysetPagingIsStableAcrossEqualTimestamps(t *testing.T) {
	e := newEnv(t)
	e.ingest("alpha", 95, nil)
	c := e.login("viewer@alpha.test")
	seen := map[string]bool{}
	path := "/transactions?status=failed"
	pages := 0
	for path != "" {
		d := doc(t, e.get(c, path))
		d.Find(tid("tx-row")).Each(func(_ int, s *goquery.Selection) {
			href := s.Find(tid("tx-link")).AttrOr("href", "")
			if seen[href] {
				t.Fatalf("row %s on two pages", href)
			}
			seen[href] = true
		})
		path = d.Find(tid("tx-next")).AttrOr("href", "")
		pages++
	}
	if len(seen) != 95 || pages != 2 {
		t.Fatalf("saw %d rows on %d pages", len(seen), pages)
	}
}

func TestTransactionsFiltersAndFragments(t *testing.T) {
	e := newEnv(t)
	e.ingest("alpha", 30, func(i int, r *db.EventRecord) {
		if i%3 == 0 {
			r.Code, r.Message, r.Channel, r.Bank = "202", "交易超时", "wechat", "CMB"
		}
	})
	c := e.login("operator@alpha.test")
	d := doc(t, e.get(c, "/transactions?code=202"))
	rows := d.Find(tid("tx-row"))
	if rows.Length() != 10 {
		t.Fatalf("code=202: %d rows", rows.Length())
	}
	rows.Each(func(_ int, s *goquery.Selection) {
		if s.AttrOr("data-code", "") != "202" {
			t.Fatal("wrong code in filtered list")
		}
	})
	if d.Find(tid("tx-filters")).Length() != 1 {
		t.Fatal("cold load lacks the filter form")
	}
	// htmx gets the table alone, with Vary set.
	resp := e.get(c, "/transactions?channel=wechat&bank=CMB", "HX-Request", "true")
	if resp.Header.Get("Vary") != "HX-Request" {
		t.Fatalf("Vary = %q", resp.Header.Get("Vary"))
	}
	frag := doc(t, resp)
	if frag.Find(tid("tx-filters")).Length() != 0 || frag.Find(tid("tx-row")).Length() != 10 {
		t.Fatalf("fragment: filters %d rows %d", frag.Find(tid("tx-filters")).Length(), frag.Find(tid("tx-row")).Length())
	}
	for q, want := range map[string]int{
		"category=funds": 20, "category=network": 10, "category=risk": 0, "min_amount=10.20&max_amount=10.25": 6,
		"q=Oalpha0004": 1, "q=C3": 4, "status=all&code=101": 20, "from=2026-11-20T10:05&to=2026-11-20T10:06": 0,
	} {
		n := doc(t, e.get(c, "/transactions?"+q)).Find(tid("tx-row")).Length()
		if n != want {
			t.Errorf("%s: %d rows, want %d", q, n, want)
		}
	}
	// Times are in the merchant's zone: 10:05 UTC is 18:05 in Shanghai.
	n := doc(t, e.get(c, "/transactions?from=2026-11-20T18:05&to=2026-11-20T18:06")).Find(tid("tx-row")).Length()
	if n != 3 {
		t.Errorf("merchant-zone range: %d rows, want 3", n)
	}
}

func TestTransactionsBadFiltersAre400NotErrors(t *testing.T) {
	e := newEnv(t)
	c := e.login("viewer@alpha.test")
	for _, q := range []string{"status=exploded", "from=yesterday", "min_amount=abc", "cursor=!!!", "channel=fax",
		"min_amount=5&max_amount=1", "from=2026-11-02&to=2026-11-01", "category=nope", "code=%3Cscript%3E"} {
		resp := e.get(c, "/transactions?"+q)
		d := doc(t, resp)
		if resp.StatusCode != http.StatusBadRequest || d.Find(tid("filter-errors")).Length() != 1 {
			t.Errorf("%s: status %d, errors shown %d", q, resp.StatusCode, d.Find(tid("filter-errors")).Length())
		}
	}
}

func TestTransactionsAPI(t *testing.T) {
	e := newEnv(t)
	e.ingest("alpha", 5, nil)
	e.ingest("beta", 2, nil)
	key := handlersNewKey(t, e, "alpha")
	get := func(path, auth string) (*http.Response, map[string]any) {
		req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp, out
	}
	if resp, out := get("/api/v1/transactions", ""); resp.StatusCode != http.StatusUnauthorized || out["error"] == nil {
		t.Fatalf("no key: %d %v", resp.StatusCode, out)
	}
	if resp, _ := get("/api/v1/transactions", "pm_live_wrong"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad key: %d", resp.StatusCode)
	}
	resp, out := get("/api/v1/transactions?limit=2&status=failed", key)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%d %v", resp.StatusCode, out)
	}
	data := out["data"].([]any)
	if len(data) != 2 || out["next_cursor"] == "" {
		t.Fatalf("page: %v", out)
	}
	first := data[0].(map[string]any)
	for _, f := range []string{"transaction_id", "order_id", "status", "code", "message", "amount", "currency", "channel", "card", "customer", "occurred_at", "resolution"} {
		if _, ok := first[f]; !ok {
			t.Errorf("field %s missing", f)
		}
	}
	if cust := first["customer"].(map[string]any); cust["phone"] != "138****0000" {
		t.Fatalf("customer %v", cust)
	}
	resp, out = get("/api/v1/transactions?cursor="+url.QueryEscape(out["next_cursor"].(string)), key)
	if resp.StatusCode != http.StatusOK || len(out["data"].([]any)) != 3 {
		t.Fatalf("second page: %v", out)
	}
	resp, one := get("/api/v1/transactions/TALPHA0001", key)
	if resp.StatusCode != http.StatusOK || len(one["timeline"].([]any)) != 1 {
		t.Fatalf("one: %d %v", resp.StatusCode, one)
	}
	// Another merchant's transaction does not exist for this key.
	if resp, out := get("/api/v1/transactions/TBETA0001", key); resp.StatusCode != http.StatusNotFound || out["error"] == nil {
		t.Fatalf("cross-tenant: %d", resp.StatusCode)
	}
	if resp, out := get("/api/v1/transactions?limit=500", key); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("limit=500: %d %v", resp.StatusCode, out)
	}
}

func handlersNewKey(t *testing.T, e *env, code string) string {
	t.Helper()
	key := "pm_live_test_" + code + "_key_0123456789"
	if _, err := e.store.CreateAPIKey(context.Background(), e.m[code].ID, "test", key[:12], web.HashAPIKey(key), nil); err != nil {
		t.Fatal(err)
	}
	return key
}

func TestExportIsMaskedCSV(t *testing.T) {
	e := newEnv(t)
	e.ingest("alpha", 12, nil)
	c := e.login("viewer@alpha.test")
	resp := e.get(c, "/transactions/export.csv?status=failed")
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Fatalf("content type %q", ct)
	}
	r := csv.NewReader(strings.NewReader(strings.TrimPrefix(body(t, resp), "\xEF\xBB\xBF")))
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 13 || rows[0][0] != "transaction_id" {
		t.Fatalf("%d rows, header %v", len(rows), rows[0])
	}
	for _, row := range rows[1:] {
		if row[15] != "138****0000" || row[14] != "李*" {
			t.Fatalf("unmasked row %v", row)
		}
	}
	entries, _, _ := e.store.AuditLog(context.Background(), e.m["alpha"].ID, db.AuditFilter{Action: "transaction.export"})
	if len(entries) != 1 {
		t.Fatal("export not audited")
	}
}

var _ = domain.StatusFailed
