-- Customer feedback (issue 9): links sent with notices (or made through the API),
-- the customer's answer per link with its history, and the operators' inbox work.
-- Tokens are stored only as sha256: a copy of the database does not open live links.

-- +goose Up
-- A link is written with every notice that carries one (10,000 in a bulk send), so it
-- carries no foreign keys and one index beyond its key and token: each check or index
-- cost about as much as the row itself (measured: queueing 1,000 e-mail notices took
-- +70 % with them, +45 % without). Integrity comes from how links are written: only
-- by INSERT … SELECT joins on the merchant's payment (and notice), and payments are
-- never deleted except by `seed --demo --refresh`, which deletes their links first.
-- Answers (feedback) are few and keep their foreign keys.
CREATE TABLE feedback_links (
    id              bigserial PRIMARY KEY,
    merchant_id     bigint NOT NULL,
    transaction_id  bigint NOT NULL,
    notification_id bigint,
    token_hash      text COLLATE "C" NOT NULL UNIQUE,          -- sha256 hex of the token
    lang            text COLLATE "C" NOT NULL DEFAULT '' CHECK (lang IN ('', 'zh-CN', 'en')), -- '' = the browser's
    channel         text COLLATE "C" NOT NULL DEFAULT '',       -- the notice's channel, 'api' or ''
    -- The payment's failure code and payment channel when the link was made: the
    -- figures group by them without touching transactions.
    code            text COLLATE "C" NOT NULL DEFAULT '',
    pay_channel     text COLLATE "C" NOT NULL DEFAULT '',
    created_by      text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    expires_at      timestamptz NOT NULL,
    revoked_at      timestamptz,
    revoked_by      text NOT NULL DEFAULT ''
);
CREATE INDEX feedback_links_created_idx ON feedback_links (merchant_id, created_at DESC, id DESC);

-- One answer per link: the latest wins here, every version is in feedback_answers.
CREATE TABLE feedback (
    id                 bigserial PRIMARY KEY,
    merchant_id        bigint NOT NULL REFERENCES merchants(id),
    link_id            bigint NOT NULL UNIQUE REFERENCES feedback_links(id),
    transaction_id     bigint NOT NULL REFERENCES transactions(id),
    solved             boolean NOT NULL,
    problem            text COLLATE "C" NOT NULL CHECK (problem IN ('balance', 'card_limit', 'verification',
                           'timeout', 'charged_no_order', 'charged_twice', 'other')),
    rating             smallint NOT NULL CHECK (rating BETWEEN 1 AND 5),
    comment            text NOT NULL DEFAULT '' CHECK (char_length(comment) <= 1000),
    contact            text COLLATE "C" NOT NULL DEFAULT '' CHECK (contact IN ('', 'sms', 'email', 'phone')),
    lang               text COLLATE "C" NOT NULL DEFAULT 'zh-CN',
    answers            integer NOT NULL DEFAULT 1,
    status             text COLLATE "C" NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'in_progress', 'closed')),
    assignee_id        bigint REFERENCES users(id),
    -- Set when an answer says money left the customer without an order ("charged
    -- but no order", "charged twice"); the answer also queues a reconciliation run
    -- for the payment's order at once (trigger "feedback"). Shown in the inbox.
    recon_requested_at timestamptz,
    first_at           timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL
);
CREATE INDEX feedback_list_idx ON feedback (merchant_id, updated_at DESC, id DESC);
CREATE INDEX feedback_status_idx ON feedback (merchant_id, status, updated_at DESC, id DESC);
CREATE INDEX feedback_tx_idx ON feedback (merchant_id, transaction_id);
CREATE INDEX feedback_recon_idx ON feedback (merchant_id, recon_requested_at) WHERE recon_requested_at IS NOT NULL;

CREATE TABLE feedback_answers (
    id          bigserial PRIMARY KEY,
    merchant_id bigint NOT NULL REFERENCES merchants(id),
    feedback_id bigint NOT NULL REFERENCES feedback(id),
    solved      boolean NOT NULL,
    problem     text COLLATE "C" NOT NULL,
    rating      smallint NOT NULL,
    comment     text NOT NULL DEFAULT '',
    contact     text COLLATE "C" NOT NULL DEFAULT '',
    at          timestamptz NOT NULL
);
CREATE INDEX feedback_answers_idx ON feedback_answers (merchant_id, feedback_id, at DESC, id DESC);

-- What operators did: internal notes, replies to the customer, status and assignment.
CREATE TABLE feedback_notes (
    id              bigserial PRIMARY KEY,
    merchant_id     bigint NOT NULL REFERENCES merchants(id),
    feedback_id     bigint NOT NULL REFERENCES feedback(id),
    kind            text COLLATE "C" NOT NULL CHECK (kind IN ('note', 'reply', 'status', 'assign')),
    body            text NOT NULL DEFAULT '',
    notification_id bigint REFERENCES notifications(id),
    author          text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX feedback_notes_idx ON feedback_notes (merchant_id, feedback_id, created_at, id);

-- +goose Down
DROP TABLE feedback_notes;
DROP TABLE feedback_answers;
DROP TABLE feedback;
DROP TABLE feedback_links;
