package domain

import (
	"fmt"
	"strings"
	"time"
)

// Notification is one notice to a customer about a payment, and what became of it.
type Notification struct {
	ID              int64         `db:"id"`
	MerchantID      int64         `db:"merchant_id"`
	TransactionID   int64         `db:"transaction_id"`
	Channel         NotifyChannel `db:"channel"`
	TemplateKey     string        `db:"template_key"`
	Lang            string        `db:"lang"`
	RecipientMasked string        `db:"recipient_masked"`
	Subject         string        `db:"subject"`
	Body            string        `db:"body"`
	State           string        `db:"state"`
	Attempts        int           `db:"attempts"`
	LastError       string        `db:"last_error"`
	ProviderID      string        `db:"provider_id"`
	Response        string        `db:"response"`
	CreatedBy       string        `db:"created_by"`
	CreatedAt       time.Time     `db:"created_at"`
	UpdatedAt       time.Time     `db:"updated_at"`
	SentAt          *time.Time    `db:"sent_at"`
	PlatformID      string        `db:"platform_id"` // the payment's platform id, for lists
	RuleID          *int64        `db:"rule_id"`
	Fallback        StringList    `db:"fallback"` // channels to try next
}

// StringList scans a PostgreSQL text[] without the database driver in domain.
type StringList []string

// Notification states.
const (
	NoticeQueued  = "queued"
	NoticeSending = "sending"
	NoticeSent    = "sent"
	NoticeFailed  = "failed"
)

// ChannelSettings are a merchant's settings for one notification channel. Secret is
// the password (SMTP), API key (SMS) or signing secret (in-app), plaintext only in
// memory.
type ChannelSettings struct {
	Channel  NotifyChannel `json:"-"`
	Enabled  bool          `json:"-"`
	Host     string        `json:"host,omitempty"`
	Port     int           `json:"port,omitempty"`
	Security string        `json:"security,omitempty"` // none, starttls, tls
	Username string        `json:"username,omitempty"`
	From     string        `json:"from,omitempty"`
	URL      string        `json:"url,omitempty"`
	SenderID string        `json:"sender_id,omitempty"`
	Secret   string        `json:"-"`
}

// Scan reads a PostgreSQL array literal of simple words ({sms,email}).
func (l *StringList) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case nil:
		*l = nil
		return nil
	case []byte:
		s = string(v)
	case string:
		s = v
	default:
		return fmt.Errorf("StringList: cannot scan %T", src)
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "{"), "}")
	if s == "" {
		*l = StringList{}
		return nil
	}
	parts := strings.Split(s, ",")
	for i, p := range parts {
		parts[i] = strings.Trim(p, `"`)
	}
	*l = parts
	return nil
}

// CallTask is a call to a customer for the support team.
type CallTask struct {
	ID            int64      `db:"id"`
	TransactionID int64      `db:"transaction_id"`
	PlatformID    string     `db:"platform_id"`
	Script        string     `db:"script"`
	PhoneMasked   string     `db:"phone_masked"`
	Status        string     `db:"status"`
	Outcome       *string    `db:"outcome"`
	Notes         string     `db:"notes"`
	CreatedBy     string     `db:"created_by"`
	CreatedAt     time.Time  `db:"created_at"`
	DoneBy        string     `db:"done_by"`
	DoneAt        *time.Time `db:"done_at"`
}
