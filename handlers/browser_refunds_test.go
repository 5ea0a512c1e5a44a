package handlers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"paymend/domain"
	"paymend/platform/sandbox"
)

// TestBrowserRefundAChargedOrderFromReconciliation is the operator's journey: the
// reconciliation worklist shows a payment that was charged although its order never
// completed; one click refunds it; the payment's timeline shows the refund succeed.
func TestBrowserRefundAChargedOrderFromReconciliation(t *testing.T) {
	e := newEnv(t)
	key := handlersNewKey(t, e, "alpha")
	tx := e.pay(sandbox.PaymentRequest{MerchantCode: "alpha", OrderID: "O-JOURNEY", Amount: 25800}, domain.StatusSucceeded)
	e.reportOrders(key, order("O-JOURNEY", "closed", 25800, time.Now().UTC()))
	e.clock.Advance(time.Hour)
	e.reconcile()

	ctx := newBrowser(t, 1280, 900)
	do(t, ctx,
		signIn(e, "/reconciliation", "operator@alpha.test"),
		visible(sel("recon-table")),
		shot("recon-worklist"),
	)
	row := `[data-testid="finding-row"][data-order="O-JOURNEY"]`
	if got := text(t, ctx, row); !strings.Contains(got, "已扣款但订单未完成") || !strings.Contains(got, "258.00") {
		t.Fatalf("finding row %q", got)
	}
	do(t, ctx, clickAndLoad(row+" "+sel("finding-refund-btn")), visible(".flash-ok"), shot("recon-refund-requested"))
	if got := text(t, ctx, ".flash-ok"); !strings.Contains(got, "258.00") {
		t.Fatalf("flash %q", got)
	}
	do(t, ctx, clickAndLoad(row+" a"), visible(sel("refund-card")))
	// The refund goes out from a job; reload until the platform has confirmed it.
	deadline := time.Now().Add(15 * time.Second)
	for {
		st, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(sel("refund-row")), "data-state"))
		if err == nil && st.Value == "succeeded" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("refund state %q", st.Value)
		}
		do(t, ctx, chromedp.Reload(), visible(sel("refund-card")))
	}
	// The page reads the payment before its refunds: load it once more so both come
	// from after the refund's commit.
	do(t, ctx, chromedp.Reload(), visible(`[data-testid="timeline-entry"][data-kind="refund.succeeded"]`), shot("refund-succeeded-timeline"))
	if got := text(t, ctx, sel("refund-remainder")); !strings.Contains(got, "0.00") {
		t.Errorf("remainder %q", got)
	}
	if got := text(t, ctx, sel("tx-status")); got != "已退款" {
		t.Errorf("payment status %q", got)
	}
	_ = tx
}
