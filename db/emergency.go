package db

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/lib/pq"

	"paymend/domain"
)

// PayChannels returns the channel states the merchant has set (others are active
// without a backup; see domain.PayChannelsWithDefaults).
func (s *Store) PayChannels(ctx context.Context, merchantID int64) ([]domain.PayChannel, error) {
	const q = `SELECT channel, status, backup, note, updated_by, updated_at FROM pay_channels WHERE merchant_id = $1 ORDER BY channel`
	rows, err := s.x.QueryContext(ctx, q, merchantID)
	if err != nil {
		return nil, fmt.Errorf("db: pay channels: %w", mapErr(err))
	}
	defer rows.Close()
	var out []domain.PayChannel
	for rows.Next() {
		var p domain.PayChannel
		if err := rows.Scan(&p.Channel, &p.Status, &p.Backup, &p.Note, &p.UpdatedBy, &p.UpdatedAt); err != nil {
			return nil, fmt.Errorf("db: pay channels: %w", err)
		}
		out = append(out, p)
	}
	return out, mapErr(rows.Err())
}

// SavePayChannel stores one channel's status, backup and note.
func (s *Store) SavePayChannel(ctx context.Context, merchantID int64, p domain.PayChannel) error {
	const q = `INSERT INTO pay_channels (merchant_id, channel, status, backup, note, updated_by, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (merchant_id, channel) DO UPDATE SET status = EXCLUDED.status, backup = EXCLUDED.backup,
			note = EXCLUDED.note, updated_by = EXCLUDED.updated_by, updated_at = EXCLUDED.updated_at`
	if _, err := s.x.ExecContext(ctx, q, merchantID, p.Channel, string(p.Status), p.Backup, p.Note, p.UpdatedBy, p.UpdatedAt); err != nil {
		return fmt.Errorf("db: save pay channel %s: %w", p.Channel, mapErr(err))
	}
	return nil
}

// EmergencyContacts lists the merchant's emergency contacts in the order added.
func (s *Store) EmergencyContacts(ctx context.Context, merchantID int64) ([]domain.EmergencyContact, error) {
	var out []domain.EmergencyContact
	err := sqlxSelect(ctx, s, &out, `SELECT id, role, name, phone, email FROM emergency_contacts WHERE merchant_id = $1 ORDER BY id`, merchantID)
	if err != nil {
		return nil, fmt.Errorf("db: emergency contacts: %w", err)
	}
	return out, nil
}

// AddEmergencyContact stores a contact.
func (s *Store) AddEmergencyContact(ctx context.Context, merchantID int64, c domain.EmergencyContact) (int64, error) {
	var id int64
	err := s.x.QueryRowxContext(ctx, `INSERT INTO emergency_contacts (merchant_id, role, name, phone, email)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`, merchantID, c.Role, c.Name, c.Phone, c.Email).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("db: add emergency contact: %w", mapErr(err))
	}
	return id, nil
}

// DeleteEmergencyContact removes a contact; ErrNotFound when it is not the merchant's.
func (s *Store) DeleteEmergencyContact(ctx context.Context, merchantID, id int64) (domain.EmergencyContact, error) {
	var c domain.EmergencyContact
	err := s.x.QueryRowxContext(ctx, `DELETE FROM emergency_contacts WHERE merchant_id = $1 AND id = $2
		RETURNING id, role, name, phone, email`, merchantID, id).StructScan(&c)
	if err != nil {
		return c, fmt.Errorf("db: delete emergency contact %d: %w", id, mapErr(err))
	}
	return c, nil
}

// Runbooks returns the merchant's edited checklists by incident type.
func (s *Store) Runbooks(ctx context.Context, merchantID int64) (map[domain.IncidentType][]string, error) {
	rows, err := s.x.QueryContext(ctx, `SELECT incident_type, steps FROM runbooks WHERE merchant_id = $1`, merchantID)
	if err != nil {
		return nil, fmt.Errorf("db: runbooks: %w", mapErr(err))
	}
	defer rows.Close()
	out := map[domain.IncidentType][]string{}
	for rows.Next() {
		var t string
		var steps pq.StringArray
		if err := rows.Scan(&t, &steps); err != nil {
			return nil, fmt.Errorf("db: runbooks: %w", err)
		}
		out[domain.IncidentType(t)] = []string(steps)
	}
	return out, mapErr(rows.Err())
}

// SaveRunbook replaces the checklist of one incident type.
func (s *Store) SaveRunbook(ctx context.Context, merchantID int64, t domain.IncidentType, steps []string, by string, at time.Time) error {
	const q = `INSERT INTO runbooks (merchant_id, incident_type, steps, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (merchant_id, incident_type) DO UPDATE SET steps = EXCLUDED.steps, updated_by = EXCLUDED.updated_by,
			updated_at = EXCLUDED.updated_at`
	if _, err := s.x.ExecContext(ctx, q, merchantID, string(t), pq.Array(steps), by, at); err != nil {
		return fmt.Errorf("db: save runbook %s: %w", t, mapErr(err))
	}
	return nil
}

const incidentCols = `i.id, i.title, i.incident_type, i.severity, i.status, i.channels, i.alert_id, i.drill, i.declared_by,
	i.declared_at, i.closed_by, i.closed_at, i.summary, i.burst_code, i.burst_count, i.burst_seconds, i.burst_state,
	i.burst_sent_at, i.first_failure_at, i.alert_fired_at, i.alert_acked_at, i.alert_acked_by,
	(SELECT count(*) FILTER (WHERE done_at IS NOT NULL) FROM incident_steps st WHERE st.incident_id = i.id) AS steps_done,
	(SELECT count(*) FROM incident_steps st WHERE st.incident_id = i.id) AS steps_total`

type incidentRow struct {
	domain.Incident
	Chans pq.StringArray `db:"channels"`
}

func (r incidentRow) out() domain.Incident {
	i := r.Incident
	i.Channels = r.Chans
	return i
}

// CreateIncident stores a declared incident with its checklist and the first
// timeline entry, in one transaction.
func (s *Store) CreateIncident(ctx context.Context, merchantID int64, inc domain.Incident, steps []string, firstEvent string) (domain.Incident, error) {
	var out domain.Incident
	err := s.InTx(ctx, func(tx *Store) error {
		q := `INSERT INTO incidents (merchant_id, title, incident_type, severity, channels, alert_id, drill, declared_by,
			declared_at, burst_code, burst_count, burst_seconds, burst_state)
			VALUES ($1, $2, $3, $4, coalesce($5::text[], '{}'), $6, $7, $8, $9, $10, $11, $12, $13) RETURNING id`
		var id int64
		if err := tx.x.QueryRowxContext(ctx, q, merchantID, inc.Title, inc.Type, inc.Severity, pq.Array(inc.Channels),
			inc.AlertID, inc.Drill, inc.DeclaredBy, inc.DeclaredAt, inc.BurstCode, inc.BurstCount, inc.BurstSeconds,
			inc.BurstState).Scan(&id); err != nil {
			return fmt.Errorf("db: create incident: %w", mapErr(err))
		}
		if len(steps) > 0 {
			if _, err := tx.x.ExecContext(ctx, `INSERT INTO incident_steps (merchant_id, incident_id, position, text)
				SELECT $1, $2, n, t FROM unnest($3::text[]) WITH ORDINALITY AS u(t, n)`, merchantID, id, pq.Array(steps)); err != nil {
				return fmt.Errorf("db: incident steps: %w", mapErr(err))
			}
		}
		if err := tx.AddIncidentEvent(ctx, merchantID, id, inc.DeclaredAt, inc.DeclaredBy, "declared", firstEvent); err != nil {
			return err
		}
		var err error
		out, err = tx.Incident(ctx, merchantID, id)
		return err
	})
	return out, err
}

// Incident returns one incident.
func (s *Store) Incident(ctx context.Context, merchantID, id int64) (domain.Incident, error) {
	var r incidentRow
	err := s.x.QueryRowxContext(ctx, `SELECT `+incidentCols+` FROM incidents i WHERE i.merchant_id = $1 AND i.id = $2`,
		merchantID, id).StructScan(&r)
	if err != nil {
		return domain.Incident{}, fmt.Errorf("db: incident %d: %w", id, mapErr(err))
	}
	return r.out(), nil
}

// Incidents lists incidents newest first: open ones, or the closed history.
func (s *Store) Incidents(ctx context.Context, merchantID int64, open bool, limit int) ([]domain.Incident, error) {
	status := "closed"
	if open {
		status = "open"
	}
	var rows []incidentRow
	err := sqlxSelect(ctx, s, &rows, `SELECT `+incidentCols+` FROM incidents i WHERE i.merchant_id = $1 AND i.status = $2
		ORDER BY i.declared_at DESC, i.id DESC LIMIT $3`, merchantID, status, clampLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("db: incidents: %w", err)
	}
	out := make([]domain.Incident, len(rows))
	for i, r := range rows {
		out[i] = r.out()
	}
	return out, nil
}

// IncidentSteps returns an incident's checklist in order.
func (s *Store) IncidentSteps(ctx context.Context, merchantID, id int64) ([]domain.IncidentStep, error) {
	var out []domain.IncidentStep
	err := sqlxSelect(ctx, s, &out, `SELECT position, text, done_at, done_by FROM incident_steps
		WHERE merchant_id = $1 AND incident_id = $2 ORDER BY position`, merchantID, id)
	if err != nil {
		return nil, fmt.Errorf("db: incident steps: %w", err)
	}
	return out, nil
}

// IncidentEvents returns an incident's timeline, oldest first.
func (s *Store) IncidentEvents(ctx context.Context, merchantID, id int64) ([]domain.IncidentEvent, error) {
	var out []domain.IncidentEvent
	err := sqlxSelect(ctx, s, &out, `SELECT id, at, actor, kind, text FROM incident_events
		WHERE merchant_id = $1 AND incident_id = $2 ORDER BY at, id`, merchantID, id)
	if err != nil {
		return nil, fmt.Errorf("db: incident events: %w", err)
	}
	return out, nil
}

// AddIncidentEvent appends to an incident's timeline; the incident must be the
// merchant's.
func (s *Store) AddIncidentEvent(ctx context.Context, merchantID, id int64, at time.Time, actor, kind, text string) error {
	res, err := s.x.ExecContext(ctx, `INSERT INTO incident_events (merchant_id, incident_id, at, actor, kind, text)
		SELECT $1, id, $3, $4, $5, $6 FROM incidents WHERE merchant_id = $1 AND id = $2`, merchantID, id, at, actor, kind, text)
	return rowsOrNotFound(res, err, fmt.Sprintf("db: incident %d event", id))
}

// ToggleIncidentStep ticks a checklist step of an open incident (or unticks it)
// and returns whether it is now done.
func (s *Store) ToggleIncidentStep(ctx context.Context, merchantID, id int64, position int, at time.Time, by string) (domain.IncidentStep, error) {
	var st domain.IncidentStep
	err := s.x.QueryRowxContext(ctx, `UPDATE incident_steps st SET
			done_at = CASE WHEN st.done_at IS NULL THEN $4::timestamptz END,
			done_by = CASE WHEN st.done_at IS NULL THEN $5 ELSE '' END
		FROM incidents i WHERE i.id = st.incident_id AND i.status = 'open'
			AND st.merchant_id = $1 AND st.incident_id = $2 AND st.position = $3
		RETURNING st.position, st.text, st.done_at, st.done_by`, merchantID, id, position, at, by).StructScan(&st)
	if err != nil {
		return st, fmt.Errorf("db: incident %d step %d: %w", id, position, mapErr(err))
	}
	return st, nil
}

// CloseIncident closes an open incident with its summary; ErrConflict when it was
// closed already.
func (s *Store) CloseIncident(ctx context.Context, merchantID, id int64, at time.Time, by, summary string) error {
	return s.InTx(ctx, func(tx *Store) error {
		res, err := tx.x.ExecContext(ctx, `UPDATE incidents SET status = 'closed', closed_at = $3, closed_by = $4, summary = $5
			WHERE merchant_id = $1 AND id = $2 AND status = 'open'`, merchantID, id, at, by, summary)
		if err := rowsOrNotFound(res, err, fmt.Sprintf("db: close incident %d", id)); err != nil {
			if _, e2 := tx.Incident(ctx, merchantID, id); e2 == nil {
				return fmt.Errorf("db: close incident %d: %w", id, ErrConflict)
			}
			return err
		}
		return tx.AddIncidentEvent(ctx, merchantID, id, at, by, "closed", summary)
	})
}

// OpenDrill is a running drill as the watcher job sees it.
type OpenDrill struct {
	domain.Incident
	MerchantID   int64
	MerchantCode string
}

// OpenDrills returns every merchant's running drills (for the watcher job).
func (s *Store) OpenDrills(ctx context.Context) ([]OpenDrill, error) {
	rows, err := s.x.QueryxContext(ctx, `SELECT `+incidentCols+`, i.merchant_id, m.code FROM incidents i
		JOIN merchants m ON m.id = i.merchant_id WHERE i.drill AND i.status = 'open' ORDER BY i.id`)
	if err != nil {
		return nil, fmt.Errorf("db: open drills: %w", mapErr(err))
	}
	defer rows.Close()
	var out []OpenDrill
	for rows.Next() {
		var r struct {
			incidentRow
			MerchantID   int64  `db:"merchant_id"`
			MerchantCode string `db:"code"`
		}
		if err := rows.StructScan(&r); err != nil {
			return nil, fmt.Errorf("db: open drills: %w", err)
		}
		out = append(out, OpenDrill{Incident: r.out(), MerchantID: r.MerchantID, MerchantCode: r.MerchantCode})
	}
	return out, mapErr(rows.Err())
}

// ClaimDrillBurst marks a requested burst as being sent; false when another
// worker claimed it first (so a burst is never asked for twice).
func (s *Store) ClaimDrillBurst(ctx context.Context, merchantID, id int64) (bool, error) {
	res, err := s.x.ExecContext(ctx, `UPDATE incidents SET burst_state = 'sending'
		WHERE merchant_id = $1 AND id = $2 AND burst_state = 'requested'`, merchantID, id)
	if err != nil {
		return false, fmt.Errorf("db: claim drill %d burst: %w", id, mapErr(err))
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// SetDrillBurst records the outcome of the drill's claimed burst request once.
func (s *Store) SetDrillBurst(ctx context.Context, merchantID, id int64, state string, at time.Time, note string) error {
	return s.InTx(ctx, func(tx *Store) error {
		res, err := tx.x.ExecContext(ctx, `UPDATE incidents SET burst_state = $3, burst_sent_at = CASE WHEN $3 = 'sent' THEN $4::timestamptz END
			WHERE merchant_id = $1 AND id = $2 AND burst_state = 'sending'`, merchantID, id, state, at)
		if err := rowsOrNotFound(res, err, fmt.Sprintf("db: drill %d burst", id)); err != nil {
			return err
		}
		return tx.AddIncidentEvent(ctx, merchantID, id, at, "drill", "drill", note)
	})
}

// DrillObservation is what the watcher saw for a drill.
type DrillObservation struct {
	FirstFailureAt *time.Time
	AlertID        *int64
	AlertFiredAt   *time.Time
	AlertAckedAt   *time.Time
	AlertAckedBy   string
}

// ObserveDrill looks for the drill's effects since it began: the first failure
// with the burst's code, and the first alert opened for the merchant (when the
// alerts table exists) with its acknowledgement.
func (s *Store) ObserveDrill(ctx context.Context, merchantID int64, d domain.Incident) (DrillObservation, error) {
	var o DrillObservation
	err := s.x.QueryRowxContext(ctx, `SELECT min(occurred_at) FROM transactions
		WHERE merchant_id = $1 AND code = $2 AND occurred_at >= $3 AND pay_status = 'failed'`,
		merchantID, d.BurstCode, d.DeclaredAt.Add(-time.Minute)).Scan(&o.FirstFailureAt)
	if err != nil {
		return o, fmt.Errorf("db: observe drill %d: %w", d.ID, mapErr(err))
	}
	ok, err := s.HasAlerts(ctx)
	if err != nil || !ok {
		return o, err
	}
	var id sql.NullInt64
	err = s.x.QueryRowxContext(ctx, alertsForDrill, merchantID, d.DeclaredAt).Scan(&id, &o.AlertFiredAt, &o.AlertAckedAt, &o.AlertAckedBy)
	if mapErr(err) == ErrNotFound {
		return o, nil
	}
	if err != nil {
		return o, fmt.Errorf("db: observe drill %d alert: %w", d.ID, mapErr(err))
	}
	if id.Valid {
		o.AlertID = &id.Int64
	}
	return o, nil
}

// alertsForDrill finds the first alert opened since the drill began, with who
// acknowledged it. The alerts table comes from the alerting feature (issue 7).
const alertsForDrill = `SELECT a.id, a.opened_at, a.acknowledged_at, coalesce(u.email, '') FROM alerts a
	LEFT JOIN users u ON u.id = a.acknowledged_by AND u.merchant_id = a.merchant_id
	WHERE a.merchant_id = $1 AND a.opened_at >= $2 ORDER BY a.opened_at, a.id LIMIT 1`

// HasAlerts reports whether the alerts table exists (the alerting feature is
// built separately; drills and "declare from an alert" use it when present).
func (s *Store) HasAlerts(ctx context.Context) (bool, error) {
	var ok bool
	if err := s.x.QueryRowxContext(ctx, `SELECT to_regclass('alerts') IS NOT NULL`).Scan(&ok); err != nil {
		return false, fmt.Errorf("db: alerts table: %w", mapErr(err))
	}
	return ok, nil
}

// RecordDrillObservation stores newly seen drill steps (each only once) and puts
// them on the timeline.
func (s *Store) RecordDrillObservation(ctx context.Context, merchantID int64, d domain.Incident, o DrillObservation, texts map[string]string) error {
	return s.InTx(ctx, func(tx *Store) error {
		set := func(col string, at *time.Time, kind, text string, extra string, args ...any) error {
			if at == nil {
				return nil
			}
			q := fmt.Sprintf(`UPDATE incidents SET %s = $3%s WHERE merchant_id = $1 AND id = $2 AND %s IS NULL`, col, extra, col)
			res, err := tx.x.ExecContext(ctx, q, append([]any{merchantID, d.ID, *at}, args...)...)
			if err != nil {
				return fmt.Errorf("db: drill %d %s: %w", d.ID, col, mapErr(err))
			}
			if n, _ := res.RowsAffected(); n == 1 {
				return tx.AddIncidentEvent(ctx, merchantID, d.ID, *at, "drill", kind, text)
			}
			return nil
		}
		if err := set("first_failure_at", o.FirstFailureAt, "drill", texts["first_failure"], ""); err != nil {
			return err
		}
		if err := set("alert_fired_at", o.AlertFiredAt, "alert", texts["alert_fired"], ", alert_id = coalesce(alert_id, $4)", o.AlertID); err != nil {
			return err
		}
		return set("alert_acked_at", o.AlertAckedAt, "alert", texts["alert_acked"], ", alert_acked_by = $4", o.AlertAckedBy)
	})
}

// AlertSummary is a firing or acknowledged alert offered for declaring an incident.
type AlertSummary struct {
	ID         int64     `db:"id"`
	Status     string    `db:"status"`
	Severity   string    `db:"severity"`
	Summary    string    `db:"summary"`
	OpenedAt   time.Time `db:"opened_at"`
	Scope      string    `db:"scope"`       // all, channel, code, bank
	ScopeValue string    `db:"scope_value"` // the channel when Scope is channel
}

// ActiveAlerts returns the merchant's firing or acknowledged alerts, newest
// first, when the alerts table exists.
func (s *Store) ActiveAlerts(ctx context.Context, merchantID int64) ([]AlertSummary, error) {
	ok, err := s.HasAlerts(ctx)
	if err != nil || !ok {
		return nil, err
	}
	var out []AlertSummary
	err = sqlxSelect(ctx, s, &out, `SELECT id, status, coalesce(severity::text, '') AS severity, coalesce(summary, '') AS summary, opened_at,
		scope, scope_value FROM alerts WHERE merchant_id = $1 AND status IN ('firing', 'acknowledged') ORDER BY opened_at DESC, id DESC LIMIT 20`, merchantID)
	if err != nil {
		return nil, fmt.Errorf("db: active alerts: %w", err)
	}
	return out, nil
}

// ActiveAlert returns one of the merchant's alerts for declaring an incident from it.
func (s *Store) ActiveAlert(ctx context.Context, merchantID, id int64) (AlertSummary, error) {
	ok, err := s.HasAlerts(ctx)
	if err != nil {
		return AlertSummary{}, err
	}
	if !ok {
		return AlertSummary{}, fmt.Errorf("db: alert %d: %w", id, ErrNotFound)
	}
	var a AlertSummary
	err = s.x.QueryRowxContext(ctx, `SELECT id, status, coalesce(severity::text, '') AS severity, coalesce(summary, '') AS summary, opened_at,
		scope, scope_value FROM alerts WHERE merchant_id = $1 AND id = $2 AND status <> 'resolved'`, merchantID, id).StructScan(&a)
	if err != nil {
		return a, fmt.Errorf("db: alert %d: %w", id, mapErr(err))
	}
	return a, nil
}

// SeedDemoEmergency gives the demo merchant a plan to rehearse: backups for its
// channels, the contacts a payments team keeps at hand, and the shipped runbooks.
func (s *Store) SeedDemoEmergency(ctx context.Context, merchantID int64, now time.Time) error {
	for _, p := range []domain.PayChannel{
		{Channel: "card", Status: domain.ChannelActive, Backup: "alipay"},
		{Channel: "wechat", Status: domain.ChannelActive, Backup: "alipay"},
		{Channel: "alipay", Status: domain.ChannelActive, Backup: "wechat"},
		{Channel: "unionpay", Status: domain.ChannelActive, Backup: "card"},
	} {
		p.UpdatedBy, p.UpdatedAt = "seed", now
		if _, err := s.x.ExecContext(ctx, `INSERT INTO pay_channels (merchant_id, channel, status, backup, updated_by, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING`, merchantID, p.Channel, string(p.Status), p.Backup, p.UpdatedBy, p.UpdatedAt); err != nil {
			return fmt.Errorf("db: seed channels: %w", mapErr(err))
		}
	}
	if _, err := s.x.ExecContext(ctx, `INSERT INTO emergency_contacts (merchant_id, role, name, phone, email)
		SELECT $1, v.role, v.name, v.phone, v.email FROM (VALUES
			('应急负责人 Incident lead', '王经理', '+86 138 0013 8000', 'oncall@demo.example'),
			('欧乐支付技术支持 OulePay support', '7×24 热线', '400-000-0000', 'support@oulepay.example'),
			('客服主管 Support lead', '李主管', '+86 139 0013 9000', 'cs@demo.example')) AS v (role, name, phone, email)
		WHERE NOT EXISTS (SELECT 1 FROM emergency_contacts WHERE merchant_id = $1)`, merchantID); err != nil {
		return fmt.Errorf("db: seed contacts: %w", mapErr(err))
	}
	return nil
}
