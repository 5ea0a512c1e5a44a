-- Automatic notification rules and each merchant's sending policy.

-- +goose Up
CREATE TABLE notification_rules (
    id            bigserial PRIMARY KEY,
    merchant_id   bigint NOT NULL REFERENCES merchants(id),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    enabled       boolean NOT NULL DEFAULT true,
    code          text COLLATE "C",           -- NULL: any code
    category      text COLLATE "C",           -- NULL: any category
    channels      text[] NOT NULL,            -- tried in order when one fails or has no contact
    delay_seconds integer NOT NULL DEFAULT 0 CHECK (delay_seconds BETWEEN 0 AND 86400),
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX notification_rules_merchant_idx ON notification_rules (merchant_id, id);

CREATE TABLE notification_policy (
    merchant_id  bigint PRIMARY KEY REFERENCES merchants(id),
    -- No SMS or phone between quiet_start and quiet_end, merchant local hours.
    quiet_start  smallint NOT NULL DEFAULT 22 CHECK (quiet_start BETWEEN 0 AND 23),
    quiet_end    smallint NOT NULL DEFAULT 8 CHECK (quiet_end BETWEEN 0 AND 23),
    daily_cap    integer NOT NULL DEFAULT 3 CHECK (daily_cap BETWEEN 1 AND 50),
    -- The last transaction id the rules have looked at; -1 until the first rule exists.
    watermark    bigint NOT NULL DEFAULT -1
);

ALTER TABLE notifications ADD COLUMN rule_id bigint REFERENCES notification_rules(id);
ALTER TABLE notifications ADD COLUMN fallback text[] NOT NULL DEFAULT '{}';
ALTER TABLE notifications ADD COLUMN customer_ref text COLLATE "C" NOT NULL DEFAULT '';
CREATE INDEX notifications_customer_idx ON notifications (merchant_id, customer_ref, created_at);

-- +goose Down
DROP INDEX notifications_customer_idx;
ALTER TABLE notifications DROP COLUMN customer_ref;
ALTER TABLE notifications DROP COLUMN fallback;
ALTER TABLE notifications DROP COLUMN rule_id;
DROP TABLE notification_policy;
DROP TABLE notification_rules;
