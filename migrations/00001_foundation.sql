-- Foundation: tenants, people, sessions, audit, API keys, global rate limits.

-- +goose Up
CREATE TABLE merchants (
    id              bigserial PRIMARY KEY,
    code            text NOT NULL UNIQUE CHECK (code ~ '^[a-z0-9][a-z0-9_-]{1,31}$'),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    time_zone       text NOT NULL DEFAULT 'Asia/Shanghai',
    currency        text NOT NULL DEFAULT 'CNY' CHECK (currency ~ '^[A-Z]{3}$'),
    -- Webhook secrets sealed with PAYMEND_DATA_KEY; the first one is current, the
    -- others are still accepted while the platform rotates.
    webhook_secrets text[] NOT NULL DEFAULT '{}',
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id            bigserial PRIMARY KEY,
    merchant_id   bigint NOT NULL REFERENCES merchants(id),
    email         text NOT NULL CHECK (email = lower(email) AND length(email) BETWEEN 3 AND 254),
    name          text NOT NULL DEFAULT '',
    role          text NOT NULL CHECK (role IN ('admin', 'operator', 'viewer')),
    password_hash text NOT NULL,
    lang          text NOT NULL DEFAULT 'zh-CN' CHECK (lang IN ('zh-CN', 'en')),
    failed_logins integer NOT NULL DEFAULT 0,
    locked_until  timestamptz,
    disabled_at   timestamptz,
    last_login_at timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
-- Login is by e-mail alone, so an address names one user across all merchants.
CREATE UNIQUE INDEX users_email_key ON users (email);
CREATE INDEX users_merchant_idx ON users (merchant_id, id);

CREATE TABLE sessions (
    id           text PRIMARY KEY,               -- sha256 of the cookie token
    merchant_id  bigint NOT NULL REFERENCES merchants(id),
    user_id      bigint NOT NULL REFERENCES users(id),
    data         bytea NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL
);
CREATE INDEX sessions_user_idx ON sessions (user_id);
CREATE INDEX sessions_expires_idx ON sessions (expires_at);

CREATE TABLE audit_log (
    id          bigserial PRIMARY KEY,
    -- NULL only for events no merchant owns (a login attempt for an unknown address).
    merchant_id bigint REFERENCES merchants(id),
    user_id     bigint REFERENCES users(id),
    actor       text NOT NULL,
    action      text NOT NULL,
    target      text NOT NULL DEFAULT '',
    result      text NOT NULL CHECK (result IN ('ok', 'denied', 'failed')),
    ip          text NOT NULL DEFAULT '',
    request_id  text NOT NULL DEFAULT '',
    details     jsonb NOT NULL DEFAULT '{}',
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_merchant_idx ON audit_log (merchant_id, at DESC, id DESC);
CREATE INDEX audit_log_action_idx ON audit_log (merchant_id, action, at DESC, id DESC);

-- +goose StatementBegin
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();

CREATE TABLE api_keys (
    id           bigserial PRIMARY KEY,
    merchant_id  bigint NOT NULL REFERENCES merchants(id),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    prefix       text NOT NULL,
    hash         text NOT NULL UNIQUE,          -- sha256 hex of the whole key
    created_by   bigint REFERENCES users(id),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_keys_merchant_idx ON api_keys (merchant_id, id);

-- Fixed-window counters shared by every replica (login per IP, feedback per token…).
CREATE UNLOGGED TABLE rate_limits (
    key          text NOT NULL,
    window_start timestamptz NOT NULL,
    count        integer NOT NULL,
    PRIMARY KEY (key, window_start)
);

-- +goose Down
DROP TABLE rate_limits;
DROP TABLE api_keys;
DROP TABLE audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE sessions;
DROP TABLE users;
DROP TABLE merchants;
