-- Alert rules (thresholds), alerts and each alert's timeline.
--
-- An alert is one crossing of one rule: opened when the rule's metric goes over its
-- threshold with enough volume, updated while it lasts, resolved once the metric has
-- stayed under for the rule's cool-down. At most one alert per rule is open (firing
-- or acknowledged) — the partial unique index makes a second evaluator's insert fail
-- instead of opening a duplicate. Alerts without a rule (drills, manual incidents)
-- have rule_id NULL.

-- +goose Up
CREATE TABLE alert_rules (
    id                     bigserial PRIMARY KEY,
    merchant_id            bigint NOT NULL REFERENCES merchants(id),
    name                   text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    enabled                boolean NOT NULL DEFAULT true,
    metric                 text COLLATE "C" NOT NULL CHECK (metric IN ('failure_rate', 'failure_count', 'code_count',
                               'code_share', 'refund_failures', 'notification_failures', 'baseline_rate')),
    scope                  text COLLATE "C" NOT NULL DEFAULT 'all' CHECK (scope IN ('all', 'channel', 'code', 'bank')),
    scope_value            text COLLATE "C" NOT NULL DEFAULT '',
    window_minutes         integer NOT NULL CHECK (window_minutes BETWEEN 1 AND 1440),
    -- Rates and shares as fractions (0.15 = 15 %), counts as numbers, baseline as a
    -- multiple of the usual rate.
    threshold              double precision NOT NULL CHECK (threshold >= 0),
    min_volume             integer NOT NULL DEFAULT 0 CHECK (min_volume >= 0),
    severity               text COLLATE "C" NOT NULL DEFAULT 'warning' CHECK (severity IN ('info', 'warning', 'critical')),
    emails                 text[] NOT NULL DEFAULT '{}',
    webhook_url            text NOT NULL DEFAULT '',
    cooldown_minutes       integer NOT NULL DEFAULT 10 CHECK (cooldown_minutes BETWEEN 0 AND 1440),
    escalate_after_minutes integer NOT NULL DEFAULT 30 CHECK (escalate_after_minutes BETWEEN 0 AND 1440),
    escalate_emails        text[] NOT NULL DEFAULT '{}',
    is_default             boolean NOT NULL DEFAULT false,
    last_evaluated_at      timestamptz,
    last_value             double precision,
    last_volume            bigint,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX alert_rules_merchant_idx ON alert_rules (merchant_id, id);

CREATE TABLE alerts (
    id              bigserial PRIMARY KEY,
    merchant_id     bigint NOT NULL REFERENCES merchants(id),
    rule_id         bigint REFERENCES alert_rules(id) ON DELETE SET NULL,
    status          text COLLATE "C" NOT NULL CHECK (status IN ('firing', 'acknowledged', 'resolved')),
    severity        text COLLATE "C" NOT NULL DEFAULT 'warning',   -- info, warning, critical
    opened_at       timestamptz NOT NULL,
    acknowledged_at timestamptz,
    acknowledged_by bigint REFERENCES users(id),
    resolved_at     timestamptz,
    resolved_by     bigint REFERENCES users(id),                 -- NULL: resolved by the evaluator
    summary         text NOT NULL DEFAULT '',
    -- The rule as it was when the alert opened (rules may change or go).
    rule_name       text NOT NULL DEFAULT '',
    metric          text COLLATE "C" NOT NULL DEFAULT '',
    scope           text COLLATE "C" NOT NULL DEFAULT 'all',
    scope_value     text COLLATE "C" NOT NULL DEFAULT '',
    window_minutes  integer NOT NULL DEFAULT 0,
    threshold       double precision NOT NULL DEFAULT 0,
    -- The measurement: latest, worst, and the volume and baseline behind the latest.
    value           double precision NOT NULL DEFAULT 0,
    peak_value      double precision NOT NULL DEFAULT 0,
    volume          bigint NOT NULL DEFAULT 0,
    baseline        double precision,
    last_breach_at  timestamptz NOT NULL,
    escalated_at    timestamptz,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX alerts_one_open_per_rule ON alerts (rule_id) WHERE status IN ('firing', 'acknowledged');
CREATE INDEX alerts_status_idx ON alerts (merchant_id, status, opened_at DESC, id DESC);
CREATE INDEX alerts_list_idx ON alerts (merchant_id, opened_at DESC, id DESC);

-- What happened to an alert, oldest first: opened, value (each evaluation while
-- open), escalated, acknowledged, note, resolved, notified / notify_failed.
CREATE TABLE alert_events (
    id          bigserial PRIMARY KEY,
    merchant_id bigint NOT NULL REFERENCES merchants(id),
    alert_id    bigint NOT NULL REFERENCES alerts(id) ON DELETE CASCADE,
    at          timestamptz NOT NULL,
    kind        text COLLATE "C" NOT NULL,
    value       double precision,
    volume      bigint,
    user_id     bigint REFERENCES users(id),
    note        text NOT NULL DEFAULT '',
    details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX alert_events_alert_idx ON alert_events (merchant_id, alert_id, at, id);

-- Sensible defaults for every merchant, existing and new (CONTRACT: failure rate
-- > 15 % over 10 min with at least 50 attempts), plus a baseline check.
-- +goose StatementBegin
CREATE FUNCTION alert_rules_defaults(mid bigint) RETURNS void LANGUAGE sql AS $$
    INSERT INTO alert_rules (merchant_id, name, metric, scope, window_minutes, threshold, min_volume, severity,
        cooldown_minutes, escalate_after_minutes, is_default)
    VALUES (mid, '支付失败率过高', 'failure_rate', 'all', 10, 0.15, 50, 'critical', 10, 30, true),
           (mid, '失败率远高于往周同一时段', 'baseline_rate', 'all', 60, 3, 100, 'warning', 30, 0, true);
$$;
CREATE FUNCTION merchants_alert_defaults() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM alert_rules_defaults(NEW.id);
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER merchants_alert_defaults AFTER INSERT ON merchants
    FOR EACH ROW EXECUTE FUNCTION merchants_alert_defaults();
SELECT alert_rules_defaults(id) FROM merchants;

-- +goose Down
DROP TRIGGER merchants_alert_defaults ON merchants;
DROP FUNCTION merchants_alert_defaults();
DROP FUNCTION alert_rules_defaults(bigint);
DROP TABLE alert_events;
DROP TABLE alerts;
DROP TABLE alert_rules;
