package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"paymend/db"
	"paymend/domain"
)

// riskCheck calls POST /api/v1/risk/check with key and returns the status and body.
func (e *env) riskCheck(key string, body any) (int, map[string]any) {
	e.t.Helper()
	var b []byte
	switch v := body.(type) {
	case string:
		b = []byte(v)
	default:
		b, _ = json.Marshal(v)
	}
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/risk/check", bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func (e *env) addRiskRule(code string, r domain.RiskRule) domain.RiskRule {
	e.t.Helper()
	if r.Currency == "" && r.Kind.UsesAmount() {
		r.Currency = "CNY"
	}
	r.Enabled = true
	if err := r.Validate(); err != nil {
		e.t.Fatal(err)
	}
	out, err := e.store.CreateRiskRule(context.Background(), e.m[code].ID, r, nil, e.clock.Now())
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

func errCode(m map[string]any) string {
	if e, ok := m["error"].(map[string]any); ok {
		s, _ := e["code"].(string)
		return s
	}
	return ""
}

func TestRiskCheckAPIAuthAndBadInput(t *testing.T) {
	e := newEnv(t)
	key := handlersNewKey(t, e, "alpha")
	good := map[string]any{"customer_id": "C1", "amount": 12900, "currency": "CNY", "channel": "card", "card_bin": "622202"}
	if st, out := e.riskCheck("", good); st != http.StatusUnauthorized || errCode(out) != "unauthorized" {
		t.Fatalf("no key: %d %v", st, out)
	}
	if st, out := e.riskCheck("pm_live_wrong", good); st != http.StatusUnauthorized || errCode(out) != "unauthorized" {
		t.Fatalf("wrong key: %d %v", st, out)
	}
	for _, c := range []struct {
		body any
		code string
		want int
	}{
		{"{not json", "invalid_json", 400},
		{`{"customer_id":"C1","amount":"12900","currency":"CNY","channel":"card"}`, "invalid_json", 400},
		{`{"customer_id":"C1","amount":129.5,"currency":"CNY","channel":"card"}`, "invalid_json", 400},
		{map[string]any{"amount": 100, "currency": "CNY", "channel": "card"}, "invalid_customer_id", 422},
		{map[string]any{"customer_id": "C1", "amount": -1, "currency": "CNY", "channel": "card"}, "invalid_amount", 422},
		{map[string]any{"customer_id": "C1", "amount": 100, "currency": "元", "channel": "card"}, "invalid_currency", 422},
		{map[string]any{"customer_id": "C1", "amount": 100, "currency": "CNY", "channel": "cash"}, "invalid_channel", 422},
		{map[string]any{"customer_id": "C1", "amount": 100, "currency": "CNY", "channel": "card", "card_bin": "12ab56"}, "invalid_card_bin", 422},
	} {
		if st, out := e.riskCheck(key, c.body); st != c.want || errCode(out) != c.code {
			t.Errorf("%v: %d %v, want %d %s", c.body, st, out, c.want, c.code)
		}
	}
	var n int
	_ = e.store.DB().QueryRow(`SELECT count(*) FROM risk_decisions`).Scan(&n)
	if n != 0 {
		t.Fatalf("bad requests logged %d decisions", n)
	}
	// A good request with no rules is allowed, and logged.
	st, out := e.riskCheck(key, good)
	if st != http.StatusOK || out["decision"] != "allow" || len(out["reasons"].([]any)) != 0 {
		t.Fatalf("no rules: %d %v", st, out)
	}
}

func TestRiskCheckAPIDecidesAndLogs(t *testing.T) {
	e := newEnv(t)
	key := handlersNewKey(t, e, "alpha")
	ctx := context.Background()
	alpha := e.m["alpha"].ID
	if err := e.store.SeedDemoRiskRules(ctx, alpha, "CNY", e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	vel := e.addRiskRule("alpha", domain.RiskRule{Name: "card testing", Kind: domain.RiskVelocityBIN, Action: domain.RiskBlock, Count: 3, Window: 10})
	pay := func(cust string, amount int64, bin string) (string, []any) {
		st, out := e.riskCheck(key, map[string]any{"customer_id": cust, "amount": amount, "currency": "CNY", "channel": "card", "card_bin": bin})
		if st != http.StatusOK {
			t.Fatalf("check: %d %v", st, out)
		}
		return out["decision"].(string), out["reasons"].([]any)
	}
	if d, _ := pay("C1", 12900, "411111"); d != "allow" {
		t.Fatalf("small: %s", d)
	}
	if d, r := pay("C1", 500001, "411111"); d != "verify" || r[0].(map[string]any)["rule"] != "大额二次验证 Verify above 5,000.00" {
		t.Fatalf("above 5,000: %s %v", d, r)
	}
	d, r := pay("C2", 5000001, "522222")
	if d != "block" || len(r) != 1 || !strings.Contains(r[0].(map[string]any)["description"].(string), "50,000.00 CNY") {
		t.Fatalf("above 50,000: %s %v", d, r)
	}
	// A third attempt with BIN 411111 in ten minutes is still fine; the fourth is
	// card testing.
	if d, _ := pay("C3", 100, "411111"); d != "allow" {
		t.Fatalf("third: %s", d)
	}
	d, r = pay("C4", 100, "411111")
	if d != "block" || int64(r[0].(map[string]any)["rule_id"].(float64)) != vel.ID {
		t.Fatalf("fourth: %s %v", d, r)
	}
	// Eleven minutes later the window has moved on.
	e.clock.Advance(11 * time.Minute)
	if d, _ := pay("C5", 100, "411111"); d != "allow" {
		t.Fatalf("after the window: %s", d)
	}
	// Every decision is logged; beta sees none of them.
	var n, nb int
	_ = e.store.DB().QueryRow(`SELECT count(*) FROM risk_decisions WHERE merchant_id = $1`, alpha).Scan(&n)
	_ = e.store.DB().QueryRow(`SELECT count(*) FROM risk_decisions WHERE merchant_id = $1`, e.m["beta"].ID).Scan(&nb)
	if n != 6 || nb != 0 {
		t.Fatalf("logged %d (beta %d), want 6", n, nb)
	}
	// Beta's key does not use alpha's rules.
	st, out := e.riskCheck(handlersNewKey(t, e, "beta"), map[string]any{"customer_id": "C2", "amount": 5000001, "currency": "CNY", "channel": "card"})
	if st != 200 || out["decision"] != "allow" {
		t.Fatalf("beta: %d %v", st, out)
	}
}

func TestRiskDailyLimitsCountAllowedPaymentsOnly(t *testing.T) {
	e := newEnv(t)
	key := handlersNewKey(t, e, "alpha")
	e.addRiskRule("alpha", domain.RiskRule{Name: "daily", Kind: domain.RiskDailyAmount, Action: domain.RiskBlock, Amount: 100000})
	e.addRiskRule("alpha", domain.RiskRule{Name: "count", Kind: domain.RiskDailyCount, Action: domain.RiskVerify, Count: 2})
	var got []string
	for _, a := range []int64{60000, 50000, 40000, 100} {
		_, out := e.riskCheck(key, map[string]any{"customer_id": "C9", "amount": a, "currency": "CNY", "channel": "wechat"})
		got = append(got, out["decision"].(string))
	}
	// 600 allowed; 600+500 > 1000 blocked (not counted); 600+400 = 1000 allowed
	// (second payment today); 1000+1 > 1000 blocked.
	if fmt.Sprint(got) != "[allow block allow block]" {
		t.Fatalf("daily amount: %v", got)
	}
	_, out := e.riskCheck(key, map[string]any{"customer_id": "C9", "amount": 1, "currency": "USD", "channel": "wechat"})
	if out["decision"] != "verify" {
		t.Fatalf("third allowed payment today should verify: %v", out)
	}
}

// seedRiskHistory writes n payments over the last days for alpha: amounts spread
// from small to large, some customers paying often, a few BINs.
func seedRiskHistory(t *testing.T, e *env, n int) {
	t.Helper()
	now := e.clock.Now()
	for i := 0; i < n; i++ {
		amount := int64(1000 + (i*7919)%900000)
		if i%37 == 0 {
			amount = 6_000_000 + int64(i)
		}
		typ := "payment.failed"
		if i%3 != 0 {
			typ = "payment.succeeded"
		}
		r := db.EventRecord{EventID: fmt.Sprintf("evt_h%d", i), Type: typ, Source: "webhook",
			PlatformID: fmt.Sprintf("TH%05d", i), OrderID: fmt.Sprintf("OH%05d", i), Amount: amount, Currency: "CNY",
			Channel: []string{"card", "wechat", "alipay"}[i%3], CardBIN: []string{"622202", "411111", "522222", ""}[i%4],
			CustomerRef: fmt.Sprintf("C%d", i%23), CustomerName: "王五", Payload: []byte(`{}`),
			OccurredAt: now.Add(-time.Duration(i)*17*time.Minute - time.Duration((i*i)%13)*time.Minute - time.Duration(i%7)*time.Second)}
		if typ == "payment.failed" {
			r.Code, r.Message = "101", "余额不足"
		}
		if _, err := e.store.IngestEvent(context.Background(), e.m["alpha"].ID, r); err != nil {
			t.Fatal(err)
		}
	}
	// Older than 30 days: never replayed.
	r := db.EventRecord{EventID: "evt_old", Type: "payment.succeeded", Source: "webhook", PlatformID: "TOLD", OrderID: "OOLD",
		Amount: 9_000_000, Currency: "CNY", Channel: "card", CustomerRef: "C1", Payload: []byte(`{}`), OccurredAt: now.AddDate(0, 0, -31)}
	if _, err := e.store.IngestEvent(context.Background(), e.m["alpha"].ID, r); err != nil {
		t.Fatal(err)
	}
}

// backtestFigures posts the rule form to the backtest and reads the figures.
func backtestFigures(t *testing.T, e *env, form url.Values) map[string]string {
	t.Helper()
	d := doc(t, e.post(e.login("admin@alpha.test"), "/risk/rules/backtest", form))
	out := map[string]string{}
	for _, id := range []string{"bt-payments", "bt-blocked", "bt-blocked-succeeded", "bt-blocked-amount", "bt-verified", "bt-allowed"} {
		out[id] = strings.TrimSpace(d.Find(tid(id)).Text())
	}
	out["summary"] = d.Find(tid("bt-summary")).Text()
	return out
}

func TestRiskBacktestEqualsDirectRecount(t *testing.T) {
	e := newEnv(t)
	seedRiskHistory(t, e, 2500) // 2,500 × 17 min ≈ 29.5 days
	alpha := e.m["alpha"].ID
	since := e.clock.Now().AddDate(0, 0, -30)
	q := func(sql string, args ...any) (n int, amount int64) {
		t.Helper()
		if err := e.store.DB().QueryRow(sql, append([]any{alpha, since}, args...)...).Scan(&n, &amount); err != nil {
			t.Fatal(err)
		}
		return
	}
	fmtAmount := func(a int64) string { return domain.Money{Amount: a, Currency: "CNY"}.String() }

	// Block above 50,000.00: a direct count of payments and of succeeded ones.
	all, _ := q(`SELECT count(*), 0::bigint FROM transactions WHERE merchant_id = $1 AND occurred_at >= $2 AND amount > $3`, 5000000)
	succ, amt := q(`SELECT count(*), coalesce(sum(amount), 0)::bigint FROM transactions WHERE merchant_id = $1 AND occurred_at >= $2
		AND amount > $3 AND pay_status = 'succeeded'`, 5000000)
	got := backtestFigures(t, e, url.Values{"name": {"big"}, "kind": {"amount_over"}, "action": {"block"}, "amount": {"50000.00"}})
	if all == 0 || succ == 0 || got["bt-payments"] != "2500" || got["bt-blocked"] != fmt.Sprint(all) ||
		got["bt-blocked-succeeded"] != fmt.Sprint(succ) || got["bt-blocked-amount"] != fmtAmount(amt) {
		t.Fatalf("block above 50,000: page %v, SQL %d / %d / %d", got, all, succ, amt)
	}
	// Verify above 5,000.00 on wechat only.
	ver, _ := q(`SELECT count(*), 0::bigint FROM transactions WHERE merchant_id = $1 AND occurred_at >= $2 AND amount > $3 AND channel = 'wechat'`, 500000)
	got = backtestFigures(t, e, url.Values{"name": {"v"}, "kind": {"amount_over"}, "action": {"verify"}, "amount": {"5,000"}, "channel": {"wechat"}})
	if ver == 0 || got["bt-verified"] != fmt.Sprint(ver) {
		t.Fatalf("verify above 5,000 on wechat: page %v, SQL %d", got, ver)
	}
	// More than 2 payments a day per customer (merchant's day, Asia/Shanghai):
	// blocked payments do not count, so exactly those after the 2nd of each
	// customer's day are blocked.
	day, dayAmt := q(`SELECT count(*), coalesce(sum(amount) FILTER (WHERE pay_status = 'succeeded'), 0)::bigint FROM (
		SELECT amount, pay_status, row_number() OVER (PARTITION BY customer_ref, (occurred_at AT TIME ZONE 'Asia/Shanghai')::date
			ORDER BY occurred_at, id) AS k
		FROM transactions WHERE merchant_id = $1 AND occurred_at >= $2) s WHERE k > $3`, 2)
	got = backtestFigures(t, e, url.Values{"name": {"d"}, "kind": {"daily_count"}, "action": {"block"}, "count": {"2"}})
	if day == 0 || got["bt-blocked"] != fmt.Sprint(day) || got["bt-blocked-amount"] != fmtAmount(dayAmt) {
		t.Fatalf("daily count: page %v, SQL %d / %d", got, day, dayAmt)
	}
	// More than 1 attempt per card BIN in 60 minutes (this one included): every
	// attempt counts, blocked or not.
	vel, _ := q(`SELECT count(*), 0::bigint FROM transactions a WHERE a.merchant_id = $1 AND a.occurred_at >= $2 AND a.card_bin <> ''
		AND (SELECT count(*) FROM transactions b WHERE b.merchant_id = a.merchant_id AND b.card_bin = a.card_bin
			AND b.occurred_at >= $2 AND b.occurred_at > a.occurred_at - interval '60 minutes'
			AND (b.occurred_at, b.id) <= (a.occurred_at, a.id)) > $3`, 1)
	got = backtestFigures(t, e, url.Values{"name": {"bin"}, "kind": {"velocity_bin"}, "action": {"block"}, "count": {"1"}, "window": {"60"}})
	if vel == 0 || got["bt-blocked"] != fmt.Sprint(vel) {
		t.Fatalf("BIN velocity: page %v, SQL %d", got, vel)
	}
	if !strings.Contains(got["summary"], "将拦截 "+fmt.Sprint(vel)+" 笔支付") {
		t.Fatalf("summary %q", got["summary"])
	}
}

func TestRiskRulesAdminJourneyIsAudited(t *testing.T) {
	e := newEnv(t)
	admin := e.login("admin@alpha.test")
	key := handlersNewKey(t, e, "alpha")
	form := url.Values{"name": {"over 800"}, "kind": {"amount_over"}, "action": {"block"}, "amount": {"800"}}
	// Saving without the backtest is refused.
	if resp := e.post(admin, "/risk/rules", form); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("save without backtest: %d", resp.StatusCode)
	}
	// Operators and viewers cannot change rules.
	form.Set("backtested", "1")
	if resp := e.post(e.login("operator@alpha.test"), "/risk/rules", form); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("operator save: %d", resp.StatusCode)
	}
	if resp := e.get(e.login("viewer@alpha.test"), "/risk"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer GET /risk: %d", resp.StatusCode)
	}
	if resp := e.post(admin, "/risk/rules", form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d", resp.StatusCode)
	}
	rules, _ := e.store.RiskRules(context.Background(), e.m["alpha"].ID, false)
	if len(rules) != 1 || rules[0].Enabled || rules[0].Amount != 80000 {
		t.Fatalf("saved %+v", rules)
	}
	check := map[string]any{"customer_id": "C1", "amount": 90000, "currency": "CNY", "channel": "card"}
	if _, out := e.riskCheck(key, check); out["decision"] != "allow" {
		t.Fatalf("disabled rule decided: %v", out)
	}
	if resp := e.post(admin, fmt.Sprintf("/risk/rules/%d/toggle", rules[0].ID), nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("toggle: %d", resp.StatusCode)
	}
	if _, out := e.riskCheck(key, check); out["decision"] != "block" {
		t.Fatalf("enabled rule did not block: %v", out)
	}
	// The blocked customer pays successfully later: an honest payment stopped.
	e.ingest("alpha", 1, func(i int, r *db.EventRecord) {
		r.Type, r.Code, r.Message, r.CustomerRef, r.OccurredAt = "payment.succeeded", "", "", "C1", e.clock.Now().Add(time.Hour)
	})
	d := doc(t, e.get(admin, "/risk/decisions?decision=block"))
	if d.Find(tid("decision-row")).Length() != 1 || d.Find(tid("paid-later")).Length() != 1 {
		t.Fatalf("decisions page: %d rows, %d paid later", d.Find(tid("decision-row")).Length(), d.Find(tid("paid-later")).Length())
	}
	if h := strings.TrimSpace(d.Find(tid("honest-row") + `[data-rule="over 800"] ` + tid("honest-count")).Text()); h != "1" {
		t.Fatalf("honest payments stopped: %q", h)
	}
	if resp := e.get(admin, "/risk/decisions?decision=maybe"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad filter: %d", resp.StatusCode)
	}
	if resp := e.post(admin, fmt.Sprintf("/risk/rules/%d/delete", rules[0].ID), nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("delete: %d", resp.StatusCode)
	}
	if _, out := e.riskCheck(key, check); out["decision"] != "allow" {
		t.Fatalf("deleted rule decided: %v", out)
	}
	var actions string
	_ = e.store.DB().QueryRow(`SELECT string_agg(action, ',' ORDER BY id) FROM audit_log WHERE merchant_id = $1 AND action LIKE 'risk.%'`,
		e.m["alpha"].ID).Scan(&actions)
	if actions != "risk.rule_create,risk.rule_toggle,risk.rule_delete" {
		t.Fatalf("audit: %q", actions)
	}
}
