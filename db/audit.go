package db

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"paymend/domain"
)

// Audit appends one entry. merchantID is 0 for events no merchant owns.
func (s *Store) Audit(ctx context.Context, merchantID int64, e domain.AuditEntry, details map[string]any) error {
	const q = `INSERT INTO audit_log (merchant_id, user_id, actor, action, target, result, ip, request_id, details, at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`
	var mid any
	if merchantID != 0 {
		mid = merchantID
	}
	d := []byte("{}")
	if len(details) > 0 {
		var err error
		if d, err = json.Marshal(details); err != nil {
			return fmt.Errorf("db: audit details: %w", err)
		}
	}
	at := e.At
	if at.IsZero() {
		at = time.Now().UTC()
	}
	_, err := s.x.ExecContext(ctx, q, mid, e.UserID, e.Actor, e.Action, e.Target, e.Result, e.IP, e.RequestID, string(d), at)
	if err != nil {
		return fmt.Errorf("db: audit %s: %w", e.Action, mapErr(err))
	}
	return nil
}

// AuditFilter narrows the audit log.
type AuditFilter struct {
	Actor  string // substring of the actor
	Action string // prefix of the action, e.g. "user." or "login"
	Result string
	From   time.Time
	To     time.Time
	Cursor domain.Cursor
	Limit  int
}

// AuditLog lists the merchant's audit entries newest first, keyset paged. It returns
// the entries and the cursor of the next page (zero when there is none).
func (s *Store) AuditLog(ctx context.Context, merchantID int64, f AuditFilter) ([]domain.AuditEntry, domain.Cursor, error) {
	var (
		where = []string{"merchant_id = $1"}
		args  = []any{merchantID}
	)
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, strings.ReplaceAll(cond, "?", fmt.Sprintf("$%d", len(args))))
	}
	if f.Actor != "" {
		add("actor ILIKE '%' || ? || '%'", escapeLike(f.Actor))
	}
	if f.Action != "" {
		add("action LIKE ? || '%'", escapeLike(f.Action))
	}
	if f.Result != "" {
		add("result = ?", f.Result)
	}
	if !f.From.IsZero() {
		add("at >= ?", f.From)
	}
	if !f.To.IsZero() {
		add("at < ?", f.To)
	}
	if !f.Cursor.IsZero() {
		args = append(args, f.Cursor.At, f.Cursor.ID)
		where = append(where, fmt.Sprintf("(at, id) < ($%d, $%d)", len(args)-1, len(args)))
	}
	limit := clampLimit(f.Limit)
	q := `SELECT id, merchant_id, user_id, actor, action, target, result, ip, request_id, details, at
		FROM audit_log WHERE ` + strings.Join(where, " AND ") +
		fmt.Sprintf(" ORDER BY at DESC, id DESC LIMIT %d", limit+1)
	var out []domain.AuditEntry
	if err := sqlxSelect(ctx, s, &out, q, args...); err != nil {
		return nil, domain.Cursor{}, fmt.Errorf("db: audit log: %w", err)
	}
	var next domain.Cursor
	if len(out) > limit {
		out = out[:limit]
		last := out[len(out)-1]
		next = domain.Cursor{At: last.At, ID: last.ID}
	}
	return out, next, nil
}

func clampLimit(n int) int {
	if n <= 0 {
		return 50
	}
	if n > 100 {
		return 100
	}
	return n
}

// escapeLike escapes LIKE wildcards in user input.
func escapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return r.Replace(s)
}
