-- Merchants' own notification templates: they replace a shipped template with the
-- same key, or add one for a code or category.

-- +goose Up
CREATE TABLE message_templates (
    merchant_id bigint NOT NULL REFERENCES merchants(id),
    key         text COLLATE "C" NOT NULL,
    channel     text COLLATE "C" NOT NULL,
    category    text COLLATE "C" NOT NULL DEFAULT '',
    code        text COLLATE "C" NOT NULL DEFAULT '',
    subject_zh  text NOT NULL DEFAULT '',
    subject_en  text NOT NULL DEFAULT '',
    body_zh     text NOT NULL,
    body_en     text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, key)
);

-- +goose Down
DROP TABLE message_templates;
