package db_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"paymend/db"
	"paymend/domain"
)

// BenchmarkQueueNotices1000 measures queueing 1,000 e-mail notices in one
// transaction, without and with a feedback link each (the cost issue 9 adds to a
// bulk send): one op is 1,000 notices.
func BenchmarkQueueNotices1000(b *testing.B) {
	for _, withLinks := range []bool{false, true} {
		b.Run(fmt.Sprintf("links=%v", withLinks), func(b *testing.B) {
			// A store of its own, so both runs start from the same tables.
			s, m, _ := feedbackBenchStore(b, 20_000)
			ctx := context.Background()
			var txIDs []int64
			if err := s.DB().SelectContext(ctx, &txIDs, `SELECT id FROM transactions WHERE merchant_id = $1 ORDER BY id LIMIT 1000`, m.ID); err != nil {
				b.Fatal(err)
			}
			round := 0
			for b.Loop() {
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
				if err := s.InTx(ctx, func(tx *db.Store) error {
					ids, err := tx.QueueNotifications(ctx, m.ID, ns)
					if err == nil && len(ids) != len(ns) {
						err = fmt.Errorf("%d queued", len(ids))
					}
					return err
				}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
