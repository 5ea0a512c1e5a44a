package handlers_test

import (
	"context"
	"fmt"
	"net/url"
	"testing"
	"time"

	"paymend/db"
	"paymend/jobs"
)

// BenchmarkBulkNotify measures issue 5's targets: a bulk send of 10,000 e-mail
// notices accepted (rendered, stored, jobs inserted) in under 2 s, then delivered
// at ≥ 500/s to a local SMTP sink (the sandbox's SMTP server) by the River workers.
func BenchmarkBulkNotify(b *testing.B) {
	for i := 0; i < b.N; i++ {
		benchBulkNotify(b)
	}
}

func benchBulkNotify(b *testing.B) {
	e := newEnvB(b)
	e.customerSide("alpha")
	ctx := context.Background()
	// 10,000 failed payments with an e-mail address.
	sealedEmail, _ := e.sealer.Seal("buyer@example.com")
	for i := 0; i < 10_000; i += 500 {
		rows := make([]db.ImportRow, 0, 500)
		for j := i; j < i+500; j++ {
			rows = append(rows, db.ImportRow{RowNo: j, EventRecord: db.EventRecord{EventID: fmt.Sprintf("evt_b%05d", j), Type: "payment.failed",
				PlatformID: fmt.Sprintf("TB%05d", j), OrderID: fmt.Sprintf("OB%05d", j), Amount: 12900, Currency: "CNY", Channel: "card",
				Code: "101", Message: "余额不足", CustomerRef: fmt.Sprintf("C%05d", j), CustomerName: "客户", EmailSealed: sealedEmail,
				EmailMasked: "b***@example.com", Payload: []byte(`{}`), OccurredAt: time.Now().Add(-time.Hour)}})
		}
		if _, err := e.store.ImportEvents(ctx, e.m["alpha"].ID, func(put func(db.ImportRow) error) error {
			for _, r := range rows {
				if err := put(r); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	// Accept: stop the workers so the measurement is the request alone.
	stop, cancel := context.WithTimeout(ctx, 5*time.Second)
	e.jobs.Stop(stop)
	cancel()
	c := e.login("operator@alpha.test")
	b.ResetTimer()
	start := time.Now()
	resp := e.post(c, "/transactions/bulk-notify", url.Values{"channel": {"email"}, "all": {"1"}, "confirm": {"1"},
		"back": {"/transactions?status=failed"}})
	resp.Body.Close()
	accept := time.Since(start)
	var queued int
	e.store.DB().Get(&queued, `SELECT count(*) FROM notifications WHERE merchant_id = $1`, e.m["alpha"].ID)
	if queued != 10_000 {
		b.Fatalf("queued %d (status %d)", queued, resp.StatusCode)
	}
	b.ReportMetric(accept.Seconds()*1000, "accept-10k-ms")
	// Deliver.
	start = time.Now()
	runner, err := jobs.Start(ctx, jobs.Config{DB: e.store.DB().DB, Store: e.store, Sealer: e.sealer, FetchPoll: 100 * time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	defer runner.Stop(ctx)
	for {
		var left int
		e.store.DB().Get(&left, `SELECT count(*) FROM notifications WHERE merchant_id = $1 AND state NOT IN ('sent', 'failed')`, e.m["alpha"].ID)
		if left == 0 {
			break
		}
		if time.Since(start) > 3*time.Minute {
			b.Fatalf("%d notices still undelivered", left)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var sent int
	e.store.DB().Get(&sent, `SELECT count(*) FROM notifications WHERE merchant_id = $1 AND state = 'sent'`, e.m["alpha"].ID)
	b.ReportMetric(float64(sent)/time.Since(start).Seconds(), "delivered/s")
}
