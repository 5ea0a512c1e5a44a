package domain

import (
	"slices"
	"time"
)

// Order is an order as the merchant's order system reports it.
type Order struct {
	OrderID   string    `db:"order_id" json:"order_id"`
	Status    string    `db:"status" json:"status"`
	Amount    int64     `db:"amount" json:"amount"`
	Currency  string    `db:"currency" json:"currency"`
	UpdatedAt time.Time `db:"updated_at" json:"updated_at"`
}

// OrderStatuses are the states an order system may report.
var OrderStatuses = []string{"created", "paid", "completed", "cancelled", "closed"}

// ValidateOrder returns why an order report is unusable, or "".
func ValidateOrder(o Order) string {
	switch {
	case o.OrderID == "" || len(o.OrderID) > 64:
		return "order_id must be 1–64 characters"
	case !slices.Contains(OrderStatuses, o.Status):
		return "status must be one of created, paid, completed, cancelled, closed"
	case o.Amount < 0 || o.Amount > 10_000_000_000_000:
		return "amount must be a non-negative integer in minor units"
	case len(o.Currency) != 3 || o.Currency[0] < 'A' || o.Currency[0] > 'Z':
		return "currency must be a 3-letter ISO code"
	case o.UpdatedAt.IsZero():
		return "updated_at is required (RFC 3339)"
	}
	return ""
}
