package db

import (
	"context"
	"fmt"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"paymend/domain"
)

const merchantCols = `id, code, name, time_zone, currency, created_at`

// CreateMerchant inserts a merchant with its sealed webhook secrets.
func (s *Store) CreateMerchant(ctx context.Context, m domain.Merchant, sealedSecrets []string) (domain.Merchant, error) {
	const q = `INSERT INTO merchants (code, name, time_zone, currency, webhook_secrets)
		VALUES ($1, $2, $3, $4, $5) RETURNING ` + merchantCols
	var out domain.Merchant
	err := s.x.QueryRowxContext(ctx, q, m.Code, m.Name, orDefault(m.TimeZone, "Asia/Shanghai"),
		orDefault(m.Currency, "CNY"), pq.Array(sealedSecrets)).StructScan(&out)
	if err != nil {
		return out, fmt.Errorf("db: create merchant %q: %w", m.Code, mapErr(err))
	}
	return out, nil
}

// MerchantByCode looks a merchant up by its public code (webhook routing, CLI).
func (s *Store) MerchantByCode(ctx context.Context, code string) (domain.Merchant, error) {
	const q = `SELECT ` + merchantCols + ` FROM merchants WHERE code = $1`
	var m domain.Merchant
	if err := s.x.QueryRowxContext(ctx, q, code).StructScan(&m); err != nil {
		return m, fmt.Errorf("db: merchant %q: %w", code, mapErr(err))
	}
	return m, nil
}

// Merchant returns the merchant with id merchantID.
func (s *Store) Merchant(ctx context.Context, merchantID int64) (domain.Merchant, error) {
	const q = `SELECT ` + merchantCols + ` FROM merchants WHERE id = $1`
	var m domain.Merchant
	if err := s.queryRowHot(ctx, q, merchantID).StructScan(&m); err != nil {
		return m, fmt.Errorf("db: merchant %d: %w", merchantID, mapErr(err))
	}
	return m, nil
}

// WebhookSecrets returns the merchant's sealed webhook secrets, current first.
func (s *Store) WebhookSecrets(ctx context.Context, merchantID int64) ([]string, error) {
	const q = `SELECT webhook_secrets FROM merchants WHERE id = $1`
	var out pq.StringArray
	if err := s.x.QueryRowxContext(ctx, q, merchantID).Scan(&out); err != nil {
		return nil, fmt.Errorf("db: webhook secrets %d: %w", merchantID, mapErr(err))
	}
	return out, nil
}

// SetWebhookSecrets replaces the merchant's sealed webhook secrets.
func (s *Store) SetWebhookSecrets(ctx context.Context, merchantID int64, sealed []string) error {
	const q = `UPDATE merchants SET webhook_secrets = $2 WHERE id = $1`
	return s.execOne(ctx, q, merchantID, pq.Array(sealed))
}

const userCols = `id, merchant_id, email, name, role, password_hash, lang, failed_logins,
	locked_until, disabled_at, last_login_at, created_at`

// CreateUser inserts a user; the e-mail must be unused across all merchants.
func (s *Store) CreateUser(ctx context.Context, merchantID int64, u domain.User) (domain.User, error) {
	const q = `INSERT INTO users (merchant_id, email, name, role, password_hash, lang)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING ` + userCols
	var out domain.User
	err := s.x.QueryRowxContext(ctx, q, merchantID, u.Email, u.Name, u.Role, u.PasswordHash,
		orDefault(u.Lang, "zh-CN")).StructScan(&out)
	if err != nil {
		return out, fmt.Errorf("db: create user: %w", mapErr(err))
	}
	return out, nil
}

// UserForLogin finds a user by e-mail across merchants; only the login flow may call it,
// because the address is all a person signing in has.
func (s *Store) UserForLogin(ctx context.Context, email string) (domain.User, error) {
	const q = `SELECT ` + userCols + ` FROM users WHERE email = $1`
	var u domain.User
	if err := s.x.QueryRowxContext(ctx, q, email).StructScan(&u); err != nil {
		return u, fmt.Errorf("db: user for login: %w", mapErr(err))
	}
	return u, nil
}

// User returns one user of the merchant.
func (s *Store) User(ctx context.Context, merchantID, userID int64) (domain.User, error) {
	const q = `SELECT ` + userCols + ` FROM users WHERE merchant_id = $1 AND id = $2`
	var u domain.User
	if err := s.x.QueryRowxContext(ctx, q, merchantID, userID).StructScan(&u); err != nil {
		return u, fmt.Errorf("db: user %d: %w", userID, mapErr(err))
	}
	return u, nil
}

// Users lists the merchant's users by e-mail.
func (s *Store) Users(ctx context.Context, merchantID int64) ([]domain.User, error) {
	const q = `SELECT ` + userCols + ` FROM users WHERE merchant_id = $1 ORDER BY email`
	var out []domain.User
	if err := sqlxSelect(ctx, s, &out, q, merchantID); err != nil {
		return nil, fmt.Errorf("db: users: %w", err)
	}
	return out, nil
}

// CountActiveAdmins counts the merchant's enabled admins.
func (s *Store) CountActiveAdmins(ctx context.Context, merchantID int64) (int, error) {
	const q = `SELECT count(*) FROM users WHERE merchant_id = $1 AND role = 'admin' AND disabled_at IS NULL`
	var n int
	err := s.x.QueryRowxContext(ctx, q, merchantID).Scan(&n)
	return n, mapErr(err)
}

// SetUserRole changes a user's role.
func (s *Store) SetUserRole(ctx context.Context, merchantID, userID int64, role domain.Role) error {
	const q = `UPDATE users SET role = $3 WHERE merchant_id = $1 AND id = $2`
	return s.execOne(ctx, q, merchantID, userID, role)
}

// SetUserDisabled disables (at now) or re-enables a user.
func (s *Store) SetUserDisabled(ctx context.Context, merchantID, userID int64, disabled bool, now time.Time) error {
	const q = `UPDATE users SET disabled_at = CASE WHEN $3 THEN $4::timestamptz ELSE NULL END,
		failed_logins = 0, locked_until = NULL WHERE merchant_id = $1 AND id = $2`
	return s.execOne(ctx, q, merchantID, userID, disabled, now)
}

// SetUserPassword replaces a user's password hash and clears any lockout.
func (s *Store) SetUserPassword(ctx context.Context, merchantID, userID int64, hash string) error {
	const q = `UPDATE users SET password_hash = $3, failed_logins = 0, locked_until = NULL
		WHERE merchant_id = $1 AND id = $2`
	return s.execOne(ctx, q, merchantID, userID, hash)
}

// SetUserLang remembers a user's language.
func (s *Store) SetUserLang(ctx context.Context, merchantID, userID int64, lang string) error {
	const q = `UPDATE users SET lang = $3 WHERE merchant_id = $1 AND id = $2`
	return s.execOne(ctx, q, merchantID, userID, lang)
}

// RecordLoginFailure counts a failed password and locks the account once the count
// reaches domain.MaxFailedLogins. It returns whether the account is now locked.
func (s *Store) RecordLoginFailure(ctx context.Context, merchantID, userID int64, now time.Time) (bool, error) {
	// A lapsed lock starts a fresh count, so one typo after a lockout does not lock again.
	const q = `UPDATE users SET
		failed_logins = CASE WHEN locked_until IS NOT NULL AND locked_until <= $5 THEN 1 ELSE failed_logins + 1 END,
		locked_until = CASE
			WHEN (CASE WHEN locked_until IS NOT NULL AND locked_until <= $5 THEN 1 ELSE failed_logins + 1 END) >= $3
				THEN $4::timestamptz
			WHEN locked_until IS NOT NULL AND locked_until <= $5 THEN NULL
			ELSE locked_until END
		WHERE merchant_id = $1 AND id = $2 RETURNING locked_until IS NOT NULL AND locked_until > $5`
	var locked bool
	err := s.x.QueryRowxContext(ctx, q, merchantID, userID, domain.MaxFailedLogins,
		now.Add(domain.LockoutDuration), now).Scan(&locked)
	return locked, mapErr(err)
}

// RecordLoginSuccess clears the failure count and stamps the login time.
func (s *Store) RecordLoginSuccess(ctx context.Context, merchantID, userID int64, now time.Time) error {
	const q = `UPDATE users SET failed_logins = 0, locked_until = NULL, last_login_at = $3
		WHERE merchant_id = $1 AND id = $2`
	return s.execOne(ctx, q, merchantID, userID, now)
}

func (s *Store) execOne(ctx context.Context, q string, args ...any) error {
	res, err := s.x.ExecContext(ctx, q, args...)
	if err != nil {
		return mapErr(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

func sqlxSelect(ctx context.Context, s *Store, dest any, q string, args ...any) error {
	return mapErr(sqlx.SelectContext(ctx, s.x, dest, q, args...))
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// WebhookTarget returns the merchant a webhook path names and its sealed secrets, in
// one query on the ingestion hot path.
func (s *Store) WebhookTarget(ctx context.Context, code string) (domain.Merchant, []string, error) {
	const q = `SELECT id, code, name, time_zone, currency, created_at, webhook_secrets FROM merchants WHERE code = $1`
	var m domain.Merchant
	var secrets pq.StringArray
	err := s.x.QueryRowxContext(ctx, q, code).Scan(&m.ID, &m.Code, &m.Name, &m.TimeZone, &m.Currency, &m.CreatedAt, &secrets)
	if err != nil {
		return m, nil, fmt.Errorf("db: webhook target %q: %w", code, mapErr(err))
	}
	return m, secrets, nil
}

// LockMerchant takes the merchant's row lock until the transaction ends, serialising
// changes that must see each other (e.g. "keep at least one admin").
func (s *Store) LockMerchant(ctx context.Context, merchantID int64) error {
	var id int64
	err := s.x.QueryRowxContext(ctx, `SELECT id FROM merchants WHERE id = $1 FOR UPDATE`, merchantID).Scan(&id)
	return mapErr(err)
}
