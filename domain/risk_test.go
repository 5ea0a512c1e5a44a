package domain

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func rule(id int64, kind RiskKind, action RiskAction, mut ...func(*RiskRule)) RiskRule {
	r := RiskRule{ID: id, Name: string(action) + "-" + string(kind), Kind: kind, Action: action, Enabled: true, Currency: "CNY"}
	for _, m := range mut {
		m(&r)
	}
	return r
}

func amount(a int64) func(*RiskRule)   { return func(r *RiskRule) { r.Amount = a } }
func count(n int) func(*RiskRule)      { return func(r *RiskRule) { r.Count = n } }
func window(m int) func(*RiskRule)     { return func(r *RiskRule) { r.Window = m } }
func channel(c string) func(*RiskRule) { return func(r *RiskRule) { r.Channel = c } }
func disabled(r *RiskRule)             { r.Enabled = false }

// The demo merchant's rules: verify above 5,000.00 CNY, block above 50,000.00 CNY.
var demoRules = []RiskRule{
	rule(1, RiskAmountOver, RiskVerify, amount(500000)),
	rule(2, RiskAmountOver, RiskBlock, amount(5000000)),
}

func TestEvaluateRiskOrderAndLimits(t *testing.T) {
	pay := func(a int64) RiskCheck {
		return RiskCheck{CustomerID: "C1", Amount: a, Currency: "CNY", Channel: "card", CardBIN: "622202"}
	}
	vip := rule(3, RiskCustomerList, RiskAllow, func(r *RiskRule) { r.Customers = []string{"C1"} })
	none := RiskCounters{}
	for _, c := range []struct {
		name  string
		rules []RiskRule
		check RiskCheck
		k     RiskCounters
		want  RiskAction
		ids   []int64
	}{
		{"no rules allow", nil, pay(100), none, RiskAllow, []int64{}},
		{"demo: small payment allowed", demoRules, pay(499999), none, RiskAllow, []int64{}},
		{"demo: exactly 5,000.00 is not above", demoRules, pay(500000), none, RiskAllow, []int64{}},
		{"demo: above 5,000.00 verifies", demoRules, pay(500001), none, RiskVerify, []int64{1}},
		{"demo: exactly 50,000.00 verifies", demoRules, pay(5000000), none, RiskVerify, []int64{1}},
		{"demo: above 50,000.00 blocks although verify matched", demoRules, pay(5000001), none, RiskBlock, []int64{2}},
		{"allow beats block", append(demoRules[1:2:2], vip), pay(6000000), none, RiskAllow, []int64{3}},
		{"allow does not cancel verify (verify runs first)", append(demoRules[:2:2], vip), pay(6000000), none, RiskVerify, []int64{1, 3}},
		{"disabled rule ignored", []RiskRule{rule(9, RiskAmountOver, RiskBlock, amount(1), disabled)}, pay(100), none, RiskAllow, []int64{}},
		{"other currency not limited by CNY amounts", demoRules, RiskCheck{CustomerID: "C1", Amount: 9000000, Currency: "USD", Channel: "card"}, none, RiskAllow, []int64{}},
		{"channel-specific limit applies on its channel", []RiskRule{rule(4, RiskAmountOver, RiskBlock, amount(100000), channel("card"))}, pay(100001), none, RiskBlock, []int64{4}},
		{"channel-specific limit ignores other channels", []RiskRule{rule(4, RiskAmountOver, RiskBlock, amount(100000), channel("wechat"))}, pay(100001), none, RiskAllow, []int64{}},
		{"small payments allowed past a velocity block", []RiskRule{rule(5, RiskAmountAtMost, RiskAllow, amount(1000)), rule(6, RiskVelocityCustomer, RiskBlock, count(3), window(10))}, pay(1000), RiskCounters{Customer: map[int]int{10: 5}}, RiskAllow, []int64{5}},
		{"daily amount: total with this one above the limit", []RiskRule{rule(7, RiskDailyAmount, RiskBlock, amount(100000))}, pay(40001), RiskCounters{DayAmount: 60000}, RiskBlock, []int64{7}},
		{"daily amount: total equal to the limit passes", []RiskRule{rule(7, RiskDailyAmount, RiskBlock, amount(100000))}, pay(40000), RiskCounters{DayAmount: 60000}, RiskAllow, []int64{}},
		{"daily count: the (N+1)th payment trips", []RiskRule{rule(8, RiskDailyCount, RiskVerify, count(3))}, pay(1), RiskCounters{DayCount: 3}, RiskVerify, []int64{8}},
		{"daily count: the Nth passes", []RiskRule{rule(8, RiskDailyCount, RiskVerify, count(3))}, pay(1), RiskCounters{DayCount: 2}, RiskAllow, []int64{}},
		{"customer velocity over N in M minutes", []RiskRule{rule(10, RiskVelocityCustomer, RiskBlock, count(5), window(10))}, pay(1), RiskCounters{Customer: map[int]int{10: 5}}, RiskBlock, []int64{10}},
		{"customer velocity at N passes", []RiskRule{rule(10, RiskVelocityCustomer, RiskBlock, count(5), window(10))}, pay(1), RiskCounters{Customer: map[int]int{10: 4}}, RiskAllow, []int64{}},
		{"BIN velocity", []RiskRule{rule(11, RiskVelocityBIN, RiskBlock, count(20), window(1))}, pay(1), RiskCounters{BIN: map[int]int{1: 20}}, RiskBlock, []int64{11}},
		{"BIN velocity needs a BIN", []RiskRule{rule(11, RiskVelocityBIN, RiskBlock, count(0), window(1))}, RiskCheck{CustomerID: "C1", Amount: 1, Currency: "CNY", Channel: "wechat"}, none, RiskAllow, []int64{}},
		{"two block rules both reasons", []RiskRule{rule(12, RiskAmountOver, RiskBlock, amount(10)), rule(13, RiskDailyCount, RiskBlock, count(1))}, pay(11), RiskCounters{DayCount: 1}, RiskBlock, []int64{12, 13}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := EvaluateRisk(c.rules, c.check, c.k)
			if got.Decision != c.want || !reflect.DeepEqual(got.RuleIDs(), c.ids) {
				t.Fatalf("got %s %v, want %s %v", got.Decision, got.RuleIDs(), c.want, c.ids)
			}
		})
	}
}

func TestRiskRuleValidate(t *testing.T) {
	for _, c := range []struct {
		name string
		r    RiskRule
		ok   bool
	}{
		{"amount rule", RiskRule{Name: "x", Kind: RiskAmountOver, Action: RiskBlock, Amount: 1, Currency: "CNY"}, true},
		{"no name", RiskRule{Name: " ", Kind: RiskAmountOver, Action: RiskBlock, Amount: 1, Currency: "CNY"}, false},
		{"zero amount", RiskRule{Name: "x", Kind: RiskAmountOver, Action: RiskBlock, Currency: "CNY"}, false},
		{"bad action", RiskRule{Name: "x", Kind: RiskAmountOver, Action: "review", Amount: 1, Currency: "CNY"}, false},
		{"bad kind", RiskRule{Name: "x", Kind: "ip", Action: RiskBlock}, false},
		{"velocity needs window", RiskRule{Name: "x", Kind: RiskVelocityBIN, Action: RiskBlock, Count: 3}, false},
		{"velocity window too long", RiskRule{Name: "x", Kind: RiskVelocityBIN, Action: RiskBlock, Count: 3, Window: 1441}, false},
		{"velocity", RiskRule{Name: "x", Kind: RiskVelocityCustomer, Action: RiskVerify, Count: 3, Window: 10}, true},
		{"daily count", RiskRule{Name: "x", Kind: RiskDailyCount, Action: RiskBlock, Count: 10}, true},
		{"unknown channel", RiskRule{Name: "x", Kind: RiskDailyCount, Action: RiskBlock, Count: 10, Channel: "cash"}, false},
		{"customer list", RiskRule{Name: "x", Kind: RiskCustomerList, Action: RiskAllow, Customers: []string{"C1", " C2 ", "C1"}}, true},
		{"customer list with a bad id", RiskRule{Name: "x", Kind: RiskCustomerList, Action: RiskBlock, Customers: []string{"C1<script>"}}, false},
		{"empty customer list", RiskRule{Name: "x", Kind: RiskCustomerList, Action: RiskBlock}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := c.r.Validate()
			if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrInvalidRiskRule)) {
				t.Fatalf("Validate() = %v, want ok=%v", err, c.ok)
			}
		})
	}
	r := RiskRule{Name: "x", Kind: RiskCustomerList, Action: RiskAllow, Customers: []string{"C1", " C2 ", "C1"}, Amount: 5, Count: 3}
	if err := r.Validate(); err != nil || !reflect.DeepEqual(r.Customers, []string{"C1", "C2"}) || r.Amount != 0 || r.Count != 0 {
		t.Fatalf("Validate did not normalise: %+v %v", r, err)
	}
}

func TestRiskCheckValidate(t *testing.T) {
	ok := RiskCheck{CustomerID: "C1", Amount: 100, Currency: "CNY", Channel: "card", CardBIN: "622202"}
	for _, c := range []struct {
		mut   func(*RiskCheck)
		field string
	}{
		{func(*RiskCheck) {}, ""},
		{func(c *RiskCheck) { c.CustomerID = "" }, "customer_id"},
		{func(c *RiskCheck) { c.Amount = 0 }, "amount"},
		{func(c *RiskCheck) { c.Amount = -5 }, "amount"},
		{func(c *RiskCheck) { c.Currency = "cny" }, "currency"},
		{func(c *RiskCheck) { c.Channel = "cash" }, "channel"},
		{func(c *RiskCheck) { c.CardBIN = "62220" }, "card_bin"},
		{func(c *RiskCheck) { c.CardBIN = "" }, ""},
	} {
		chk := ok
		c.mut(&chk)
		if f, _ := chk.Validate(); f != c.field {
			t.Errorf("%+v: field %q, want %q", chk, f, c.field)
		}
	}
}

func TestNeedsForAsksOnlyWhatRulesUse(t *testing.T) {
	chk := RiskCheck{CustomerID: "C1", Amount: 1, Currency: "CNY", Channel: "card", CardBIN: "622202"}
	if n := NeedsFor(demoRules, chk); n.Day || n.Customer != nil || n.BIN != nil {
		t.Fatalf("amount rules need no counters: %+v", n)
	}
	rs := []RiskRule{rule(1, RiskVelocityCustomer, RiskBlock, count(3), window(10)), rule(2, RiskVelocityCustomer, RiskVerify, count(5), window(10)),
		rule(3, RiskVelocityBIN, RiskBlock, count(50), window(1)), rule(4, RiskDailyCount, RiskBlock, count(9), channel("wechat"))}
	n := NeedsFor(rs, chk)
	if n.Day || n.Customer[10] != 6 || n.BIN[1] != 51 {
		t.Fatalf("needs %+v", n)
	}
}

func TestRiskReplayCountsLikeLiveChecks(t *testing.T) {
	loc := ShanghaiZone()
	// Daily count limit 2 with block: the third and later payments of a day are
	// blocked and, being blocked, do not raise the count; a new day starts afresh
	// at midnight in the merchant's zone (16:00 UTC).
	p := NewRiskReplay([]RiskRule{rule(1, RiskDailyCount, RiskBlock, count(2))}, loc)
	base := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	chk := RiskCheck{CustomerID: "C1", Amount: 100, Currency: "CNY", Channel: "card"}
	var got []RiskAction
	for _, at := range []time.Time{base, base.Add(time.Hour), base.Add(2 * time.Hour), base.Add(3 * time.Hour), base.Add(6*time.Hour + time.Minute)} {
		got = append(got, p.Next(chk, at).Decision)
	}
	want := []RiskAction{RiskAllow, RiskAllow, RiskBlock, RiskBlock, RiskAllow}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("daily count replay %v, want %v", got, want)
	}
	// Velocity 2 in 10 minutes per BIN counts every attempt, blocked ones too.
	p = NewRiskReplay([]RiskRule{rule(2, RiskVelocityBIN, RiskBlock, count(2), window(10))}, loc)
	got = nil
	for i, m := range []int{0, 1, 2, 3, 14, 15, 16} {
		c := chk
		c.CustomerID, c.CardBIN = string(rune('A'+i)), "622202"
		got = append(got, p.Next(c, base.Add(time.Duration(m)*time.Minute)).Decision)
	}
	want = []RiskAction{RiskAllow, RiskAllow, RiskBlock, RiskBlock, RiskAllow, RiskAllow, RiskBlock}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("velocity replay %v, want %v", got, want)
	}
}

func TestBacktestAdd(t *testing.T) {
	b := Backtest{Currency: "CNY"}
	block := RiskResult{Decision: RiskBlock, Reasons: []RiskReason{{RuleID: 1}}}
	b.Add(block, true, Money{Amount: 500, Currency: "CNY"})
	b.Add(block, true, Money{Amount: 700, Currency: "USD"})
	b.Add(block, false, Money{Amount: 900, Currency: "CNY"})
	b.Add(RiskResult{Decision: RiskAllow, Reasons: []RiskReason{}}, true, Money{Amount: 1, Currency: "CNY"})
	if b.Payments != 4 || b.Blocked != 3 || b.BlockedSucceed != 2 || b.BlockedAmount != 500 || b.Matched != 3 {
		t.Fatalf("%+v", b)
	}
}

func TestRiskRuleDescribe(t *testing.T) {
	r := demoRules[1]
	if got := r.Describe("en"); got != "Block when a payment above 50,000.00 CNY" {
		t.Fatalf("en: %q", got)
	}
	if got := r.Describe("zh-CN"); got != "当单笔金额超过 50,000.00 CNY时拦截" {
		t.Fatalf("zh: %q", got)
	}
}
