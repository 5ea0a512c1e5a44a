-- Refunds the console asks the platform for, and the merchant's refund policy.
-- One row is one platform refund: its public_id is the Idempotency-Key sent on every
-- attempt, so retries and crashes can never refund twice. A refund that the platform
-- failed is retried as a new row (a new key); one that never reached the platform is
-- retried in place (the same key).

-- +goose Up
CREATE TABLE refunds (
    id                 bigserial PRIMARY KEY,
    public_id          text COLLATE "C" NOT NULL UNIQUE,            -- rf_…, the Idempotency-Key at the platform
    merchant_id        bigint NOT NULL REFERENCES merchants(id),
    transaction_id     bigint NOT NULL REFERENCES transactions(id),
    platform_tx        text COLLATE "C" NOT NULL,                   -- the platform's transaction_id
    amount             bigint NOT NULL CHECK (amount > 0),
    currency           text COLLATE "C" NOT NULL,
    reason             text NOT NULL CHECK (length(reason) BETWEEN 1 AND 500),
    state              text COLLATE "C" NOT NULL CHECK (state IN
                         ('requested', 'awaiting_approval', 'rejected', 'submitted', 'succeeded', 'failed', 'not_submitted')),
    failure_reason     text NOT NULL DEFAULT '',
    platform_refund_id text COLLATE "C",
    -- The client's Idempotency-Key (API) or the form's one-time key (console), and a
    -- digest of what was asked, so a replay answers the same and a changed body is a 409.
    request_key        text COLLATE "C",
    request_digest     text COLLATE "C" NOT NULL DEFAULT '',
    source             text COLLATE "C" NOT NULL CHECK (source IN ('console', 'api', 'auto', 'finding')),
    requested_by       bigint REFERENCES users(id),
    requested_label    text NOT NULL DEFAULT '',                    -- who asked, for lists: e-mail, "API key …", "auto-refund"
    approved_by        bigint REFERENCES users(id),
    decided_at         timestamptz,
    decision_note      text NOT NULL DEFAULT '',
    retry_of           bigint REFERENCES refunds(id),
    finding_id         bigint,
    attempts           integer NOT NULL DEFAULT 0,
    submitted_at       timestamptz,
    finished_at        timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX refunds_request_key ON refunds (merchant_id, request_key) WHERE request_key IS NOT NULL;
CREATE UNIQUE INDEX refunds_platform_key ON refunds (merchant_id, platform_refund_id) WHERE platform_refund_id IS NOT NULL;
CREATE INDEX refunds_tx_idx ON refunds (merchant_id, transaction_id, id);
CREATE INDEX refunds_list_idx ON refunds (merchant_id, id DESC);
CREATE INDEX refunds_state_idx ON refunds (merchant_id, state, id DESC);
CREATE INDEX transaction_events_refund_idx ON transaction_events (merchant_id, refund_id) WHERE refund_id <> '';
-- A refund's final state learnt by asking the platform (its webhook lost) is kept as
-- an event too, so the payment's refunded amount folds the same way either way.
ALTER TABLE transaction_events DROP CONSTRAINT transaction_events_source_check;
ALTER TABLE transaction_events ADD CONSTRAINT transaction_events_source_check
    CHECK (source IN ('webhook', 'import', 'seed', 'query'));

CREATE TABLE refund_policy (
    merchant_id         bigint PRIMARY KEY REFERENCES merchants(id),
    -- Refunds above this amount (minor units) need an admin who did not ask; NULL: never.
    approval_above      bigint CHECK (approval_above >= 0),
    -- How long a charge may wait for its order to complete before it is a finding.
    grace_minutes       integer NOT NULL DEFAULT 30 CHECK (grace_minutes BETWEEN 1 AND 10080),
    -- Refund "charged, order not completed" findings automatically after this many
    -- minutes (NULL: never), and tell the customer.
    auto_refund_minutes integer CHECK (auto_refund_minutes BETWEEN 1 AND 10080),
    auto_refund_notify  boolean NOT NULL DEFAULT true,
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- +goose Down
ALTER TABLE transaction_events DROP CONSTRAINT transaction_events_source_check;
ALTER TABLE transaction_events ADD CONSTRAINT transaction_events_source_check
    CHECK (source IN ('webhook', 'import', 'seed'));
DROP INDEX transaction_events_refund_idx;
DROP TABLE refund_policy;
DROP TABLE refunds;
