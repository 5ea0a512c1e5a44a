package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"paymend/db"
	"paymend/domain"
	"paymend/platform"
)

// RefundSubmitArgs sends one refund to the platform. The refund's public id is the
// Idempotency-Key on every attempt, so retries after timeouts, crashes or a lost
// answer can never refund twice.
type RefundSubmitArgs struct {
	MerchantID int64 `json:"merchant_id"`
	RefundID   int64 `json:"refund_id"`
}

// Kind names the job.
func (RefundSubmitArgs) Kind() string { return "refund_submit" }

// refundSubmitAttempts is how often a refund is tried before it is "not submitted".
const refundSubmitAttempts = 6

// InsertOpts: a handful of attempts, spaced by the worker's NextRetry.
func (RefundSubmitArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: refundSubmitAttempts}
}

// RefundSubmitWorker does RefundSubmitArgs.
type RefundSubmitWorker struct {
	river.WorkerDefaults[RefundSubmitArgs]
	store    *db.Store
	platform *platform.Client
	now      func() time.Time
	retry    time.Duration // first retry delay; doubles
	pollIn   time.Duration
	runner   func() *Runner
}

// NextRetry spaces attempts retry, 2·retry, 4·retry, …
func (w *RefundSubmitWorker) NextRetry(job *river.Job[RefundSubmitArgs]) time.Time {
	n := max(job.Attempt, 1)
	return time.Now().Add(w.retry << min(n-1, 8))
}

// Work submits the refund and records the platform's answer.
func (w *RefundSubmitWorker) Work(ctx context.Context, job *river.Job[RefundSubmitArgs]) error {
	a := job.Args
	r, ok, err := w.store.StartRefundAttempt(ctx, a.MerchantID, a.RefundID)
	if err != nil || !ok {
		return err // nothing to do when it is no longer waiting to be submitted
	}
	if w.platform == nil {
		return w.giveUpOrRetry(ctx, job, r, errors.New("no platform API configured (OULEPAY_API_URL)"))
	}
	pr, err := w.platform.CreateRefund(ctx, r.PublicID, platform.RefundRequest{
		TransactionID: r.PlatformTx, Amount: r.Amount, Reason: r.Reason})
	var apiErr *platform.APIError
	switch {
	case err == nil:
		o := db.RefundOutcome{State: domain.RefundSubmitted, PlatformRefundID: pr.ID, Via: "submit"}
		switch pr.Status {
		case platform.RefundSucceeded:
			o.State = domain.RefundSucceeded
		case platform.RefundFailed:
			o.State, o.FailureReason = domain.RefundFailed, pr.FailureReason
		}
		got, _, err := w.store.RecordRefundOutcome(ctx, a.MerchantID, r.ID, o, w.now())
		if err != nil {
			// The platform has the refund; the retry asks again with the same key and
			// gets the same refund back.
			return err
		}
		if got.State == domain.RefundSubmitted {
			return w.runner().schedulePoll(ctx, a.MerchantID, r.ID, w.pollIn)
		}
		return nil
	case errors.As(err, &apiErr) && !errors.Is(err, platform.ErrUnavailable):
		// The platform answered and said no (over-refund, unknown payment, …): final.
		_, _, err := w.store.RecordRefundOutcome(ctx, a.MerchantID, r.ID, db.RefundOutcome{State: domain.RefundFailed,
			FailureReason: platformReason(apiErr), Via: "submit"}, w.now())
		return err
	default:
		return w.giveUpOrRetry(ctx, job, r, err)
	}
}

// giveUpOrRetry keeps the refund "requested" with the reason while attempts remain
// (River retries with the same key) and marks it "not submitted" after the last.
func (w *RefundSubmitWorker) giveUpOrRetry(ctx context.Context, job *river.Job[RefundSubmitArgs], r domain.Refund, cause error) error {
	if job.Attempt < job.MaxAttempts {
		if err := w.store.NoteRefundError(ctx, r.MerchantID, r.ID, cause.Error()); err != nil {
			return errors.Join(cause, err)
		}
		return fmt.Errorf("refunds: submit %d: %w", r.ID, cause)
	}
	_, _, err := w.store.RecordRefundOutcome(ctx, r.MerchantID, r.ID, db.RefundOutcome{State: domain.RefundNotSubmitted,
		FailureReason: cause.Error(), Via: "submit"}, w.now())
	return err
}

func platformReason(e *platform.APIError) string {
	if e.Message != "" {
		return e.Message
	}
	return e.Error()
}

// RefundPollArgs asks the platform for a submitted refund's state until it is
// final, so a lost webhook cannot leave it pending.
type RefundPollArgs struct {
	MerchantID int64 `json:"merchant_id"`
	RefundID   int64 `json:"refund_id"`
}

// Kind names the job.
func (RefundPollArgs) Kind() string { return "refund_poll" }

// InsertOpts: network trouble is retried; waiting for a final state is a snooze.
func (RefundPollArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 10} }

// RefundPollWorker does RefundPollArgs.
type RefundPollWorker struct {
	river.WorkerDefaults[RefundPollArgs]
	store    *db.Store
	platform *platform.Client
	now      func() time.Time
	every    time.Duration
}

// Work polls once; a refund still pending snoozes the job (for up to a day; the
// periodic sweep picks up anything older).
func (w *RefundPollWorker) Work(ctx context.Context, job *river.Job[RefundPollArgs]) error {
	r, err := w.store.Refund(ctx, job.Args.MerchantID, job.Args.RefundID)
	if err != nil {
		return err
	}
	final, err := pollRefund(ctx, w.store, w.platform, r, w.now())
	if err != nil || final {
		return err
	}
	if r.SubmittedAt != nil && w.now().Sub(*r.SubmittedAt) > 24*time.Hour {
		return nil
	}
	return river.JobSnooze(w.every)
}

// pollRefund asks the platform about a submitted refund and records a final answer.
func pollRefund(ctx context.Context, store *db.Store, pc *platform.Client, r domain.Refund, now time.Time) (bool, error) {
	if r.State != domain.RefundSubmitted || r.PlatformRefundID == nil {
		return true, nil
	}
	if pc == nil {
		return false, errors.New("refunds: poll: no platform API configured")
	}
	pr, err := pc.GetRefund(ctx, *r.PlatformRefundID)
	if err != nil {
		return false, fmt.Errorf("refunds: poll %d: %w", r.ID, err)
	}
	o := db.RefundOutcome{PlatformRefundID: pr.ID, Via: "poll"}
	switch pr.Status {
	case platform.RefundSucceeded:
		o.State = domain.RefundSucceeded
	case platform.RefundFailed:
		o.State, o.FailureReason = domain.RefundFailed, pr.FailureReason
	default:
		return false, store.TouchRefund(ctx, r.MerchantID, r.ID, now)
	}
	_, _, err = store.RecordRefundOutcome(ctx, r.MerchantID, r.ID, o, now)
	return err == nil, err
}

// RefundSweepArgs polls submitted refunds nobody heard of for a while.
type RefundSweepArgs struct{}

// Kind names the job.
func (RefundSweepArgs) Kind() string { return "refund_sweep" }

// RefundSweepWorker does RefundSweepArgs.
type RefundSweepWorker struct {
	river.WorkerDefaults[RefundSweepArgs]
	store    *db.Store
	platform *platform.Client
	now      func() time.Time
}

// Work polls up to 200 stale submitted refunds.
func (w *RefundSweepWorker) Work(ctx context.Context, _ *river.Job[RefundSweepArgs]) error {
	rs, err := w.store.RefundsToPoll(ctx, w.now().Add(-5*time.Minute), 200)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range rs {
		if _, err := pollRefund(ctx, w.store, w.platform, r, w.now()); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// EnqueueRefund inserts a refund's submit job in tx, the transaction that made the
// refund ready, so both exist or neither does.
func (r *Runner) EnqueueRefund(ctx context.Context, tx *sql.Tx, merchantID, refundID int64) error {
	if _, err := r.Client.InsertTx(ctx, tx, RefundSubmitArgs{MerchantID: merchantID, RefundID: refundID}, nil); err != nil {
		return fmt.Errorf("jobs: enqueue refund %d: %w", refundID, err)
	}
	return nil
}

func (r *Runner) schedulePoll(ctx context.Context, merchantID, refundID int64, in time.Duration) error {
	_, err := r.Client.Insert(ctx, RefundPollArgs{MerchantID: merchantID, RefundID: refundID},
		&river.InsertOpts{ScheduledAt: time.Now().Add(in)})
	return err
}
