-- Identifiers, codes and names use the "C" collation: they have no linguistic order,
-- and byte comparison keeps index upkeep cheap whatever the database locale is.

-- Transactions as derived from the platform's events, the raw events, and the timeline.

-- +goose Up
CREATE TABLE transactions (
    id               bigserial PRIMARY KEY,
    merchant_id      bigint NOT NULL REFERENCES merchants(id),
    platform_id      text COLLATE "C" NOT NULL,                  -- the platform's transaction_id
    order_id         text COLLATE "C" NOT NULL DEFAULT '',
    amount           bigint NOT NULL DEFAULT 0 CHECK (amount >= 0),
    currency         text COLLATE "C" NOT NULL DEFAULT '',
    channel          text COLLATE "C" NOT NULL DEFAULT '',
    -- pay_status is the payment's own outcome; status adds what refunds did to it.
    pay_status       text COLLATE "C" NOT NULL CHECK (pay_status IN ('pending', 'failed', 'succeeded')),
    refunded_amount  bigint NOT NULL DEFAULT 0 CHECK (refunded_amount >= 0),
    status           text COLLATE "C" GENERATED ALWAYS AS (
        CASE WHEN refunded_amount > 0 AND refunded_amount >= amount THEN 'refunded'
             WHEN refunded_amount > 0 THEN 'partially_refunded'
             ELSE pay_status END) STORED,
    code             text COLLATE "C" NOT NULL DEFAULT '',
    message          text NOT NULL DEFAULT '',
    card_bin         text COLLATE "C" NOT NULL DEFAULT '',
    card_last4       text COLLATE "C" NOT NULL DEFAULT '',
    bank             text COLLATE "C" NOT NULL DEFAULT '',
    customer_ref     text COLLATE "C" NOT NULL DEFAULT '',
    customer_name    text COLLATE "C" NOT NULL DEFAULT '',
    phone_sealed     text NOT NULL DEFAULT '',
    email_sealed     text NOT NULL DEFAULT '',
    phone_masked     text NOT NULL DEFAULT '',
    email_masked     text NOT NULL DEFAULT '',
    occurred_at      timestamptz NOT NULL,
    failed_at        timestamptz,                    -- when the failure the code describes happened
    has_payment      boolean NOT NULL DEFAULT true,  -- false while only refund events are known
    resolution_state text COLLATE "C" NOT NULL DEFAULT 'new',
    resolved_at      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (merchant_id, platform_id)
);
-- Keyset browsing: newest first within a merchant, by the common single filters.
CREATE INDEX transactions_list_idx    ON transactions (merchant_id, occurred_at DESC, id DESC);
CREATE INDEX transactions_status_idx  ON transactions (merchant_id, status, occurred_at DESC, id DESC);
CREATE INDEX transactions_code_idx    ON transactions (merchant_id, code, occurred_at DESC, id DESC);
CREATE INDEX transactions_channel_idx ON transactions (merchant_id, channel, occurred_at DESC, id DESC);
CREATE INDEX transactions_bank_idx    ON transactions (merchant_id, bank, occurred_at DESC, id DESC);
CREATE INDEX transactions_res_idx     ON transactions (merchant_id, resolution_state, occurred_at DESC, id DESC);
CREATE INDEX transactions_order_idx   ON transactions (merchant_id, order_id);
CREATE INDEX transactions_customer_idx ON transactions (merchant_id, customer_ref);
CREATE INDEX transactions_name_idx ON transactions (merchant_id, customer_name);

CREATE TABLE transaction_events (
    id             bigserial PRIMARY KEY,
    merchant_id    bigint NOT NULL REFERENCES merchants(id),
    event_id       text COLLATE "C" NOT NULL,
    type           text COLLATE "C" NOT NULL,
    platform_id    text COLLATE "C" NOT NULL,
    refund_id      text COLLATE "C" NOT NULL DEFAULT '',
    amount         bigint NOT NULL DEFAULT 0,
    payload        json NOT NULL,                   -- scrubbed of PANs, contact removed; json, not jsonb: kept verbatim and cheaper to write
    phone_sealed   text NOT NULL DEFAULT '',
    email_sealed   text NOT NULL DEFAULT '',
    source         text COLLATE "C" NOT NULL DEFAULT 'webhook' CHECK (source IN ('webhook', 'import', 'seed')),
    occurred_at    timestamptz NOT NULL,
    received_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (merchant_id, event_id)
);
CREATE INDEX transaction_events_tx_idx ON transaction_events (merchant_id, platform_id, occurred_at, id);

-- What happened to a transaction, oldest first: events, playbook steps, notices,
-- refunds, feedback. Features append; nothing edits.
CREATE TABLE timeline (
    id             bigserial PRIMARY KEY,
    merchant_id    bigint NOT NULL REFERENCES merchants(id),
    transaction_id bigint NOT NULL REFERENCES transactions(id),
    at             timestamptz NOT NULL DEFAULT now(),
    kind           text COLLATE "C" NOT NULL,
    actor          text NOT NULL DEFAULT '',
    summary        text NOT NULL,
    details        jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX timeline_tx_idx ON timeline (merchant_id, transaction_id, at, id);

-- +goose Down
DROP TABLE timeline;
DROP TABLE transaction_events;
DROP TABLE transactions;
