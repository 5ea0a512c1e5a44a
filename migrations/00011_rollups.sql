-- Rollups: per merchant, counts and amounts of payments by minute, hour and local
-- day, for every dimension the dashboard and the alert checks look at.
--
-- Long format: one row per (bucket, dim, val). dim is 'all' (val ''), 'code',
-- 'channel', 'bank', 'bin', 'band' (amount band, see rollup_band) or 'res'
-- (resolution state). A payment counts once in each dim. Category is not stored:
-- it follows from the code through the merchant's catalog at read time, so an
-- override applies to the past too.
--
-- Exactness under updates: a trigger on transactions writes every change of a
-- counted column as deltas (-1 for the old row, +1 for the new) into rollup_deltas
-- in the same transaction as the change. The rollup job (jobs/rollup.go) deletes a
-- batch of deltas and adds them to the three tables in one statement, so a delta is
-- applied exactly once whatever order writers commit in. `paymend rollup --rebuild`
-- recomputes from raw data under REPEATABLE READ, dropping the deltas its snapshot
-- already includes.

-- +goose Up
-- Amount bands in minor units (100.00 = 10000).
-- +goose StatementBegin
CREATE FUNCTION rollup_band(amount bigint) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN amount < 10000 THEN 'a' WHEN amount < 50000 THEN 'b' WHEN amount < 100000 THEN 'c'
        WHEN amount < 500000 THEN 'd' WHEN amount < 2000000 THEN 'e' ELSE 'f' END
$$;
-- +goose StatementEnd

CREATE TABLE rollup_minute (
    merchant_id   bigint NOT NULL REFERENCES merchants(id),
    bucket        timestamptz NOT NULL,        -- start of the minute
    dim           text COLLATE "C" NOT NULL,
    val           text COLLATE "C" NOT NULL,
    attempts      bigint NOT NULL DEFAULT 0,   -- payments (any status)
    succeeded     bigint NOT NULL DEFAULT 0,   -- pay_status succeeded (refunded ones included)
    failed        bigint NOT NULL DEFAULT 0,   -- pay_status failed
    pending       bigint NOT NULL DEFAULT 0,
    refunded      bigint NOT NULL DEFAULT 0,   -- with a successful refund
    amount        bigint NOT NULL DEFAULT 0,
    failed_amount bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (merchant_id, dim, bucket, val)
) WITH (fillfactor = 70);  -- room on each page for HOT updates by the applier
CREATE TABLE rollup_hourly (LIKE rollup_minute INCLUDING ALL) WITH (fillfactor = 70);
ALTER TABLE rollup_hourly ADD FOREIGN KEY (merchant_id) REFERENCES merchants(id);
-- Daily rows are local days in the merchant's time zone.
CREATE TABLE rollup_daily (
    merchant_id   bigint NOT NULL REFERENCES merchants(id),
    day           date NOT NULL,
    dim           text COLLATE "C" NOT NULL,
    val           text COLLATE "C" NOT NULL,
    attempts      bigint NOT NULL DEFAULT 0,
    succeeded     bigint NOT NULL DEFAULT 0,
    failed        bigint NOT NULL DEFAULT 0,
    pending       bigint NOT NULL DEFAULT 0,
    refunded      bigint NOT NULL DEFAULT 0,
    amount        bigint NOT NULL DEFAULT 0,
    failed_amount bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (merchant_id, dim, day, val)
) WITH (fillfactor = 70);

-- Pending changes, written by the trigger, consumed (deleted) by the rollup job. No
-- index: the job takes whatever is there by ctid, and inserts stay one heap write.
CREATE TABLE rollup_deltas (
    merchant_id      bigint NOT NULL,
    occurred_at      timestamptz NOT NULL,
    sign             smallint NOT NULL,
    pay_status       text COLLATE "C" NOT NULL,
    refunded         boolean NOT NULL,
    code             text COLLATE "C" NOT NULL,
    channel          text COLLATE "C" NOT NULL,
    bank             text COLLATE "C" NOT NULL,
    card_bin         text COLLATE "C" NOT NULL,
    amount           bigint NOT NULL,
    resolution_state text COLLATE "C" NOT NULL
) WITH (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000);

-- +goose StatementBegin
CREATE FUNCTION transactions_rollup_delta() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.has_payment THEN
        INSERT INTO rollup_deltas VALUES (OLD.merchant_id, OLD.occurred_at, -1, OLD.pay_status,
            OLD.refunded_amount > 0, OLD.code, OLD.channel, OLD.bank, OLD.card_bin, OLD.amount, OLD.resolution_state);
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.has_payment THEN
        INSERT INTO rollup_deltas VALUES (NEW.merchant_id, NEW.occurred_at, 1, NEW.pay_status,
            NEW.refunded_amount > 0, NEW.code, NEW.channel, NEW.bank, NEW.card_bin, NEW.amount, NEW.resolution_state);
    END IF;
    RETURN NULL;
END;
$$;
-- +goose StatementEnd
CREATE TRIGGER transactions_rollup_ins AFTER INSERT ON transactions
    FOR EACH ROW EXECUTE FUNCTION transactions_rollup_delta();
-- Only changes of counted columns make deltas: a repeated event costs nothing.
CREATE TRIGGER transactions_rollup_upd AFTER UPDATE ON transactions FOR EACH ROW
    WHEN (OLD.has_payment IS DISTINCT FROM NEW.has_payment OR OLD.pay_status IS DISTINCT FROM NEW.pay_status
        OR (OLD.refunded_amount > 0) IS DISTINCT FROM (NEW.refunded_amount > 0) OR OLD.code IS DISTINCT FROM NEW.code
        OR OLD.channel IS DISTINCT FROM NEW.channel OR OLD.bank IS DISTINCT FROM NEW.bank
        OR OLD.card_bin IS DISTINCT FROM NEW.card_bin OR OLD.amount IS DISTINCT FROM NEW.amount
        OR OLD.occurred_at IS DISTINCT FROM NEW.occurred_at OR OLD.resolution_state IS DISTINCT FROM NEW.resolution_state
        OR OLD.merchant_id IS DISTINCT FROM NEW.merchant_id)
    EXECUTE FUNCTION transactions_rollup_delta();
CREATE TRIGGER transactions_rollup_del AFTER DELETE ON transactions
    FOR EACH ROW EXECUTE FUNCTION transactions_rollup_delta();

-- Whatever exists already counts as pending, so the first job run builds the rollups.
INSERT INTO rollup_deltas SELECT merchant_id, occurred_at, 1, pay_status, refunded_amount > 0, code, channel,
    bank, card_bin, amount, resolution_state FROM transactions WHERE has_payment;

-- Refund outcomes per window for the refund-failure alert metric (rare rows, so a
-- small partial index).
CREATE INDEX transaction_events_refunds_idx ON transaction_events (merchant_id, occurred_at)
    INCLUDE (type) WHERE type IN ('refund.failed', 'refund.succeeded');

-- +goose Down
DROP INDEX transaction_events_refunds_idx;
DROP TRIGGER transactions_rollup_del ON transactions;
DROP TRIGGER transactions_rollup_upd ON transactions;
DROP TRIGGER transactions_rollup_ins ON transactions;
DROP FUNCTION transactions_rollup_delta();
DROP TABLE rollup_deltas;
DROP TABLE rollup_daily;
DROP TABLE rollup_hourly;
DROP TABLE rollup_minute;
DROP FUNCTION rollup_band(bigint);
