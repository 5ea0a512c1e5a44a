package db_test

import (
	"context"
	"testing"
	"time"

	"paymend/db"
	"paymend/db/dbtest"
	"paymend/domain"
)

// feedbackBenchStore seeds n demo payments, with the demo's feedback (a link for one
// failure in 8, 40 % answered), into a fresh database.
func feedbackBenchStore(b *testing.B, n int) (*db.Store, domain.Merchant, time.Time) {
	b.Helper()
	d, _ := dbtest.New(b)
	s := db.New(d)
	ctx := context.Background()
	m, err := s.CreateMerchant(ctx, domain.Merchant{Code: "bench", Name: "bench"}, []string{})
	if err != nil {
		b.Fatal(err)
	}
	sealer, _ := domain.NewSealer(make([]byte, 32))
	now := time.Now().UTC()
	if _, err := s.SeedDemoTransactions(ctx, m.ID, db.DemoSeed{N: n, Now: now, Seed: 9, Sealer: sealer}); err != nil {
		b.Fatal(err)
	}
	if _, err := s.DB().ExecContext(ctx, `ANALYZE feedback_links; ANALYZE feedback`); err != nil {
		b.Fatal(err)
	}
	return s, m, now
}

// BenchmarkFeedbackFigures measures the figures panel (dashboard, inbox, code page)
// and the inbox's first page over 200,000 payments (~9,000 links, ~3,600 answers).
func BenchmarkFeedbackFigures(b *testing.B) {
	s, m, now := feedbackBenchStore(b, 200_000)
	ctx := context.Background()
	var links int
	s.DB().QueryRow(`SELECT count(*) FROM feedback_links`).Scan(&links)
	b.Logf("%d feedback links", links)
	from, to := now.Add(-30*24*time.Hour), now.Add(time.Minute)
	b.Run("summary-30d", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.FeedbackStats(ctx, m.ID, from, to, ""); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("code-page-7d", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.FeedbackStats(ctx, m.ID, now.Add(-7*24*time.Hour), to, "101"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("inbox-page", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := s.FeedbackList(ctx, m.ID, db.FeedbackFilter{Status: "new", Limit: 50}); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkFeedbackSubmit measures storing one answer (lock the link, upsert the
// answer, keep the version, two timeline rows for a "charged twice").
func BenchmarkFeedbackSubmit(b *testing.B) {
	s, m, now := feedbackBenchStore(b, 20_000)
	ctx := context.Background()
	var ids []int64
	if err := s.DB().SelectContext(ctx, &ids, `SELECT id FROM feedback_links WHERE merchant_id = $1 ORDER BY id`, m.ID); err != nil || len(ids) == 0 {
		b.Fatal(err, len(ids))
	}
	a := domain.FeedbackAnswer{Problem: domain.ProblemChargedTwice, Rating: 2, Comment: "扣了两次钱"}
	i := 0
	for b.Loop() {
		if _, err := s.SubmitFeedback(ctx, m.ID, ids[i%len(ids)], a, "zh-CN", now); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
