package db

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"paymend/domain"
)

const riskRuleCols = `id, name, kind, action, amount, currency, count, window_minutes, channel, customers, enabled,
	created_by, created_at, updated_at`

func scanRiskRule(sc interface{ Scan(...any) error }) (domain.RiskRule, error) {
	var r domain.RiskRule
	var customers pq.StringArray
	err := sc.Scan(&r.ID, &r.Name, &r.Kind, &r.Action, &r.Amount, &r.Currency, &r.Count, &r.Window, &r.Channel,
		&customers, &r.Enabled, &r.CreatedBy, &r.CreatedAt, &r.UpdatedAt)
	r.Customers = customers
	return r, err
}

// RiskRules lists the merchant's rules (deleted ones excluded), oldest first.
// enabledOnly limits the list to the rules the risk check uses.
func (s *Store) RiskRules(ctx context.Context, merchantID int64, enabledOnly bool) ([]domain.RiskRule, error) {
	q := `SELECT ` + riskRuleCols + ` FROM risk_rules WHERE merchant_id = $1 AND deleted_at IS NULL`
	if enabledOnly {
		q += ` AND enabled`
	}
	rows, err := s.x.QueryxContext(ctx, q+` ORDER BY id`, merchantID)
	if err != nil {
		return nil, fmt.Errorf("db: risk rules: %w", mapErr(err))
	}
	defer rows.Close()
	out := []domain.RiskRule{}
	for rows.Next() {
		r, err := scanRiskRule(rows)
		if err != nil {
			return nil, fmt.Errorf("db: risk rules: %w", err)
		}
		out = append(out, r)
	}
	return out, mapErr(rows.Err())
}

// RiskRule returns one rule.
func (s *Store) RiskRule(ctx context.Context, merchantID, id int64) (domain.RiskRule, error) {
	q := `SELECT ` + riskRuleCols + ` FROM risk_rules WHERE merchant_id = $1 AND id = $2 AND deleted_at IS NULL`
	r, err := scanRiskRule(s.x.QueryRowxContext(ctx, q, merchantID, id))
	if err != nil {
		return r, fmt.Errorf("db: risk rule %d: %w", id, mapErr(err))
	}
	return r, nil
}

// CreateRiskRule stores a validated rule with the backtest its author saw.
func (s *Store) CreateRiskRule(ctx context.Context, merchantID int64, r domain.RiskRule, bt *domain.Backtest, now time.Time) (domain.RiskRule, error) {
	var btJSON *string
	if bt != nil {
		b, err := json.Marshal(bt)
		if err != nil {
			return r, err
		}
		s := string(b)
		btJSON = &s
	}
	customers := r.Customers
	if customers == nil {
		customers = []string{}
	}
	q := `INSERT INTO risk_rules (merchant_id, name, kind, action, amount, currency, count, window_minutes, channel,
		customers, enabled, backtest, created_by, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) RETURNING ` + riskRuleCols
	out, err := scanRiskRule(s.x.QueryRowxContext(ctx, q, merchantID, r.Name, string(r.Kind), string(r.Action), r.Amount,
		r.Currency, r.Count, r.Window, r.Channel, pq.Array(customers), r.Enabled, btJSON, r.CreatedBy, now))
	if err != nil {
		return out, fmt.Errorf("db: create risk rule: %w", mapErr(err))
	}
	return out, nil
}

// SetRiskRuleEnabled switches a rule on or off; ErrNotFound when it is not the
// merchant's (or deleted).
func (s *Store) SetRiskRuleEnabled(ctx context.Context, merchantID, id int64, enabled bool, now time.Time) error {
	const q = `UPDATE risk_rules SET enabled = $3, updated_at = $4 WHERE merchant_id = $1 AND id = $2 AND deleted_at IS NULL`
	res, err := s.x.ExecContext(ctx, q, merchantID, id, enabled, now)
	return rowsOrNotFound(res, err, fmt.Sprintf("db: risk rule %d enable", id))
}

// DeleteRiskRule retires a rule; its past decisions keep naming it.
func (s *Store) DeleteRiskRule(ctx context.Context, merchantID, id int64, now time.Time) error {
	const q = `UPDATE risk_rules SET enabled = false, deleted_at = $3, updated_at = $3
		WHERE merchant_id = $1 AND id = $2 AND deleted_at IS NULL`
	res, err := s.x.ExecContext(ctx, q, merchantID, id, now)
	return rowsOrNotFound(res, err, fmt.Sprintf("db: risk rule %d delete", id))
}

func rowsOrNotFound(res interface{ RowsAffected() (int64, error) }, err error, place string) error {
	if err != nil {
		return fmt.Errorf("%s: %w", place, mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%s: %w", place, ErrNotFound)
	}
	return nil
}

// prepared returns q prepared once per pool (database/sql prepares it again on
// each connection as needed), so a hot query is planned once, not per call. Inside
// a transaction it returns nil and the caller runs q as is.
func (s *Store) prepared(ctx context.Context, q string) *sqlx.Stmt {
	if s.db == nil || s.stmts == nil {
		return nil
	}
	if st, ok := s.stmts.Load(q); ok {
		return st.(*sqlx.Stmt)
	}
	st, err := s.db.PreparexContext(ctx, q)
	if err != nil {
		return nil
	}
	if old, loaded := s.stmts.LoadOrStore(q, st); loaded {
		st.Close()
		return old.(*sqlx.Stmt)
	}
	return st
}

func (s *Store) queryRowHot(ctx context.Context, q string, args ...any) *sqlx.Row {
	if st := s.prepared(ctx, q); st != nil {
		return st.QueryRowxContext(ctx, args...)
	}
	return s.x.QueryRowxContext(ctx, q, args...)
}

// RiskCounters reads, in one query, the counters the rules need for a check: one
// pass over the customer's recent decisions gives their allowed or verified
// payments since dayStart (count, and amount in the check's currency) and their
// attempts in each velocity window; a second index range gives attempts with the
// card BIN, stopping at the cap the rules need, so a busy BIN costs no more than
// its limit. The SQL depends only on the shape of the rules, so it is prepared.
func (s *Store) RiskCounters(ctx context.Context, merchantID int64, c domain.RiskCheck, n domain.RiskNeeds, dayStart, now time.Time) (domain.RiskCounters, error) {
	k := domain.RiskCounters{Customer: map[int]int{}, BIN: map[int]int{}}
	args := []any{merchantID}
	arg := func(v any) string { args = append(args, v); return fmt.Sprintf("$%d", len(args)) }
	var cols []string
	var dests []any
	custWins := sortedKeys(n.Customer)
	binWins := sortedKeys(n.BIN)
	custCounts := make([]int, len(custWins))
	binCounts := make([]int, len(binWins))
	from := ""
	if n.Day || len(custWins) > 0 {
		since := now
		if n.Day {
			day, cur := arg(dayStart), arg(c.Currency)
			cols = append(cols, `coalesce(sum(amount) FILTER (WHERE created_at >= `+day+` AND decision <> 'block' AND currency = `+cur+`), 0)::bigint`,
				`count(*) FILTER (WHERE created_at >= `+day+` AND decision <> 'block')`)
			dests = append(dests, &k.DayAmount, &k.DayCount)
			since = dayStart
		}
		for i, w := range custWins {
			t := now.Add(-time.Duration(w) * time.Minute)
			cols = append(cols, `count(*) FILTER (WHERE created_at > `+arg(t)+`)`)
			dests = append(dests, &custCounts[i])
			if t.Before(since) {
				since = t
			}
		}
		from = ` FROM risk_decisions WHERE merchant_id = $1 AND customer_id = ` + arg(c.CustomerID) + ` AND created_at >= ` + arg(since)
	}
	if len(binWins) > 0 {
		bin := arg(c.CardBIN)
		for i, w := range binWins {
			// Windows and caps are parameters: the SQL's shape depends only on how
			// many counters there are, so few statements are ever prepared.
			cols = append(cols, fmt.Sprintf(`(SELECT count(*) FROM (SELECT 1 FROM risk_decisions WHERE merchant_id = $1
				AND card_bin = %s AND created_at > %s LIMIT %s) s)`, bin, arg(now.Add(-time.Duration(w)*time.Minute)), arg(n.BIN[w])))
			dests = append(dests, &binCounts[i])
		}
	}
	if len(cols) == 0 {
		return k, nil
	}
	if err := s.queryRowHot(ctx, `SELECT `+strings.Join(cols, ", ")+from, args...).Scan(dests...); err != nil {
		return k, fmt.Errorf("db: risk counters: %w", mapErr(err))
	}
	for i, w := range custWins {
		k.Customer[w] = custCounts[i]
	}
	for i, w := range binWins {
		k.BIN[w] = binCounts[i]
	}
	return k, nil
}

func sortedKeys(m map[int]int) []int {
	keys := make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	return keys
}

// LogRiskDecision records one decision; it is what later checks count.
func (s *Store) LogRiskDecision(ctx context.Context, merchantID int64, c domain.RiskCheck, res domain.RiskResult, reasons string, at time.Time) (int64, error) {
	const q = `INSERT INTO risk_decisions (merchant_id, customer_id, order_id, amount, currency, channel, card_bin,
		decision, rule_ids, reasons, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`
	var id int64
	err := s.queryRowHot(ctx, q, merchantID, c.CustomerID, c.OrderID, c.Amount, c.Currency, c.Channel, c.CardBIN,
		string(res.Decision), pq.Array(res.RuleIDs()), reasons, at).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("db: log risk decision: %w", mapErr(err))
	}
	return id, nil
}

// RiskDecisionFilter narrows the decisions list.
type RiskDecisionFilter struct {
	Decision   string
	RuleID     int64
	CustomerID string
	From, To   time.Time
	Cursor     domain.Cursor
	Limit      int
}

// RiskDecisions lists decisions newest first, a keyset page at a time.
func (s *Store) RiskDecisions(ctx context.Context, merchantID int64, f RiskDecisionFilter) ([]domain.RiskDecision, domain.Cursor, error) {
	where := []string{"d.merchant_id = $1"}
	args := []any{merchantID}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.Replace(cond, "?", fmt.Sprintf("$%d", len(args)), 1))
	}
	if f.Decision != "" {
		add("d.decision = ?", f.Decision)
	}
	if f.RuleID != 0 {
		add("? = ANY (d.rule_ids)", f.RuleID)
	}
	if f.CustomerID != "" {
		add("d.customer_id = ?", f.CustomerID)
	}
	if !f.From.IsZero() {
		add("d.created_at >= ?", f.From)
	}
	if !f.To.IsZero() {
		add("d.created_at < ?", f.To)
	}
	if !f.Cursor.IsZero() {
		args = append(args, f.Cursor.At, f.Cursor.ID)
		where = append(where, fmt.Sprintf("(d.created_at, d.id) < ($%d, $%d)", len(args)-1, len(args)))
	}
	limit := clampLimit(f.Limit)
	q := `SELECT d.id, d.customer_id, d.order_id, d.amount, d.currency, d.channel, d.card_bin, d.decision, d.rule_ids, d.created_at,
		(d.decision = 'block' AND EXISTS (SELECT 1 FROM transactions t WHERE t.merchant_id = d.merchant_id
			AND t.customer_ref = d.customer_id AND t.pay_status = 'succeeded' AND t.occurred_at > d.created_at)) AS paid_later
		FROM risk_decisions d WHERE ` + strings.Join(where, " AND ") +
		fmt.Sprintf(" ORDER BY d.created_at DESC, d.id DESC LIMIT %d", limit+1)
	var rows []struct {
		domain.RiskDecision
		IDs pq.Int64Array `db:"rule_ids"`
	}
	if err := sqlxSelect(ctx, s, &rows, q, args...); err != nil {
		return nil, domain.Cursor{}, fmt.Errorf("db: risk decisions: %w", err)
	}
	out := make([]domain.RiskDecision, len(rows))
	for i, r := range rows {
		out[i] = r.RiskDecision
		out[i].RuleIDs = r.IDs
	}
	var next domain.Cursor
	if len(out) > limit {
		out = out[:limit]
		next = domain.Cursor{At: out[len(out)-1].CreatedAt, ID: out[len(out)-1].ID}
	}
	return out, next, nil
}

// RiskRuleStats counts, per rule, its blocks and verifications since since and how
// many blocked customers later paid successfully.
func (s *Store) RiskRuleStats(ctx context.Context, merchantID int64, since time.Time) (map[int64]domain.RiskRuleStats, error) {
	const q = `SELECT r.rule_id,
		count(*) FILTER (WHERE d.decision = 'block'),
		count(*) FILTER (WHERE d.decision = 'verify'),
		count(*) FILTER (WHERE d.decision = 'block' AND EXISTS (SELECT 1 FROM transactions t
			WHERE t.merchant_id = d.merchant_id AND t.customer_ref = d.customer_id
			AND t.pay_status = 'succeeded' AND t.occurred_at > d.created_at))
		FROM risk_decisions d CROSS JOIN LATERAL unnest(d.rule_ids) AS r(rule_id)
		WHERE d.merchant_id = $1 AND d.created_at >= $2 AND d.decision <> 'allow'
		GROUP BY r.rule_id`
	rows, err := s.x.QueryContext(ctx, q, merchantID, since)
	if err != nil {
		return nil, fmt.Errorf("db: risk rule stats: %w", mapErr(err))
	}
	defer rows.Close()
	out := map[int64]domain.RiskRuleStats{}
	for rows.Next() {
		var id int64
		var st domain.RiskRuleStats
		if err := rows.Scan(&id, &st.Blocked, &st.Verified, &st.Honest); err != nil {
			return nil, fmt.Errorf("db: risk rule stats: %w", err)
		}
		out[id] = st
	}
	return out, mapErr(rows.Err())
}

// BacktestPayment is one past payment as a backtest replays it.
type BacktestPayment struct {
	Check      domain.RiskCheck
	Succeeded  bool
	OccurredAt time.Time
}

// EachBacktestPayment streams the merchant's payments in [from, to], oldest first.
func (s *Store) EachBacktestPayment(ctx context.Context, merchantID int64, from, to time.Time, fn func(BacktestPayment)) error {
	const q = `SELECT customer_ref, amount, currency, channel, card_bin, pay_status = 'succeeded', occurred_at
		FROM transactions WHERE merchant_id = $1 AND occurred_at >= $2 AND occurred_at <= $3 AND has_payment
		ORDER BY occurred_at, id`
	rows, err := s.x.QueryContext(ctx, q, merchantID, from, to)
	if err != nil {
		return fmt.Errorf("db: backtest payments: %w", mapErr(err))
	}
	defer rows.Close()
	for rows.Next() {
		var p BacktestPayment
		if err := rows.Scan(&p.Check.CustomerID, &p.Check.Amount, &p.Check.Currency, &p.Check.Channel, &p.Check.CardBIN,
			&p.Succeeded, &p.OccurredAt); err != nil {
			return fmt.Errorf("db: backtest payments: %w", err)
		}
		fn(p)
	}
	return mapErr(rows.Err())
}

// SeedDemoRiskRules gives a merchant the demo rules of CONTRACT.md — verify above
// 5,000.00 and block above 50,000.00 in its currency — unless it has rules already.
func (s *Store) SeedDemoRiskRules(ctx context.Context, merchantID int64, currency string, now time.Time) error {
	const q = `INSERT INTO risk_rules (merchant_id, name, kind, action, amount, currency, enabled, created_by, created_at, updated_at)
		SELECT $1, v.name, 'amount_over', v.action, v.amount, $2, true, 'seed', $3, $3
		FROM (VALUES ('大额二次验证 Verify above 5,000.00', 'verify', 500000::bigint),
		             ('超大额拦截 Block above 50,000.00', 'block', 5000000::bigint)) AS v (name, action, amount)
		WHERE NOT EXISTS (SELECT 1 FROM risk_rules WHERE merchant_id = $1)`
	if _, err := s.x.ExecContext(ctx, q, merchantID, currency, now); err != nil {
		return fmt.Errorf("db: seed risk rules: %w", mapErr(err))
	}
	return nil
}
