package handlers_test

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"paymend/domain"
)

func (e *env) upload(c *http.Client, csvText string) *http.Response {
	e.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	fw, _ := w.CreateFormFile("file", "export.csv")
	fw.Write([]byte(csvText))
	w.Close()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/transactions/import", &buf)
	req.Header.Set("Content-Type", w.FormDataContentType())
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp
}

const importCSV = "\xEF\xBB\xBFtransaction_id,order_id,status,amount,currency,channel,code,message,card_bin,card_last4,bank,customer_id,customer_name,customer_phone,customer_email,occurred_at\n" +
	"TIMP1,O1,failed,129.00,CNY,card,101,余额不足 4111111111111111,622202,1234,ICBC,C1,王五,+8613900001111,wang@example.com,2026-11-24 10:00:00\n" +
	"TIMP1,O1,succeeded,129.00,CNY,card,,,622202,1234,ICBC,C1,王五,,,2026-11-24T02:05:00Z\n" +
	"TIMP2,O2,failed,12.5,CNY,wechat,202,交易超时,,,,C2,赵六,,,2026-11-24 11:00:00\n" +
	"TIMP3,O3,refunded,10,CNY,card,,,,,,C3,,,,2026-11-24 11:00:00\n" +
	"TIMP4,O4,failed,abc,CNY,card,101,,,,,C4,,,,2026-11-24 11:00:00\n" +
	"TIMP5,O5,failed,10,CNY,card,101,,,,,C5,,,,not-a-time\n" +
	"TIMP2,O2,failed,12.5,CNY,wechat,202,交易超时,,,,C2,赵六,,,2026-11-24 11:00:00\n"

func TestImportReportsEachRowAndIsIdempotent(t *testing.T) {
	e := newEnv(t)
	c := e.login("operator@alpha.test")
	d := doc(t, e.upload(c, importCSV))
	get := func(id string) string { return strings.TrimSpace(d.Find(tid(id) + " .kpi-value").Text()) }
	if get("import-rows") != "7" || get("import-accepted") != "3" || get("import-duplicates") != "1" || get("import-rejected") != "3" {
		t.Fatalf("report rows=%s accepted=%s dup=%s rejected=%s", get("import-rows"), get("import-accepted"), get("import-duplicates"), get("import-rejected"))
	}
	reasons := d.Find(tid("import-rejected")).Text()
	for _, want := range []string{"refunded", "abc", "not-a-time"} {
		if !strings.Contains(reasons, want) {
			t.Errorf("rejection reasons lack %q: %s", want, reasons)
		}
	}
	ctx := context.Background()
	tx, err := e.store.TransactionByPlatformID(ctx, e.m["alpha"].ID, "TIMP1")
	if err != nil {
		t.Fatal(err)
	}
	// Failed then succeeded in one file folds like two webhooks: succeeded, code kept.
	if tx.Status != domain.StatusSucceeded || tx.Code != "101" || tx.Amount != 12900 || strings.Contains(tx.Message, "4111111111111111") ||
		tx.PhoneMasked != "139****1111" {
		t.Fatalf("TIMP1 = %+v", tx)
	}
	// Times without a zone are the merchant's: 10:00 Shanghai is 02:00 UTC.
	if tx.OccurredAt.UTC().Hour() != 2 {
		t.Fatalf("occurred_at %v", tx.OccurredAt)
	}
	// The same file again: everything is a duplicate, nothing changes.
	d = doc(t, e.upload(c, importCSV))
	if get("import-accepted") != "0" || get("import-duplicates") != "4" {
		t.Fatalf("second import accepted=%s dup=%s", get("import-accepted"), get("import-duplicates"))
	}
	var n int
	e.store.DB().Get(&n, `SELECT count(*) FROM transactions WHERE merchant_id = $1`, e.m["alpha"].ID)
	if n != 2 {
		t.Fatalf("%d transactions", n)
	}
	// Viewers cannot import; a missing header is a clear error.
	if resp := e.upload(e.login("viewer@alpha.test"), importCSV); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer import: %d", resp.StatusCode)
	}
	resp := e.upload(c, "foo,bar\n1,2\n")
	if d := doc(t, resp); resp.StatusCode != http.StatusBadRequest || d.Find(tid("import-error")).Length() != 1 {
		t.Fatalf("bad header: %d", resp.StatusCode)
	}
}

func TestImportStreamsLargeFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("large import")
	}
	e := newEnv(t)
	var b strings.Builder
	b.WriteString("transaction_id,status,amount,currency,occurred_at,channel,code\n")
	for i := 0; i < 20000; i++ {
		fmt.Fprintf(&b, "TBIG%06d,failed,%d.00,CNY,2026-11-24T%02d:%02d:00Z,card,101\n", i, 10+i%500, i%24, i%60)
	}
	d := doc(t, e.upload(e.login("admin@alpha.test"), b.String()))
	if got := strings.TrimSpace(d.Find(tid("import-accepted") + " .kpi-value").Text()); got != "20000" {
		t.Fatalf("accepted %s", got)
	}
}
