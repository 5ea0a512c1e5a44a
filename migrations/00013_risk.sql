-- Risk control: the merchant's rules and every decision the risk check made.

-- +goose Up
CREATE TABLE risk_rules (
    id             bigserial PRIMARY KEY,
    merchant_id    bigint NOT NULL REFERENCES merchants(id),
    name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    kind           text COLLATE "C" NOT NULL CHECK (kind IN ('amount_over', 'amount_at_most', 'daily_amount',
                       'daily_count', 'velocity_customer', 'velocity_bin', 'customer_list')),
    action         text COLLATE "C" NOT NULL CHECK (action IN ('allow', 'verify', 'block')),
    amount         bigint NOT NULL DEFAULT 0 CHECK (amount >= 0),
    currency       text COLLATE "C" NOT NULL DEFAULT '',
    count          integer NOT NULL DEFAULT 0 CHECK (count >= 0),
    window_minutes integer NOT NULL DEFAULT 0 CHECK (window_minutes BETWEEN 0 AND 1440),
    channel        text COLLATE "C" NOT NULL DEFAULT '',
    customers      text[] NOT NULL DEFAULT '{}',
    enabled        boolean NOT NULL DEFAULT false,
    -- The backtest an admin saw before saving, kept for the record.
    backtest       jsonb,
    created_by     text NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    deleted_at     timestamptz
);
CREATE INDEX risk_rules_merchant_idx ON risk_rules (merchant_id, id) WHERE deleted_at IS NULL;

-- One row per POST /api/v1/risk/check. The hot path reads it back as counters:
-- the customer's allowed payments today and attempts in the last minutes, and
-- attempts per card BIN, each through its own index.
CREATE TABLE risk_decisions (
    id          bigserial PRIMARY KEY,
    merchant_id bigint NOT NULL REFERENCES merchants(id),
    customer_id text COLLATE "C" NOT NULL,
    order_id    text COLLATE "C" NOT NULL DEFAULT '',
    amount      bigint NOT NULL,
    currency    text COLLATE "C" NOT NULL,
    channel     text COLLATE "C" NOT NULL,
    card_bin    text COLLATE "C" NOT NULL DEFAULT '',
    decision    text COLLATE "C" NOT NULL CHECK (decision IN ('allow', 'verify', 'block')),
    rule_ids    bigint[] NOT NULL DEFAULT '{}',   -- the rules behind the decision
    reasons     jsonb NOT NULL DEFAULT '[]',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX risk_decisions_customer_idx ON risk_decisions (merchant_id, customer_id, created_at)
    INCLUDE (amount, currency, decision);
CREATE INDEX risk_decisions_bin_idx ON risk_decisions (merchant_id, card_bin, created_at) WHERE card_bin <> '';
CREATE INDEX risk_decisions_list_idx ON risk_decisions (merchant_id, created_at DESC, id DESC);

-- +goose Down
DROP TABLE risk_decisions;
DROP TABLE risk_rules;
