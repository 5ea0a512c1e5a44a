package db_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"paymend/db"
	"paymend/domain"
)

func TestCodeOverridesRoundTripAndTenancy(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	a, b := mustMerchant(t, s, "shopa"), mustMerchant(t, s, "shopb")
	admin, err := s.CreateUser(ctx, a.ID, domain.User{Email: "admin@a.test", Role: domain.RoleAdmin, PasswordHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	cat, retry, wait, alt := domain.CategoryCard, domain.RetrySoft, 10*time.Minute, ""
	full := domain.CodeOverride{Code: "X-9", Category: &cat,
		Title:           &domain.Text{ZH: "自定义", EN: "Custom"},
		Explanation:     &domain.Text{ZH: "说明", EN: ""}, // English kept from the platform
		CustomerMessage: &domain.Text{ZH: "请更换银行卡。", EN: "Please use another card."},
		Actions:         []domain.Action{domain.ActionChangeCard, domain.ActionContactBank},
		Retry:           &retry, RetryAfter: &wait, AltChannel: &alt}
	titleOnly := domain.CodeOverride{Code: "101", Title: &domain.Text{ZH: "余额不够", EN: ""},
		Actions: []domain.Action{}} // an empty list clears the actions
	for _, o := range []domain.CodeOverride{full, titleOnly} {
		if err := s.UpsertCodeOverride(ctx, a.ID, o, &admin.ID); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.CodeOverrides(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Code != "101" || got[1].Code != "X-9" {
		t.Fatalf("overrides = %+v", got)
	}
	if !reflect.DeepEqual(got[1], full) {
		t.Fatalf("full override came back as\n%+v\nwant\n%+v", got[1], full)
	}
	o := got[0]
	if o.Category != nil || o.Explanation != nil || o.CustomerMessage != nil || o.Retry != nil ||
		o.RetryAfter != nil || o.AltChannel != nil || o.Actions == nil || len(o.Actions) != 0 || *o.Title != *titleOnly.Title {
		t.Fatalf("partial override came back as %+v", o)
	}
	// NULL keeps the platform value once applied.
	merged := domain.NewCatalog(domain.DefaultCatalog(), got).Lookup("101")
	base := domain.NewCatalog(domain.DefaultCatalog(), nil).Lookup("101")
	if merged.Title.ZH != "余额不够" || merged.Title.EN != base.Title.EN || merged.Explanation != base.Explanation ||
		len(merged.Actions) != 0 || merged.Retry != base.Retry {
		t.Fatalf("merged 101 = %+v", merged)
	}

	// Replacing is whole-row: fields left out go back to NULL.
	if err := s.UpsertCodeOverride(ctx, a.ID, domain.CodeOverride{Code: "X-9", Category: &cat}, nil); err != nil {
		t.Fatal(err)
	}
	got, _ = s.CodeOverrides(ctx, a.ID)
	if got[1].Title != nil || got[1].Actions != nil || *got[1].Category != cat {
		t.Fatalf("replaced override = %+v", got[1])
	}

	// Merchant b sees none of it and cannot delete a's rows.
	if other, err := s.CodeOverrides(ctx, b.ID); err != nil || len(other) != 0 {
		t.Fatalf("merchant b sees %+v, %v", other, err)
	}
	if err := s.DeleteCodeOverride(ctx, b.ID, "101"); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("b deleting a's override: %v", err)
	}
	if err := s.DeleteCodeOverride(ctx, a.ID, "101"); err != nil {
		t.Fatal(err)
	}
	if got, _ = s.CodeOverrides(ctx, a.ID); len(got) != 1 || got[0].Code != "X-9" {
		t.Fatalf("after delete: %+v", got)
	}
	// The database refuses what the domain would refuse.
	bad := domain.Category("nonsense")
	if err := s.UpsertCodeOverride(ctx, a.ID, domain.CodeOverride{Code: "102", Category: &bad}, nil); err == nil {
		t.Fatal("an unknown category was stored")
	}
	if err := s.UpsertCodeOverride(ctx, a.ID, domain.CodeOverride{Code: "no spaces"}, nil); err == nil {
		t.Fatal("an invalid code was stored")
	}
}

func TestCodeStatsCountsFailuresPerCodeInThePeriod(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	a, b := mustMerchant(t, s, "shopa"), mustMerchant(t, s, "shopb")
	from := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	to := from.Add(24 * time.Hour)
	n := 0
	pay := func(m domain.Merchant, typ, code, customer string, amount int64, at time.Time) string {
		n++
		id := fmt.Sprintf("T%d", n)
		codesPut(t, s, m.ID, db.EventRecord{EventID: fmt.Sprintf("e%d", n), Type: typ, PlatformID: id, Amount: amount,
			Currency: "CNY", Channel: "card", Code: code, CustomerRef: customer, OccurredAt: at, Payload: []byte(`{}`)})
		return id
	}
	in := from.Add(time.Hour)
	pay(a, "payment.failed", "101", "C1", 1000, in)
	pay(a, "payment.failed", "101", "C1", 2000, in.Add(time.Minute))
	pay(a, "payment.failed", "101", "C2", 500, in.Add(2*time.Minute))
	pay(a, "payment.failed", "ZZ9", "C3", 700, in)
	pay(a, "payment.failed", "", "", 300, in) // a failure without a code
	// A failure later refunded still failed once; a failure that went through on a
	// later attempt too.
	refunded := pay(a, "payment.failed", "202", "C4", 900, in)
	codesPut(t, s, a.ID, db.EventRecord{EventID: "r1", Type: "refund.succeeded", PlatformID: refunded, RefundID: "R1",
		Amount: 900, Currency: "CNY", OccurredAt: in.Add(time.Hour), Payload: []byte(`{}`)})
	recovered := pay(a, "payment.failed", "202", "C5", 100, in)
	codesPut(t, s, a.ID, db.EventRecord{EventID: "ok1", Type: "payment.succeeded", PlatformID: recovered, Amount: 100,
		Currency: "CNY", OccurredAt: in.Add(time.Minute), Payload: []byte(`{}`)})
	// Not counted: a success, failures outside [from, to), another merchant's failure.
	pay(a, "payment.succeeded", "", "C1", 9999, in)
	pay(a, "payment.failed", "101", "C1", 9999, from.Add(-time.Nanosecond*1000))
	pay(a, "payment.failed", "101", "C1", 9999, to)
	pay(b, "payment.failed", "101", "C1", 9999, in)

	got, err := s.CodeStats(ctx, a.ID, from, to)
	if err != nil {
		t.Fatal(err)
	}
	want := []db.CodeStat{
		{Code: "101", Failures: 3, Amount: 3500, Customers: 2},
		{Code: "202", Failures: 2, Amount: 1000, Customers: 2},
		{Code: "", Failures: 1, Amount: 300, Customers: 0},
		{Code: "ZZ9", Failures: 1, Amount: 700, Customers: 1},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("stats\n got %+v\nwant %+v", got, want)
	}
	prev, err := s.CodeStats(ctx, a.ID, from.Add(-24*time.Hour), from)
	if err != nil || len(prev) != 1 || prev[0].Code != "101" || prev[0].Failures != 1 {
		t.Fatalf("previous period: %+v %v", prev, err)
	}
	// The figures are what the transactions list shows for the same code and period.
	rows, _, err := s.Transactions(ctx, a.ID, db.TxFilter{Codes: []string{"202"}, From: from, To: to})
	if err != nil || len(rows) != 2 {
		t.Fatalf("list of 202: %d rows, %v", len(rows), err)
	}
}

func codesPut(t *testing.T, s *db.Store, merchantID int64, e db.EventRecord) {
	t.Helper()
	if _, err := s.IngestEvent(context.Background(), merchantID, e); err != nil {
		t.Fatal(err)
	}
}
