package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/riverqueue/river"

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
}

// Timeout bounds one delivery attempt.
func (w *NotifyWorker) Timeout(*river.Job[NotifyArgs]) time.Duration { return 45 * time.Second }

// Work claims the notice, sends it and records the outcome. It is safe to repeat: a
// notice already sent or failed is left alone, and every attempt carries the same
// idempotency key so a receiver can drop a repeat the platform could not tell apart.
func (w *NotifyWorker) Work(ctx context.Context, job *river.Job[NotifyArgs]) error {
	mid := job.Args.MerchantID
	n, err := w.store.ClaimNotification(ctx, mid, job.Args.NotificationID)
	if errors.Is(err, db.ErrConflict) || errors.Is(err, db.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	m, err := w.store.Merchant(ctx, mid)
	if err != nil {
		return err
	}
	msg, ch, err := w.prepare(ctx, m, n)
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
	return err
}

// prepare builds the message and the channel from the merchant's settings and the
// payment's sealed contact, opened only here.
func (w *NotifyWorker) prepare(ctx context.Context, m domain.Merchant, n domain.Notification) (notify.Message, notify.Channel, error) {
	msg := notify.Message{Channel: n.Channel, Subject: n.Subject, Body: n.Body, MerchantCode: m.Code,
		IdempotencyKey: fmt.Sprintf("ntf-%d", n.ID)}
	settings, err := w.store.ChannelSettings(ctx, m.ID)
	if err != nil {
		return msg, nil, err
	}
	var cs *domain.ChannelSettings
	for i := range settings {
		if settings[i].Channel == n.Channel && settings[i].Enabled {
			cs = &settings[i]
		}
	}
	if cs == nil {
		return msg, nil, fmt.Errorf("%w: %s is not set up in Settings", notify.ErrNotConfigured, n.Channel)
	}
	secret, err := w.sealer.Open(cs.Secret)
	if err != nil {
		return msg, nil, fmt.Errorf("%w: stored secret unreadable", notify.ErrNotConfigured)
	}
	tx, err := w.store.Transaction(ctx, m.ID, n.TransactionID)
	if err != nil {
		return msg, nil, err
	}
	phone, email, err := w.store.SealedContact(ctx, m.ID, n.TransactionID)
	if err != nil {
		return msg, nil, err
	}
	switch n.Channel {
	case domain.NotifySMS:
		msg.To, err = w.sealer.Open(phone)
	case domain.NotifyEmail:
		msg.To, err = w.sealer.Open(email)
	case domain.NotifyInApp:
		msg.To = tx.CustomerRef
	}
	if err != nil {
		return msg, nil, fmt.Errorf("%w: contact unreadable", notify.ErrInvalidRecipient)
	}
	return msg, ChannelFor(*cs, secret, w.http), nil
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
	if len(ids) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(ids))
	for i, id := range ids {
		params[i] = river.InsertManyParams{Args: NotifyArgs{MerchantID: merchantID, NotificationID: id}}
	}
	if _, err := r.Client.InsertManyTx(ctx, tx, params); err != nil {
		return fmt.Errorf("jobs: enqueue notices: %w", err)
	}
	return nil
}
