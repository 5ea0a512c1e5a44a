-- Customer notifications: per-merchant channel settings, and every notice with its fate.

-- +goose Up
CREATE TABLE notification_channels (
    merchant_id   bigint NOT NULL REFERENCES merchants(id),
    channel       text COLLATE "C" NOT NULL CHECK (channel IN ('sms', 'email', 'inapp')),
    enabled       boolean NOT NULL DEFAULT true,
    -- Non-secret settings (host, port, URL, sender, from address…).
    config        jsonb NOT NULL DEFAULT '{}',
    -- The password / API key / signing secret, sealed with PAYMEND_DATA_KEY.
    secret_sealed text NOT NULL DEFAULT '',
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, channel)
);

CREATE TABLE notifications (
    id               bigserial PRIMARY KEY,
    merchant_id      bigint NOT NULL REFERENCES merchants(id),
    transaction_id   bigint NOT NULL REFERENCES transactions(id),
    channel          text COLLATE "C" NOT NULL CHECK (channel IN ('sms', 'email', 'inapp', 'phone')),
    template_key     text COLLATE "C" NOT NULL,
    lang             text NOT NULL,
    recipient_masked text NOT NULL DEFAULT '',
    subject          text NOT NULL DEFAULT '',
    body             text NOT NULL,
    state            text COLLATE "C" NOT NULL DEFAULT 'queued'
                     CHECK (state IN ('queued', 'sending', 'sent', 'failed', 'cancelled')),
    attempts         integer NOT NULL DEFAULT 0,
    last_error       text NOT NULL DEFAULT '',
    provider_id      text NOT NULL DEFAULT '',
    response         text NOT NULL DEFAULT '',
    created_by       text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    sent_at          timestamptz,
    -- Never the same template twice for one payment on one channel.
    UNIQUE (merchant_id, transaction_id, channel, template_key)
);
CREATE INDEX notifications_list_idx ON notifications (merchant_id, created_at DESC, id DESC);
CREATE INDEX notifications_state_idx ON notifications (merchant_id, state, created_at DESC, id DESC);

-- +goose Down
DROP TABLE notifications;
DROP TABLE notification_channels;
