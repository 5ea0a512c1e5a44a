package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"paymend/db"
	"paymend/platform"
)

// DrillWatchArgs runs the emergency drills: it asks the sandbox for each new
// drill's burst of failures, then records when the failures arrived, when the
// alert fired and who acknowledged it (each step once, on the drill's timeline).
type DrillWatchArgs struct{}

// Kind names the job.
func (DrillWatchArgs) Kind() string { return "drill_watch" }

// DrillWatchWorker does DrillWatchArgs.
type DrillWatchWorker struct {
	river.WorkerDefaults[DrillWatchArgs]
	store    *db.Store
	platform *platform.Client
	now      func() time.Time
}

// drillEvery is how often drills are watched: at most every 5 s (the precision
// of a drill's step times), sooner when rules are checked sooner (tests).
func drillEvery(rules time.Duration) time.Duration { return min(5*time.Second, rules) }

// Work advances every open drill.
func (w *DrillWatchWorker) Work(ctx context.Context, _ *river.Job[DrillWatchArgs]) error {
	drills, err := w.store.OpenDrills(ctx)
	if err != nil {
		return err
	}
	for _, d := range drills {
		if d.BurstState == "requested" {
			claimed, err := w.store.ClaimDrillBurst(ctx, d.MerchantID, d.ID)
			if err != nil {
				return err
			}
			if !claimed {
				continue
			}
			state, note := "sent", fmt.Sprintf("沙箱已开始发送 %d 笔失败(返回码 %s,%d 秒内) Sandbox burst accepted: %d failures with code %s over %d s",
				d.BurstCount, d.BurstCode, d.BurstSeconds, d.BurstCount, d.BurstCode, d.BurstSeconds)
			if w.platform == nil {
				state, note = "failed", "未配置支付平台,无法发起演练 No platform configured: the burst was not sent"
			} else if err := w.platform.SandboxBurst(ctx, platform.BurstRequest{MerchantCode: d.MerchantCode, Code: d.BurstCode,
				Count: d.BurstCount, Seconds: d.BurstSeconds}); err != nil {
				state, note = "failed", "沙箱拒绝了演练请求 The sandbox refused the burst: "+err.Error()
			}
			if err := w.store.SetDrillBurst(ctx, d.MerchantID, d.ID, state, w.now(), note); err != nil {
				return err
			}
		}
		obs, err := w.store.ObserveDrill(ctx, d.MerchantID, d.Incident)
		if err != nil {
			return err
		}
		texts := map[string]string{
			"first_failure": "首笔演练失败已到达 First drill failure arrived",
			"alert_fired":   "告警已触发 Alert fired",
			"alert_acked":   "告警已确认 Alert acknowledged",
		}
		if obs.AlertID != nil {
			texts["alert_fired"] += fmt.Sprintf(" #%d", *obs.AlertID)
		}
		if obs.AlertAckedBy != "" {
			texts["alert_acked"] += ": " + obs.AlertAckedBy
		}
		if err := w.store.RecordDrillObservation(ctx, d.MerchantID, d.Incident, obs, texts); err != nil {
			return err
		}
	}
	return nil
}
