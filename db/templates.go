package db

import (
	"context"
	"fmt"

	"paymend/domain"
)

// MessageTemplates lists the merchant's own templates by key.
func (s *Store) MessageTemplates(ctx context.Context, merchantID int64) ([]domain.MessageTemplate, error) {
	const q = `SELECT key, channel, category, code, subject_zh, subject_en, body_zh, body_en
		FROM message_templates WHERE merchant_id = $1 ORDER BY key`
	rows, err := s.x.QueryxContext(ctx, q, merchantID)
	if err != nil {
		return nil, fmt.Errorf("db: message templates: %w", mapErr(err))
	}
	defer rows.Close()
	var out []domain.MessageTemplate
	for rows.Next() {
		var t domain.MessageTemplate
		if err := rows.Scan(&t.Key, &t.Channel, &t.Category, &t.Code, &t.Subject.ZH, &t.Subject.EN, &t.Body.ZH, &t.Body.EN); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, mapErr(rows.Err())
}

// SaveMessageTemplate stores (or replaces) one of the merchant's templates.
func (s *Store) SaveMessageTemplate(ctx context.Context, merchantID int64, t domain.MessageTemplate) error {
	const q = `INSERT INTO message_templates (merchant_id, key, channel, category, code, subject_zh, subject_en, body_zh, body_en)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (merchant_id, key) DO UPDATE SET channel = $3, category = $4, code = $5, subject_zh = $6,
			subject_en = $7, body_zh = $8, body_en = $9, updated_at = now()`
	_, err := s.x.ExecContext(ctx, q, merchantID, t.Key, string(t.Channel), string(t.Category), t.Code,
		t.Subject.ZH, t.Subject.EN, t.Body.ZH, t.Body.EN)
	if err != nil {
		return fmt.Errorf("db: save template %s: %w", t.Key, mapErr(err))
	}
	return nil
}

// DeleteMessageTemplate removes the merchant's template (the shipped one applies again).
func (s *Store) DeleteMessageTemplate(ctx context.Context, merchantID int64, key string) error {
	return s.execOne(ctx, `DELETE FROM message_templates WHERE merchant_id = $1 AND key = $2`, merchantID, key)
}

// Templates returns the templates the merchant sends with: the shipped ones, replaced
// or extended by the merchant's own.
func (s *Store) Templates(ctx context.Context, merchantID int64) ([]domain.MessageTemplate, error) {
	own, err := s.MessageTemplates(ctx, merchantID)
	if err != nil {
		return nil, err
	}
	return domain.MergeTemplates(domain.DefaultTemplates(), own), nil
}
