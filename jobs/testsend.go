package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"paymend/db"
	"paymend/domain"
	"paymend/notify"
)

// TestSendArgs sends an admin's test message on a channel to a given recipient.
type TestSendArgs struct {
	MerchantID int64  `json:"merchant_id"`
	Channel    string `json:"channel"`
	ToSealed   string `json:"to_sealed"` // the recipient, sealed: job rows are not for contacts
	ToMasked   string `json:"to_masked"`
	Actor      string `json:"actor"`
}

// Kind names the job.
func (TestSendArgs) Kind() string { return "notify_test" }

// InsertOpts: a test is tried once; its outcome is the point.
func (TestSendArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 1} }

// TestSendWorker sends the test and writes the outcome to the audit log, where the
// settings page shows it.
type TestSendWorker struct {
	river.WorkerDefaults[TestSendArgs]
	store  *db.Store
	sealer *domain.Sealer
	now    func() time.Time
}

// Work sends one test message.
func (w *TestSendWorker) Work(ctx context.Context, job *river.Job[TestSendArgs]) error {
	a := job.Args
	result, reason := domain.AuditOK, ""
	err := w.send(ctx, a)
	if err != nil {
		result, reason = domain.AuditFailed, err.Error()
	}
	return w.store.Audit(ctx, a.MerchantID, domain.AuditEntry{Actor: a.Actor, Action: "notification.test",
		Target: a.Channel + " " + a.ToMasked, Result: result, At: w.now()}, map[string]any{"reason": reason})
}

func (w *TestSendWorker) send(ctx context.Context, a TestSendArgs) error {
	m, err := w.store.Merchant(ctx, a.MerchantID)
	if err != nil {
		return err
	}
	settings, err := w.store.ChannelSettings(ctx, a.MerchantID)
	if err != nil {
		return err
	}
	for _, cs := range settings {
		if string(cs.Channel) != a.Channel {
			continue
		}
		secret, err := w.sealer.Open(cs.Secret)
		if err != nil {
			return fmt.Errorf("%w: stored secret unreadable", notify.ErrNotConfigured)
		}
		to, err := w.sealer.Open(a.ToSealed)
		if err != nil {
			return err
		}
		body := fmt.Sprintf("【%s】这是一条来自 PayMend 的测试消息,收到即表示通道配置正确。This is a PayMend test message.", m.Name)
		_, err = ChannelFor(cs, secret, nil).Send(ctx, notify.Message{Channel: cs.Channel, To: to,
			Subject: "PayMend 测试消息 / test message", Body: body, MerchantCode: m.Code,
			IdempotencyKey: fmt.Sprintf("test-%d-%d", a.MerchantID, w.now().UnixNano())})
		return err
	}
	return fmt.Errorf("%w: %s is not set up", notify.ErrNotConfigured, a.Channel)
}

// EnqueueTestSend queues a test message.
func (r *Runner) EnqueueTestSend(ctx context.Context, a TestSendArgs) error {
	if _, err := r.Client.Insert(ctx, a, nil); err != nil {
		return fmt.Errorf("jobs: enqueue test: %w", err)
	}
	return nil
}

// EnqueueTest implements the console's NoticeQueue.
func (r *Runner) EnqueueTest(ctx context.Context, merchantID int64, channel, toSealed, toMasked, actor string) error {
	return r.EnqueueTestSend(ctx, TestSendArgs{MerchantID: merchantID, Channel: channel, ToSealed: toSealed,
		ToMasked: toMasked, Actor: actor})
}
