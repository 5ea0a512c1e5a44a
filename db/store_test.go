package db_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"paymend/db"
	"paymend/db/dbtest"
	"paymend/domain"
)

func newStore(t *testing.T) *db.Store {
	t.Helper()
	d, _ := dbtest.New(t)
	return db.New(d)
}

func mustMerchant(t *testing.T, s *db.Store, code string) domain.Merchant {
	t.Helper()
	m, err := s.CreateMerchant(context.Background(), domain.Merchant{Code: code, Name: code + " shop"}, []string{"x"})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestAuditLogIsAppendOnly(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	m := mustMerchant(t, s, "shop1")
	if err := s.Audit(ctx, m.ID, domain.AuditEntry{Actor: "a@x.test", Action: "login", Result: domain.AuditOK}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(`UPDATE audit_log SET actor = 'evil'`); err == nil {
		t.Fatal("UPDATE on audit_log was allowed")
	}
	if _, err := s.DB().Exec(`DELETE FROM audit_log`); err == nil {
		t.Fatal("DELETE on audit_log was allowed")
	}
	if _, err := s.DB().Exec(`TRUNCATE audit_log`); err == nil {
		t.Fatal("TRUNCATE on audit_log was allowed")
	}
	got, _, err := s.AuditLog(ctx, m.ID, db.AuditFilter{})
	if err != nil || len(got) != 1 || got[0].Actor != "a@x.test" {
		t.Fatalf("audit log = %+v, %v", got, err)
	}
}

func TestAuditLogKeysetPagingAndTenancy(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	a, b := mustMerchant(t, s, "shopa"), mustMerchant(t, s, "shopb")
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range 7 {
		// Equal timestamps in pairs prove the id tie-break.
		e := domain.AuditEntry{Actor: "u@a.test", Action: "user.create", Result: domain.AuditOK, At: at.Add(time.Duration(i/2) * time.Second)}
		if err := s.Audit(ctx, a.ID, e, map[string]any{"i": i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Audit(ctx, b.ID, domain.AuditEntry{Actor: "u@b.test", Action: "login", Result: domain.AuditOK}, nil); err != nil {
		t.Fatal(err)
	}
	var seen []int64
	f := db.AuditFilter{Limit: 3}
	for {
		page, next, err := s.AuditLog(ctx, a.ID, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page {
			if e.Actor != "u@a.test" {
				t.Fatalf("merchant a sees %q", e.Actor)
			}
			seen = append(seen, e.ID)
		}
		if next.IsZero() {
			break
		}
		f.Cursor = next
	}
	if len(seen) != 7 {
		t.Fatalf("paged %d entries, want 7: %v", len(seen), seen)
	}
	for i := 1; i < len(seen); i++ {
		if seen[i] >= seen[i-1] {
			t.Fatalf("not newest first: %v", seen)
		}
	}
}

func TestLoginLockout(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	m := mustMerchant(t, s, "shop1")
	u, err := s.CreateUser(ctx, m.ID, domain.User{Email: "a@x.test", Role: domain.RoleAdmin, PasswordHash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateUser(ctx, m.ID, domain.User{Email: "a@x.test", Role: domain.RoleViewer, PasswordHash: "h"}); !errors.Is(err, db.ErrDuplicate) {
		t.Fatalf("duplicate e-mail: %v", err)
	}
	now := time.Now()
	for i := 1; i <= domain.MaxFailedLogins; i++ {
		locked, err := s.RecordLoginFailure(ctx, m.ID, u.ID, now)
		if err != nil {
			t.Fatal(err)
		}
		if locked != (i == domain.MaxFailedLogins) {
			t.Fatalf("after %d failures locked=%v", i, locked)
		}
	}
	got, _ := s.User(ctx, m.ID, u.ID)
	if !got.Locked(now) || got.Locked(now.Add(domain.LockoutDuration+time.Second)) {
		t.Fatalf("lock window wrong: %v", got.LockedUntil)
	}
}

func TestRateLimitWindow(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 10, 0, 30, 0, time.UTC)
	for i := 1; i <= 4; i++ {
		ok, err := s.HitRateLimit(ctx, "login:1.2.3.4", time.Minute, 3, now)
		if err != nil {
			t.Fatal(err)
		}
		if ok != (i <= 3) {
			t.Fatalf("hit %d allowed=%v", i, ok)
		}
	}
	if ok, _ := s.HitRateLimit(ctx, "login:1.2.3.4", time.Minute, 3, now.Add(time.Minute)); !ok {
		t.Fatal("next window still limited")
	}
}
