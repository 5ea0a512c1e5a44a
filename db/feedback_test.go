package db_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"paymend/db"
	"paymend/domain"
)

// TestFeedbackLinksStayInsideTheirMerchant: links carry no foreign keys (see the
// migration), so the store's joins are what keep them bound to a payment of their
// own merchant; revocation and answers are scoped the same way.
func TestFeedbackLinksStayInsideTheirMerchant(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	a, b := mustMerchant(t, s, "shopa"), mustMerchant(t, s, "shopb")
	var txA int64
	if err := s.DB().QueryRow(`INSERT INTO transactions (merchant_id, platform_id, pay_status, occurred_at, code, channel)
		VALUES ($1, 'TA', 'failed', now(), '101', 'card') RETURNING id`, a.ID).Scan(&txA); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	tok := domain.NewFeedbackToken()
	if _, err := s.CreateFeedbackLink(ctx, b.ID, txA, tok.Hash, "", "api", "x", now.Add(time.Hour)); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("a link on another merchant's payment: %v", err)
	}
	// Notices of another merchant's payment are not queued, so get no link either.
	ids, err := s.QueueNotifications(ctx, b.ID, []db.NewNotification{{TransactionID: txA, Channel: domain.NotifyEmail,
		TemplateKey: "k", Lang: "en", Body: "x", Feedback: &db.NewFeedbackLink{TokenHash: tok.Hash, ExpiresAt: now.Add(time.Hour)}}})
	if err != nil || len(ids) != 0 {
		t.Fatalf("queued %v %v", ids, err)
	}
	l, err := s.CreateFeedbackLink(ctx, a.ID, txA, tok.Hash, "en", "api", "x", now.Add(time.Hour))
	if err != nil || l.Code != "101" || l.PlatformID != "TA" {
		t.Fatalf("link %+v %v", l, err)
	}
	if _, err := s.CreateFeedbackLink(ctx, a.ID, txA, tok.Hash, "en", "api", "x", now.Add(time.Hour)); !errors.Is(err, db.ErrDuplicate) {
		t.Fatalf("the same token twice: %v", err)
	}
	if err := s.RevokeFeedbackLink(ctx, b.ID, l.ID, "b", now); !errors.Is(err, db.ErrNotFound) {
		t.Fatalf("revoked by another merchant: %v", err)
	}
	if _, err := s.SubmitFeedback(ctx, b.ID, l.ID, domain.FeedbackAnswer{Problem: domain.ProblemOther, Rating: 3}, "en", now); !errors.Is(err, db.ErrConflict) {
		t.Fatalf("answered under another merchant: %v", err)
	}
	got, err := s.FeedbackLinkByHash(ctx, tok.Hash)
	if err != nil || got.ID != l.ID || got.MerchantID != a.ID || got.State(now) != domain.FeedbackLinkOpen {
		t.Fatalf("by hash %+v %v", got, err)
	}
	if err := s.RevokeFeedbackLink(ctx, a.ID, l.ID, "a", now); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeFeedbackLink(ctx, a.ID, l.ID, "a", now); !errors.Is(err, db.ErrConflict) {
		t.Fatalf("revoked twice: %v", err)
	}
	if _, err := s.SubmitFeedback(ctx, a.ID, l.ID, domain.FeedbackAnswer{Problem: domain.ProblemOther, Rating: 3}, "en", now); !errors.Is(err, db.ErrConflict) {
		t.Fatalf("answered a revoked link: %v", err)
	}
}
