package db

import (
	"context"
	"fmt"
	"time"

	"paymend/domain"
)

// CreateSession stores a new session. id is the hash of the cookie token.
func (s *Store) CreateSession(ctx context.Context, merchantID int64, r domain.Session) error {
	const q = `INSERT INTO sessions (id, merchant_id, user_id, data, created_at, last_seen_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $5, $6)`
	if r.Data == nil {
		r.Data = []byte{}
	}
	_, err := s.x.ExecContext(ctx, q, r.ID, merchantID, r.UserID, r.Data, r.CreatedAt, r.ExpiresAt)
	if err != nil {
		return fmt.Errorf("db: create session: %w", mapErr(err))
	}
	return nil
}

// SessionByID loads a live session by the hash of its token, with its user and
// merchant, in one query. The token is the only thing a request carries before the
// merchant is known, so this lookup is global.
func (s *Store) SessionByID(ctx context.Context, id string, now time.Time) (domain.Session, error) {
	const q = `SELECT s.id, s.merchant_id, s.user_id, s.data, s.created_at, s.last_seen_at, s.expires_at,
			u.id, u.merchant_id, u.email, u.name, u.role, u.lang, u.disabled_at,
			m.id, m.code, m.name, m.time_zone, m.currency
		FROM sessions s JOIN users u ON u.id = s.user_id AND u.merchant_id = s.merchant_id
		JOIN merchants m ON m.id = s.merchant_id
		WHERE s.id = $1 AND s.expires_at > $2`
	var r domain.Session
	u, m := &r.User, &r.Merchant
	err := s.x.QueryRowxContext(ctx, q, id, now).Scan(&r.ID, &r.MerchantID, &r.UserID, &r.Data, &r.CreatedAt,
		&r.LastSeenAt, &r.ExpiresAt, &u.ID, &u.MerchantID, &u.Email, &u.Name, &u.Role, &u.Lang, &u.DisabledAt,
		&m.ID, &m.Code, &m.Name, &m.TimeZone, &m.Currency)
	if err != nil {
		return r, fmt.Errorf("db: session: %w", mapErr(err))
	}
	return r, nil
}

// TouchSession records activity and moves the idle expiry, never past the absolute one.
func (s *Store) TouchSession(ctx context.Context, merchantID int64, id string, now, expires time.Time) error {
	const q = `UPDATE sessions SET last_seen_at = $3, expires_at = $4 WHERE merchant_id = $1 AND id = $2`
	return s.execOne(ctx, q, merchantID, id, now, expires)
}

// SaveSessionData replaces a session's encoded values.
func (s *Store) SaveSessionData(ctx context.Context, merchantID int64, id string, data []byte) error {
	const q = `UPDATE sessions SET data = $3 WHERE merchant_id = $1 AND id = $2`
	return s.execOne(ctx, q, merchantID, id, data)
}

// DeleteSession removes one session (logout).
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	const q = `DELETE FROM sessions WHERE id = $1`
	_, err := s.x.ExecContext(ctx, q, id)
	return mapErr(err)
}

// DeleteUserSessions ends every session of a user (disabled, role or password changed).
func (s *Store) DeleteUserSessions(ctx context.Context, merchantID, userID int64) error {
	const q = `DELETE FROM sessions WHERE merchant_id = $1 AND user_id = $2`
	_, err := s.x.ExecContext(ctx, q, merchantID, userID)
	return mapErr(err)
}

// PurgeExpiredSessions deletes sessions past their expiry.
func (s *Store) PurgeExpiredSessions(ctx context.Context, now time.Time) (int64, error) {
	res, err := s.x.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= $1`, now)
	if err != nil {
		return 0, mapErr(err)
	}
	return res.RowsAffected()
}

// HitRateLimit counts one hit against key in the fixed window containing now and
// reports whether the count is still within limit. Counters live in the database so
// every replica shares them.
func (s *Store) HitRateLimit(ctx context.Context, key string, window time.Duration, limit int, now time.Time) (bool, error) {
	const q = `INSERT INTO rate_limits (key, window_start, count) VALUES ($1, $2, 1)
		ON CONFLICT (key, window_start) DO UPDATE SET count = rate_limits.count + 1
		RETURNING count`
	start := now.Truncate(window)
	var n int
	if err := s.queryRowHot(ctx, q, key, start).Scan(&n); err != nil {
		return false, fmt.Errorf("db: rate limit: %w", mapErr(err))
	}
	return n <= limit, nil
}

// PurgeRateLimits drops windows that ended before cutoff.
func (s *Store) PurgeRateLimits(ctx context.Context, cutoff time.Time) error {
	_, err := s.x.ExecContext(ctx, `DELETE FROM rate_limits WHERE window_start < $1`, cutoff)
	return mapErr(err)
}
