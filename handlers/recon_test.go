package handlers_test

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"paymend/db"
	"paymend/domain"
	"paymend/platform/sandbox"
)

// reportOrders sends order states through the API.
func (e *env) reportOrders(key string, orders ...map[string]any) {
	e.t.Helper()
	status, out := e.apiJSON(key, http.MethodPost, "/api/v1/orders", "", map[string]any{"orders": orders})
	if status != http.StatusAccepted {
		e.t.Fatalf("orders: %d %v", status, out)
	}
}

func order(id, status string, amount int64, at time.Time) map[string]any {
	return map[string]any{"order_id": id, "status": status, "amount": amount, "currency": "CNY", "updated_at": at.Format(time.RFC3339)}
}

// reconcile starts a run from the console (signed in afresh: tests move the clock
// past the session's idle timeout) and waits for it to finish.
func (e *env) reconcile() db.ReconRun {
	e.t.Helper()
	c := e.login("operator@alpha.test")
	before, _ := e.store.LastReconRuns(context.Background(), e.m["alpha"].ID, 1)
	if resp := e.post(c, "/reconciliation/run", nil); resp.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("run: %d", resp.StatusCode)
	}
	var run db.ReconRun
	defer func() {
		if e.t.Failed() {
			var jobs []string
			_ = e.store.DB().Select(&jobs, `SELECT kind || ' ' || state || ' ' || coalesce(errors::text, '') FROM river_job WHERE kind = 'reconcile'`)
			runs, _ := e.store.LastReconRuns(context.Background(), e.m["alpha"].ID, 3)
			e.t.Logf("jobs %v runs %+v", jobs, runs)
		}
	}()
	e.eventually(10*time.Second, func() bool {
		runs, _ := e.store.LastReconRuns(context.Background(), e.m["alpha"].ID, 1)
		if len(runs) == 0 || runs[0].FinishedAt == nil || (len(before) > 0 && runs[0].ID == before[0].ID) {
			return false
		}
		run = runs[0]
		return true
	}, "reconciliation run finishes (before %v)", before)
	if run.Error != "" {
		e.t.Fatalf("run error: %s", run.Error)
	}
	return run
}

func (e *env) findings() map[string]db.Finding {
	e.t.Helper()
	rows, _, err := e.store.Findings(context.Background(), e.m["alpha"].ID, db.FindingFilter{State: "", Limit: 200})
	if err != nil {
		e.t.Fatal(err)
	}
	all, _, _ := e.store.Findings(context.Background(), e.m["alpha"].ID, db.FindingFilter{State: "resolved", Limit: 200})
	ig, _, _ := e.store.Findings(context.Background(), e.m["alpha"].ID, db.FindingFilter{State: "ignored", Limit: 200})
	out := map[string]db.Finding{}
	for _, f := range append(append(rows, all...), ig...) {
		out[f.Kind+"/"+f.OrderID] = f
	}
	return out
}

func TestReconciliationFindsEveryKindAndSettlesThem(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	mid := e.m["alpha"].ID
	key := handlersNewKey(t, e, "alpha")
	now := time.Now().UTC()
	pay := func(order string, amount int64, outcome sandbox.Outcome) domain.Transaction {
		want := domain.StatusSucceeded
		if outcome == sandbox.OutcomeFailed {
			want = domain.StatusFailed
		}
		return e.pay(sandbox.PaymentRequest{MerchantCode: "alpha", OrderID: order, Amount: amount, Outcome: outcome}, want)
	}
	charged := pay("O-CREATED", 12900, sandbox.OutcomeSucceeded)
	pay("O-PAID-NOCHARGE", 5000, sandbox.OutcomeFailed)
	pay("O-DOUBLE", 8000, sandbox.OutcomeSucceeded)
	second := pay("O-DOUBLE", 8000, sandbox.OutcomeSucceeded)
	pay("O-MISMATCH", 12000, sandbox.OutcomeSucceeded)
	pay("O-FINE", 3000, sandbox.OutcomeSucceeded)
	// A timeout the bank charged anyway: the console heard "failed 202" only.
	debited := int64(6600)
	if _, _, err := e.platform.ImportTransaction(sandbox.ImportRequest{TransactionID: "TTIMEOUT1", MerchantCode: "alpha",
		OrderID: "O-TIMEOUT", Amount: 6600, Debited: &debited, Status: domain.StatusFailed}); err != nil {
		t.Fatal(err)
	}
	ev := fmt.Sprintf(`{"id":"evt_to1","type":"payment.failed","created":%d,"data":{"transaction_id":"TTIMEOUT1","order_id":"O-TIMEOUT","amount":6600,"currency":"CNY","channel":"card","code":"202","message":"交易超时","customer":{"id":"C9","phone":"+8613800000009"},"occurred_at":%q}}`,
		now.Unix(), now.Format(time.RFC3339))
	if resp := e.deliver("alpha", []byte(ev), now); resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook %d", resp.StatusCode)
	}
	// A payment stuck in pending while the platform is down.
	pend := fmt.Sprintf(`{"id":"evt_p1","type":"payment.pending","created":%d,"data":{"transaction_id":"TPEND1","order_id":"O-PENDING","amount":4000,"currency":"CNY","channel":"card","occurred_at":%q}}`,
		now.Unix(), now.Format(time.RFC3339))
	if resp := e.deliver("alpha", []byte(pend), now); resp.StatusCode != http.StatusOK {
		t.Fatalf("webhook %d", resp.StatusCode)
	}
	e.reportOrders(key,
		order("O-CREATED", "created", 12900, now), order("O-PAID-NOCHARGE", "paid", 5000, now),
		order("O-DOUBLE", "completed", 8000, now), order("O-MISMATCH", "completed", 10000, now),
		order("O-FINE", "completed", 3000, now), order("O-TIMEOUT", "closed", 6600, now),
		order("O-PENDING", "created", 4000, now))

	op := e.login("operator@alpha.test")
	// Within the grace period nothing is a problem yet.
	if run := e.reconcile(); run.Opened != 0 || run.Orders != 7 {
		t.Fatalf("first run %+v", run)
	}
	e.clock.Advance(2 * time.Hour)
	_ = e.platform.SetFault(sandbox.FaultError) // the platform cannot confirm the pending one…
	run := e.reconcile()
	_ = e.platform.SetFault(sandbox.FaultOK)
	fs := e.findings()
	if fs["status_unknown/O-PENDING"].ID == 0 {
		t.Errorf("no status_unknown finding: %v", findingKeys(fs))
	}
	e.clock.Advance(15 * time.Minute)
	run = e.reconcile() // …and now it answers about the timed-out one
	op = e.login("operator@alpha.test")
	fs = e.findings()
	for _, k := range []string{"charged_not_completed/O-CREATED", "paid_without_charge/O-PAID-NOCHARGE", "double_charge/O-DOUBLE",
		"amount_mismatch/O-MISMATCH", "charged_not_completed/O-TIMEOUT"} {
		if fs[k].State != "open" {
			t.Errorf("finding %s is %q (have %v, run %+v)", k, fs[k].State, findingKeys(fs), run)
		}
	}
	// What the platform has now answered is no longer unknown.
	for _, k := range []string{"status_unknown/O-TIMEOUT", "status_unknown/O-PENDING"} {
		if fs[k].Resolution != "cleared" {
			t.Errorf("%s: %q, want cleared", k, fs[k].Resolution)
		}
	}
	if f := fs["double_charge/O-DOUBLE"]; f.PlatformTx != second.PlatformID {
		t.Errorf("double charge names %s, want the later charge %s", f.PlatformTx, second.PlatformID)
	}
	if f := fs["charged_not_completed/O-TIMEOUT"]; f.Amount != 6600 {
		t.Errorf("timeout finding amount %d", f.Amount)
	}
	page := doc(t, e.get(op, "/reconciliation"))
	if n := page.Find(tid("finding-row")).Length(); n != 5 {
		t.Errorf("worklist shows %d rows", n)
	}
	if got := page.Find(tid("recon-count-charged_not_completed") + " .kpi-value").Text(); got != "2" {
		t.Errorf("count shown %q", got)
	}

	// Refund the charged one with one click: it goes through the refund path.
	f := fs["charged_not_completed/O-CREATED"]
	e.post(op, fmt.Sprintf("/reconciliation/%d/refund", f.ID), nil).Body.Close()
	e.post(op, fmt.Sprintf("/reconciliation/%d/refund", f.ID), nil).Body.Close() // double click
	rs := e.refundsOf("alpha", charged.ID)
	if len(rs) != 1 || rs[0].Amount != 12900 || rs[0].FindingID == nil {
		t.Fatalf("refunds %+v", rs)
	}
	e.waitRefund("alpha", rs[0].ID, domain.RefundSucceeded)
	if got, _ := e.store.Finding(ctx, mid, f.ID); got.State != "resolved" || got.Resolution != "refunded" {
		t.Errorf("finding after refund: %s %s", got.State, got.Resolution)
	}
	// The timed-out charge can be refunded although the console thought it failed.
	ft := fs["charged_not_completed/O-TIMEOUT"]
	e.post(op, fmt.Sprintf("/reconciliation/%d/refund", ft.ID), nil).Body.Close()
	tt, _ := e.store.TransactionByPlatformID(ctx, mid, "TTIMEOUT1")
	if rs := e.refundsOf("alpha", tt.ID); len(rs) != 1 {
		t.Fatalf("timeout refunds %+v", rs)
	} else {
		e.waitRefund("alpha", rs[0].ID, domain.RefundSucceeded)
	}
	// Ignoring needs a reason; marking fulfilled does not.
	fm := fs["amount_mismatch/O-MISMATCH"]
	e.post(op, fmt.Sprintf("/reconciliation/%d/settle", fm.ID), url.Values{"resolution": {"ignored"}}).Body.Close()
	if got, _ := e.store.Finding(ctx, mid, fm.ID); got.State != "open" {
		t.Fatal("ignored without a reason")
	}
	e.post(op, "/reconciliation/bulk", url.Values{"action": {"ignored"}, "note": {"运费差额,已与客户确认"},
		"ids": {fmt.Sprint(fm.ID)}}).Body.Close()
	e.post(op, fmt.Sprintf("/reconciliation/%d/settle", fs["paid_without_charge/O-PAID-NOCHARGE"].ID),
		url.Values{"resolution": {"fulfilled"}}).Body.Close()
	// Bulk refund of the duplicate.
	e.post(op, "/reconciliation/bulk", url.Values{"action": {"refund"}, "ids": {fmt.Sprint(fs["double_charge/O-DOUBLE"].ID)}}).Body.Close()
	rs = e.refundsOf("alpha", second.ID)
	if len(rs) != 1 {
		t.Fatalf("duplicate refunds %+v", rs)
	}
	e.waitRefund("alpha", rs[0].ID, domain.RefundSucceeded)
	// Nothing is left to do, and the next run does not bring settled ones back.
	e.clock.Advance(time.Minute)
	e.reconcile()
	open, _, _ := e.store.Findings(ctx, mid, db.FindingFilter{Limit: 100})
	if len(open) != 0 {
		var ks []string
		for _, f := range open {
			ks = append(ks, f.Kind+"/"+f.OrderID+"/"+f.State)
		}
		t.Errorf("still open: %v", ks)
	}
	var audits int
	_ = e.store.DB().Get(&audits, `SELECT count(*) FROM audit_log WHERE merchant_id = $1 AND action IN ('recon.ignored', 'recon.fulfilled', 'recon.run')`, mid)
	if audits != 2+4 { // one ignored, one fulfilled, four runs
		t.Errorf("%d reconciliation audit entries", audits)
	}
}

func findingKeys(m map[string]db.Finding) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestAutomaticRefundPolicyRefundsOnceAndTellsTheCustomer(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	mid := e.m["alpha"].ID
	key := handlersNewKey(t, e, "alpha")
	auto := 10
	if err := e.store.SaveRefundPolicy(ctx, mid, domain.RefundPolicy{GraceMinutes: 5, AutoRefundMinutes: &auto, AutoRefundNotify: true}); err != nil {
		t.Fatal(err)
	}
	e.customerSide("alpha")
	tx := e.pay(sandbox.PaymentRequest{MerchantCode: "alpha", OrderID: "O-AUTO", Amount: 9900,
		Customer: &domain.Customer{ID: "C1", Name: "王五", Phone: "+8613912345678"}}, domain.StatusSucceeded)
	e.reportOrders(key, order("O-AUTO", "cancelled", 9900, time.Now().UTC()))
	e.clock.Advance(10 * time.Minute)
	e.reconcile() // found; not yet old enough to refund by itself
	if rs := e.refundsOf("alpha", tx.ID); len(rs) != 0 {
		t.Fatalf("refunded before the policy's delay: %+v", rs)
	}
	e.clock.Advance(11 * time.Minute)
	e.reconcile()
	e.reconcile() // a second run must not refund again
	rs := e.refundsOf("alpha", tx.ID)
	if len(rs) != 1 || rs[0].Source != domain.RefundFromAuto {
		t.Fatalf("auto refunds %+v", rs)
	}
	e.waitRefund("alpha", rs[0].ID, domain.RefundSucceeded)
	var body string
	e.eventually(10*time.Second, func() bool {
		return e.store.DB().Get(&body, `SELECT body FROM notifications WHERE merchant_id = $1 AND template_key = $2 AND state = 'sent'`,
			mid, domain.RefundNoticeKey) == nil
	}, "the customer's refund notice is sent")
	if !strings.Contains(body, "O-AUTO") || !strings.Contains(body, "退款") || !strings.Contains(body, "99.00") {
		t.Errorf("notice %q", body)
	}
}

func TestOrdersCSVUploadIsAllOrNothing(t *testing.T) {
	e := newEnv(t)
	op := e.login("operator@alpha.test")
	upload := func(csv string) *http.Response {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		fw, _ := mw.CreateFormFile("file", "orders.csv")
		fw.Write([]byte(csv))
		mw.Close()
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/reconciliation/orders", &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		resp, err := op.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	bad := "order_id,status,amount,currency,updated_at\nO1,paid,129.00,CNY,2026-11-25T10:00:00+08:00\nO2,shipped,100,CNY,2026-11-25T10:00:00Z\n"
	upload(bad).Body.Close()
	page := doc(t, e.get(op, "/reconciliation"))
	if msg := page.Find(".flash-error").Text(); !strings.Contains(msg, "第 3 行") || !strings.Contains(msg, "整个文件未导入") {
		t.Errorf("message %q", msg)
	}
	if _, err := e.store.Order(context.Background(), e.m["alpha"].ID, "O1"); err == nil {
		t.Fatal("a bad file stored its good rows")
	}
	good := "\ufefforder_id,status,amount,currency,updated_at\nO1,paid,129.00,CNY,2026-11-25T10:00:00+08:00\nO2,created,100,CNY,2026-11-25T10:00:00Z\n"
	upload(good).Body.Close()
	o, err := e.store.Order(context.Background(), e.m["alpha"].ID, "O1")
	if err != nil || o.Amount != 12900 || o.Status != "paid" {
		t.Fatalf("O1 %+v %v", o, err)
	}
	if resp := upload(good); resp.StatusCode != http.StatusSeeOther {
		t.Errorf("re-upload %d", resp.StatusCode)
	}
	// Viewers may look but not upload or act.
	v := e.login("viewer@alpha.test")
	if resp := e.post(v, "/reconciliation/run", nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("viewer run: %d", resp.StatusCode)
	}
}
