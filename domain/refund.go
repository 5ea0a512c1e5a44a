package domain

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// RefundState is where a refund is in its life:
//
//	requested ──────────────┬─► submitted ─► succeeded
//	   │                    │        └─────► failed ──(retry: a new refund)
//	   └► awaiting_approval ┘        (platform said no, or failed it later)
//	          └► rejected
//	requested ─► not_submitted ─(retry, same key)─► requested
//
// "not_submitted" means the platform was never reached (or never answered) after
// every attempt; the retry sends the same Idempotency-Key, so if the platform did
// receive it after all, it answers with that same refund.
type RefundState string

// Refund states.
const (
	RefundRequested        RefundState = "requested"
	RefundAwaitingApproval RefundState = "awaiting_approval"
	RefundRejected         RefundState = "rejected"
	RefundSubmitted        RefundState = "submitted"
	RefundSucceeded        RefundState = "succeeded"
	RefundFailed           RefundState = "failed"
	RefundNotSubmitted     RefundState = "not_submitted"
)

// RefundStates lists every refund state.
var RefundStates = []RefundState{RefundRequested, RefundAwaitingApproval, RefundSubmitted, RefundSucceeded,
	RefundFailed, RefundNotSubmitted, RefundRejected}

var refundNext = map[RefundState][]RefundState{
	RefundRequested:        {RefundSubmitted, RefundSucceeded, RefundFailed, RefundNotSubmitted},
	RefundAwaitingApproval: {RefundRequested, RefundRejected},
	RefundSubmitted:        {RefundSucceeded, RefundFailed},
	RefundNotSubmitted:     {RefundRequested, RefundSubmitted, RefundSucceeded, RefundFailed},
}

// Valid reports whether s is one of RefundStates.
func (s RefundState) Valid() bool {
	for _, x := range RefundStates {
		if x == s {
			return true
		}
	}
	return false
}

// Final reports whether the refund will not change any more.
func (s RefundState) Final() bool {
	return s == RefundSucceeded || s == RefundFailed || s == RefundRejected
}

// Holds reports whether the refund's amount is spoken for: it may still reach or has
// reached the customer, so it counts against what is left to refund.
func (s RefundState) Holds() bool {
	return s != RefundFailed && s != RefundRejected
}

// CanMove reports whether a refund may go from s to next.
func (s RefundState) CanMove(next RefundState) bool {
	for _, x := range refundNext[s] {
		if x == next {
			return true
		}
	}
	return false
}

// MovableFrom lists the states from which a refund may move to next (for the
// conditional UPDATE that makes transitions safe under concurrency).
func MovableFrom(next RefundState) []string {
	var out []string
	for _, from := range RefundStates {
		if from.CanMove(next) {
			out = append(out, string(from))
		}
	}
	return out
}

var refundStateLabels = map[RefundState]Text{
	RefundRequested:        {ZH: "已发起", EN: "Requested"},
	RefundAwaitingApproval: {ZH: "待审批", EN: "Awaiting approval"},
	RefundRejected:         {ZH: "已驳回", EN: "Rejected"},
	RefundSubmitted:        {ZH: "已提交平台", EN: "Submitted"},
	RefundSucceeded:        {ZH: "退款成功", EN: "Succeeded"},
	RefundFailed:           {ZH: "退款失败", EN: "Failed"},
	RefundNotSubmitted:     {ZH: "未能提交", EN: "Not submitted"},
}

// Label names the state in lang.
func (s RefundState) Label(lang string) string {
	if t, ok := refundStateLabels[s]; ok {
		return t.In(lang)
	}
	return string(s)
}

// Refund is a refund the console asked for.
type Refund struct {
	ID               int64       `db:"id"`
	PublicID         string      `db:"public_id"`
	MerchantID       int64       `db:"merchant_id"`
	TransactionID    int64       `db:"transaction_id"`
	PlatformTx       string      `db:"platform_tx"`
	Amount           int64       `db:"amount"`
	Currency         string      `db:"currency"`
	Reason           string      `db:"reason"`
	State            RefundState `db:"state"`
	FailureReason    string      `db:"failure_reason"`
	PlatformRefundID *string     `db:"platform_refund_id"`
	RequestKey       *string     `db:"request_key"`
	RequestDigest    string      `db:"request_digest"`
	Source           string      `db:"source"`
	RequestedBy      *int64      `db:"requested_by"`
	RequestedLabel   string      `db:"requested_label"`
	ApprovedBy       *int64      `db:"approved_by"`
	DecidedAt        *time.Time  `db:"decided_at"`
	DecisionNote     string      `db:"decision_note"`
	RetryOf          *int64      `db:"retry_of"`
	FindingID        *int64      `db:"finding_id"`
	Attempts         int         `db:"attempts"`
	SubmittedAt      *time.Time  `db:"submitted_at"`
	FinishedAt       *time.Time  `db:"finished_at"`
	CreatedAt        time.Time   `db:"created_at"`
	UpdatedAt        time.Time   `db:"updated_at"`
}

// RefundRow is a refund with the approver's e-mail, for lists.
type RefundRow struct {
	Refund
	ApproverEmail *string `db:"approver_email"`
}

// Money is the refund's amount with its currency.
func (r Refund) Money() Money { return Money{Amount: r.Amount, Currency: r.Currency} }

// Refund sources.
const (
	RefundFromConsole = "console"
	RefundFromAPI     = "api"
	RefundFromAuto    = "auto"
	RefundFromFinding = "finding"
)

// RefundRequest is what a person or program asks for.
type RefundRequest struct {
	TransactionID string // the platform's transaction id
	Amount        int64  // minor units
	Currency      string // optional; must match the transaction's when given
	Reason        string
}

// MaxRefundReason bounds the reason's length in characters.
const MaxRefundReason = 500

// RefundProblem is why a refund cannot be made; its Key is an i18n key and Args its
// arguments, so the same check speaks both languages and the API's codes.
type RefundProblem struct {
	Code string // API error code
	Key  string // i18n key
	Args []any
}

func (p *RefundProblem) Error() string { return p.Code }

// RefundRefusal builds a RefundProblem.
func RefundRefusal(code, key string, args ...any) *RefundProblem {
	return &RefundProblem{Code: code, Key: key, Args: args}
}

// Refundable is what the console knows about a payment when deciding a refund.
type Refundable struct {
	// Captured is the money that left the customer's account: the amount of a
	// succeeded payment, or what the platform reported as debited for one the
	// console still thinks failed (a timeout that took the money); 0 when none.
	Captured int64
	Currency string
	Held     int64 // refunds that hold money: ours that are not failed/rejected, plus refunds made elsewhere
}

// Remainder is what may still be refunded.
func (r Refundable) Remainder() int64 {
	if left := r.Captured - r.Held; left > 0 {
		return left
	}
	return 0
}

// CheckRefund validates a request against the payment; nil means it may go ahead.
func CheckRefund(req RefundRequest, p Refundable) *RefundProblem {
	reason := strings.TrimSpace(req.Reason)
	switch {
	case reason == "":
		return RefundRefusal("reason_required", "refund.err.reason")
	case utf8.RuneCountInString(reason) > MaxRefundReason:
		return RefundRefusal("reason_too_long", "refund.err.reason_long", MaxRefundReason)
	case req.Amount <= 0:
		return RefundRefusal("invalid_amount", "refund.err.amount")
	case p.Captured <= 0:
		return RefundRefusal("not_captured", "refund.err.not_captured")
	case req.Currency != "" && !strings.EqualFold(req.Currency, p.Currency):
		return RefundRefusal("currency_mismatch", "refund.err.currency", p.Currency)
	case req.Amount > p.Remainder():
		return RefundRefusal("amount_exceeds_refundable", "refund.err.exceeds",
			Money{Amount: p.Remainder(), Currency: p.Currency}.String())
	}
	return nil
}

// NeedsApproval reports whether a refund of amount needs a second person under a
// policy threshold (nil: never).
func NeedsApproval(amount int64, approvalAbove *int64) bool {
	return approvalAbove != nil && amount > *approvalAbove
}

// CanApprove reports whether a user may approve or reject a refund: an admin who did
// not ask for it.
func CanApprove(u User, r Refund) bool {
	return u.Role == RoleAdmin && (r.RequestedBy == nil || *r.RequestedBy != u.ID)
}

// NewRefundID returns a fresh public refund id ("rf_" and 24 hex digits).
func NewRefundID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return "rf_" + hex.EncodeToString(b)
}

// RefundDigest names the content of a request, to tell a replay (same key, same
// content) from a reuse of the key for something else.
func RefundDigest(req RefundRequest) string {
	h := sha256.Sum256(fmt.Appendf(nil, "%s\x00%d\x00%s\x00%s", req.TransactionID, req.Amount,
		strings.ToUpper(req.Currency), strings.TrimSpace(req.Reason)))
	return hex.EncodeToString(h[:16])
}

// RefundPolicy is a merchant's refund rules.
type RefundPolicy struct {
	ApprovalAbove     *int64 `db:"approval_above"`      // minor units; nil: no approvals
	GraceMinutes      int    `db:"grace_minutes"`       // before "charged, order not completed" is a finding
	AutoRefundMinutes *int   `db:"auto_refund_minutes"` // nil: no automatic refunds
	AutoRefundNotify  bool   `db:"auto_refund_notify"`
}

// DefaultRefundPolicy applies to a merchant that saved none.
func DefaultRefundPolicy() RefundPolicy {
	return RefundPolicy{GraceMinutes: 30, AutoRefundNotify: true}
}
