package db

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"

	"paymend/domain"
)

// ChannelSettings returns the merchant's settings for every configured channel.
// Secret holds the sealed secret; the caller opens it only to send.
func (s *Store) ChannelSettings(ctx context.Context, merchantID int64) ([]domain.ChannelSettings, error) {
	const q = `SELECT channel, enabled, config, secret_sealed FROM notification_channels
		WHERE merchant_id = $1 ORDER BY channel`
	rows, err := s.x.QueryxContext(ctx, q, merchantID)
	if err != nil {
		return nil, fmt.Errorf("db: channel settings: %w", mapErr(err))
	}
	defer rows.Close()
	var out []domain.ChannelSettings
	for rows.Next() {
		var cs domain.ChannelSettings
		var cfg []byte
		if err := rows.Scan(&cs.Channel, &cs.Enabled, &cfg, &cs.Secret); err != nil {
			return nil, fmt.Errorf("db: channel settings: %w", err)
		}
		if err := json.Unmarshal(cfg, &cs); err != nil {
			return nil, fmt.Errorf("db: channel settings %s: %w", cs.Channel, err)
		}
		out = append(out, cs)
	}
	return out, mapErr(rows.Err())
}

// SaveChannelSettings stores one channel's settings; sealedSecret "" keeps the
// stored secret.
func (s *Store) SaveChannelSettings(ctx context.Context, merchantID int64, cs domain.ChannelSettings, sealedSecret string) error {
	cfg, err := json.Marshal(cs)
	if err != nil {
		return err
	}
	const q = `INSERT INTO notification_channels (merchant_id, channel, enabled, config, secret_sealed, updated_at)
		VALUES ($1, $2, $3, $4, $5, now())
		ON CONFLICT (merchant_id, channel) DO UPDATE SET enabled = EXCLUDED.enabled, config = EXCLUDED.config,
			secret_sealed = CASE WHEN EXCLUDED.secret_sealed = '' THEN notification_channels.secret_sealed
				ELSE EXCLUDED.secret_sealed END, updated_at = now()`
	if _, err := s.x.ExecContext(ctx, q, merchantID, string(cs.Channel), cs.Enabled, string(cfg), sealedSecret); err != nil {
		return fmt.Errorf("db: save channel %s: %w", cs.Channel, mapErr(err))
	}
	return nil
}

// NewNotification is a notice to queue.
type NewNotification struct {
	TransactionID   int64
	RuleID          *int64   // the automatic rule that sent it, if any
	Fallback        []string // channels to try next if this one fails for good
	Channel         domain.NotifyChannel
	TemplateKey     string
	Lang            string
	RecipientMasked string
	Subject, Body   string
	CreatedBy       string
	Feedback        *NewFeedbackLink // the feedback link the body carries, stored with the notice
}

// QueueNotifications inserts notices in state queued and returns the ids of those
// created; a notice repeating a template already used for the payment on that
// channel is skipped (the caller counts the difference). Use inside the transaction
// that also inserts the delivery jobs.
func (s *Store) QueueNotifications(ctx context.Context, merchantID int64, ns []NewNotification) ([]int64, error) {
	var ids []int64
	// PostgreSQL takes at most 65,535 parameters per statement: 1,000 notices each.
	for start := 0; start < len(ns); start += 1000 {
		got, err := s.queueNotifications(ctx, merchantID, ns[start:min(start+1000, len(ns))])
		if err != nil {
			return nil, err
		}
		ids = append(ids, got...)
		if err := s.createNoticeLinks(ctx, merchantID, ns[start:min(start+1000, len(ns))], got); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

func (s *Store) queueNotifications(ctx context.Context, merchantID int64, ns []NewNotification) ([]int64, error) {
	if len(ns) == 0 {
		return nil, nil
	}
	var b strings.Builder
	args := []any{merchantID}
	b.WriteString(`INSERT INTO notifications (merchant_id, transaction_id, channel, template_key, lang,
		recipient_masked, subject, body, created_by, rule_id, fallback, customer_ref) SELECT $1, t.id, v.channel,
		v.template_key, v.lang, v.recipient_masked, v.subject, v.body, v.created_by, v.rule_id, coalesce(v.fallback, '{}'), t.customer_ref
		FROM (VALUES `)
	for i, n := range ns {
		if i > 0 {
			b.WriteString(", ")
		}
		k := len(args)
		fmt.Fprintf(&b, "($%d::bigint, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d::bigint, $%d::text[])",
			k+1, k+2, k+3, k+4, k+5, k+6, k+7, k+8, k+9, k+10)
		args = append(args, n.TransactionID, string(n.Channel), n.TemplateKey, n.Lang, n.RecipientMasked, n.Subject,
			n.Body, n.CreatedBy, n.RuleID, pq.Array(n.Fallback))
	}
	// The join keeps every notice inside the merchant: an id of another merchant's
	// payment matches nothing.
	b.WriteString(`) AS v (transaction_id, channel, template_key, lang, recipient_masked, subject, body, created_by, rule_id, fallback)
		JOIN transactions t ON t.merchant_id = $1 AND t.id = v.transaction_id
		ON CONFLICT (merchant_id, transaction_id, channel, template_key) DO NOTHING RETURNING id`)
	var ids []int64
	if err := sqlxSelect(ctx, s, &ids, b.String(), args...); err != nil {
		return nil, fmt.Errorf("db: queue notifications: %w", err)
	}
	return ids, nil
}

const noticeCols = `n.id, n.merchant_id, n.transaction_id, n.channel, n.template_key, n.lang, n.recipient_masked,
	n.subject, n.body, n.state, n.attempts, n.last_error, n.provider_id, n.response, n.created_by, n.created_at,
	n.updated_at, n.sent_at, t.platform_id, n.rule_id, n.fallback`

// Notification returns one notice.
func (s *Store) Notification(ctx context.Context, merchantID, id int64) (domain.Notification, error) {
	q := `SELECT ` + noticeCols + ` FROM notifications n JOIN transactions t ON t.id = n.transaction_id
		WHERE n.merchant_id = $1 AND n.id = $2`
	var n domain.Notification
	if err := s.x.QueryRowxContext(ctx, q, merchantID, id).StructScan(&n); err != nil {
		return n, fmt.Errorf("db: notification %d: %w", id, mapErr(err))
	}
	return n, nil
}

// NoticeDelivery is what a worker needs to send one notice: the notice and the
// payment's recipient data (sealed).
type NoticeDelivery struct {
	domain.Notification
	CustomerRef string `db:"customer_ref"`
	PhoneSealed string `db:"phone_sealed"`
	EmailSealed string `db:"email_sealed"`
}

// ClaimNotification marks a queued notice as being sent, counts the attempt and
// returns it with the payment's sealed contact, in one statement. A notice already
// sent or failed is ErrConflict: its job has nothing left to do.
func (s *Store) ClaimNotification(ctx context.Context, merchantID, id int64) (NoticeDelivery, error) {
	const q = `WITH n AS (
			UPDATE notifications SET state = 'sending', attempts = attempts + 1, updated_at = now()
			WHERE merchant_id = $1 AND id = $2 AND state IN ('queued', 'sending')
			RETURNING *)
		SELECT ` + noticeCols + `, t.customer_ref, t.phone_sealed, t.email_sealed
		FROM n JOIN transactions t ON t.merchant_id = n.merchant_id AND t.id = n.transaction_id`
	var d NoticeDelivery
	if err := s.x.QueryRowxContext(ctx, q, merchantID, id).StructScan(&d); err != nil {
		if mapErr(err) == ErrNotFound {
			return d, ErrConflict
		}
		return d, fmt.Errorf("db: claim notification %d: %w", id, mapErr(err))
	}
	return d, nil
}

// FinishNotification records a notice's outcome (sent, failed, or back to queued
// for a retry) and, for a final outcome, puts it on the payment's timeline, in one
// statement.
func (s *Store) FinishNotification(ctx context.Context, merchantID int64, n domain.Notification, state, providerID, response, lastErr string, now time.Time) error {
	d, _ := json.Marshal(map[string]any{"notification_id": n.ID, "channel": n.Channel, "to": n.RecipientMasked,
		"template": n.TemplateKey, "error": lastErr})
	const q = `WITH u AS (
			UPDATE notifications SET state = $3, provider_id = $4, response = $5, last_error = $6,
				sent_at = CASE WHEN $3 = 'sent' THEN $7::timestamptz ELSE sent_at END, updated_at = $7
			WHERE merchant_id = $1 AND id = $2 AND state = 'sending'
			RETURNING transaction_id),
		tl AS (
			INSERT INTO timeline (merchant_id, transaction_id, at, kind, actor, summary, details)
			SELECT $1, transaction_id, $7, 'notification.' || $3, 'system', $8, $9 FROM u
			WHERE $3 IN ('sent', 'failed'))
		SELECT count(*) FROM u`
	var k int
	summary := fmt.Sprintf("%s notice %d %s to %s", n.Channel, n.ID, state, n.RecipientMasked)
	if err := s.x.QueryRowxContext(ctx, q, merchantID, n.ID, state, providerID, response, lastErr, now, summary, string(d)).Scan(&k); err != nil {
		return fmt.Errorf("db: finish notification %d: %w", n.ID, mapErr(err))
	}
	if k == 0 {
		return ErrConflict
	}
	return nil
}

// NoticeFilter narrows the notifications list.
type NoticeFilter struct {
	State, Channel string
	TransactionID  int64
	Cursor         domain.Cursor
	Limit          int
}

// Notifications lists the merchant's notices newest first, keyset paged.
func (s *Store) Notifications(ctx context.Context, merchantID int64, f NoticeFilter) ([]domain.Notification, domain.Cursor, error) {
	where := []string{"n.merchant_id = $1"}
	args := []any{merchantID}
	add := func(cond string, v ...any) {
		for _, x := range v {
			args = append(args, x)
			cond = strings.Replace(cond, "?", fmt.Sprintf("$%d", len(args)), 1)
		}
		where = append(where, cond)
	}
	if f.State != "" {
		add("n.state = ?", f.State)
	}
	if f.Channel != "" {
		add("n.channel = ?", f.Channel)
	}
	if f.TransactionID != 0 {
		add("n.transaction_id = ?", f.TransactionID)
	}
	if !f.Cursor.IsZero() {
		add("(n.created_at, n.id) < (?, ?)", f.Cursor.At, f.Cursor.ID)
	}
	limit := clampLimit(f.Limit)
	q := `SELECT ` + noticeCols + ` FROM notifications n JOIN transactions t ON t.id = n.transaction_id WHERE ` +
		strings.Join(where, " AND ") + fmt.Sprintf(" ORDER BY n.created_at DESC, n.id DESC LIMIT %d", limit+1)
	var out []domain.Notification
	if err := sqlxSelect(ctx, s, &out, q, args...); err != nil {
		return nil, domain.Cursor{}, fmt.Errorf("db: notifications: %w", err)
	}
	var next domain.Cursor
	if len(out) > limit {
		out = out[:limit]
		next = domain.Cursor{At: out[len(out)-1].CreatedAt, ID: out[len(out)-1].ID}
	}
	return out, next, nil
}

// NotifyRules lists the merchant's automatic notification rules, oldest first.
func (s *Store) NotifyRules(ctx context.Context, merchantID int64) ([]domain.NotifyRule, error) {
	const q = `SELECT id, name, enabled, coalesce(code, ''), coalesce(category, ''), channels, delay_seconds
		FROM notification_rules WHERE merchant_id = $1 ORDER BY id`
	rows, err := s.x.QueryxContext(ctx, q, merchantID)
	if err != nil {
		return nil, fmt.Errorf("db: notify rules: %w", mapErr(err))
	}
	defer rows.Close()
	var out []domain.NotifyRule
	for rows.Next() {
		var r domain.NotifyRule
		var chans pq.StringArray
		var delay int
		if err := rows.Scan(&r.ID, &r.Name, &r.Enabled, &r.Code, &r.Category, &chans, &delay); err != nil {
			return nil, err
		}
		for _, c := range chans {
			r.Channels = append(r.Channels, domain.NotifyChannel(c))
		}
		r.Delay = time.Duration(delay) * time.Second
		out = append(out, r)
	}
	return out, mapErr(rows.Err())
}

// CreateNotifyRule stores a rule.
func (s *Store) CreateNotifyRule(ctx context.Context, merchantID int64, r domain.NotifyRule) (int64, error) {
	chans := make([]string, len(r.Channels))
	for i, c := range r.Channels {
		chans[i] = string(c)
	}
	const q = `INSERT INTO notification_rules (merchant_id, name, enabled, code, category, channels, delay_seconds)
		VALUES ($1, $2, $3, NULLIF($4, ''), NULLIF($5, ''), $6, $7) RETURNING id`
	var id int64
	err := s.x.QueryRowxContext(ctx, q, merchantID, r.Name, r.Enabled, r.Code, string(r.Category), pq.Array(chans),
		int(r.Delay/time.Second)).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("db: create notify rule: %w", mapErr(err))
	}
	return id, nil
}

// SetNotifyRuleEnabled switches a rule on or off.
func (s *Store) SetNotifyRuleEnabled(ctx context.Context, merchantID, id int64, enabled bool) error {
	return s.execOne(ctx, `UPDATE notification_rules SET enabled = $3 WHERE merchant_id = $1 AND id = $2`, merchantID, id, enabled)
}

// NotifyPolicy returns the merchant's policy and rule watermark, the defaults when
// none is stored. forUpdate locks the row (creating it) for the rule scan.
func (s *Store) NotifyPolicy(ctx context.Context, merchantID int64, forUpdate bool) (domain.NotifyPolicy, int64, error) {
	p := domain.DefaultNotifyPolicy
	if forUpdate {
		if _, err := s.x.ExecContext(ctx, `INSERT INTO notification_policy (merchant_id) VALUES ($1) ON CONFLICT DO NOTHING`, merchantID); err != nil {
			return p, 0, mapErr(err)
		}
	}
	q := `SELECT quiet_start, quiet_end, daily_cap, watermark FROM notification_policy WHERE merchant_id = $1`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	var wm int64
	err := s.x.QueryRowxContext(ctx, q, merchantID).Scan(&p.QuietStart, &p.QuietEnd, &p.DailyCap, &wm)
	if mapErr(err) == ErrNotFound {
		return domain.DefaultNotifyPolicy, 0, nil
	}
	return p, wm, mapErr(err)
}

// SaveNotifyPolicy stores quiet hours and the daily cap.
func (s *Store) SaveNotifyPolicy(ctx context.Context, merchantID int64, p domain.NotifyPolicy) error {
	const q = `INSERT INTO notification_policy (merchant_id, quiet_start, quiet_end, daily_cap) VALUES ($1, $2, $3, $4)
		ON CONFLICT (merchant_id) DO UPDATE SET quiet_start = $2, quiet_end = $3, daily_cap = $4`
	_, err := s.x.ExecContext(ctx, q, merchantID, p.QuietStart, p.QuietEnd, p.DailyCap)
	return mapErr(err)
}

// SetNotifyWatermark records the last transaction id the rules have seen.
func (s *Store) SetNotifyWatermark(ctx context.Context, merchantID, id int64) error {
	return s.execOne(ctx, `UPDATE notification_policy SET watermark = $2 WHERE merchant_id = $1`, merchantID, id)
}

// InitNotifyWatermark starts the rules at the merchant's newest payment, once.
func (s *Store) InitNotifyWatermark(ctx context.Context, merchantID int64) error {
	if _, err := s.x.ExecContext(ctx, `INSERT INTO notification_policy (merchant_id) VALUES ($1) ON CONFLICT DO NOTHING`, merchantID); err != nil {
		return mapErr(err)
	}
	const q = `UPDATE notification_policy SET watermark = (SELECT coalesce(max(id), 0) FROM transactions WHERE merchant_id = $1)
		WHERE merchant_id = $1 AND watermark < 0`
	_, err := s.x.ExecContext(ctx, q, merchantID)
	return mapErr(err)
}

// MerchantsWithRules lists merchants that have an enabled rule. The rule scan is a
// system job that visits each in turn.
func (s *Store) MerchantsWithRules(ctx context.Context) ([]int64, error) {
	var out []int64
	err := sqlxSelect(ctx, s, &out, `SELECT DISTINCT merchant_id FROM notification_rules WHERE enabled ORDER BY merchant_id`)
	return out, err
}

// FailedAfter lists failed payments with an id above afterID, in id order.
func (s *Store) FailedAfter(ctx context.Context, merchantID, afterID int64, limit int) ([]domain.Transaction, error) {
	q := `SELECT ` + txCols + ` FROM transactions WHERE merchant_id = $1 AND id > $2 AND status = 'failed'
		ORDER BY id LIMIT $3`
	var out []domain.Transaction
	if err := sqlxSelect(ctx, s, &out, q, merchantID, afterID, limit); err != nil {
		return nil, fmt.Errorf("db: failed after: %w", err)
	}
	return out, nil
}

// NoticesSince counts notices per customer created since a time.
func (s *Store) NoticesSince(ctx context.Context, merchantID int64, since time.Time) (map[string]int, error) {
	rows, err := s.x.QueryxContext(ctx, `SELECT customer_ref, count(*) FROM notifications
		WHERE merchant_id = $1 AND created_at >= $2 AND customer_ref <> '' GROUP BY customer_ref`, merchantID, since)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var c string
		var n int
		if err := rows.Scan(&c, &n); err != nil {
			return nil, err
		}
		out[c] = n
	}
	return out, mapErr(rows.Err())
}
