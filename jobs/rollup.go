package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"

	"paymend/db"
)

// RollupArgs applies pending transaction changes to the rollups.
type RollupArgs struct{}

// Kind names the job.
func (RollupArgs) Kind() string { return "rollup" }

// RollupWorker does RollupArgs (see db.ApplyRollupDeltas).
type RollupWorker struct {
	river.WorkerDefaults[RollupArgs]
	store *db.Store
	now   func() time.Time
}

// Work applies every pending change.
func (w *RollupWorker) Work(ctx context.Context, _ *river.Job[RollupArgs]) error {
	_, err := w.store.ApplyRollupDeltas(ctx, w.now())
	return err
}

// RollupPruneArgs drops expired minute rollups and rows that went back to zero.
type RollupPruneArgs struct{}

// Kind names the job.
func (RollupPruneArgs) Kind() string { return "rollup_prune" }

// RollupPruneWorker does RollupPruneArgs.
type RollupPruneWorker struct {
	river.WorkerDefaults[RollupPruneArgs]
	store *db.Store
	now   func() time.Time
}

// Work prunes.
func (w *RollupPruneWorker) Work(ctx context.Context, _ *river.Job[RollupPruneArgs]) error {
	return w.store.PruneRollups(ctx, w.now())
}
