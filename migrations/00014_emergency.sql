-- The emergency plan: payment channels with status and backup, emergency
-- contacts, runbook checklists per incident type, incidents (and drills) with
-- their timeline and checklist progress.

-- +goose Up
CREATE TABLE pay_channels (
    merchant_id bigint NOT NULL REFERENCES merchants(id),
    channel     text COLLATE "C" NOT NULL CHECK (channel IN ('card', 'wechat', 'alipay', 'unionpay', 'bank_transfer')),
    status      text COLLATE "C" NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'degraded', 'down')),
    backup      text COLLATE "C" NOT NULL DEFAULT '' CHECK (backup IN ('', 'card', 'wechat', 'alipay', 'unionpay', 'bank_transfer')),
    note        text NOT NULL DEFAULT '',
    updated_by  text NOT NULL DEFAULT '',
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, channel),
    CHECK (backup <> channel)
);

CREATE TABLE emergency_contacts (
    id          bigserial PRIMARY KEY,
    merchant_id bigint NOT NULL REFERENCES merchants(id),
    role        text NOT NULL CHECK (length(role) BETWEEN 1 AND 100),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    phone       text NOT NULL DEFAULT '',
    email       text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX emergency_contacts_merchant_idx ON emergency_contacts (merchant_id, id);

-- One checklist per incident type; an incident copies it when declared.
CREATE TABLE runbooks (
    merchant_id   bigint NOT NULL REFERENCES merchants(id),
    incident_type text COLLATE "C" NOT NULL CHECK (incident_type IN ('channel_outage', 'failure_spike', 'platform_outage', 'fraud_attack')),
    steps         text[] NOT NULL,
    updated_by    text NOT NULL DEFAULT '',
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, incident_type)
);

CREATE TABLE incidents (
    id            bigserial PRIMARY KEY,
    merchant_id   bigint NOT NULL REFERENCES merchants(id),
    title         text NOT NULL CHECK (length(title) BETWEEN 1 AND 200),
    incident_type text COLLATE "C" NOT NULL CHECK (incident_type IN ('channel_outage', 'failure_spike', 'platform_outage', 'fraud_attack')),
    severity      text COLLATE "C" NOT NULL CHECK (severity IN ('sev1', 'sev2', 'sev3')),
    status        text COLLATE "C" NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    channels      text[] NOT NULL DEFAULT '{}',          -- affected payment channels
    alert_id      bigint,                                -- the alert it was declared from (alerts, issue 7)
    drill         boolean NOT NULL DEFAULT false,        -- a rehearsal: no customer is told anything
    declared_by   text NOT NULL,
    declared_at   timestamptz NOT NULL,
    closed_by     text NOT NULL DEFAULT '',
    closed_at     timestamptz,
    summary       text NOT NULL DEFAULT '',
    -- Drill steps, recorded as they happen (the watcher job fills them in).
    burst_code      text COLLATE "C" NOT NULL DEFAULT '',
    burst_count     integer NOT NULL DEFAULT 0,
    burst_seconds   integer NOT NULL DEFAULT 0,
    burst_state     text COLLATE "C" NOT NULL DEFAULT '' CHECK (burst_state IN ('', 'requested', 'sending', 'sent', 'failed')),
    burst_sent_at   timestamptz,
    first_failure_at timestamptz,
    alert_fired_at  timestamptz,
    alert_acked_at  timestamptz,
    alert_acked_by  text NOT NULL DEFAULT '',
    CHECK ((status = 'closed') = (closed_at IS NOT NULL))
);
CREATE INDEX incidents_merchant_idx ON incidents (merchant_id, declared_at DESC, id DESC);
CREATE INDEX incidents_open_idx ON incidents (merchant_id) WHERE status = 'open';
CREATE INDEX incidents_drill_watch_idx ON incidents (id) WHERE drill AND status = 'open';

CREATE TABLE incident_steps (
    merchant_id bigint NOT NULL REFERENCES merchants(id),
    incident_id bigint NOT NULL REFERENCES incidents(id),
    position    integer NOT NULL,
    text        text NOT NULL,
    done_at     timestamptz,
    done_by     text NOT NULL DEFAULT '',
    PRIMARY KEY (incident_id, position)
);

-- The incident's timeline: declared, notes, actions, steps ticked, channel
-- changes, customer notices, drill steps, closed. Append-only by convention.
CREATE TABLE incident_events (
    id          bigserial PRIMARY KEY,
    merchant_id bigint NOT NULL REFERENCES merchants(id),
    incident_id bigint NOT NULL REFERENCES incidents(id),
    at          timestamptz NOT NULL,
    actor       text NOT NULL DEFAULT '',
    kind        text COLLATE "C" NOT NULL,
    text        text NOT NULL,
    details     jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX incident_events_idx ON incident_events (merchant_id, incident_id, at, id);

-- +goose Down
DROP TABLE incident_events;
DROP TABLE incident_steps;
DROP TABLE incidents;
DROP TABLE runbooks;
DROP TABLE emergency_contacts;
DROP TABLE pay_channels;
