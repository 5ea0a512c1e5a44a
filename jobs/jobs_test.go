package jobs

import (
	"context"
	"testing"
	"time"

	"paymend/db"
	"paymend/db/dbtest"
	"paymend/domain"
)

// TestSweepClosesOrdersARaceLeftOpen plays the race where a failure and the order's
// successful retry commit at the same moment and neither sees the other: the sweep
// closes the failure.
func TestSweepClosesOrdersARaceLeftOpen(t *testing.T) {
	d, _ := dbtest.New(t)
	s := db.New(d)
	ctx := context.Background()
	m, err := s.CreateMerchant(ctx, domain.Merchant{Code: "sweep", Name: "Sweep"}, []string{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if _, err := s.IngestEvent(ctx, m.ID, db.EventRecord{EventID: "e1", Type: "payment.failed", PlatformID: "T1",
		OrderID: "O1", Amount: 100, Currency: "CNY", Channel: "card", Code: "202", Payload: []byte(`{}`), OccurredAt: now}); err != nil {
		t.Fatal(err)
	}
	// The retry's row, written as if its fold had not seen the failure.
	if _, err := d.Exec(`INSERT INTO transactions (merchant_id, platform_id, order_id, amount, currency, channel, pay_status, occurred_at)
		VALUES ($1, 'T2', 'O1', 100, 'CNY', 'card', 'succeeded', $2)`, m.ID, now); err != nil {
		t.Fatal(err)
	}
	w := &SweepOrdersWorker{store: s, now: func() time.Time { return now }}
	if err := w.Work(ctx, nil); err != nil {
		t.Fatal(err)
	}
	tx, _ := s.TransactionByPlatformID(ctx, m.ID, "T1")
	if tx.ResolutionState != string(domain.ResolutionRetriedSuccess) {
		t.Fatalf("T1 %s", tx.ResolutionState)
	}
}
