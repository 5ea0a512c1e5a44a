-- Reconciliation of the merchant's orders against the platform's transactions.
-- A finding names one problem with one order (and the transaction it is about); the
-- job re-finds open problems every run and closes the ones that went away.

-- +goose Up
CREATE TABLE recon_findings (
    id              bigserial PRIMARY KEY,
    merchant_id     bigint NOT NULL REFERENCES merchants(id),
    kind            text COLLATE "C" NOT NULL CHECK (kind IN
                      ('charged_not_completed', 'paid_without_charge', 'double_charge', 'amount_mismatch', 'status_unknown')),
    order_id        text COLLATE "C" NOT NULL,
    transaction_id  bigint REFERENCES transactions(id),
    platform_tx     text COLLATE "C" NOT NULL DEFAULT '',
    amount          bigint NOT NULL DEFAULT 0,            -- the money in question (minor units)
    order_amount    bigint,
    currency        text COLLATE "C" NOT NULL DEFAULT '',
    detail          text NOT NULL DEFAULT '',
    state           text COLLATE "C" NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'refunding', 'resolved', 'ignored')),
    resolution      text COLLATE "C" NOT NULL DEFAULT '' CHECK (resolution IN
                      ('', 'refunded', 'fulfilled', 'ignored', 'cleared')),
    note            text NOT NULL DEFAULT '',
    refund_id       bigint REFERENCES refunds(id),
    resolved_by     bigint REFERENCES users(id),
    resolved_at     timestamptz,
    first_seen_at   timestamptz NOT NULL,
    last_seen_at    timestamptz NOT NULL,
    UNIQUE (merchant_id, kind, order_id, platform_tx)
);
CREATE INDEX recon_findings_list_idx ON recon_findings (merchant_id, state, id DESC);
ALTER TABLE refunds ADD CONSTRAINT refunds_finding_fk FOREIGN KEY (finding_id) REFERENCES recon_findings(id);

-- What the platform's API said when reconciliation asked about a payment whose
-- outcome the console could not trust (pending, or failed on a timeout): the
-- platform's debited amount is the truth about whether money left the account.
CREATE TABLE recon_checks (
    merchant_id     bigint NOT NULL REFERENCES merchants(id),
    transaction_id  bigint NOT NULL REFERENCES transactions(id),
    checked_at      timestamptz NOT NULL,
    checks          integer NOT NULL DEFAULT 1,
    answered        boolean NOT NULL,                   -- false: the platform did not answer
    platform_status text COLLATE "C" NOT NULL DEFAULT '',
    debited         bigint NOT NULL DEFAULT 0,
    error           text NOT NULL DEFAULT '',
    PRIMARY KEY (merchant_id, transaction_id)
);

-- When reconciliation last ran per merchant, and what it saw.
CREATE TABLE recon_runs (
    id           bigserial PRIMARY KEY,
    merchant_id  bigint NOT NULL REFERENCES merchants(id),
    trigger      text COLLATE "C" NOT NULL CHECK (trigger IN ('schedule', 'manual', 'feedback')),
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    orders       integer NOT NULL DEFAULT 0,
    queried      integer NOT NULL DEFAULT 0,
    opened       integer NOT NULL DEFAULT 0,
    closed       integer NOT NULL DEFAULT 0,
    error        text NOT NULL DEFAULT ''
);
CREATE INDEX recon_runs_idx ON recon_runs (merchant_id, id DESC);

-- +goose Down
ALTER TABLE refunds DROP CONSTRAINT refunds_finding_fk;
DROP TABLE recon_runs;
DROP TABLE recon_checks;
DROP TABLE recon_findings;
