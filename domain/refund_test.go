package domain

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func TestRefundStateMachine(t *testing.T) {
	allowed := map[[2]RefundState]bool{
		{RefundRequested, RefundSubmitted}: true, {RefundRequested, RefundSucceeded}: true,
		{RefundRequested, RefundFailed}: true, {RefundRequested, RefundNotSubmitted}: true,
		{RefundAwaitingApproval, RefundRequested}: true, {RefundAwaitingApproval, RefundRejected}: true,
		{RefundSubmitted, RefundSucceeded}: true, {RefundSubmitted, RefundFailed}: true,
		{RefundNotSubmitted, RefundRequested}: true, {RefundNotSubmitted, RefundSubmitted}: true,
		{RefundNotSubmitted, RefundSucceeded}: true, {RefundNotSubmitted, RefundFailed}: true,
	}
	for _, from := range RefundStates {
		for _, to := range RefundStates {
			if got := from.CanMove(to); got != allowed[[2]RefundState{from, to}] {
				t.Errorf("%s → %s: %v", from, to, got)
			}
		}
		if from.Final() && len(refundNext[from]) > 0 {
			t.Errorf("final state %s has ways out", from)
		}
		if from.Label("zh-CN") == string(from) || from.Label("en") == string(from) {
			t.Errorf("%s has no label", from)
		}
	}
	if got := MovableFrom(RefundSucceeded); !slices.Equal(got, []string{"requested", "submitted", "not_submitted"}) {
		t.Errorf("MovableFrom(succeeded) = %v", got)
	}
	for _, s := range []RefundState{RefundFailed, RefundRejected} {
		if s.Holds() {
			t.Errorf("%s holds money", s)
		}
	}
	for _, s := range []RefundState{RefundRequested, RefundAwaitingApproval, RefundSubmitted, RefundSucceeded, RefundNotSubmitted} {
		if !s.Holds() {
			t.Errorf("%s does not hold money", s)
		}
	}
}

func TestCheckRefund(t *testing.T) {
	paid := Refundable{Captured: 10000, Currency: "CNY", Held: 3000}
	for _, c := range []struct {
		name string
		req  RefundRequest
		p    Refundable
		want string
	}{
		{"ok partial", RefundRequest{Amount: 7000, Reason: "订单未完成"}, paid, ""},
		{"ok currency case", RefundRequest{Amount: 1, Currency: "cny", Reason: "x"}, paid, ""},
		{"over remainder", RefundRequest{Amount: 7001, Reason: "x"}, paid, "amount_exceeds_refundable"},
		{"zero", RefundRequest{Amount: 0, Reason: "x"}, paid, "invalid_amount"},
		{"negative", RefundRequest{Amount: -5, Reason: "x"}, paid, "invalid_amount"},
		{"no reason", RefundRequest{Amount: 5, Reason: "  "}, paid, "reason_required"},
		{"long reason", RefundRequest{Amount: 5, Reason: strings.Repeat("退", 501)}, paid, "reason_too_long"},
		{"failed payment", RefundRequest{Amount: 5, Reason: "x"}, Refundable{Currency: "CNY"}, "not_captured"},
		{"wrong currency", RefundRequest{Amount: 5, Currency: "USD", Reason: "x"}, paid, "currency_mismatch"},
		{"fully held", RefundRequest{Amount: 1, Reason: "x"}, Refundable{Captured: 100, Currency: "CNY", Held: 100}, "amount_exceeds_refundable"},
	} {
		got := CheckRefund(c.req, c.p)
		switch {
		case c.want == "" && got != nil:
			t.Errorf("%s: refused %s", c.name, got.Code)
		case c.want != "" && (got == nil || got.Code != c.want):
			t.Errorf("%s: got %v, want %s", c.name, got, c.want)
		}
	}
	if r := (Refundable{Captured: 100, Held: 150}).Remainder(); r != 0 {
		t.Errorf("remainder below zero: %d", r)
	}
}

func TestRefundApprovalRules(t *testing.T) {
	limit := int64(100000)
	if NeedsApproval(100000, &limit) || !NeedsApproval(100001, &limit) || NeedsApproval(1<<40, nil) {
		t.Error("NeedsApproval threshold is wrong")
	}
	asker := int64(7)
	r := Refund{RequestedBy: &asker}
	for _, c := range []struct {
		u    User
		want bool
	}{
		{User{ID: 7, Role: RoleAdmin}, false},    // not the requester
		{User{ID: 8, Role: RoleAdmin}, true},     // another admin
		{User{ID: 9, Role: RoleOperator}, false}, // not an admin
	} {
		if got := CanApprove(c.u, r); got != c.want {
			t.Errorf("CanApprove(%+v) = %v", c.u, got)
		}
	}
	if !CanApprove(User{ID: 1, Role: RoleAdmin}, Refund{}) {
		t.Error("an API refund (no requester) cannot be approved")
	}
}

func TestRefundIdentity(t *testing.T) {
	a, b := NewRefundID(), NewRefundID()
	if a == b || !strings.HasPrefix(a, "rf_") || len(a) != 27 {
		t.Errorf("ids %q %q", a, b)
	}
	base := RefundRequest{TransactionID: "T1", Amount: 100, Reason: "x"}
	same := RefundRequest{TransactionID: "T1", Amount: 100, Reason: " x "}
	other := RefundRequest{TransactionID: "T1", Amount: 101, Reason: "x"}
	if RefundDigest(base) != RefundDigest(same) || RefundDigest(base) == RefundDigest(other) {
		t.Error("digest does not tell replays from changed bodies")
	}
}

func TestReconcile(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	grace := 30 * time.Minute
	old, fresh := now.Add(-2*time.Hour), now.Add(-5*time.Minute)
	ok := func(id int64, amount int64, at time.Time) ReconCharge {
		return ReconCharge{TransactionID: id, PlatformTx: "T" + string(rune('0'+id)), PayStatus: StatusSucceeded,
			Amount: amount, Currency: "CNY", OccurredAt: at}
	}
	order := func(status string, amount int64, at time.Time) ReconOrder {
		return ReconOrder{OrderID: "O1", Status: status, Amount: amount, Currency: "CNY", UpdatedAt: at}
	}
	type want struct {
		kind   FindingKind
		tx     int64
		amount int64
	}
	for _, c := range []struct {
		name    string
		o       ReconOrder
		charges []ReconCharge
		want    []want
	}{
		{"completed and charged once: fine", order(OrderCompleted, 100, old), []ReconCharge{ok(1, 100, old)}, nil},
		{"charged, order still created", order(OrderCreated, 100, old), []ReconCharge{ok(1, 100, old)},
			[]want{{FindingChargedNotCompleted, 1, 100}}},
		{"charged, order closed", order(OrderClosed, 100, old), []ReconCharge{ok(1, 100, old)},
			[]want{{FindingChargedNotCompleted, 1, 100}}},
		{"charged within grace: wait", order(OrderCreated, 100, old), []ReconCharge{ok(1, 100, fresh)}, nil},
		{"order changed within grace: wait", order(OrderCancelled, 100, fresh), []ReconCharge{ok(1, 100, old)}, nil},
		{"charged, partly refunded already", order(OrderCancelled, 100, old),
			[]ReconCharge{{TransactionID: 1, PayStatus: StatusSucceeded, Amount: 100, Refunded: 40, Currency: "CNY", OccurredAt: old}},
			[]want{{FindingChargedNotCompleted, 1, 60}}},
		{"charged, fully refunded: fine", order(OrderCancelled, 100, old),
			[]ReconCharge{{TransactionID: 1, PayStatus: StatusSucceeded, Amount: 100, Refunded: 100, Currency: "CNY", OccurredAt: old}}, nil},
		{"timeout that took the money", order(OrderCreated, 100, old),
			[]ReconCharge{{TransactionID: 1, PayStatus: StatusFailed, Amount: 100, Debited: 100, Currency: "CNY", OccurredAt: old}},
			[]want{{FindingChargedNotCompleted, 1, 100}}},
		{"failed, nothing taken: fine", order(OrderCreated, 100, old),
			[]ReconCharge{{TransactionID: 1, PayStatus: StatusFailed, Amount: 100, Currency: "CNY", OccurredAt: old}}, nil},
		{"paid without a charge", order(OrderPaid, 100, old),
			[]ReconCharge{{TransactionID: 1, PayStatus: StatusFailed, Amount: 100, Currency: "CNY", OccurredAt: old}},
			[]want{{FindingPaidWithoutCharge, 0, 100}}},
		{"paid without any transaction", order(OrderCompleted, 100, old), nil, []want{{FindingPaidWithoutCharge, 0, 100}}},
		{"paid just now: wait", order(OrderPaid, 100, fresh), nil, nil},
		{"charged twice", order(OrderCompleted, 100, old), []ReconCharge{ok(2, 100, old.Add(time.Minute)), ok(1, 100, old)},
			[]want{{FindingDoubleCharge, 2, 100}}},
		{"charged twice, second refunded: fine", order(OrderCompleted, 100, old),
			[]ReconCharge{ok(1, 100, old), {TransactionID: 2, PayStatus: StatusSucceeded, Amount: 100, Refunded: 100, Currency: "CNY", OccurredAt: old}}, nil},
		{"amount mismatch", order(OrderCompleted, 100, old), []ReconCharge{ok(1, 120, old)},
			[]want{{FindingAmountMismatch, 1, 120}}},
		{"mismatch and a duplicate of the right amount", order(OrderPaid, 100, old), []ReconCharge{ok(1, 120, old), ok(2, 100, old.Add(time.Minute))},
			[]want{{FindingDoubleCharge, 1, 120}}},
		{"currency mismatch", order(OrderPaid, 100, old),
			[]ReconCharge{{TransactionID: 1, PayStatus: StatusSucceeded, Amount: 100, Currency: "USD", OccurredAt: old}},
			[]want{{FindingAmountMismatch, 1, 100}}},
		{"pending, platform could not say", order(OrderCreated, 100, old),
			[]ReconCharge{{TransactionID: 1, PayStatus: StatusPending, Amount: 100, Currency: "CNY", OccurredAt: old, Asked: true}},
			[]want{{FindingStatusUnknown, 1, 100}}},
		{"pending, not asked yet", order(OrderCreated, 100, old),
			[]ReconCharge{{TransactionID: 1, PayStatus: StatusPending, Amount: 100, Currency: "CNY", OccurredAt: old}}, nil},
	} {
		got := Reconcile(c.o, c.charges, now, grace)
		var g []want
		for _, f := range got {
			g = append(g, want{f.Kind, f.TransactionID, f.Amount})
			if f.OrderID != "O1" || f.Currency == "" || f.Detail == "" {
				t.Errorf("%s: incomplete finding %+v", c.name, f)
			}
		}
		if !slices.Equal(g, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, g, c.want)
		}
	}
	for _, k := range FindingKinds {
		if !k.Valid() || k.Label("zh-CN") == string(k) || k.Label("en") == string(k) {
			t.Errorf("kind %s lacks a label", k)
		}
	}
}
