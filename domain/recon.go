package domain

import (
	"cmp"
	"fmt"
	"sort"
	"time"
)

// FindingKind names a reconciliation problem.
type FindingKind string

// Finding kinds.
const (
	// FindingChargedNotCompleted: money left the customer's account, the order never
	// completed (still created, or cancelled/closed) after the grace period.
	FindingChargedNotCompleted FindingKind = "charged_not_completed"
	// FindingPaidWithoutCharge: the order system says paid/completed, the platform has
	// no successful charge for it.
	FindingPaidWithoutCharge FindingKind = "paid_without_charge"
	// FindingDoubleCharge: more than one successful charge for one order.
	FindingDoubleCharge FindingKind = "double_charge"
	// FindingAmountMismatch: the charge and the order disagree on amount or currency.
	FindingAmountMismatch FindingKind = "amount_mismatch"
	// FindingStatusUnknown: the outcome is still open after the grace period and the
	// platform could not tell (or was not reachable).
	FindingStatusUnknown FindingKind = "status_unknown"
)

// FindingKinds lists every kind.
var FindingKinds = []FindingKind{FindingChargedNotCompleted, FindingDoubleCharge, FindingAmountMismatch,
	FindingPaidWithoutCharge, FindingStatusUnknown}

var findingLabels = map[FindingKind]Text{
	FindingChargedNotCompleted: {ZH: "已扣款但订单未完成", EN: "Charged, order not completed"},
	FindingPaidWithoutCharge:   {ZH: "订单已支付但无成功扣款", EN: "Order paid without a successful charge"},
	FindingDoubleCharge:        {ZH: "同一订单重复扣款", EN: "Charged twice for one order"},
	FindingAmountMismatch:      {ZH: "金额不一致", EN: "Amount mismatch"},
	FindingStatusUnknown:       {ZH: "支付状态未知", EN: "Status unknown"},
}

// Valid reports whether k is one of FindingKinds.
func (k FindingKind) Valid() bool { _, ok := findingLabels[k]; return ok }

// Label names the kind in lang.
func (k FindingKind) Label(lang string) string {
	if t, ok := findingLabels[k]; ok {
		return t.In(lang)
	}
	return string(k)
}

// Refundable reports whether the fix for this kind of finding is giving money back.
func (k FindingKind) Refundable() bool {
	return k == FindingChargedNotCompleted || k == FindingDoubleCharge
}

// Finding states.
const (
	FindingOpen      = "open"
	FindingRefunding = "refunding"
	FindingResolved  = "resolved"
	FindingIgnored   = "ignored"
)

// Order statuses as the merchant's order system reports them.
const (
	OrderCreated   = "created"
	OrderPaid      = "paid"
	OrderCompleted = "completed"
	OrderCancelled = "cancelled"
	OrderClosed    = "closed"
)

// ReconOrder is an order as the reconciliation sees it.
type ReconOrder struct {
	OrderID   string
	Status    string
	Amount    int64
	Currency  string
	UpdatedAt time.Time
}

// ReconCharge is one platform transaction for an order.
type ReconCharge struct {
	TransactionID int64
	PlatformTx    string
	PayStatus     Status
	Amount        int64
	Refunded      int64 // money already given back (succeeded refunds) or on its way (ours, held)
	Debited       int64 // what the platform said it took, when it was asked and the payment looks failed/pending; else 0
	Currency      string
	OccurredAt    time.Time
	Asked         bool // the platform was asked about this charge and could not say (or was unreachable)
}

// taken is what left the customer's account and was not given back.
func (c ReconCharge) taken() int64 {
	got := int64(0)
	switch {
	case c.PayStatus == StatusSucceeded:
		got = c.Amount
	case c.Debited > 0:
		got = c.Debited
	}
	if got -= c.Refunded; got > 0 {
		return got
	}
	return 0
}

// ReconFinding is one problem found.
type ReconFinding struct {
	Kind          FindingKind
	OrderID       string
	TransactionID int64 // 0 when the problem is the absence of a charge
	PlatformTx    string
	Amount        int64 // the money in question
	OrderAmount   int64
	Currency      string
	Detail        string
}

// Reconcile compares one order with its charges at now; charges younger than grace
// (and orders updated within grace) are left alone, since order systems and the
// platform's notices take a moment to agree.
func Reconcile(o ReconOrder, charges []ReconCharge, now time.Time, grace time.Duration) []ReconFinding {
	cs := append([]ReconCharge(nil), charges...)
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].OccurredAt.Before(cs[j].OccurredAt) })
	settled := func(t time.Time) bool { return !t.After(now.Add(-grace)) }
	var out []ReconFinding
	add := func(k FindingKind, c ReconCharge, amount int64, detail string) {
		out = append(out, ReconFinding{Kind: k, OrderID: o.OrderID, TransactionID: c.TransactionID, PlatformTx: c.PlatformTx,
			Amount: amount, OrderAmount: o.Amount, Currency: cmp.Or(c.Currency, o.Currency), Detail: detail})
	}
	var live []ReconCharge // charges that kept money
	everSucceeded := false
	for _, c := range cs {
		if c.PayStatus == StatusSucceeded || c.Debited > 0 {
			everSucceeded = true
		}
		if c.taken() > 0 {
			live = append(live, c)
		}
		if c.PayStatus != StatusSucceeded && c.Debited == 0 && c.Asked && settled(c.OccurredAt) {
			add(FindingStatusUnknown, c, c.Amount, "outcome open past the grace period; the platform could not confirm it")
		}
	}
	switch o.Status {
	case OrderCreated, OrderCancelled, OrderClosed:
		for _, c := range live {
			if settled(c.OccurredAt) && settled(o.UpdatedAt) {
				add(FindingChargedNotCompleted, c, c.taken(), fmt.Sprintf("order is %s", o.Status))
			}
		}
	case OrderPaid, OrderCompleted:
		if !everSucceeded && settled(o.UpdatedAt) {
			add(FindingPaidWithoutCharge, ReconCharge{}, o.Amount, fmt.Sprintf("order is %s", o.Status))
		}
		if len(live) == 0 {
			break
		}
		// The charge that pays the order is the first one of the right amount (else the
		// first); every other charge that kept money is a duplicate.
		keep := 0
		for i, c := range live {
			if c.Amount == o.Amount && c.Currency == o.Currency {
				keep = i
				break
			}
		}
		k := live[keep]
		if (k.Amount != o.Amount || (k.Currency != "" && o.Currency != "" && k.Currency != o.Currency)) && settled(k.OccurredAt) {
			add(FindingAmountMismatch, k, k.Amount, fmt.Sprintf("charged %s, order says %s",
				Money{Amount: k.Amount, Currency: k.Currency}, Money{Amount: o.Amount, Currency: o.Currency}))
		}
		for i, c := range live {
			if i != keep && settled(c.OccurredAt) {
				add(FindingDoubleCharge, c, c.taken(), "another charge already paid this order: "+k.PlatformTx)
			}
		}
	}
	return out
}

// OutcomeUnsureCodes are the failure codes after which money may have left the
// customer's account anyway (network errors and timeouts): reconciliation asks the
// platform about such payments.
func OutcomeUnsureCodes(c *Catalog) []string {
	var out []string
	for _, e := range c.All() {
		if e.Category == CategoryNetwork {
			out = append(out, e.Code)
		}
	}
	return out
}

// RefundNoticeKey names the message customers get when the console refunds a
// charge whose order did not complete.
const RefundNoticeKey = "refund.charged_not_completed"

// DraftRefundNotice words the notice for a refund of a charge whose order did not
// complete, on the first of the channels the customer can be reached on.
func DraftRefundNotice(m Merchant, tx Transaction, amount Money, channels []NotifyChannel, lang string) (NotifyChannel, NoticeDraft, error) {
	amt := FormatMessageAmount(amount, lang)
	order := tx.OrderID
	zhBody := fmt.Sprintf("【%s】您好,订单 %s 的付款已扣款成功,但订单未能完成。我们已为您发起退款 %s,款项将按原支付路径退回,通常 1–7 个工作日到账。给您带来不便,深表歉意。", m.Name, order, amt)
	enBody := fmt.Sprintf("[%s] Your payment for order %s was taken but the order did not complete. We have started a refund of %s to the original payment method; it usually arrives within 1–7 working days. We are sorry for the trouble.", m.Name, order, amt)
	subject := Text{ZH: "您的退款已发起", EN: "Your refund is on its way"}.In(lang)
	body := Text{ZH: zhBody, EN: enBody}.In(lang)
	for _, ch := range channels {
		to := RecipientFor(tx, ch)
		if to == "" {
			continue
		}
		d := NoticeDraft{TemplateKey: RefundNoticeKey, RecipientMasked: to, Body: body}
		if ch.HasSubject() {
			d.Subject = subject
		}
		if ch == NotifySMS {
			d.Chars, d.Segments = SMSSegments(body)
		}
		return ch, d, nil
	}
	return "", NoticeDraft{}, ErrNoContact
}
