package db

import (
	"context"
	"fmt"
	"time"

	"paymend/domain"
)

const apiKeyCols = `id, merchant_id, name, prefix, created_by, created_at, last_used_at, revoked_at`

// CreateAPIKey stores a key by its hash.
func (s *Store) CreateAPIKey(ctx context.Context, merchantID int64, name, prefix, hash string, createdBy *int64) (domain.APIKey, error) {
	const q = `INSERT INTO api_keys (merchant_id, name, prefix, hash, created_by)
		VALUES ($1, $2, $3, $4, $5) RETURNING ` + apiKeyCols
	var k domain.APIKey
	if err := s.x.QueryRowxContext(ctx, q, merchantID, name, prefix, hash, createdBy).StructScan(&k); err != nil {
		return k, fmt.Errorf("db: create api key: %w", mapErr(err))
	}
	return k, nil
}

// APIKeys lists the merchant's keys, newest first.
func (s *Store) APIKeys(ctx context.Context, merchantID int64) ([]domain.APIKey, error) {
	const q = `SELECT ` + apiKeyCols + ` FROM api_keys WHERE merchant_id = $1 ORDER BY id DESC`
	var out []domain.APIKey
	if err := sqlxSelect(ctx, s, &out, q, merchantID); err != nil {
		return nil, fmt.Errorf("db: api keys: %w", err)
	}
	return out, nil
}

// RevokeAPIKey revokes a live key.
func (s *Store) RevokeAPIKey(ctx context.Context, merchantID, id int64, now time.Time) error {
	const q = `UPDATE api_keys SET revoked_at = $3 WHERE merchant_id = $1 AND id = $2 AND revoked_at IS NULL`
	return s.execOne(ctx, q, merchantID, id, now)
}

// APIKeyByHash finds a live key by the hash of the presented secret. The key is the
// only thing an API call carries before its merchant is known.
func (s *Store) APIKeyByHash(ctx context.Context, hash string, now time.Time) (domain.APIKey, error) {
	// One round trip on every API call: read the key and, at most once a minute,
	// stamp its last use (the stamp shows in Settings; a minute is precise enough).
	const q = `WITH k AS (SELECT ` + apiKeyCols + ` FROM api_keys WHERE hash = $1 AND revoked_at IS NULL),
		touch AS (UPDATE api_keys a SET last_used_at = $2 FROM k WHERE a.id = k.id
			AND (a.last_used_at IS NULL OR a.last_used_at < $2::timestamptz - interval '1 minute'))
		SELECT ` + apiKeyCols + ` FROM k`
	var k domain.APIKey
	if err := s.queryRowHot(ctx, q, hash, now).StructScan(&k); err != nil {
		return k, fmt.Errorf("db: api key: %w", mapErr(err))
	}
	return k, nil
}
