-- Orders as the merchant's order system reports them, for reconciliation.

-- +goose Up
CREATE TABLE orders (
    merchant_id bigint NOT NULL REFERENCES merchants(id),
    order_id    text COLLATE "C" NOT NULL,
    status      text COLLATE "C" NOT NULL CHECK (status IN ('created', 'paid', 'completed', 'cancelled', 'closed')),
    amount      bigint NOT NULL CHECK (amount >= 0),
    currency    text NOT NULL,
    updated_at  timestamptz NOT NULL,   -- as the order system says
    received_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (merchant_id, order_id)
);
CREATE INDEX orders_status_idx ON orders (merchant_id, status, updated_at);

-- +goose Down
DROP TABLE orders;
