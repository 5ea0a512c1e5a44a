package handlers_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"paymend/db"
	"paymend/domain"
)

func TestPlaybookStepsAndIllegalMoves(t *testing.T) {
	e := newEnv(t)
	e.ingest("alpha", 1, func(_ int, r *db.EventRecord) { r.Code = "202" })
	ctx := context.Background()
	tx, _ := e.store.TransactionByPlatformID(ctx, e.m["alpha"].ID, "TALPHA0000")
	c := e.login("operator@alpha.test")
	path := fmt.Sprintf("/transactions/%d", tx.ID)
	d := doc(t, e.get(c, path))
	if d.Find(tid("playbook-recommended")).AttrOr("value", "") != "confirm_reason" {
		t.Fatalf("recommended = %q", d.Find(tid("playbook-recommended")).AttrOr("value", ""))
	}
	step := func(action string, extra ...string) int {
		f := url.Values{"action": {action}}
		for i := 0; i+1 < len(extra); i += 2 {
			f.Set(extra[i], extra[i+1])
		}
		resp := e.post(c, path+"/resolution", f)
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := step("mark_refunded"); s != http.StatusUnprocessableEntity {
		t.Fatalf("refund from new: %d", s)
	}
	if s := step("confirm_reason"); s != http.StatusSeeOther {
		t.Fatalf("confirm: %d", s)
	}
	if s := step("offer_remedy", "remedy", "other_channel", "note", "建议改用支付宝"); s != http.StatusSeeOther {
		t.Fatalf("remedy: %d", s)
	}
	// A stale page (it still shows "new") cannot move the case.
	if s := step("resolve", "from", "new"); s != http.StatusConflict {
		t.Fatalf("stale: %d", s)
	}
	if s := step("reopen"); s != http.StatusForbidden && s != http.StatusUnprocessableEntity {
		t.Fatalf("operator reopen: %d", s)
	}
	if s := step("resolve"); s != http.StatusSeeOther {
		t.Fatalf("resolve: %d", s)
	}
	got, _ := e.store.Transaction(ctx, e.m["alpha"].ID, tx.ID)
	if got.ResolutionState != "resolved" || got.ResolvedAt == nil {
		t.Fatalf("state %s %v", got.ResolutionState, got.ResolvedAt)
	}
	tl, _ := e.store.Timeline(ctx, e.m["alpha"].ID, tx.ID)
	var kinds []string
	for _, en := range tl {
		kinds = append(kinds, en.Kind)
		if en.Kind == "resolution.offer_remedy" && (en.Actor != "operator@alpha.test" || !strings.Contains(string(en.Details), "other_channel")) {
			t.Fatalf("remedy entry %+v", en)
		}
	}
	if strings.Join(kinds, ",") != "payment.failed,resolution.confirm_reason,resolution.offer_remedy,resolution.resolve" {
		t.Fatalf("timeline %v", kinds)
	}
	// Viewers cannot act.
	if resp := e.post(e.login("viewer@alpha.test"), path+"/resolution", url.Values{"action": {"reopen"}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer: %d", resp.StatusCode)
	}
	// An admin can reopen.
	if resp := e.post(e.login("admin@alpha.test"), path+"/resolution", url.Values{"action": {"reopen"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("admin reopen: %d", resp.StatusCode)
	}
}

func TestPlaybookConcurrentMovesOnlyOneWins(t *testing.T) {
	e := newEnv(t)
	e.ingest("alpha", 1, nil)
	ctx := context.Background()
	tx, _ := e.store.TransactionByPlatformID(ctx, e.m["alpha"].ID, "TALPHA0000")
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := e.store.MoveResolution(ctx, e.m["alpha"].ID, tx.ID, "new", "reason_confirmed",
				domain.TimelineEntry{Kind: "resolution.confirm_reason", Summary: "x"}, time.Now())
			if err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	tl, _ := e.store.Timeline(ctx, e.m["alpha"].ID, tx.ID)
	if wins != 1 || len(tl) != 2 {
		t.Fatalf("%d winners, %d timeline entries", wins, len(tl))
	}
}

func TestBulkResolveIsScopedToTheMerchant(t *testing.T) {
	e := newEnv(t)
	e.ingest("alpha", 4, nil)
	e.ingest("beta", 2, nil)
	ctx := context.Background()
	var ids []string
	for _, code := range []string{"alpha", "beta"} {
		rows, _, _ := e.store.Transactions(ctx, e.m[code].ID, db.TxFilter{})
		for _, r := range rows {
			ids = append(ids, fmt.Sprint(r.ID))
		}
	}
	c := e.login("operator@alpha.test")
	resp := e.post(c, "/transactions/bulk-resolution", url.Values{"action": {"resolve"}, "ids": ids, "back": {"/transactions"}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("bulk: %d", resp.StatusCode)
	}
	flash := doc(t, e.get(c, "/transactions?status=all")).Find(tid("flash")).Text()
	if !strings.Contains(flash, "4") || !strings.Contains(flash, "2") {
		t.Fatalf("flash %q", flash)
	}
	var alphaOpen, betaOpen int
	e.store.DB().Get(&alphaOpen, `SELECT count(*) FROM transactions WHERE merchant_id=$1 AND resolution_state <> 'resolved'`, e.m["alpha"].ID)
	e.store.DB().Get(&betaOpen, `SELECT count(*) FROM transactions WHERE merchant_id=$1 AND resolution_state <> 'resolved'`, e.m["beta"].ID)
	if alphaOpen != 0 || betaOpen != 2 {
		t.Fatalf("alpha open %d, beta open %d", alphaOpen, betaOpen)
	}
}

func TestLaterSuccessForTheSameOrderClosesTheCase(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	now := e.clock.Now()
	order := func(d map[string]any) { d["order_id"] = "O-SAME" }
	// Out of order on purpose: the success of the retry arrives before the failure.
	e.deliver("alpha", event("evt_ok", "payment.succeeded", "TRETRY", order), now).Body.Close()
	e.deliver("alpha", event("evt_f1", "payment.failed", "TFIRST", order), now).Body.Close()
	e.deliver("alpha", event("evt_f2", "payment.failed", "TOTHER", func(d map[string]any) { d["order_id"] = "O-DIFF" }), now).Body.Close()
	first, _ := e.store.TransactionByPlatformID(ctx, e.m["alpha"].ID, "TFIRST")
	other, _ := e.store.TransactionByPlatformID(ctx, e.m["alpha"].ID, "TOTHER")
	if first.ResolutionState != "retried_success" || other.ResolutionState != "new" {
		t.Fatalf("first %s, other %s", first.ResolutionState, other.ResolutionState)
	}
	// In order: failure first, then the success of another attempt closes it with a timeline note.
	e.deliver("alpha", event("evt_f3", "payment.failed", "TA1", func(d map[string]any) { d["order_id"] = "O-2" }), now).Body.Close()
	e.deliver("alpha", event("evt_ok2", "payment.succeeded", "TA2", func(d map[string]any) { d["order_id"] = "O-2" }), now).Body.Close()
	a1, _ := e.store.TransactionByPlatformID(ctx, e.m["alpha"].ID, "TA1")
	tl, _ := e.store.Timeline(ctx, e.m["alpha"].ID, a1.ID)
	if a1.ResolutionState != "retried_success" || tl[len(tl)-1].Kind != "resolution.auto_retried" {
		t.Fatalf("TA1 %s, timeline %v", a1.ResolutionState, tl)
	}
	// The same transaction failing with a timeout and then succeeding closes too.
	e.deliver("alpha", event("evt_t1", "payment.failed", "TTIMEOUT", func(d map[string]any) { d["code"] = "202" }), now).Body.Close()
	e.deliver("alpha", event("evt_t2", "payment.succeeded", "TTIMEOUT", nil), now).Body.Close()
	tt, _ := e.store.TransactionByPlatformID(ctx, e.m["alpha"].ID, "TTIMEOUT")
	if tt.ResolutionState != "retried_success" || tt.Status != domain.StatusSucceeded {
		t.Fatalf("timeout then success: %s %s", tt.ResolutionState, tt.Status)
	}
}

func TestTimeToResolutionShownPerCode(t *testing.T) {
	e := newEnv(t)
	e.ingest("alpha", 1, func(_ int, r *db.EventRecord) {
		r.Code, r.OccurredAt = "202", e.clock.Now().Add(-90*time.Minute)
	})
	ctx := context.Background()
	tx, _ := e.store.TransactionByPlatformID(ctx, e.m["alpha"].ID, "TALPHA0000")
	if err := e.store.MoveResolution(ctx, e.m["alpha"].ID, tx.ID, "new", "resolved",
		domain.TimelineEntry{Kind: "resolution.resolve", Summary: "x"}, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	d := doc(t, e.get(e.login("viewer@alpha.test"), "/codes/202?period=24h"))
	if got := strings.TrimSpace(d.Find(tid("code-kpi-ttr") + " .kpi-value").Text()); got != "1.5 小时 / 1.5 小时" {
		t.Fatalf("time to resolution %q", got)
	}
}
