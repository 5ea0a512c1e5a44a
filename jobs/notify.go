package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/riverqueue/river"

	"paymend/cache"
	"paymend/db"
	"paymend/domain"
	"paymend/notify"
)

// NotifyArgs delivers one queued notification.
type NotifyArgs struct {
	MerchantID     int64 `json:"merchant_id"`
	NotificationID int64 `json:"notification_id"`
}

// Kind names the job.
func (NotifyArgs) Kind() string { return "notify" }

// InsertOpts: a few retries with River's exponential backoff.
func (NotifyArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 5} }

// NotifyWorker sends notifications through the merchant's configured channel.
type NotifyWorker struct {
	river.WorkerDefaults[NotifyArgs]
	store  *db.Store
	sealer *domain.Sealer
	now    func() time.Time
	http   *http.Client
	setups *cache.TTL[merchantSetup]
	runner func() *Runner
	// baseURL is where feedback links point (see draftNotice); feedbackTTL how long
	// they stay open.
	baseURL     string
	feedbackTTL time.Duration
}

// Timeout bounds one delivery attempt.
func (w *NotifyWorker) Timeout(*river.Job[NotifyArgs]) time.Duration { return 45 * time.Second }

// Work claims the notice, sends it and records the outcome. It is safe to repeat: a
// notice already sent or failed is left alone, and every attempt carries the same
// idempotency key so a receiver can drop a repeat the platform could not tell apart.
func (w *NotifyWorker) Work(ctx context.Context, job *river.Job[NotifyArgs]) error {
	mid := job.Args.MerchantID
	d, err := w.store.ClaimNotification(ctx, mid, job.Args.NotificationID)
	if errors.Is(err, db.ErrConflict) || errors.Is(err, db.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	n := d.Notification
	if n.Channel == domain.NotifyPhone {
		// A phone notice is delivered to people: the call goes into the worklist.
		id, err := w.store.CreateCallTask(ctx, mid, n.TransactionID, n.Body, n.RecipientMasked, n.CreatedBy, w.now())
		if err != nil && !errors.Is(err, db.ErrDuplicate) { // an open call for the payment already exists
			return err
		}
		return w.finish(ctx, mid, n, domain.NoticeSent, notify.Result{ProviderID: fmt.Sprintf("call-%d", id)}, nil)
	}
	msg, ch, err := w.prepare(ctx, d)
	if err != nil { // settings or recipient unusable: no retry will help
		return w.finish(ctx, mid, n, domain.NoticeFailed, notify.Result{}, err)
	}
	res, err := ch.Send(ctx, msg)
	switch {
	case err == nil:
		return w.finish(ctx, mid, n, domain.NoticeSent, res, nil)
	case notify.IsPermanent(err) || job.Attempt >= job.MaxAttempts:
		return w.finish(ctx, mid, n, domain.NoticeFailed, res, err)
	}
	// Temporary: back to queued with the reason; River retries with backoff.
	if ferr := w.store.FinishNotification(ctx, mid, n, domain.NoticeQueued, res.ProviderID, res.Response, err.Error(), w.now()); ferr != nil {
		return ferr
	}
	return err
}

func (w *NotifyWorker) finish(ctx context.Context, merchantID int64, n domain.Notification, state string, res notify.Result, cause error) error {
	reason := ""
	if cause != nil {
		reason = cause.Error()
	}
	err := w.store.FinishNotification(ctx, merchantID, n, state, res.ProviderID, res.Response, reason, w.now())
	if errors.Is(err, db.ErrConflict) {
		return nil
	}
	if err == nil && state == domain.NoticeFailed && len(n.Fallback) > 0 {
		return w.fallback(ctx, merchantID, n)
	}
	return err
}

// fallback queues the notice on the next channel of its rule after a permanent
// failure (or no contact on a channel), with its own job, in one transaction.
func (w *NotifyWorker) fallback(ctx context.Context, merchantID int64, failed domain.Notification) error {
	m, err := w.store.Merchant(ctx, merchantID)
	if err != nil {
		return err
	}
	tx, err := w.store.Transaction(ctx, merchantID, failed.TransactionID)
	if err != nil {
		return err
	}
	overrides, err := w.store.CodeOverrides(ctx, merchantID)
	if err != nil {
		return err
	}
	states, err := w.store.PayChannels(ctx, merchantID)
	if err != nil {
		return err
	}
	entry := domain.NewCatalog(domain.DefaultCatalog(), overrides).Lookup(tx.Code).ForChannel(tx.Channel, states)
	templates, err := w.store.Templates(ctx, merchantID)
	if err != nil {
		return err
	}
	for i, c := range failed.Fallback {
		ch := domain.NotifyChannel(c)
		nd, fb, err := draftNotice(w.baseURL, w.feedbackTTL, w.now(), m, entry, tx, ch, templates, failed.Lang)
		if err != nil {
			continue
		}
		next := db.NewNotification{TransactionID: tx.ID, RuleID: failed.RuleID, Fallback: failed.Fallback[i+1:], Channel: ch,
			TemplateKey: nd.TemplateKey, Lang: failed.Lang, RecipientMasked: nd.RecipientMasked, Subject: nd.Subject,
			Body: nd.Body, CreatedBy: failed.CreatedBy + " (fallback)", Feedback: fb}
		return w.store.InTx(ctx, func(s *db.Store) error {
			ids, err := s.QueueNotifications(ctx, merchantID, []db.NewNotification{next})
			if err != nil {
				return err
			}
			return w.runner().EnqueueNotices(ctx, s.Tx(), merchantID, ids)
		})
	}
	return nil
}

// prepare builds the message and the channel from the merchant's settings and the
// payment's sealed contact, opened only here.
func (w *NotifyWorker) prepare(ctx context.Context, d db.NoticeDelivery) (notify.Message, notify.Channel, error) {
	n := d.Notification
	setup, err := w.setups.Get(n.MerchantID, w.now(), func() (merchantSetup, error) {
		m, err := w.store.Merchant(ctx, n.MerchantID)
		if err != nil {
			return merchantSetup{}, err
		}
		cs, err := w.store.ChannelSettings(ctx, n.MerchantID)
		return merchantSetup{code: m.Code, channels: cs}, err
	})
	msg := notify.Message{Channel: n.Channel, Subject: n.Subject, Body: n.Body, MerchantCode: setup.code,
		IdempotencyKey: fmt.Sprintf("ntf-%d", n.ID)}
	if err != nil {
		return msg, nil, err
	}
	var cs *domain.ChannelSettings
	for i := range setup.channels {
		if setup.channels[i].Channel == n.Channel && setup.channels[i].Enabled {
			cs = &setup.channels[i]
		}
	}
	if cs == nil {
		return msg, nil, fmt.Errorf("%w: %s is not set up in Settings", notify.ErrNotConfigured, n.Channel)
	}
	secret, err := w.sealer.Open(cs.Secret)
	if err != nil {
		return msg, nil, fmt.Errorf("%w: stored secret unreadable", notify.ErrNotConfigured)
	}
	switch n.Channel {
	case domain.NotifySMS:
		msg.To, err = w.sealer.Open(d.PhoneSealed)
	case domain.NotifyEmail:
		msg.To, err = w.sealer.Open(d.EmailSealed)
	case domain.NotifyInApp:
		msg.To = d.CustomerRef
	}
	if err != nil {
		return msg, nil, fmt.Errorf("%w: contact unreadable", notify.ErrInvalidRecipient)
	}
	return msg, ChannelFor(*cs, secret, w.http), nil
}

// merchantSetup is a merchant's code and channel settings, cached for a few seconds
// per worker process so a burst of notices does not re-read them per message.
type merchantSetup struct {
	code     string
	channels []domain.ChannelSettings
}

// ChannelFor builds the notify channel a merchant's settings describe.
func ChannelFor(cs domain.ChannelSettings, secret string, client *http.Client) notify.Channel {
	switch cs.Channel {
	case domain.NotifySMS:
		return &notify.SMSGateway{URL: cs.URL, APIKey: secret, SenderID: cs.SenderID, HTTP: client}
	case domain.NotifyEmail:
		return &notify.SMTP{Host: cs.Host, Port: cs.Port, Security: cs.Security, Username: cs.Username,
			Password: secret, From: cs.From}
	default:
		return &notify.InApp{URL: cs.URL, Secret: []byte(secret), HTTP: client}
	}
}

// EnqueueNotices inserts delivery jobs for notices inside the transaction that
// created them, so a notice and its job are both there or both absent.
func (r *Runner) EnqueueNotices(ctx context.Context, tx *sql.Tx, merchantID int64, ids []int64) error {
	return r.EnqueueNoticesAt(ctx, tx, merchantID, ids, nil)
}

// EnqueueNoticesAt is EnqueueNotices with a send time per notice (nil: now).
func (r *Runner) EnqueueNoticesAt(ctx context.Context, tx *sql.Tx, merchantID int64, ids []int64, at []time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: NotifyArgs{MerchantID: merchantID, NotificationID: id}}
		if i < len(at) && !at[i].IsZero() {
			params[i].InsertOpts = &river.InsertOpts{ScheduledAt: at[i]}
		}
	}
	if _, err := r.Client.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("jobs: enqueue notices: %w", err)
	}
	return nil
}
