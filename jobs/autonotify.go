package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"paymend/db"
	"paymend/domain"
)

// AutoNotifyArgs runs the merchants' automatic notification rules over new failures.
type AutoNotifyArgs struct{}

// Kind names the job.
func (AutoNotifyArgs) Kind() string { return "auto_notify" }

// AutoNotifyWorker turns new failed payments into notices according to each
// merchant's rules: code > category > any, first channel that reaches the customer,
// after the rule's delay, never SMS in quiet hours, at most the daily cap per
// customer, never the same template twice for one payment.
type AutoNotifyWorker struct {
	river.WorkerDefaults[AutoNotifyArgs]
	store  *db.Store
	runner func() *Runner
	now    func() time.Time
	// baseURL is where feedback links point (see draftNotice); feedbackTTL how long
	// they stay open.
	baseURL     string
	feedbackTTL time.Duration
}

// Work scans every merchant with rules; each merchant's batch is one transaction
// (notices, their jobs and the advanced watermark), so a crash repeats a batch at
// worst, and the unique (payment, channel, template) key makes a repeat a no-op.
func (w *AutoNotifyWorker) Work(ctx context.Context, _ *river.Job[AutoNotifyArgs]) error {
	ids, err := w.store.MerchantsWithRules(ctx)
	if err != nil {
		return err
	}
	for _, mid := range ids {
		if err := w.merchant(ctx, mid); err != nil {
			return fmt.Errorf("auto notify merchant %d: %w", mid, err)
		}
	}
	return nil
}

func (w *AutoNotifyWorker) merchant(ctx context.Context, mid int64) error {
	return w.store.InTx(ctx, func(tx *db.Store) error {
		policy, watermark, err := tx.NotifyPolicy(ctx, mid, true)
		if err != nil {
			return err
		}
		if watermark < 0 {
			// Rules apply to failures from their creation on, not to the history.
			return tx.InitNotifyWatermark(ctx, mid)
		}
		rules, err := tx.NotifyRules(ctx, mid)
		if err != nil {
			return err
		}
		m, err := tx.Merchant(ctx, mid)
		if err != nil {
			return err
		}
		overrides, err := tx.CodeOverrides(ctx, mid)
		if err != nil {
			return err
		}
		cat := domain.NewCatalog(domain.DefaultCatalog(), overrides)
		failed, err := tx.FailedAfter(ctx, mid, watermark, 2000)
		if err != nil || len(failed) == 0 {
			return err
		}
		now := w.now()
		loc := m.Location()
		y, mo, d := now.In(loc).Date()
		counts, err := tx.NoticesSince(ctx, mid, time.Date(y, mo, d, 0, 0, 0, 0, loc))
		if err != nil {
			return err
		}
		var drafts []db.NewNotification
		var at []time.Time
		templates, err := tx.Templates(ctx, mid)
		if err != nil {
			return err
		}
		states, err := tx.PayChannels(ctx, mid) // an outage is told, with its backup
		if err != nil {
			return err
		}
		for _, t := range failed {
			watermark = max(watermark, t.ID)
			entry := cat.Lookup(t.Code)
			rule, ok := domain.MatchRule(rules, entry)
			if !ok || (t.CustomerRef != "" && counts[t.CustomerRef] >= policy.DailyCap) {
				continue
			}
			for i, ch := range rule.Channels {
				nd, fb, err := draftNotice(w.baseURL, w.feedbackTTL, now, m, entry.ForChannel(t.Channel, states), t, ch, templates, "zh-CN")
				if err != nil {
					continue // no contact on this channel: try the next
				}
				rest := make([]string, 0, len(rule.Channels)-i-1)
				for _, c := range rule.Channels[i+1:] {
					rest = append(rest, string(c))
				}
				id := rule.ID
				drafts = append(drafts, db.NewNotification{TransactionID: t.ID, RuleID: &id, Fallback: rest, Channel: ch,
					TemplateKey: nd.TemplateKey, Lang: "zh-CN", RecipientMasked: nd.RecipientMasked, Subject: nd.Subject,
					Body: nd.Body, CreatedBy: "rule: " + rule.Name, Feedback: fb})
				due := t.OccurredAt.Add(rule.Delay)
				if due.Before(now) {
					due = now
				}
				at = append(at, policy.SendAt(ch, due, loc))
				counts[t.CustomerRef]++
				break
			}
		}
		if len(drafts) > 0 {
			ids, err := tx.QueueNotifications(ctx, mid, drafts)
			if err != nil {
				return err
			}
			// QueueNotifications skips repeats; match schedule times by order of the
			// survivors (ids come back in insert order).
			if err := w.runner().EnqueueNoticesAt(ctx, tx.Tx(), mid, ids, scheduleFor(ids, at)); err != nil {
				return err
			}
		}
		return tx.SetNotifyWatermark(ctx, mid, watermark)
	})
}

// scheduleFor pairs ids with send times. When some drafts were skipped as repeats
// the times no longer line up one to one; the latest time is then used for all,
// which is never earlier than a notice's own (quiet hours are respected).
func scheduleFor(ids []int64, at []time.Time) []time.Time {
	out := make([]time.Time, len(ids))
	if len(ids) == len(at) {
		copy(out, at)
		return out
	}
	var latest time.Time
	for _, t := range at {
		if t.After(latest) {
			latest = t
		}
	}
	for i := range out {
		out[i] = latest
	}
	return out
}
