// Package domain holds PayMend's pure rules: money, transactions, the failure-code
// catalog, state machines and message rendering. It performs no I/O.
package domain

import (
	"fmt"
	"slices"
	"time"
)

// Status is a transaction's payment status as the platform reports it.
type Status string

// Transaction statuses, as named in the external contract.
const (
	StatusPending           Status = "pending"
	StatusFailed            Status = "failed"
	StatusSucceeded         Status = "succeeded"
	StatusPartiallyRefunded Status = "partially_refunded"
	StatusRefunded          Status = "refunded"
)

// Statuses lists every status in display order.
var Statuses = []Status{StatusFailed, StatusPending, StatusSucceeded, StatusPartiallyRefunded, StatusRefunded}

// Valid reports whether s is a known status.
func (s Status) Valid() bool { return slices.Contains(Statuses, s) }

// Channels are the payment channels the platform knows.
var Channels = []string{"card", "wechat", "alipay", "unionpay", "bank_transfer"}

// ValidChannel reports whether c is a known channel.
func ValidChannel(c string) bool { return slices.Contains(Channels, c) }

// Money is an amount in minor units of a currency. Never a float.
type Money struct {
	Amount   int64
	Currency string
}

// minorDigits returns the number of minor-unit digits for an ISO 4217 code.
func minorDigits(currency string) int {
	switch currency {
	case "JPY", "KRW", "VND":
		return 0
	}
	return 2
}

// String formats m as "129.00 CNY".
func (m Money) String() string {
	return m.Decimal() + " " + m.Currency
}

// Decimal formats the amount with its minor digits and thousands separators: "1,234.50".
func (m Money) Decimal() string {
	a := m.Amount
	neg := a < 0
	if neg {
		a = -a
	}
	d := minorDigits(m.Currency)
	div := int64(1)
	for i := 0; i < d; i++ {
		div *= 10
	}
	whole, frac := a/div, a%div
	s := groupThousands(whole)
	if d > 0 {
		s += fmt.Sprintf(".%0*d", d, frac)
	}
	if neg {
		s = "-" + s
	}
	return s
}

func groupThousands(n int64) string {
	s := fmt.Sprintf("%d", n)
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// ParseMoney parses a decimal amount such as "129", "129.5" or "1,234.50" into minor
// units of currency. It refuses more fractional digits than the currency has.
func ParseMoney(s, currency string) (int64, error) {
	d := minorDigits(currency)
	var whole, frac int64
	fracDigits := -1
	seen := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			seen = true
			if fracDigits >= 0 {
				fracDigits++
				if fracDigits > d {
					return 0, fmt.Errorf("too many decimals")
				}
				frac = frac*10 + int64(c-'0')
			} else {
				whole = whole*10 + int64(c-'0')
				if whole > 1e15 {
					return 0, fmt.Errorf("amount too large")
				}
			}
		case c == ',' && fracDigits < 0:
		case c == '.' && fracDigits < 0 && d > 0:
			fracDigits = 0
		default:
			return 0, fmt.Errorf("not a number")
		}
	}
	if !seen {
		return 0, fmt.Errorf("not a number")
	}
	if fracDigits < 0 {
		fracDigits = 0
	}
	for ; fracDigits < d; fracDigits++ {
		frac *= 10
	}
	mul := int64(1)
	for i := 0; i < d; i++ {
		mul *= 10
	}
	return whole*mul + frac, nil
}

// Card is what PayMend keeps of a card: never more than BIN and last 4.
type Card struct {
	BIN   string `json:"bin"`
	Last4 string `json:"last4"`
	Bank  string `json:"bank"`
}

// Customer is the paying customer as the platform reports them. Phone and Email
// are plaintext only in memory; at rest they are sealed.
type Customer struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Phone string `json:"phone,omitempty"`
	Email string `json:"email,omitempty"`
}

// Clock tells the time; code that depends on "now" takes one.
type Clock interface{ Now() time.Time }

// SystemClock is the real clock.
type SystemClock struct{}

// Now returns the current UTC time.
func (SystemClock) Now() time.Time { return time.Now().UTC() }

// Plain formats the amount as a plain decimal without separators: "1234.50".
func (m Money) Plain() string {
	s := m.Decimal()
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] != ',' {
			out = append(out, s[i])
		}
	}
	return string(out)
}
