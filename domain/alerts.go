package domain

import (
	"fmt"
	"math"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"
)

// AlertMetric is what an alert rule measures over its window.
type AlertMetric string

// Alert metrics.
const (
	MetricFailureRate          AlertMetric = "failure_rate"          // failed / (failed + succeeded)
	MetricFailureCount         AlertMetric = "failure_count"         // failed payments
	MetricCodeCount            AlertMetric = "code_count"            // failures with one code
	MetricCodeShare            AlertMetric = "code_share"            // that code's share of all failures
	MetricRefundFailures       AlertMetric = "refund_failures"       // failed refunds
	MetricNotificationFailures AlertMetric = "notification_failures" // customer notices that failed
	MetricBaselineRate         AlertMetric = "baseline_rate"         // failure rate vs the same hour of previous weeks
)

// AlertMetrics lists every metric in display order.
var AlertMetrics = []AlertMetric{MetricFailureRate, MetricFailureCount, MetricCodeCount, MetricCodeShare,
	MetricRefundFailures, MetricNotificationFailures, MetricBaselineRate}

// Valid reports whether m is a known metric.
func (m AlertMetric) Valid() bool { return slices.Contains(AlertMetrics, m) }

// IsRate reports whether the metric's values and thresholds are fractions shown as percentages.
func (m AlertMetric) IsRate() bool {
	return m == MetricFailureRate || m == MetricCodeShare || m == MetricBaselineRate
}

// NeedsCode reports whether the metric only makes sense for one code (scope code).
func (m AlertMetric) NeedsCode() bool { return m == MetricCodeCount || m == MetricCodeShare }

// Scoped reports whether the metric can be narrowed to a channel, code or bank
// (refund and notification failures are merchant-wide).
func (m AlertMetric) Scoped() bool {
	return m != MetricRefundFailures && m != MetricNotificationFailures
}

// Alert scopes: which payments a rule looks at.
const (
	ScopeAll     = "all"
	ScopeChannel = "channel"
	ScopeCode    = "code"
	ScopeBank    = "bank"
)

// AlertScopes lists the scopes in display order.
var AlertScopes = []string{ScopeAll, ScopeChannel, ScopeCode, ScopeBank}

// Alert severities, lowest first.
var AlertSeverities = []string{"info", "warning", "critical"}

// Alert statuses.
const (
	AlertFiring       = "firing"
	AlertAcknowledged = "acknowledged"
	AlertResolved     = "resolved"
)

// AlertStatuses lists the statuses in display order.
var AlertStatuses = []string{AlertFiring, AlertAcknowledged, AlertResolved}

// AlertRule is a merchant's threshold: when Metric over the last WindowMinutes (for
// the payments in Scope) goes above Threshold with at least MinVolume behind it, an
// alert opens and Emails and WebhookURL are told.
type AlertRule struct {
	ID                   int64       `db:"id"`
	MerchantID           int64       `db:"merchant_id"`
	Name                 string      `db:"name"`
	Enabled              bool        `db:"enabled"`
	Metric               AlertMetric `db:"metric"`
	Scope                string      `db:"scope"`
	ScopeValue           string      `db:"scope_value"`
	WindowMinutes        int         `db:"window_minutes"`
	Threshold            float64     `db:"threshold"`
	MinVolume            int64       `db:"min_volume"`
	Severity             string      `db:"severity"`
	Emails               []string    `db:"-"`
	WebhookURL           string      `db:"webhook_url"`
	CooldownMinutes      int         `db:"cooldown_minutes"`
	EscalateAfterMinutes int         `db:"escalate_after_minutes"`
	EscalateEmails       []string    `db:"-"`
	IsDefault            bool        `db:"is_default"`
	LastEvaluatedAt      *time.Time  `db:"last_evaluated_at"`
	LastValue            *float64    `db:"last_value"`
	LastVolume           *int64      `db:"last_volume"`
	CreatedAt            time.Time   `db:"created_at"`
	UpdatedAt            time.Time   `db:"updated_at"`
}

// Window is the rule's window as a duration.
func (r AlertRule) Window() time.Duration { return time.Duration(r.WindowMinutes) * time.Minute }

// Validate returns the problems of a rule as message keys (empty when fine).
func (r AlertRule) Validate() []string {
	var errs []string
	if n := len([]rune(strings.TrimSpace(r.Name))); n < 1 || n > 100 {
		errs = append(errs, "rules.err.name")
	}
	if !r.Metric.Valid() {
		errs = append(errs, "rules.err.metric")
	}
	if !slices.Contains(AlertScopes, r.Scope) || (r.Scope != ScopeAll && strings.TrimSpace(r.ScopeValue) == "") ||
		len(r.ScopeValue) > 32 || (r.Metric.NeedsCode() && r.Scope != ScopeCode) || (!r.Metric.Scoped() && r.Scope != ScopeAll) ||
		// Payments of one code are failures by definition: its rate says nothing.
		((r.Metric == MetricFailureRate || r.Metric == MetricBaselineRate) && r.Scope == ScopeCode) {
		errs = append(errs, "rules.err.scope")
	}
	if r.WindowMinutes < 1 || r.WindowMinutes > 1440 {
		errs = append(errs, "rules.err.window")
	}
	if r.Threshold < 0 || math.IsNaN(r.Threshold) || math.IsInf(r.Threshold, 0) || (r.Metric.IsRate() && r.Metric != MetricBaselineRate && r.Threshold > 1) {
		errs = append(errs, "rules.err.threshold")
	}
	if r.MinVolume < 0 || r.MinVolume > 1_000_000 {
		errs = append(errs, "rules.err.min_volume")
	}
	if !slices.Contains(AlertSeverities, r.Severity) {
		errs = append(errs, "rules.err.severity")
	}
	if r.CooldownMinutes < 0 || r.CooldownMinutes > 1440 || r.EscalateAfterMinutes < 0 || r.EscalateAfterMinutes > 1440 {
		errs = append(errs, "rules.err.timing")
	}
	if len(r.Emails)+len(r.EscalateEmails) > 20 {
		errs = append(errs, "rules.err.emails")
	}
	for _, e := range append(slices.Clone(r.Emails), r.EscalateEmails...) {
		if !ValidEmail(e) {
			errs = append(errs, "rules.err.emails")
			break
		}
	}
	if r.WebhookURL != "" {
		u, err := url.Parse(r.WebhookURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(r.WebhookURL) > 500 {
			errs = append(errs, "rules.err.webhook")
		}
	}
	return errs
}

// Measurement is a rule's metric over its window at one moment.
type Measurement struct {
	Value  float64 // the metric (fraction for rates)
	Volume int64   // what the minimum-volume guard counts (attempts, refund outcomes, notices)
	Count  int64   // the failures behind Value
	// Baseline is the usual failure rate for this time of the week (baseline_rate
	// only); nil when previous weeks lack the data to say.
	Baseline *float64
}

// Baseline check parameters (README "Alerts: the baseline check").
const (
	// BaselineWeeks is how many previous weeks give the usual rate for this hour.
	BaselineWeeks = 4
	// BaselineMinWeeks is how many of them must have payments in that hour.
	BaselineMinWeeks = 2
	// BaselineMinRise is the least absolute rise over the baseline that counts.
	BaselineMinRise = 0.05
	// BaselineMinZ is the least z-score (binomial, against the baseline rate).
	BaselineMinZ = 3.0
	// baselineFloor keeps the z-score finite when the usual rate is 0.
	baselineFloor = 0.005
)

// BaselineOf is the median failure rate of the previous weeks' samples that had
// payments; ok is false with fewer than BaselineMinWeeks of them.
func BaselineOf(samples []RateSample) (float64, bool) {
	var rates []float64
	for _, s := range samples {
		if s.Attempts > 0 {
			rates = append(rates, float64(s.Failed)/float64(s.Attempts))
		}
	}
	if len(rates) < BaselineMinWeeks {
		return 0, false
	}
	sort.Float64s(rates)
	n := len(rates)
	if n%2 == 1 {
		return rates[n/2], true
	}
	return (rates[n/2-1] + rates[n/2]) / 2, true
}

// RateSample is failures out of settled attempts.
type RateSample struct{ Failed, Attempts int64 }

// ZScore is how many standard errors rate p over n attempts lies above baseline b.
func ZScore(p float64, n int64, b float64) float64 {
	if n <= 0 {
		return 0
	}
	b = math.Max(b, baselineFloor)
	return (p - b) / math.Sqrt(b*(1-b)/float64(n))
}

// Breached reports whether a measurement crosses the rule: enough volume, and the
// value strictly above the threshold (for baseline_rate: above threshold × the
// usual rate, by at least BaselineMinRise, with a z-score of at least BaselineMinZ).
func (r AlertRule) Breached(m Measurement) bool {
	if m.Volume < r.MinVolume {
		return false
	}
	if r.Metric == MetricBaselineRate {
		if m.Baseline == nil {
			return false
		}
		b := *m.Baseline
		return m.Value > r.Threshold*b && m.Value-b >= BaselineMinRise && ZScore(m.Value, m.Volume, b) >= BaselineMinZ
	}
	return m.Value > r.Threshold
}

// Alert is one crossing of a rule (or a drill / manual incident without one).
type Alert struct {
	ID             int64       `db:"id"`
	MerchantID     int64       `db:"merchant_id"`
	RuleID         *int64      `db:"rule_id"`
	Status         string      `db:"status"`
	Severity       string      `db:"severity"`
	OpenedAt       time.Time   `db:"opened_at"`
	AcknowledgedAt *time.Time  `db:"acknowledged_at"`
	AcknowledgedBy *int64      `db:"acknowledged_by"`
	AckByEmail     string      `db:"ack_by_email"`
	ResolvedAt     *time.Time  `db:"resolved_at"`
	ResolvedBy     *int64      `db:"resolved_by"`
	Summary        string      `db:"summary"`
	RuleName       string      `db:"rule_name"`
	Metric         AlertMetric `db:"metric"`
	Scope          string      `db:"scope"`
	ScopeValue     string      `db:"scope_value"`
	WindowMinutes  int         `db:"window_minutes"`
	Threshold      float64     `db:"threshold"`
	Value          float64     `db:"value"`
	PeakValue      float64     `db:"peak_value"`
	Volume         int64       `db:"volume"`
	Baseline       *float64    `db:"baseline"`
	LastBreachAt   time.Time   `db:"last_breach_at"`
	EscalatedAt    *time.Time  `db:"escalated_at"`
	UpdatedAt      time.Time   `db:"updated_at"`
}

// Open reports whether the alert still needs attention (firing or acknowledged).
func (a Alert) Open() bool { return a.Status == AlertFiring || a.Status == AlertAcknowledged }

// AlertEvent is one entry of an alert's timeline.
type AlertEvent struct {
	ID        int64     `db:"id"`
	AlertID   int64     `db:"alert_id"`
	At        time.Time `db:"at"`
	Kind      string    `db:"kind"`
	Value     *float64  `db:"value"`
	Volume    *int64    `db:"volume"`
	UserID    *int64    `db:"user_id"`
	UserEmail string    `db:"user_email"`
	Note      string    `db:"note"`
	Details   []byte    `db:"details"`
}

// AlertAction is what an evaluation does to a rule's alert.
type AlertAction int

// Alert actions.
const (
	AlertNone    AlertAction = iota // nothing open and nothing crossed
	AlertOpen                       // a new crossing: open one alert
	AlertUpdate                     // still open: record the value (and the breach, if any)
	AlertResolve                    // under the threshold for the whole cool-down: resolve
)

// AlertDecision is the outcome of one evaluation of one rule.
type AlertDecision struct {
	Action   AlertAction
	Breached bool
	// Escalate: the alert has been firing unacknowledged for the rule's
	// escalate-after minutes and was not escalated yet.
	Escalate bool
}

// DecideAlert applies a measurement to a rule and its open alert (nil if none) at
// now. A crossing opens one alert; while it lasts each evaluation updates it; it
// resolves once the metric has been back under the threshold (or under the
// minimum volume) for the rule's cool-down since the last breach. A disabled rule
// resolves its open alert and opens none.
func DecideAlert(r AlertRule, m Measurement, open *Alert, now time.Time) AlertDecision {
	breached := r.Enabled && r.Breached(m)
	if open == nil {
		if breached {
			return AlertDecision{Action: AlertOpen, Breached: true}
		}
		return AlertDecision{Action: AlertNone}
	}
	d := AlertDecision{Action: AlertUpdate, Breached: breached}
	if !r.Enabled || (!breached && now.Sub(open.LastBreachAt) >= time.Duration(r.CooldownMinutes)*time.Minute) {
		d.Action = AlertResolve
		return d
	}
	if open.Status == AlertFiring && open.EscalatedAt == nil && r.EscalateAfterMinutes > 0 &&
		now.Sub(open.OpenedAt) >= time.Duration(r.EscalateAfterMinutes)*time.Minute {
		d.Escalate = true
	}
	return d
}

// FormatMetricValue shows a metric's value: percentages for rates, whole numbers
// for counts.
func FormatMetricValue(m AlertMetric, v float64) string {
	if m.IsRate() {
		return fmt.Sprintf("%.1f%%", v*100)
	}
	return fmt.Sprintf("%.0f", v)
}

// FormatThreshold shows a rule's threshold (baseline: a multiple of the usual rate).
func FormatThreshold(m AlertMetric, v float64) string {
	if m == MetricBaselineRate {
		return fmt.Sprintf("%g×", v)
	}
	return FormatMetricValue(m, v)
}

// AlertSummary is the plain-English one-liner of a crossing (API, e-mail subject).
func AlertSummary(r AlertRule, m Measurement) string {
	scope := ""
	if r.Scope != ScopeAll {
		scope = fmt.Sprintf(" (%s %s)", r.Scope, r.ScopeValue)
	}
	name := strings.ReplaceAll(string(r.Metric), "_", " ")
	if r.Metric == MetricBaselineRate && m.Baseline != nil {
		return fmt.Sprintf("Failure rate%s %s over %d min is %s the usual %s for this hour (%d attempts)",
			scope, FormatMetricValue(r.Metric, m.Value), r.WindowMinutes,
			fmt.Sprintf("%.1f×", m.Value/math.Max(*m.Baseline, baselineFloor)), FormatMetricValue(r.Metric, *m.Baseline), m.Volume)
	}
	return fmt.Sprintf("%s%s %s > %s over %d min (%d in volume)", strings.ToUpper(name[:1])+name[1:], scope,
		FormatMetricValue(r.Metric, m.Value), FormatThreshold(r.Metric, r.Threshold), r.WindowMinutes, m.Volume)
}
