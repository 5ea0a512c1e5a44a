package jobs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/riverqueue/river"

	"paymend/db"
	"paymend/domain"
	"paymend/notify"
)

// AlertEvalArgs evaluates every merchant's alert rules.
type AlertEvalArgs struct{}

// Kind names the job.
func (AlertEvalArgs) Kind() string { return "alert_eval" }

// AlertEvalWorker does AlertEvalArgs.
type AlertEvalWorker struct {
	river.WorkerDefaults[AlertEvalArgs]
	eval *AlertEvaluator
}

// Work evaluates at the current time.
func (w *AlertEvalWorker) Work(ctx context.Context, _ *river.Job[AlertEvalArgs]) error {
	return w.eval.Evaluate(ctx, w.eval.Now())
}

// AlertEvaluator turns rule measurements into alerts: one alert per crossing,
// updated while it lasts, resolved after the cool-down, escalated when nobody
// acknowledges it, and a notification job for each of those moments.
type AlertEvaluator struct {
	store  *db.Store
	runner func() *Runner
	Now    func() time.Time
}

// Evaluate first brings the rollups up to date, then evaluates each rule that is
// enabled or has an open alert. Each rule is one transaction that holds the rule's
// row lock, so concurrent evaluators take turns and the second sees the first's
// alert; the partial unique index on open alerts backs that up.
func (e *AlertEvaluator) Evaluate(ctx context.Context, now time.Time) error {
	if _, err := e.store.ApplyRollupDeltas(ctx, now); err != nil {
		return err
	}
	mids, err := e.store.MerchantsToEvaluate(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, mid := range mids {
		rules, err := e.store.RulesToEvaluate(ctx, mid)
		if err != nil {
			return err
		}
		for _, rid := range rules {
			if err := e.EvaluateRule(ctx, mid, rid, now); err != nil {
				errs = append(errs, fmt.Errorf("alerts: merchant %d rule %d: %w", mid, rid, err))
			}
		}
	}
	return errors.Join(errs...)
}

// EvaluateRule evaluates one rule at now.
func (e *AlertEvaluator) EvaluateRule(ctx context.Context, merchantID, ruleID int64, now time.Time) error {
	return e.store.InTx(ctx, func(tx *db.Store) error {
		r, err := tx.AlertRule(ctx, merchantID, ruleID, true)
		if errors.Is(err, db.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		m, err := Measure(ctx, tx, r, now)
		if err != nil {
			return err
		}
		open, err := tx.OpenAlertForRule(ctx, merchantID, ruleID)
		if err != nil {
			return err
		}
		if err := tx.RecordRuleEvaluation(ctx, merchantID, ruleID, m, now); err != nil {
			return err
		}
		d := domain.DecideAlert(r, m, open, now)
		val, vol := m.Value, m.Volume
		ev := domain.AlertEvent{At: now, Value: &val, Volume: &vol}
		switch d.Action {
		case domain.AlertNone:
			return nil
		case domain.AlertOpen:
			id, err := tx.OpenAlert(ctx, merchantID, r, m, domain.AlertSummary(r, m), now)
			if errors.Is(err, db.ErrDuplicate) { // opened meanwhile outside the rule lock (cannot happen between evaluators)
				return nil
			}
			if err != nil {
				return err
			}
			ev.AlertID, ev.Kind = id, "opened"
			ev.Details = db.AlertDetails(map[string]any{"threshold": r.Threshold, "baseline": m.Baseline, "count": m.Count})
			if err := tx.AddAlertEvent(ctx, merchantID, ev); err != nil {
				return err
			}
			return e.notify(ctx, tx, merchantID, id, "opened")
		case domain.AlertUpdate:
			ev.AlertID, ev.Kind = open.ID, "value"
			ev.Details = db.AlertDetails(map[string]any{"breached": d.Breached, "baseline": m.Baseline, "count": m.Count})
			if err := tx.UpdateAlertValue(ctx, merchantID, open.ID, m, d.Breached, domain.AlertSummary(r, m), now); err != nil {
				return err
			}
			if err := tx.AddAlertEvent(ctx, merchantID, ev); err != nil {
				return err
			}
			if !d.Escalate {
				return nil
			}
			if err := tx.MarkAlertEscalated(ctx, merchantID, open.ID, now); err != nil {
				return err
			}
			if err := tx.AddAlertEvent(ctx, merchantID, domain.AlertEvent{AlertID: open.ID, At: now, Kind: "escalated",
				Details: db.AlertDetails(map[string]any{"after_minutes": r.EscalateAfterMinutes})}); err != nil {
				return err
			}
			return e.notify(ctx, tx, merchantID, open.ID, "escalated")
		case domain.AlertResolve:
			if err := tx.UpdateAlertValue(ctx, merchantID, open.ID, m, false, "", now); err != nil {
				return err
			}
			if err := tx.ResolveAlert(ctx, merchantID, open.ID, nil, now); err != nil {
				return err
			}
			ev.AlertID, ev.Kind = open.ID, "resolved"
			reason := "cooldown"
			if !r.Enabled {
				reason = "rule_disabled"
			}
			ev.Details = db.AlertDetails(map[string]any{"reason": reason, "cooldown_minutes": r.CooldownMinutes})
			if err := tx.AddAlertEvent(ctx, merchantID, ev); err != nil {
				return err
			}
			return e.notify(ctx, tx, merchantID, open.ID, "resolved")
		}
		return nil
	})
}

// notify queues the contacts' notification in the evaluation's transaction.
func (e *AlertEvaluator) notify(ctx context.Context, tx *db.Store, merchantID, alertID int64, event string) error {
	r := e.runner()
	if r == nil || r.Client == nil {
		return nil
	}
	_, err := r.Client.InsertTx(ctx, tx.Tx(), AlertNotifyArgs{MerchantID: merchantID, AlertID: alertID, Event: event}, nil)
	return err
}

// Window returns the minute buckets [from, to) a rule's window reads at now: the
// last WindowMinutes minutes including the current, partial one.
func Window(r domain.AlertRule, now time.Time) (from, to time.Time) {
	to = now.UTC().Truncate(time.Minute).Add(time.Minute)
	return to.Add(-r.Window()), to
}

// scopeDim maps a rule's scope to the rollup dimension.
func scopeDim(r domain.AlertRule) (string, string) {
	if r.Scope == domain.ScopeAll || r.Scope == "" {
		return "all", ""
	}
	return r.Scope, r.ScopeValue
}

// Measure computes a rule's metric at now from the rollups (refund and
// notification failures from their own small tables).
func Measure(ctx context.Context, s *db.Store, r domain.AlertRule, now time.Time) (domain.Measurement, error) {
	from, to := Window(r, now)
	dim, val := scopeDim(r)
	var m domain.Measurement
	switch r.Metric {
	case domain.MetricFailureRate, domain.MetricFailureCount, domain.MetricCodeCount, domain.MetricBaselineRate:
		c, err := s.WindowCounts(ctx, r.MerchantID, dim, val, from, to)
		if err != nil {
			return m, err
		}
		m.Volume, m.Count = c.Attempts, c.Failed
		m.Value = float64(c.Failed)
		if r.Metric == domain.MetricFailureRate || r.Metric == domain.MetricBaselineRate {
			m.Value = c.FailureRate()
		}
		if r.Metric == domain.MetricBaselineRate {
			var samples []domain.RateSample
			for k := 1; k <= domain.BaselineWeeks; k++ {
				shift := time.Duration(k) * 7 * 24 * time.Hour
				bf := now.Add(-shift - r.Window()).Truncate(time.Hour)
				bt := now.Add(-shift).Truncate(time.Hour).Add(time.Hour)
				h, err := s.WindowCountsHourly(ctx, r.MerchantID, dim, val, bf, bt)
				if err != nil {
					return m, err
				}
				samples = append(samples, domain.RateSample{Failed: h.Failed, Attempts: h.Settled()})
			}
			if b, ok := domain.BaselineOf(samples); ok {
				m.Baseline = &b
			}
		}
	case domain.MetricCodeShare:
		c, err := s.WindowCounts(ctx, r.MerchantID, "code", r.ScopeValue, from, to)
		if err != nil {
			return m, err
		}
		all, err := s.WindowCounts(ctx, r.MerchantID, "all", "", from, to)
		if err != nil {
			return m, err
		}
		m.Volume, m.Count = all.Failed, c.Failed
		if all.Failed > 0 {
			m.Value = float64(c.Failed) / float64(all.Failed)
		}
	case domain.MetricRefundFailures:
		failed, total, err := s.RefundOutcomes(ctx, r.MerchantID, now.Add(-r.Window()), now)
		if err != nil {
			return m, err
		}
		m.Value, m.Count, m.Volume = float64(failed), failed, total
	case domain.MetricNotificationFailures:
		failed, total, err := s.NotificationOutcomes(ctx, r.MerchantID, now.Add(-r.Window()), now)
		if err != nil {
			return m, err
		}
		m.Value, m.Count, m.Volume = float64(failed), failed, total
	}
	return m, nil
}

// AlertNotifyArgs tells a rule's contacts that its alert opened, escalated or resolved.
type AlertNotifyArgs struct {
	MerchantID int64  `json:"merchant_id"`
	AlertID    int64  `json:"alert_id"`
	Event      string `json:"event"` // opened, escalated, resolved
}

// Kind names the job.
func (AlertNotifyArgs) Kind() string { return "alert_notify" }

// InsertOpts: retries with backoff; one job per alert and event.
func (AlertNotifyArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{MaxAttempts: 8, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// AlertNotifyWorker sends an alert's e-mails (through the merchant's SMTP settings)
// and its webhook POST. Each contact reached is recorded on the alert's timeline,
// so a retry only tries the ones still missing.
type AlertNotifyWorker struct {
	river.WorkerDefaults[AlertNotifyArgs]
	store   *db.Store
	sealer  *domain.Sealer
	http    *http.Client
	now     func() time.Time
	baseURL string
}

// Timeout bounds one attempt.
func (w *AlertNotifyWorker) Timeout(*river.Job[AlertNotifyArgs]) time.Duration { return time.Minute }

// Work notifies.
func (w *AlertNotifyWorker) Work(ctx context.Context, job *river.Job[AlertNotifyArgs]) error {
	mid, event := job.Args.MerchantID, job.Args.Event
	a, err := w.store.Alert(ctx, mid, job.Args.AlertID)
	if errors.Is(err, db.ErrNotFound) || (err == nil && a.RuleID == nil) {
		return nil
	}
	if err != nil {
		return err
	}
	r, err := w.store.AlertRule(ctx, mid, *a.RuleID, false)
	if errors.Is(err, db.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	m, err := w.store.Merchant(ctx, mid)
	if err != nil {
		return err
	}
	done, err := w.store.AlertNotified(ctx, mid, a.ID, event)
	if err != nil {
		return err
	}
	emails := r.Emails
	if event == "escalated" && len(r.EscalateEmails) > 0 {
		emails = r.EscalateEmails
	}
	subject, body := AlertMessage(m, a, event, w.baseURL)
	var retry []error
	record := func(kind, to string, cause error) error {
		d := map[string]any{"event": event, "to": to}
		if cause != nil {
			d["reason"] = cause.Error()
		}
		return w.store.AddAlertEvent(ctx, mid, domain.AlertEvent{AlertID: a.ID, At: w.now(), Kind: kind, Details: db.AlertDetails(d)})
	}
	var mailer notify.Channel
	if len(emails) > 0 {
		mailer, err = w.mailer(ctx, mid)
		if err != nil {
			if !done["email"] {
				if err := record("notify_failed", "email", err); err != nil {
					return err
				}
			}
			emails = nil
		}
	}
	for _, to := range emails {
		if done[to] {
			continue
		}
		_, err := mailer.Send(ctx, notify.Message{Channel: domain.NotifyEmail, To: to, Subject: subject, Body: body,
			IdempotencyKey: fmt.Sprintf("alert-%d-%s-%s", a.ID, event, to)})
		switch {
		case err == nil:
			err = record("notified", to, nil)
		case notify.IsPermanent(err) || job.Attempt >= job.MaxAttempts:
			err = record("notify_failed", to, err)
		default:
			retry = append(retry, err)
			err = nil
		}
		if err != nil {
			return err
		}
	}
	if r.WebhookURL != "" && !done["webhook"] {
		err := w.postWebhook(ctx, m, a, event, r.WebhookURL)
		var perm permanentErr
		switch {
		case err == nil:
			err = record("notified", "webhook", nil)
		case errors.As(err, &perm) || job.Attempt >= job.MaxAttempts:
			err = record("notify_failed", "webhook", err)
		default:
			retry = append(retry, err)
			err = nil
		}
		if err != nil {
			return err
		}
	}
	return errors.Join(retry...)
}

// mailer builds the SMTP channel from the merchant's e-mail settings.
func (w *AlertNotifyWorker) mailer(ctx context.Context, mid int64) (notify.Channel, error) {
	cs, err := w.store.ChannelSettings(ctx, mid)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		if c.Channel == domain.NotifyEmail && c.Enabled {
			secret, err := w.sealer.Open(c.Secret)
			if err != nil {
				return nil, fmt.Errorf("%w: stored secret unreadable", notify.ErrNotConfigured)
			}
			return ChannelFor(c, secret, w.http), nil
		}
	}
	return nil, fmt.Errorf("%w: the e-mail channel is not set up in Settings", notify.ErrNotConfigured)
}

type permanentErr struct{ error }

// AlertWebhook is the JSON body PayMend POSTs to a rule's webhook URL.
type AlertWebhook struct {
	Type  string         `json:"type"` // alert.opened, alert.escalated, alert.resolved
	Alert map[string]any `json:"alert"`
}

// postWebhook POSTs the alert, signed with the merchant's webhook secret like the
// platform signs its events (PayMend-Signature: t=…,v1=HMAC-SHA256).
func (w *AlertNotifyWorker) postWebhook(ctx context.Context, m domain.Merchant, a domain.Alert, event, url string) error {
	payload := AlertWebhook{Type: "alert." + event, Alert: map[string]any{"id": a.ID, "merchant": m.Code,
		"status": a.Status, "severity": a.Severity, "rule": a.RuleName, "metric": a.Metric, "scope": a.Scope,
		"scope_value": a.ScopeValue, "value": a.Value, "threshold": a.Threshold, "volume": a.Volume,
		"opened_at": a.OpenedAt.UTC(), "resolved_at": a.ResolvedAt, "summary": a.Summary}}
	body, _ := json.Marshal(payload)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return permanentErr{err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", fmt.Sprintf("alert-%d-%s", a.ID, event))
	// Never send an alert unsigned: a receiver could not tell it from a forgery.
	secrets, err := w.store.WebhookSecrets(ctx, m.ID)
	if err != nil {
		return err
	}
	if len(secrets) == 0 {
		return permanentErr{errors.New("no webhook secret to sign the alert with")}
	}
	secret, err := w.sealer.Open(secrets[0])
	if err != nil {
		return permanentErr{fmt.Errorf("open webhook secret: %w", err)}
	}
	req.Header.Set("PayMend-Signature", domain.SignWebhook([]byte(secret), w.now(), body))
	resp, err := w.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode >= 500 || resp.StatusCode == 408 || resp.StatusCode == 429:
		return fmt.Errorf("webhook answered %d", resp.StatusCode)
	}
	return permanentErr{fmt.Errorf("webhook answered %d", resp.StatusCode)}
}

// AlertMessage is the e-mail about an alert's event, in Chinese then English.
func AlertMessage(m domain.Merchant, a domain.Alert, event, baseURL string) (subject, body string) {
	tag := map[string][2]string{"opened": {"告警", "Alert"}, "escalated": {"告警升级", "Escalated"},
		"resolved": {"已恢复", "Resolved"}}[event]
	value := domain.FormatMetricValue(a.Metric, a.Value)
	threshold := domain.FormatThreshold(a.Metric, a.Threshold)
	subject = fmt.Sprintf("[PayMend %s / %s] %s: %s", tag[0], tag[1], a.RuleName, value)
	var b strings.Builder
	loc := m.Location()
	fmt.Fprintf(&b, "%s — %s\n\n", m.Name, a.RuleName)
	switch event {
	case "resolved":
		fmt.Fprintf(&b, "告警已恢复:指标已回落到阈值 %s 以下。当前值 %s,峰值 %s。\n", threshold, value, domain.FormatMetricValue(a.Metric, a.PeakValue))
		fmt.Fprintf(&b, "The alert is resolved: the metric is back under %s. Now %s, peak %s.\n", threshold, value, domain.FormatMetricValue(a.Metric, a.PeakValue))
	case "escalated":
		fmt.Fprintf(&b, "该告警自 %s 起仍无人确认,请立即处理。当前值 %s(阈值 %s)。\n", a.OpenedAt.In(loc).Format("15:04"), value, threshold)
		fmt.Fprintf(&b, "Nobody has acknowledged this alert since %s. Now %s (threshold %s).\n", a.OpenedAt.In(loc).Format("15:04"), value, threshold)
	default:
		fmt.Fprintf(&b, "指标超过阈值:当前 %s,阈值 %s,最近 %d 分钟,样本 %d。\n", value, threshold, a.WindowMinutes, a.Volume)
		fmt.Fprintf(&b, "%s\n", a.Summary)
	}
	fmt.Fprintf(&b, "\n开始时间 Opened: %s\n", a.OpenedAt.In(loc).Format("2006-01-02 15:04:05"))
	if baseURL != "" {
		fmt.Fprintf(&b, "详情 Details: %s/alerts/%d\n", strings.TrimRight(baseURL, "/"), a.ID)
	}
	return subject, b.String()
}
