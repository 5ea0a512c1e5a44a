package db_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"paymend/db"
	"paymend/domain"
)

// BenchmarkQueueNotices1000 measures what feedback links add to queueing notices:
// each op queues 1,000 e-mail notices in one transaction without links, then 1,000
// with a link each, alternating so both see the same machine load; the metrics are
// the milliseconds of each half.
func BenchmarkQueueNotices1000(b *testing.B) {
	s, m, _ := feedbackBenchStore(b, 20_000)
	ctx := context.Background()
	var txIDs []int64
	if err := s.DB().SelectContext(ctx, &txIDs, `SELECT id FROM transactions WHERE merchant_id = $1 ORDER BY id LIMIT 1000`, m.ID); err != nil {
		b.Fatal(err)
	}
	round := 0
	queue := func(withLinks bool) time.Duration {
		round++
		ns := make([]db.NewNotification, len(txIDs))
		for i, id := range txIDs {
			ns[i] = db.NewNotification{TransactionID: id, Channel: domain.NotifyEmail, TemplateKey: fmt.Sprintf("bench.%d", round),
				Lang: "zh-CN", RecipientMasked: "b***@example.com", Subject: "s", Body: "body"}
			if withLinks {
				tok := domain.NewFeedbackToken()
				ns[i].Feedback = &db.NewFeedbackLink{TokenHash: tok.Hash, ExpiresAt: time.Now().Add(domain.FeedbackLinkTTL)}
			}
		}
		start := time.Now()
		if err := s.InTx(ctx, func(tx *db.Store) error {
			ids, err := tx.QueueNotifications(ctx, m.ID, ns)
			if err == nil && len(ids) != len(ns) {
				err = fmt.Errorf("%d queued", len(ids))
			}
			return err
		}); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	var without, with time.Duration
	for b.Loop() {
		without += queue(false)
		with += queue(true)
	}
	n := float64(b.N)
	b.ReportMetric(float64(without.Milliseconds())/n, "ms-without")
	b.ReportMetric(float64(with.Milliseconds())/n, "ms-with-links")
}
