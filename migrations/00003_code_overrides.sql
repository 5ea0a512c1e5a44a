-- A merchant's changes to the platform's failure-code catalog (domain.CodeOverride).
-- The platform catalog itself is compiled in (domain/codes.json); this table holds
-- only what a merchant changed. Every column but the key may be NULL, and NULL means
-- "keep the platform value": a NULL title_en keeps the platform's English title, a
-- NULL actions keeps the platform's actions while an empty array clears them. An
-- override for a code the platform does not know adds it; it counts as known once
-- it sets a category.

-- +goose Up
CREATE TABLE failure_code_overrides (
    merchant_id         bigint NOT NULL REFERENCES merchants(id),
    code                text COLLATE "C" NOT NULL CHECK (code ~ '^[A-Za-z0-9_-]{1,16}$'),
    category            text COLLATE "C" CHECK (category IN ('funds', 'card', 'auth', 'network', 'risk', 'merchant', 'platform')),
    title_zh            text,
    title_en            text,
    explanation_zh      text,
    explanation_en      text,
    customer_message_zh text,
    customer_message_en text,
    actions             text[],
    retry               text COLLATE "C" CHECK (retry IN ('hard', 'soft')),
    retry_after_seconds integer CHECK (retry_after_seconds BETWEEN 0 AND 2592000),
    alt_channel         text COLLATE "C",
    updated_by          bigint REFERENCES users(id),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, code)
);

-- "Failures per code in a period" (the codes page, twice per view: this period and
-- the one before). A payment counts as a failure of its code once a failure was
-- recorded for it (failed_at set), whatever happened after; the period is by
-- occurred_at like every list. The partial covering index lets PostgreSQL answer
-- with an index-only scan of the merchant's failures in the period instead of
-- visiting every payment row (successes included) in the heap.
CREATE INDEX transactions_failures_idx ON transactions (merchant_id, occurred_at)
    INCLUDE (code, amount, customer_ref) WHERE failed_at IS NOT NULL;

-- Time to resolution per code: closed failures by when they were closed, index-only.
CREATE INDEX transactions_resolved_idx ON transactions (merchant_id, resolved_at)
    INCLUDE (code, failed_at) WHERE resolved_at IS NOT NULL AND failed_at IS NOT NULL;

-- +goose Down
DROP INDEX transactions_resolved_idx;
DROP INDEX transactions_failures_idx;
DROP TABLE failure_code_overrides;
