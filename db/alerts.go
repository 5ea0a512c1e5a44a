package db

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/lib/pq"

	"paymend/domain"
)

// alertRuleRow scans a rule with its e-mail arrays.
type alertRuleRow struct {
	domain.AlertRule
	Emails         pq.StringArray `db:"emails"`
	EscalateEmails pq.StringArray `db:"escalate_emails"`
}

func (r alertRuleRow) rule() domain.AlertRule {
	out := r.AlertRule
	out.Emails, out.EscalateEmails = []string(r.Emails), []string(r.EscalateEmails)
	if out.Emails == nil {
		out.Emails = []string{}
	}
	if out.EscalateEmails == nil {
		out.EscalateEmails = []string{}
	}
	return out
}

const alertRuleCols = `id, merchant_id, name, enabled, metric, scope, scope_value, window_minutes, threshold,
	min_volume, severity, emails, webhook_url, cooldown_minutes, escalate_after_minutes, escalate_emails,
	is_default, last_evaluated_at, last_value, last_volume, created_at, updated_at`

// AlertRules lists the merchant's alert rules, oldest first.
func (s *Store) AlertRules(ctx context.Context, merchantID int64) ([]domain.AlertRule, error) {
	var rows []alertRuleRow
	q := `SELECT ` + alertRuleCols + ` FROM alert_rules WHERE merchant_id = $1 ORDER BY id`
	if err := sqlxSelect(ctx, s, &rows, q, merchantID); err != nil {
		return nil, fmt.Errorf("db: alert rules: %w", err)
	}
	out := make([]domain.AlertRule, len(rows))
	for i, r := range rows {
		out[i] = r.rule()
	}
	return out, nil
}

// AlertRule returns one rule; lock takes a row lock until the transaction ends
// (evaluators of one rule then take turns).
func (s *Store) AlertRule(ctx context.Context, merchantID, id int64, lock bool) (domain.AlertRule, error) {
	q := `SELECT ` + alertRuleCols + ` FROM alert_rules WHERE merchant_id = $1 AND id = $2`
	if lock {
		q += ` FOR UPDATE`
	}
	var r alertRuleRow
	if err := s.x.QueryRowxContext(ctx, q, merchantID, id).StructScan(&r); err != nil {
		return domain.AlertRule{}, fmt.Errorf("db: alert rule %d: %w", id, mapErr(err))
	}
	return r.rule(), nil
}

// nonNil keeps a nil list from becoming SQL NULL.
func nonNil(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// CreateAlertRule stores a new rule.
func (s *Store) CreateAlertRule(ctx context.Context, merchantID int64, r domain.AlertRule) (domain.AlertRule, error) {
	r.Emails, r.EscalateEmails = nonNil(r.Emails), nonNil(r.EscalateEmails)
	q := `INSERT INTO alert_rules (merchant_id, name, enabled, metric, scope, scope_value, window_minutes, threshold,
			min_volume, severity, emails, webhook_url, cooldown_minutes, escalate_after_minutes, escalate_emails)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING ` + alertRuleCols
	var row alertRuleRow
	err := s.x.QueryRowxContext(ctx, q, merchantID, r.Name, r.Enabled, r.Metric, r.Scope, r.ScopeValue, r.WindowMinutes,
		r.Threshold, r.MinVolume, r.Severity, pq.Array(r.Emails), r.WebhookURL, r.CooldownMinutes, r.EscalateAfterMinutes,
		pq.Array(r.EscalateEmails)).StructScan(&row)
	if err != nil {
		return domain.AlertRule{}, fmt.Errorf("db: create alert rule: %w", mapErr(err))
	}
	return row.rule(), nil
}

// UpdateAlertRule saves a rule's settings.
func (s *Store) UpdateAlertRule(ctx context.Context, merchantID int64, r domain.AlertRule, now time.Time) error {
	r.Emails, r.EscalateEmails = nonNil(r.Emails), nonNil(r.EscalateEmails)
	const q = `UPDATE alert_rules SET name = $3, enabled = $4, metric = $5, scope = $6, scope_value = $7,
			window_minutes = $8, threshold = $9, min_volume = $10, severity = $11, emails = $12, webhook_url = $13,
			cooldown_minutes = $14, escalate_after_minutes = $15, escalate_emails = $16, updated_at = $17
		WHERE merchant_id = $1 AND id = $2`
	return s.execOne(ctx, q, merchantID, r.ID, r.Name, r.Enabled, r.Metric, r.Scope, r.ScopeValue, r.WindowMinutes,
		r.Threshold, r.MinVolume, r.Severity, pq.Array(r.Emails), r.WebhookURL, r.CooldownMinutes, r.EscalateAfterMinutes,
		pq.Array(r.EscalateEmails), now)
}

// DeleteAlertRule removes a rule; its alerts stay (rule_id becomes NULL), and an
// open one is resolved first by the caller.
func (s *Store) DeleteAlertRule(ctx context.Context, merchantID, id int64) error {
	return s.execOne(ctx, `DELETE FROM alert_rules WHERE merchant_id = $1 AND id = $2`, merchantID, id)
}

// RecordRuleEvaluation notes a rule's latest measurement (shown beside the rule).
func (s *Store) RecordRuleEvaluation(ctx context.Context, merchantID, id int64, m domain.Measurement, now time.Time) error {
	const q = `UPDATE alert_rules SET last_evaluated_at = $3, last_value = $4, last_volume = $5 WHERE merchant_id = $1 AND id = $2`
	_, err := s.x.ExecContext(ctx, q, merchantID, id, now, m.Value, m.Volume)
	return mapErr(err)
}

// MerchantsToEvaluate lists merchants with an enabled rule or an open alert.
func (s *Store) MerchantsToEvaluate(ctx context.Context) ([]int64, error) {
	const q = `SELECT merchant_id FROM alert_rules WHERE enabled
		UNION SELECT merchant_id FROM alerts WHERE status IN ('firing', 'acknowledged') AND rule_id IS NOT NULL ORDER BY 1`
	var out []int64
	err := sqlxSelect(ctx, s, &out, q)
	return out, err
}

// RulesToEvaluate lists a merchant's rule ids that are enabled or have an open alert.
func (s *Store) RulesToEvaluate(ctx context.Context, merchantID int64) ([]int64, error) {
	const q = `SELECT id FROM alert_rules r WHERE merchant_id = $1 AND (enabled OR EXISTS (
			SELECT 1 FROM alerts a WHERE a.rule_id = r.id AND a.status IN ('firing', 'acknowledged'))) ORDER BY id`
	var out []int64
	err := sqlxSelect(ctx, s, &out, q, merchantID)
	return out, err
}

const alertCols = `a.id, a.merchant_id, a.rule_id, a.status, a.severity, a.opened_at, a.acknowledged_at, a.acknowledged_by,
	coalesce(u.email, '') AS ack_by_email, a.resolved_at, a.resolved_by, a.summary, a.rule_name, a.metric, a.scope,
	a.scope_value, a.window_minutes, a.threshold, a.value, a.peak_value, a.volume, a.baseline, a.last_breach_at,
	a.escalated_at, a.updated_at`

const alertFrom = ` FROM alerts a LEFT JOIN users u ON u.id = a.acknowledged_by AND u.merchant_id = a.merchant_id `

// OpenAlertForRule returns the rule's firing or acknowledged alert, if any.
func (s *Store) OpenAlertForRule(ctx context.Context, merchantID, ruleID int64) (*domain.Alert, error) {
	q := `SELECT ` + alertCols + alertFrom + `WHERE a.merchant_id = $1 AND a.rule_id = $2 AND a.status IN ('firing', 'acknowledged')`
	var a domain.Alert
	err := mapErr(s.x.QueryRowxContext(ctx, q, merchantID, ruleID).StructScan(&a))
	if err == ErrNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("db: open alert of rule %d: %w", ruleID, err)
	}
	return &a, nil
}

// OpenAlert inserts a firing alert for a rule's crossing; ErrDuplicate when the
// rule already has an open one (another evaluator was first).
func (s *Store) OpenAlert(ctx context.Context, merchantID int64, r domain.AlertRule, m domain.Measurement, summary string, now time.Time) (int64, error) {
	const q = `INSERT INTO alerts (merchant_id, rule_id, status, severity, opened_at, summary, rule_name, metric, scope,
			scope_value, window_minutes, threshold, value, peak_value, volume, baseline, last_breach_at, updated_at)
		VALUES ($1, $2, 'firing', $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14, $4, $4) RETURNING id`
	var id int64
	err := s.x.QueryRowxContext(ctx, q, merchantID, r.ID, r.Severity, now, summary, r.Name, r.Metric, r.Scope,
		r.ScopeValue, r.WindowMinutes, r.Threshold, m.Value, m.Volume, m.Baseline).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("db: open alert: %w", mapErr(err))
	}
	return id, nil
}

// UpdateAlertValue records the latest measurement of an open alert (and the breach
// time when it still crosses).
func (s *Store) UpdateAlertValue(ctx context.Context, merchantID, id int64, m domain.Measurement, breached bool, summary string, now time.Time) error {
	const q = `UPDATE alerts SET value = $3, volume = $4, baseline = $5, peak_value = GREATEST(peak_value, $3),
			last_breach_at = CASE WHEN $6 THEN $7 ELSE last_breach_at END,
			summary = CASE WHEN $6 THEN $8 ELSE summary END, updated_at = $7
		WHERE merchant_id = $1 AND id = $2 AND status IN ('firing', 'acknowledged')`
	return s.execOne(ctx, q, merchantID, id, m.Value, m.Volume, m.Baseline, breached, now, summary)
}

// ResolveAlert closes an open alert; by is nil when the evaluator resolves it.
func (s *Store) ResolveAlert(ctx context.Context, merchantID, id int64, by *int64, now time.Time) error {
	const q = `UPDATE alerts SET status = 'resolved', resolved_at = $3, resolved_by = $4, updated_at = $3
		WHERE merchant_id = $1 AND id = $2 AND status IN ('firing', 'acknowledged')`
	return s.execOne(ctx, q, merchantID, id, now, by)
}

// AcknowledgeAlert marks a firing alert as being handled by a user.
func (s *Store) AcknowledgeAlert(ctx context.Context, merchantID, id, userID int64, now time.Time) error {
	const q = `UPDATE alerts SET status = 'acknowledged', acknowledged_at = $3, acknowledged_by = $4, updated_at = $3
		WHERE merchant_id = $1 AND id = $2 AND status = 'firing'`
	return s.execOne(ctx, q, merchantID, id, now, userID)
}

// MarkAlertEscalated notes that an unacknowledged alert was escalated.
func (s *Store) MarkAlertEscalated(ctx context.Context, merchantID, id int64, now time.Time) error {
	const q = `UPDATE alerts SET escalated_at = $3, updated_at = $3
		WHERE merchant_id = $1 AND id = $2 AND status = 'firing' AND escalated_at IS NULL`
	return s.execOne(ctx, q, merchantID, id, now)
}

// AddAlertEvent appends to an alert's timeline.
func (s *Store) AddAlertEvent(ctx context.Context, merchantID int64, e domain.AlertEvent) error {
	const q = `INSERT INTO alert_events (merchant_id, alert_id, at, kind, value, volume, user_id, note, details)
		SELECT $1, id, $3, $4, $5, $6, $7, $8, $9 FROM alerts WHERE merchant_id = $1 AND id = $2`
	if len(e.Details) == 0 {
		e.Details = []byte("{}")
	}
	return s.execOne(ctx, q, merchantID, e.AlertID, e.At, e.Kind, e.Value, e.Volume, e.UserID, e.Note, string(e.Details))
}

// AlertFilter narrows the alert list.
type AlertFilter struct {
	Statuses []string
	RuleID   int64
	Cursor   domain.Cursor
	Limit    int
}

// Alerts lists the merchant's alerts newest first, keyset paged.
func (s *Store) Alerts(ctx context.Context, merchantID int64, f AlertFilter) ([]domain.Alert, domain.Cursor, error) {
	limit := clampLimit(f.Limit)
	q := `SELECT ` + alertCols + alertFrom + `WHERE a.merchant_id = $1
		AND (coalesce(cardinality($2::text[]), 0) = 0 OR a.status = ANY($2)) AND ($3 = 0 OR a.rule_id = $3)
		AND ($4::timestamptz IS NULL OR (a.opened_at, a.id) < ($4, $5))
		ORDER BY a.opened_at DESC, a.id DESC LIMIT ` + fmt.Sprint(limit+1)
	var at *time.Time
	if !f.Cursor.IsZero() {
		at = &f.Cursor.At
	}
	var out []domain.Alert
	if err := sqlxSelect(ctx, s, &out, q, merchantID, pq.Array(f.Statuses), f.RuleID, at, f.Cursor.ID); err != nil {
		return nil, domain.Cursor{}, fmt.Errorf("db: alerts: %w", err)
	}
	var next domain.Cursor
	if len(out) > limit {
		out = out[:limit]
		next = domain.Cursor{At: out[limit-1].OpenedAt, ID: out[limit-1].ID}
	}
	return out, next, nil
}

// CountAlerts counts the merchant's alerts by status.
func (s *Store) CountAlerts(ctx context.Context, merchantID int64) (map[string]int64, error) {
	var rows []struct {
		Status string `db:"status"`
		N      int64  `db:"n"`
	}
	const q = `SELECT status, count(*) AS n FROM alerts WHERE merchant_id = $1 GROUP BY status`
	if err := sqlxSelect(ctx, s, &rows, q, merchantID); err != nil {
		return nil, fmt.Errorf("db: count alerts: %w", err)
	}
	out := map[string]int64{}
	for _, r := range rows {
		out[r.Status] = r.N
	}
	return out, nil
}

// Alert returns one alert.
func (s *Store) Alert(ctx context.Context, merchantID, id int64) (domain.Alert, error) {
	q := `SELECT ` + alertCols + alertFrom + `WHERE a.merchant_id = $1 AND a.id = $2`
	var a domain.Alert
	if err := s.x.QueryRowxContext(ctx, q, merchantID, id).StructScan(&a); err != nil {
		return a, fmt.Errorf("db: alert %d: %w", id, mapErr(err))
	}
	return a, nil
}

// AlertEvents lists an alert's timeline, oldest first.
func (s *Store) AlertEvents(ctx context.Context, merchantID, alertID int64) ([]domain.AlertEvent, error) {
	const q = `SELECT e.id, e.alert_id, e.at, e.kind, e.value, e.volume, e.user_id, coalesce(u.email, '') AS user_email,
			e.note, e.details
		FROM alert_events e LEFT JOIN users u ON u.id = e.user_id AND u.merchant_id = e.merchant_id
		WHERE e.merchant_id = $1 AND e.alert_id = $2 ORDER BY e.at, e.id`
	var out []domain.AlertEvent
	if err := sqlxSelect(ctx, s, &out, q, merchantID, alertID); err != nil {
		return nil, fmt.Errorf("db: alert events %d: %w", alertID, err)
	}
	return out, nil
}

// AlertNotified lists the contacts already told about an alert's event (opened,
// escalated, resolved), so a retried notification job skips them.
func (s *Store) AlertNotified(ctx context.Context, merchantID, alertID int64, event string) (map[string]bool, error) {
	const q = `SELECT details->>'to' FROM alert_events
		WHERE merchant_id = $1 AND alert_id = $2 AND kind = 'notified' AND details->>'event' = $3`
	var to []string
	if err := sqlxSelect(ctx, s, &to, q, merchantID, alertID, event); err != nil {
		return nil, fmt.Errorf("db: alert notified: %w", err)
	}
	out := map[string]bool{}
	for _, t := range to {
		out[t] = true
	}
	return out, nil
}

// AlertDetails is a small helper to build an event's JSON details.
func AlertDetails(kv map[string]any) []byte {
	b, err := json.Marshal(kv)
	if err != nil {
		return []byte("{}")
	}
	return b
}

// SeedDemoAlert gives a merchant without alerts one past incident of its default
// failure-rate rule (opened, acknowledged with a note, resolved), so the demo's
// alert pages show what an alert looks like. It does nothing when alerts exist.
func (s *Store) SeedDemoAlert(ctx context.Context, merchantID int64, ackBy int64, now time.Time) error {
	return s.InTx(ctx, func(tx *Store) error {
		var n int
		if err := tx.x.QueryRowxContext(ctx, `SELECT count(*) FROM alerts WHERE merchant_id = $1`, merchantID).Scan(&n); err != nil || n > 0 {
			return mapErr(err)
		}
		rules, err := tx.AlertRules(ctx, merchantID)
		if err != nil {
			return err
		}
		var rule *domain.AlertRule
		for i := range rules {
			if rules[i].IsDefault && rules[i].Metric == domain.MetricFailureRate {
				rule = &rules[i]
			}
		}
		if rule == nil {
			return nil
		}
		opened := now.Add(-3 * 24 * time.Hour).Truncate(time.Minute)
		m := domain.Measurement{Value: 0.234, Volume: 188}
		id, err := tx.OpenAlert(ctx, merchantID, *rule, m, domain.AlertSummary(*rule, m), opened)
		if err != nil {
			return err
		}
		values := []float64{0.234, 0.281, 0.262, 0.19, 0.12, 0.08, 0.06}
		for i, v := range values {
			v := v
			vol := int64(180 + 7*i)
			kind := "value"
			if i == 0 {
				kind = "opened"
			}
			if err := tx.AddAlertEvent(ctx, merchantID, domain.AlertEvent{AlertID: id, At: opened.Add(time.Duration(i) * 5 * time.Minute),
				Kind: kind, Value: &v, Volume: &vol}); err != nil {
				return err
			}
			if err := tx.UpdateAlertValue(ctx, merchantID, id, domain.Measurement{Value: v, Volume: vol}, v > rule.Threshold,
				domain.AlertSummary(*rule, domain.Measurement{Value: v, Volume: vol}), opened.Add(time.Duration(i)*5*time.Minute)); err != nil {
				return err
			}
		}
		ack := opened.Add(4 * time.Minute)
		if err := tx.AcknowledgeAlert(ctx, merchantID, id, ackBy, ack); err != nil {
			return err
		}
		for _, e := range []domain.AlertEvent{
			{AlertID: id, At: ack, Kind: "acknowledged", UserID: &ackBy},
			{AlertID: id, At: ack.Add(time.Minute), Kind: "note", UserID: &ackBy, Note: "微信支付渠道网络波动(202 超时),已联系欧乐支付,暂时引导客户改用银行卡支付。"},
			{AlertID: id, At: opened.Add(40 * time.Minute), Kind: "resolved", Details: AlertDetails(map[string]any{"reason": "cooldown"})},
		} {
			if err := tx.AddAlertEvent(ctx, merchantID, e); err != nil {
				return err
			}
		}
		return tx.ResolveAlert(ctx, merchantID, id, nil, opened.Add(40*time.Minute))
	})
}
