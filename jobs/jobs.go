// Package jobs runs PayMend's background work on River: delivery, refunds, alert
// evaluation, reconciliation, rollups and housekeeping. Only main starts workers;
// handlers insert jobs in the same transaction as the rows they belong to.
package jobs

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverdatabasesql"

	"paymend/cache"
	"paymend/db"
	"paymend/domain"
	"paymend/platform"
)

// Config is what the workers need.
type Config struct {
	DB     *sql.DB
	Store  *db.Store
	Sealer *domain.Sealer
	Log    *slog.Logger
	Now    func() time.Time
	// FetchPoll is how often idle workers look for jobs (default 200 ms).
	FetchPoll time.Duration
	// RulesEvery is how often automatic notification rules look at new failures
	// (default 15 s).
	RulesEvery time.Duration
	// Platform is the OulePay API (refunds, transaction queries); nil leaves refunds
	// "not submitted" with the reason.
	Platform *platform.Client
	// RefundRetry is the wait before a refund's second attempt, doubling after
	// (default 5 s); RefundPoll how often a submitted refund is polled (default 10 s).
	RefundRetry, RefundPoll time.Duration
	// ReconEvery is how often reconciliation runs for every merchant (default 5 min).
	ReconEvery time.Duration
	// RollupEvery is how often pending changes reach the rollups (default 10 s);
	// AlertsEvery how often alert rules are evaluated (default 30 s).
	RollupEvery, AlertsEvery time.Duration
	// BaseURL is PAYMEND_BASE_URL: links in alert e-mails and the feedback links
	// notices carry.
	BaseURL string
	// FeedbackTTL is how long those links stay open (0: domain.FeedbackLinkTTL).
	FeedbackTTL time.Duration
}

// Runner is a started River client.
type Runner struct {
	Client *river.Client[*sql.Tx]
	// Alerts evaluates alert rules (the periodic job's work, callable directly).
	Alerts *AlertEvaluator
}

// Stop lets running jobs finish (until ctx ends) and stops fetching.
func (r *Runner) Stop(ctx context.Context) {
	if r == nil || r.Client == nil {
		return
	}
	_ = r.Client.Stop(ctx)
}

// workers registers every worker. runner gives workers that insert jobs the
// client, which exists only once the workers are registered.
func workers(cfg Config, runner *Runner) *river.Workers {
	w := river.NewWorkers()
	runner.Alerts = &AlertEvaluator{store: cfg.Store, runner: func() *Runner { return runner }, Now: cfg.Now}
	river.AddWorker(w, &RollupWorker{store: cfg.Store, now: cfg.Now})
	river.AddWorker(w, &RollupPruneWorker{store: cfg.Store, now: cfg.Now})
	river.AddWorker(w, &AlertEvalWorker{eval: runner.Alerts})
	river.AddWorker(w, &AlertNotifyWorker{store: cfg.Store, sealer: cfg.Sealer, now: cfg.Now, baseURL: cfg.BaseURL,
		http: &http.Client{Timeout: 15 * time.Second}})
	river.AddWorker(w, &AutoNotifyWorker{store: cfg.Store, now: cfg.Now, runner: func() *Runner { return runner }, baseURL: cfg.BaseURL, feedbackTTL: cfg.FeedbackTTL})
	river.AddWorker(w, &HousekeepingWorker{store: cfg.Store, now: cfg.Now})
	river.AddWorker(w, &DrillWatchWorker{store: cfg.Store, platform: cfg.Platform, now: cfg.Now})
	river.AddWorker(w, &TestSendWorker{store: cfg.Store, sealer: cfg.Sealer, now: cfg.Now})
	river.AddWorker(w, &SweepOrdersWorker{store: cfg.Store, now: cfg.Now})
	river.AddWorker(w, &RefundSubmitWorker{store: cfg.Store, platform: cfg.Platform, now: cfg.Now, retry: cfg.RefundRetry,
		pollIn: cfg.RefundPoll, runner: func() *Runner { return runner }})
	river.AddWorker(w, &RefundPollWorker{store: cfg.Store, platform: cfg.Platform, now: cfg.Now, every: cfg.RefundPoll})
	river.AddWorker(w, &ReconWorker{store: cfg.Store, platform: cfg.Platform, now: cfg.Now, runner: func() *Runner { return runner }})
	river.AddWorker(w, &RefundSweepWorker{store: cfg.Store, platform: cfg.Platform, now: cfg.Now})
	river.AddWorker(w, &NotifyWorker{store: cfg.Store, sealer: cfg.Sealer, now: cfg.Now,
		http: &http.Client{Timeout: 15 * time.Second}, setups: cache.New[merchantSetup](10 * time.Second),
		runner: func() *Runner { return runner }, baseURL: cfg.BaseURL, feedbackTTL: cfg.FeedbackTTL})
	return w
}

// Start runs the workers. Periodic jobs run once per cluster: River elects a leader.
func Start(ctx context.Context, cfg Config) (*Runner, error) {
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return time.Now().UTC() }
	}
	if cfg.RulesEvery == 0 {
		cfg.RulesEvery = 15 * time.Second
	}
	if cfg.RefundRetry == 0 {
		cfg.RefundRetry = 5 * time.Second
	}
	if cfg.RefundPoll == 0 {
		cfg.RefundPoll = 10 * time.Second
	}
	if cfg.ReconEvery == 0 {
		cfg.ReconEvery = 5 * time.Minute
	}
	if cfg.RollupEvery == 0 {
		cfg.RollupEvery = 10 * time.Second
	}
	if cfg.AlertsEvery == 0 {
		cfg.AlertsEvery = 30 * time.Second
	}
	if cfg.FetchPoll == 0 {
		cfg.FetchPoll = 200 * time.Millisecond
	}
	runner := &Runner{}
	client, err := river.NewClient(riverdatabasesql.New(cfg.DB), &river.Config{
		Logger:            cfg.Log,
		PollOnly:          true,
		FetchPollInterval: cfg.FetchPoll,
		// In poll mode a worker that finishes waits for the next fetch, so throughput
		// is about workers / cooldown: many cheap workers and a short cooldown keep
		// deliveries flowing (measured 200/s with 20 workers and 100 ms).
		FetchCooldown: 20 * time.Millisecond,
		Queues:        map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: 100}},
		Workers:       workers(cfg, runner),
		PeriodicJobs: []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(10*time.Minute),
				func() (river.JobArgs, *river.InsertOpts) { return HousekeepingArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(time.Minute),
				func() (river.JobArgs, *river.InsertOpts) { return SweepOrdersArgs{}, nil }, nil),
			river.NewPeriodicJob(river.PeriodicInterval(time.Minute),
				func() (river.JobArgs, *river.InsertOpts) { return RefundSweepArgs{}, nil }, nil),
			river.NewPeriodicJob(river.PeriodicInterval(cfg.ReconEvery),
				func() (river.JobArgs, *river.InsertOpts) { return ReconArgs{Trigger: "schedule"}, nil },
				&river.PeriodicJobOpts{RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(cfg.RulesEvery),
				func() (river.JobArgs, *river.InsertOpts) { return AutoNotifyArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(drillEvery(cfg.RulesEvery)),
				func() (river.JobArgs, *river.InsertOpts) { return DrillWatchArgs{}, nil }, nil),
			river.NewPeriodicJob(river.PeriodicInterval(cfg.RollupEvery),
				func() (river.JobArgs, *river.InsertOpts) { return RollupArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(10*time.Minute),
				func() (river.JobArgs, *river.InsertOpts) { return RollupPruneArgs{}, nil }, nil),
			river.NewPeriodicJob(river.PeriodicInterval(cfg.AlertsEvery),
				func() (river.JobArgs, *river.InsertOpts) { return AlertEvalArgs{}, nil },
				&river.PeriodicJobOpts{RunOnStart: true}),
		},
	})
	if err != nil {
		return nil, fmt.Errorf("jobs: river client: %w", err)
	}
	if err := client.Start(ctx); err != nil {
		return nil, fmt.Errorf("jobs: start: %w", err)
	}
	runner.Client = client
	return runner, nil
}

// HousekeepingArgs purges expired sessions and old rate-limit windows.
type HousekeepingArgs struct{}

// Kind names the job.
func (HousekeepingArgs) Kind() string { return "housekeeping" }

// HousekeepingWorker does HousekeepingArgs.
type HousekeepingWorker struct {
	river.WorkerDefaults[HousekeepingArgs]
	store *db.Store
	now   func() time.Time
}

// Work purges what has expired.
func (w *HousekeepingWorker) Work(ctx context.Context, _ *river.Job[HousekeepingArgs]) error {
	now := w.now()
	if _, err := w.store.PurgeExpiredSessions(ctx, now); err != nil {
		return err
	}
	return w.store.PurgeRateLimits(ctx, now.Add(-2*time.Hour))
}

// SweepOrdersArgs closes failures whose order was paid by a payment committed at the
// same moment (see db.CloseRetriedOrders).
type SweepOrdersArgs struct{}

// Kind names the job.
func (SweepOrdersArgs) Kind() string { return "sweep_orders" }

// SweepOrdersWorker does SweepOrdersArgs over the last 30 minutes of failures.
type SweepOrdersWorker struct {
	river.WorkerDefaults[SweepOrdersArgs]
	store *db.Store
	now   func() time.Time
}

// Work closes what the sweep finds.
func (w *SweepOrdersWorker) Work(ctx context.Context, _ *river.Job[SweepOrdersArgs]) error {
	ids, err := w.store.MerchantIDs(ctx)
	if err != nil {
		return err
	}
	for _, mid := range ids {
		orders, err := w.store.OpenRecentFailedOrders(ctx, mid, w.now().Add(-30*time.Minute))
		if err != nil {
			return err
		}
		if len(orders) > 0 {
			if err := w.store.CloseRetriedOrders(ctx, mid, orders); err != nil {
				return err
			}
		}
	}
	return nil
}
