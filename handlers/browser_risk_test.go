package handlers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"paymend/db"
)

// TestBrowserRiskRuleBacktestEnableBlocks is the admin's journey: create a rule,
// backtest it over the last 30 days, save it, enable it — and the checkout's risk
// check blocks a payment that breaks it; the decision shows on the decisions page.
func TestBrowserRiskRuleBacktestEnableBlocks(t *testing.T) {
	e := newEnv(t)
	key := handlersNewKey(t, e, "alpha")
	// Thirty days of history: a few large payments among small ones.
	e.ingest("alpha", 40, func(i int, r *db.EventRecord) {
		r.OccurredAt = e.clock.Now().Add(-time.Duration(i) * 17 * time.Hour)
		r.Amount = 20000 + int64(i)*100
		if i%8 == 0 {
			r.Amount = 1_500_000 + int64(i)
			r.Type, r.Code, r.Message = "payment.succeeded", "", ""
		}
	})
	ctx := newBrowser(t, 1366, 1000)
	do(t, ctx,
		signIn(e, "/risk", "admin@alpha.test"),
		visible(sel("risk-order")),
		shot("risk-rules"),
		keys(sel("risk-name"), "大额拦截 Block above 10,000"),
		chromedp.SetValue(chromedp.CSS(sel("risk-kind")), "amount_over"),
		chromedp.SetValue(chromedp.CSS(sel("risk-action")), "block"),
		keys(sel("risk-amount"), "10000.00"),
		clickAndLoad(sel("risk-backtest")),
		visible(sel("risk-backtest-result")),
		shot("risk-backtest"),
	)
	// i = 0, 8, 16, 24, 32: five payments of ~15,000.00, all succeeded.
	if got := text(t, ctx, sel("bt-blocked")); got != "5" {
		t.Fatalf("backtest blocked %q", got)
	}
	if got := text(t, ctx, sel("bt-blocked-succeeded")); got != "5" {
		t.Fatalf("backtest succeeded %q", got)
	}
	if got := text(t, ctx, sel("bt-summary")); !strings.Contains(got, "将拦截 5 笔支付(其中 5 笔原本成功,金额 75,000.80 CNY)") {
		t.Fatalf("summary %q", got)
	}
	do(t, ctx,
		clickAndLoad(sel("risk-save")),
		visible(sel("risk-step-block")),
	)
	row := `[data-testid="risk-rule-row"][data-rule="大额拦截 Block above 10,000"]`
	if st := text(t, ctx, row+" "+sel("risk-rule-state")); st != "未启用" {
		t.Fatalf("saved rule state %q", st)
	}
	// Not enabled yet: the API allows the payment.
	check := map[string]any{"customer_id": "C-journey", "amount": 1_200_000, "currency": "CNY", "channel": "card", "card_bin": "622202"}
	if _, out := e.riskCheck(key, check); out["decision"] != "allow" {
		t.Fatalf("before enabling: %v", out)
	}
	do(t, ctx,
		clickAndLoad(row+" "+sel("risk-rule-toggle")),
		visible(sel("flash")),
		shot("risk-enabled"),
	)
	if st := text(t, ctx, row+" "+sel("risk-rule-state")); st != "已启用" {
		t.Fatalf("rule state after enabling %q", st)
	}
	_, out := e.riskCheck(key, check)
	reasons, _ := out["reasons"].([]any)
	if out["decision"] != "block" || len(reasons) != 1 || reasons[0].(map[string]any)["rule"] != "大额拦截 Block above 10,000" {
		t.Fatalf("after enabling: %v", out)
	}
	do(t, ctx,
		chromedp.Navigate(e.srv.URL+"/risk/decisions?decision=block"),
		visible(sel("risk-decisions")),
		shot("risk-decisions"),
	)
	if got := text(t, ctx, sel("decision-row")); !strings.Contains(got, "C-journey") || !strings.Contains(got, "12,000.00 CNY") {
		t.Fatalf("decision row %q", got)
	}
}

// TestBrowserEmergencyDeclareTickClose walks an incident in the browser: mark a
// channel down with its backup, declare, tick a step, note an action, close.
func TestBrowserEmergencyDeclareTickClose(t *testing.T) {
	e := newEnv(t)
	ctx := newBrowser(t, 1366, 1000)
	do(t, ctx,
		signIn(e, "/emergency", "operator@alpha.test"),
		visible(sel("channels")),
		chromedp.SetValue(chromedp.CSS(sel("channel-status-wechat")), "down"),
		chromedp.SetValue(chromedp.CSS(sel("channel-backup-wechat")), "alipay"),
		clickAndLoad(sel("channel-save-wechat")),
		visible(sel("declare-form")),
		keys(sel("declare-title"), "微信支付通道中断"),
		chromedp.SetValue(chromedp.CSS(sel("declare-type")), "channel_outage"),
		chromedp.SetValue(chromedp.CSS(sel("declare-severity")), "sev1"),
		click(sel("declare-channel-wechat")),
		shot("emergency-overview"),
		clickAndLoad(sel("declare-submit")),
		visible(sel("checklist")),
		clickAndLoad(`[data-testid="step"]:first-child [data-testid="step-toggle"]`),
		visible(sel("note-form")),
		keys(sel("note-text"), "已联系欧乐支付技术支持"),
		clickAndLoad(sel("note-add")),
		visible(sel("timeline")),
		shot("emergency-incident"),
		keys(sel("close-summary"), "通道 30 分钟后恢复"),
		clickAndLoad(sel("close-submit")),
		visible(sel("incident-summary")),
	)
	if st := text(t, ctx, sel("incident-status")); st != "已结束" {
		t.Fatalf("status %q", st)
	}
	if tl := text(t, ctx, sel("timeline")); !strings.Contains(tl, "完成第 1 步") || !strings.Contains(tl, "已联系欧乐支付技术支持") {
		t.Fatalf("timeline %q", tl)
	}
}
