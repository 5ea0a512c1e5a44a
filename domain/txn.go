package domain

import "time"

// Transaction is a payment attempt as PayMend knows it. Contact data appears only
// masked here; the sealed forms stay in the store.
type Transaction struct {
	ID              int64      `db:"id"`
	MerchantID      int64      `db:"merchant_id"`
	PlatformID      string     `db:"platform_id"`
	OrderID         string     `db:"order_id"`
	Amount          int64      `db:"amount"`
	Currency        string     `db:"currency"`
	Channel         string     `db:"channel"`
	PayStatus       Status     `db:"pay_status"`
	Status          Status     `db:"status"`
	RefundedAmount  int64      `db:"refunded_amount"`
	Code            string     `db:"code"`
	Message         string     `db:"message"`
	CardBIN         string     `db:"card_bin"`
	CardLast4       string     `db:"card_last4"`
	Bank            string     `db:"bank"`
	CustomerRef     string     `db:"customer_ref"`
	CustomerName    string     `db:"customer_name"`
	PhoneMasked     string     `db:"phone_masked"`
	EmailMasked     string     `db:"email_masked"`
	OccurredAt      time.Time  `db:"occurred_at"`
	FailedAt        *time.Time `db:"failed_at"`
	ResolutionState string     `db:"resolution_state"`
	ResolvedAt      *time.Time `db:"resolved_at"`
	CreatedAt       time.Time  `db:"created_at"`
	UpdatedAt       time.Time  `db:"updated_at"`
}

// Money returns the transaction's amount.
func (t Transaction) Money() Money { return Money{Amount: t.Amount, Currency: t.Currency} }

// Cursor returns the keyset position of t in a newest-first list.
func (t Transaction) Cursor() Cursor { return Cursor{At: t.OccurredAt, ID: t.ID} }

// TimelineEntry is one thing that happened to a transaction.
type TimelineEntry struct {
	ID      int64     `db:"id"`
	At      time.Time `db:"at"`
	Kind    string    `db:"kind"`
	Actor   string    `db:"actor"`
	Summary string    `db:"summary"`
	Details []byte    `db:"details"`
}

// StoredEvent is a raw platform event as kept (PANs scrubbed, contact removed).
type StoredEvent struct {
	ID         int64     `db:"id"`
	EventID    string    `db:"event_id"`
	Type       string    `db:"type"`
	Source     string    `db:"source"`
	Payload    []byte    `db:"payload"`
	OccurredAt time.Time `db:"occurred_at"`
	ReceivedAt time.Time `db:"received_at"`
}
