package domain

import (
	"errors"
	"time"
)

// ErrNotFound means the thing asked for does not exist for this merchant.
var ErrNotFound = errors.New("not found")

// Session is a server-side login session.
type Session struct {
	ID         string    `db:"id"` // keyed hash of the cookie token
	MerchantID int64     `db:"merchant_id"`
	UserID     int64     `db:"user_id"`
	Data       []byte    `db:"data"`
	CreatedAt  time.Time `db:"created_at"`
	LastSeenAt time.Time `db:"last_seen_at"`
	ExpiresAt  time.Time `db:"expires_at"`

	// User and Merchant are loaded with the session in one query.
	User     User     `db:"-"`
	Merchant Merchant `db:"-"`
}

// Session lifetimes.
const (
	SessionIdle     = 15 * time.Minute
	SessionAbsolute = 12 * time.Hour
)

// SessionExpiry is when a session last active at seen expires: idle timeout, capped
// by the absolute lifetime.
func SessionExpiry(created, seen time.Time) time.Time {
	idle, abs := seen.Add(SessionIdle), created.Add(SessionAbsolute)
	if idle.Before(abs) {
		return idle
	}
	return abs
}

// APIKey is a merchant's API key; only its hash is stored.
type APIKey struct {
	ID         int64      `db:"id"`
	MerchantID int64      `db:"merchant_id"`
	Name       string     `db:"name"`
	Prefix     string     `db:"prefix"`
	CreatedBy  *int64     `db:"created_by"`
	CreatedAt  time.Time  `db:"created_at"`
	LastUsedAt *time.Time `db:"last_used_at"`
	RevokedAt  *time.Time `db:"revoked_at"`
}
