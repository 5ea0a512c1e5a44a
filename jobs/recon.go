package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"paymend/db"
	"paymend/domain"
	"paymend/platform"
)

// ReconArgs reconciles one merchant's orders with the platform (MerchantID 0: every
// merchant, the periodic run).
type ReconArgs struct {
	MerchantID int64  `json:"merchant_id"`
	Trigger    string `json:"trigger"` // schedule, manual, feedback
	// Transactions named by the trigger (feedback: "charged but no order"); their
	// orders are checked whatever their age.
	Transactions []int64 `json:"transactions,omitempty"`
}

// Kind names the job.
func (ReconArgs) Kind() string { return "reconcile" }

// InsertOpts: a failed run is simply the next run's work; a couple of retries.
func (ReconArgs) InsertOpts() river.InsertOpts { return river.InsertOpts{MaxAttempts: 3} }

// ReconWorker does ReconArgs.
type ReconWorker struct {
	river.WorkerDefaults[ReconArgs]
	store    *db.Store
	platform *platform.Client
	now      func() time.Time
	runner   func() *Runner
}

// Timeout bounds one run (platform queries included).
func (w *ReconWorker) Timeout(*river.Job[ReconArgs]) time.Duration { return 5 * time.Minute }

// Work runs reconciliation.
func (w *ReconWorker) Work(ctx context.Context, job *river.Job[ReconArgs]) error {
	a := job.Args
	if a.MerchantID != 0 {
		_, err := w.Reconcile(ctx, a.MerchantID, cmp.Or(a.Trigger, "manual"), a.Transactions)
		return err
	}
	ids, err := w.store.MerchantIDs(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, mid := range ids {
		if _, err := w.Reconcile(ctx, mid, "schedule", nil); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Reconcile runs one merchant's reconciliation: ask the platform about payments
// whose outcome is unsure, compare every recent order with its payments, record
// findings, and apply the automatic refund policy.
func (w *ReconWorker) Reconcile(ctx context.Context, mid int64, trigger string, txIDs []int64) (db.ReconRun, error) {
	now := w.now()
	run := db.ReconRun{Trigger: trigger}
	runID, err := w.store.StartReconRun(ctx, mid, trigger, now)
	if err != nil {
		return run, err
	}
	err = w.reconcile(ctx, mid, now, txIDs, &run)
	if err != nil {
		run.Error = err.Error()
	}
	if ferr := w.store.FinishReconRun(context.WithoutCancel(ctx), mid, runID, run, w.now()); ferr != nil {
		err = errors.Join(err, ferr)
	}
	if err != nil {
		return run, fmt.Errorf("recon: merchant %d: %w", mid, err)
	}
	return run, nil
}

func (w *ReconWorker) reconcile(ctx context.Context, mid int64, now time.Time, txIDs []int64, run *db.ReconRun) error {
	policy, err := w.store.RefundPolicy(ctx, mid)
	if err != nil {
		return err
	}
	grace := time.Duration(policy.GraceMinutes) * time.Minute
	overrides, err := w.store.CodeOverrides(ctx, mid)
	if err != nil {
		return err
	}
	cat := domain.NewCatalog(domain.DefaultCatalog(), overrides)

	// 1. What the console cannot know by itself: ask the platform.
	cands, err := w.store.ReconCandidates(ctx, mid, now, grace, domain.OutcomeUnsureCodes(cat), 100)
	if err != nil {
		return err
	}
	for _, c := range cands {
		if err := w.check(ctx, mid, c, now); err != nil {
			return err
		}
		run.Queried++
	}

	// 2. Compare orders with payments.
	extra, err := w.store.OrdersOfTransactions(ctx, mid, txIDs)
	if err != nil {
		return err
	}
	scope, err := w.store.LoadReconScope(ctx, mid, now.Add(-db.ReconLookback), extra)
	if err != nil {
		return err
	}
	run.Orders = len(scope.Orders)
	var found []domain.ReconFinding
	ids := make([]string, 0, len(scope.Orders))
	for _, o := range scope.Orders {
		ids = append(ids, o.OrderID)
		found = append(found, domain.Reconcile(o, scope.Charges[o.OrderID], now, grace)...)
	}
	if run.Opened, run.Closed, err = w.store.SaveFindings(ctx, mid, ids, found, now); err != nil {
		return err
	}

	// 3. The merchant's automatic refund policy.
	if policy.AutoRefundMinutes != nil {
		return w.autoRefund(ctx, mid, policy, now)
	}
	return nil
}

// check asks the platform about one payment and records the answer (or that there
// was none).
func (w *ReconWorker) check(ctx context.Context, mid int64, c db.ReconCandidate, now time.Time) error {
	if w.platform == nil {
		return w.store.RecordReconCheck(ctx, mid, c.TransactionID, false, "", 0, "no platform API configured", now)
	}
	pt, err := w.platform.GetTransaction(ctx, c.PlatformID)
	switch {
	case err == nil:
		return w.store.RecordReconCheck(ctx, mid, c.TransactionID, true, string(pt.Status), pt.Debited, "", now)
	case errors.Is(err, platform.ErrNotFound):
		return w.store.RecordReconCheck(ctx, mid, c.TransactionID, true, "unknown", 0, "the platform does not know this payment", now)
	case ctx.Err() != nil:
		return ctx.Err()
	default:
		return w.store.RecordReconCheck(ctx, mid, c.TransactionID, false, "", 0, err.Error(), now)
	}
}

// autoRefund refunds "charged, order not completed" findings older than the
// policy's delay, once each (the finding's id is part of the request key), and
// queues the customer's notice with the refund when the policy says so.
func (w *ReconWorker) autoRefund(ctx context.Context, mid int64, policy domain.RefundPolicy, now time.Time) error {
	due, err := w.store.AutoRefundable(ctx, mid, now.Add(-time.Duration(*policy.AutoRefundMinutes)*time.Minute), 100)
	if err != nil || len(due) == 0 {
		return err
	}
	m, err := w.store.Merchant(ctx, mid)
	if err != nil {
		return err
	}
	for _, f := range due {
		fid := f.ID
		in := db.NewRefund{TransactionID: *f.TransactionID, Source: domain.RefundFromAuto, RequestedLabel: "auto-refund",
			FindingID: &fid, RequestKey: fmt.Sprintf("auto:finding:%d", f.ID), Now: now,
			Request: domain.RefundRequest{Amount: f.Amount, Currency: f.Currency,
				Reason: "自动退款:已扣款但订单未完成 / automatic refund: charged, order not completed"}}
		_, _, err := w.store.CreateRefund(ctx, mid, in, func(ctx context.Context, tx *db.Store, r domain.Refund) error {
			if err := w.runner().EnqueueRefund(ctx, tx.Tx(), mid, r.ID); err != nil {
				return err
			}
			if !policy.AutoRefundNotify {
				return nil
			}
			return w.queueRefundNotice(ctx, tx, m, r)
		})
		var p *domain.RefundProblem
		if errors.As(err, &p) {
			continue // e.g. refunded on the platform meanwhile: the next run clears it
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// queueRefundNotice tells the customer that their money is on its way back.
func (w *ReconWorker) queueRefundNotice(ctx context.Context, tx *db.Store, m domain.Merchant, r domain.Refund) error {
	t, err := tx.Transaction(ctx, m.ID, r.TransactionID)
	if err != nil {
		return err
	}
	ch, nd, err := domain.DraftRefundNotice(m, t, r.Money(), []domain.NotifyChannel{domain.NotifySMS, domain.NotifyEmail, domain.NotifyInApp}, "zh-CN")
	if errors.Is(err, domain.ErrNoContact) {
		return nil
	}
	if err != nil {
		return err
	}
	ids, err := tx.QueueNotifications(ctx, m.ID, []db.NewNotification{{TransactionID: t.ID, Channel: ch, TemplateKey: nd.TemplateKey,
		Lang: "zh-CN", RecipientMasked: nd.RecipientMasked, Subject: nd.Subject, Body: nd.Body, CreatedBy: "auto-refund"}})
	if err != nil {
		return err
	}
	return w.runner().EnqueueNotices(ctx, tx.Tx(), m.ID, ids)
}

// EnqueueRecon asks for a reconciliation run of one merchant now.
func (r *Runner) EnqueueRecon(ctx context.Context, merchantID int64, trigger string, txIDs []int64) error {
	if _, err := r.Client.Insert(ctx, ReconArgs{MerchantID: merchantID, Trigger: trigger, Transactions: txIDs}, nil); err != nil {
		return fmt.Errorf("jobs: enqueue reconciliation: %w", err)
	}
	return nil
}
