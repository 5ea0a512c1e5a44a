-- Phone: a call to the customer is a task in the support team's worklist.

-- +goose Up
CREATE TABLE call_tasks (
    id             bigserial PRIMARY KEY,
    merchant_id    bigint NOT NULL REFERENCES merchants(id),
    transaction_id bigint NOT NULL REFERENCES transactions(id),
    script         text NOT NULL,
    phone_masked   text NOT NULL,
    status         text COLLATE "C" NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'done')),
    outcome        text COLLATE "C" CHECK (outcome IN ('reached', 'no_answer', 'wrong_number', 'callback')),
    notes          text NOT NULL DEFAULT '',
    created_by     text NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    done_by        text NOT NULL DEFAULT '',
    done_at        timestamptz
);
CREATE INDEX call_tasks_list_idx ON call_tasks (merchant_id, status, created_at DESC, id DESC);
-- One open call per payment.
CREATE UNIQUE INDEX call_tasks_open_idx ON call_tasks (merchant_id, transaction_id) WHERE status = 'open';

-- +goose Down
DROP TABLE call_tasks;
