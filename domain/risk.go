package domain

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// This file holds the merchant's risk-control rules: what each kind of rule
// looks at, how a set of rules decides on one payment before it is made, and a
// replay of past payments through rules (the backtest). It performs no I/O: the
// counters a live check needs come from the store (see RiskNeeds).

// RiskAction is what a rule asks for when its condition holds, and the decision
// the risk check answers with.
type RiskAction string

// Risk actions.
const (
	RiskAllow  RiskAction = "allow"
	RiskVerify RiskAction = "verify" // a second verification (SMS code, 3-D Secure) before paying
	RiskBlock  RiskAction = "block"
)

// RiskActions lists the actions in evaluation order (see EvaluateRisk).
var RiskActions = []RiskAction{RiskVerify, RiskAllow, RiskBlock}

// Valid reports whether a is a known action.
func (a RiskAction) Valid() bool { return slices.Contains(RiskActions, a) }

// RiskKind is what a rule looks at.
type RiskKind string

// Rule kinds. Limits trip when they are exceeded: "more than N", "above X".
const (
	RiskAmountOver       RiskKind = "amount_over"       // this payment's amount is above Amount
	RiskAmountAtMost     RiskKind = "amount_at_most"    // this payment's amount is at most Amount (allow small payments)
	RiskDailyAmount      RiskKind = "daily_amount"      // the customer's total today, this one included, is above Amount
	RiskDailyCount       RiskKind = "daily_count"       // the customer's payments today, this one included, are more than Count
	RiskVelocityCustomer RiskKind = "velocity_customer" // the customer's attempts in the last Window, this one included, are more than Count
	RiskVelocityBIN      RiskKind = "velocity_bin"      // attempts with the card BIN in the last Window, this one included, are more than Count
	RiskCustomerList     RiskKind = "customer_list"     // the customer is one of Customers (trusted or blocked list)
)

// RiskKinds lists the kinds in display order.
var RiskKinds = []RiskKind{RiskAmountOver, RiskDailyAmount, RiskDailyCount, RiskVelocityCustomer, RiskVelocityBIN, RiskAmountAtMost, RiskCustomerList}

// Valid reports whether k is a known kind.
func (k RiskKind) Valid() bool { return slices.Contains(RiskKinds, k) }

// usesAmount, usesCount and usesWindow say which parameters a kind takes.
func (k RiskKind) usesAmount() bool {
	return k == RiskAmountOver || k == RiskAmountAtMost || k == RiskDailyAmount
}
func (k RiskKind) usesCount() bool {
	return k == RiskDailyCount || k == RiskVelocityCustomer || k == RiskVelocityBIN
}
func (k RiskKind) usesWindow() bool { return k == RiskVelocityCustomer || k == RiskVelocityBIN }

// UsesAmount reports whether rules of kind k take an amount (for forms).
func (k RiskKind) UsesAmount() bool { return k.usesAmount() }

// UsesCount reports whether rules of kind k take a count.
func (k RiskKind) UsesCount() bool { return k.usesCount() }

// UsesWindow reports whether rules of kind k take a time window.
func (k RiskKind) UsesWindow() bool { return k.usesWindow() }

var riskKindLabels = map[RiskKind]Text{
	RiskAmountOver:       {ZH: "单笔金额上限", EN: "Single-payment amount limit"},
	RiskAmountAtMost:     {ZH: "小额放行", EN: "Small payments"},
	RiskDailyAmount:      {ZH: "客户单日金额上限", EN: "Customer daily amount limit"},
	RiskDailyCount:       {ZH: "客户单日笔数上限", EN: "Customer daily count limit"},
	RiskVelocityCustomer: {ZH: "客户频率(短时间内尝试次数)", EN: "Customer velocity (attempts in minutes)"},
	RiskVelocityBIN:      {ZH: "卡 BIN 频率(短时间内尝试次数)", EN: "Card BIN velocity (attempts in minutes)"},
	RiskCustomerList:     {ZH: "指定客户名单", EN: "Customer list"},
}

// Label names the kind in lang.
func (k RiskKind) Label(lang string) string {
	if t, ok := riskKindLabels[k]; ok {
		return t.In(lang)
	}
	return string(k)
}

var riskActionLabels = map[RiskAction]Text{
	RiskAllow:  {ZH: "放行", EN: "Allow"},
	RiskVerify: {ZH: "二次验证", EN: "Verify"},
	RiskBlock:  {ZH: "拦截", EN: "Block"},
}

// Label names the action in lang.
func (a RiskAction) Label(lang string) string {
	if t, ok := riskActionLabels[a]; ok {
		return t.In(lang)
	}
	return string(a)
}

// RiskRule is one of a merchant's risk-control rules.
type RiskRule struct {
	ID        int64
	Name      string
	Kind      RiskKind
	Action    RiskAction
	Amount    int64    // minor units of Currency (amount kinds)
	Currency  string   // amount kinds apply only to payments in this currency
	Count     int      // count kinds: the most allowed
	Window    int      // velocity kinds: minutes
	Channel   string   // "" = every channel; else the rule is consulted only for payments on it
	Customers []string // customer_list
	Enabled   bool
	CreatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Limits on rule parameters.
const (
	MaxRiskWindowMinutes = 1440
	MaxRiskCount         = 100_000
	MaxRiskCustomers     = 1000
	maxRiskAmount        = 1_000_000_000_000 // 10 billion in a two-digit currency
)

var (
	reRiskCurrency = regexp.MustCompile(`^[A-Z]{3}$`)
	reRiskID       = regexp.MustCompile(`^[A-Za-z0-9_.:@-]{1,64}$`)
	reRiskBIN      = regexp.MustCompile(`^[0-9]{6,8}$`)
)

// ErrInvalidRiskRule is wrapped by every rule validation error.
var ErrInvalidRiskRule = errors.New("invalid risk rule")

// Validate checks a rule's parameters for its kind and clears those it does not use.
func (r *RiskRule) Validate() error {
	bad := func(what string) error { return fmt.Errorf("%w: %s", ErrInvalidRiskRule, what) }
	r.Name = strings.TrimSpace(r.Name)
	switch {
	case r.Name == "" || len([]rune(r.Name)) > 100:
		return bad("name")
	case !r.Kind.Valid():
		return bad("kind")
	case !r.Action.Valid():
		return bad("action")
	case r.Channel != "" && !ValidChannel(r.Channel):
		return bad("channel")
	}
	if r.Kind.usesAmount() {
		if r.Amount <= 0 || r.Amount > maxRiskAmount {
			return bad("amount")
		}
		if !reRiskCurrency.MatchString(r.Currency) {
			return bad("currency")
		}
	} else {
		r.Amount, r.Currency = 0, ""
	}
	if r.Kind.usesCount() {
		if r.Count < 1 || r.Count > MaxRiskCount {
			return bad("count")
		}
	} else {
		r.Count = 0
	}
	if r.Kind.usesWindow() {
		if r.Window < 1 || r.Window > MaxRiskWindowMinutes {
			return bad("window")
		}
	} else {
		r.Window = 0
	}
	if r.Kind == RiskCustomerList {
		seen := map[string]bool{}
		var ids []string
		for _, c := range r.Customers {
			c = strings.TrimSpace(c)
			if c == "" || seen[c] {
				continue
			}
			if !reRiskID.MatchString(c) {
				return bad("customers")
			}
			seen[c] = true
			ids = append(ids, c)
		}
		if len(ids) == 0 || len(ids) > MaxRiskCustomers {
			return bad("customers")
		}
		r.Customers = ids
	} else {
		r.Customers = nil
	}
	return nil
}

// Describe says what the rule does in one line of lang, e.g. "Block payments above
// 50,000.00 CNY".
func (r RiskRule) Describe(lang string) string {
	en := isEnglish(lang)
	money := Money{Amount: r.Amount, Currency: r.Currency}.String()
	var cond string
	switch r.Kind {
	case RiskAmountOver:
		cond = pick(en, "单笔金额超过 "+money, "a payment above "+money)
	case RiskAmountAtMost:
		cond = pick(en, "单笔金额不超过 "+money, "a payment of at most "+money)
	case RiskDailyAmount:
		cond = pick(en, "客户当日累计金额超过 "+money, "the customer's total today above "+money)
	case RiskDailyCount:
		cond = pick(en, fmt.Sprintf("客户当日支付超过 %d 笔", r.Count), fmt.Sprintf("more than %d payments by the customer today", r.Count))
	case RiskVelocityCustomer:
		cond = pick(en, fmt.Sprintf("同一客户 %d 分钟内尝试超过 %d 次", r.Window, r.Count),
			fmt.Sprintf("more than %d attempts by the customer in %d minutes", r.Count, r.Window))
	case RiskVelocityBIN:
		cond = pick(en, fmt.Sprintf("同一卡 BIN %d 分钟内尝试超过 %d 次", r.Window, r.Count),
			fmt.Sprintf("more than %d attempts with the card BIN in %d minutes", r.Count, r.Window))
	case RiskCustomerList:
		cond = pick(en, fmt.Sprintf("客户在名单中(%d 位)", len(r.Customers)), fmt.Sprintf("the customer is on the list (%d)", len(r.Customers)))
	default:
		cond = string(r.Kind)
	}
	if r.Channel != "" {
		cond += pick(en, "(仅 "+PayChannelLabel(r.Channel, lang)+")", " (on "+PayChannelLabel(r.Channel, lang)+" only)")
	}
	if en {
		return r.Action.Label(lang) + " when " + cond
	}
	return "当" + cond + "时" + r.Action.Label(lang)
}

func pick(en bool, zh, eng string) string {
	if en {
		return eng
	}
	return zh
}

// PayChannelLabel names a payment channel ("wechat" → "微信支付"), or returns it as is.
func PayChannelLabel(channel, lang string) string {
	if channel == "card" {
		return pick(isEnglish(lang), "银行卡", "card")
	}
	if t, ok := payChannelLabels[channel]; ok {
		return t.In(lang)
	}
	return channel
}

// RiskCheck is one payment about to be made, as the merchant's checkout asks.
type RiskCheck struct {
	CustomerID string
	Amount     int64
	Currency   string
	Channel    string
	CardBIN    string // optional
	OrderID    string // optional, kept with the decision
}

// Validate checks a check request's fields; the error names the first bad field.
func (c RiskCheck) Validate() (field string, ok bool) {
	switch {
	case !reRiskID.MatchString(c.CustomerID):
		return "customer_id", false
	case c.Amount <= 0 || c.Amount > maxRiskAmount:
		return "amount", false
	case !reRiskCurrency.MatchString(c.Currency):
		return "currency", false
	case !ValidChannel(c.Channel):
		return "channel", false
	case c.CardBIN != "" && !reRiskBIN.MatchString(c.CardBIN):
		return "card_bin", false
	case c.OrderID != "" && !reRiskID.MatchString(c.OrderID):
		return "order_id", false
	}
	return "", true
}

// RiskCounters are what the merchant's earlier decisions say about a check. The
// attempt counts exclude the check itself; rules add it.
type RiskCounters struct {
	DayAmount int64 // the customer's allowed or verified amount today (merchant's day), in the check's currency
	DayCount  int   // the customer's allowed or verified payments today
	// Attempts in the last N minutes (any decision), by window length, capped at
	// what the rules need to know (see RiskNeeds).
	Customer map[int]int
	BIN      map[int]int
}

// RiskNeeds is which counters a set of rules needs for a check, so the store asks
// for nothing more.
type RiskNeeds struct {
	Day      bool
	Customer map[int]int // window minutes → cap (the largest count limit + 1)
	BIN      map[int]int
}

// NeedsFor returns the counters rules need to decide on c.
func NeedsFor(rules []RiskRule, c RiskCheck) RiskNeeds {
	n := RiskNeeds{}
	for _, r := range rules {
		if !r.Enabled || !r.appliesTo(c) {
			continue
		}
		switch r.Kind {
		case RiskDailyAmount, RiskDailyCount:
			n.Day = true
		case RiskVelocityCustomer:
			if n.Customer == nil {
				n.Customer = map[int]int{}
			}
			n.Customer[r.Window] = max(n.Customer[r.Window], r.Count+1)
		case RiskVelocityBIN:
			if c.CardBIN == "" {
				continue
			}
			if n.BIN == nil {
				n.BIN = map[int]int{}
			}
			n.BIN[r.Window] = max(n.BIN[r.Window], r.Count+1)
		}
	}
	return n
}

// appliesTo reports whether the rule is consulted for c at all (channel, currency).
func (r RiskRule) appliesTo(c RiskCheck) bool {
	if r.Channel != "" && r.Channel != c.Channel {
		return false
	}
	if r.Kind.usesAmount() && r.Currency != c.Currency {
		return false
	}
	return true
}

// Matches reports whether the rule's condition holds for c given the counters.
func (r RiskRule) Matches(c RiskCheck, k RiskCounters) bool {
	if !r.appliesTo(c) {
		return false
	}
	switch r.Kind {
	case RiskAmountOver:
		return c.Amount > r.Amount
	case RiskAmountAtMost:
		return c.Amount <= r.Amount
	case RiskDailyAmount:
		return k.DayAmount+c.Amount > r.Amount
	case RiskDailyCount:
		return k.DayCount+1 > r.Count
	case RiskVelocityCustomer:
		return k.Customer[r.Window]+1 > r.Count
	case RiskVelocityBIN:
		return c.CardBIN != "" && k.BIN[r.Window]+1 > r.Count
	case RiskCustomerList:
		return slices.Contains(r.Customers, c.CustomerID)
	}
	return false
}

// RiskReason is a rule that decided.
type RiskReason struct {
	RuleID int64
	Name   string
	Kind   RiskKind
	Action RiskAction
}

// RiskResult is a decision and the rules that made it.
type RiskResult struct {
	Decision RiskAction
	Reasons  []RiskReason
}

// RuleIDs returns the ids of the deciding rules.
func (r RiskResult) RuleIDs() []int64 {
	ids := make([]int64, len(r.Reasons))
	for i, x := range r.Reasons {
		ids[i] = x.RuleID
	}
	return ids
}

// EvaluateRisk decides on c with the enabled rules, in this documented order
// (after Stripe Radar's: verification rules, then allow, then block):
//
//  1. Verify rules are checked first: each one that holds asks for a second
//     verification.
//  2. Allow rules next: when one holds, the payment goes ahead — no block rule can
//     stop it — but a verification asked for in step 1 still stands.
//  3. Block rules last: when one holds (and no allow rule did), the payment is
//     blocked, whatever step 1 asked.
//  4. Otherwise the payment is verified when step 1 asked for it, else allowed.
//
// Reasons are the rules behind the decision, in the order the merchant sees them.
func EvaluateRisk(rules []RiskRule, c RiskCheck, k RiskCounters) RiskResult {
	matched := map[RiskAction][]RiskReason{}
	for _, a := range RiskActions {
		for _, r := range rules {
			if r.Enabled && r.Action == a && r.Matches(c, k) {
				matched[a] = append(matched[a], RiskReason{RuleID: r.ID, Name: r.Name, Kind: r.Kind, Action: r.Action})
			}
		}
	}
	switch {
	case len(matched[RiskAllow]) > 0 && len(matched[RiskVerify]) > 0:
		return RiskResult{Decision: RiskVerify, Reasons: append(matched[RiskVerify], matched[RiskAllow]...)}
	case len(matched[RiskAllow]) > 0:
		return RiskResult{Decision: RiskAllow, Reasons: matched[RiskAllow]}
	case len(matched[RiskBlock]) > 0:
		return RiskResult{Decision: RiskBlock, Reasons: matched[RiskBlock]}
	case len(matched[RiskVerify]) > 0:
		return RiskResult{Decision: RiskVerify, Reasons: matched[RiskVerify]}
	}
	return RiskResult{Decision: RiskAllow, Reasons: []RiskReason{}}
}

// RiskDay returns the start of at's day in loc, in UTC: the daily limits' day.
func RiskDay(at time.Time, loc *time.Location) time.Time {
	if loc == nil {
		loc = ShanghaiZone()
	}
	y, m, d := at.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc).UTC()
}

// RiskReplay runs past payments, oldest first, through rules as if they had been
// checked live: each payment is an attempt; a payment the rules block does not
// count toward the customer's daily totals, exactly as a blocked live check does
// not. It is the backtest's engine.
type RiskReplay struct {
	rules  []RiskRule
	loc    *time.Location
	day    map[string]replayDay
	cust   map[string][]time.Time
	bins   map[string][]time.Time
	needs  RiskNeeds
	window time.Duration
}

type replayDay struct {
	start  time.Time
	amount map[string]int64 // per currency
	count  int
}

// NewRiskReplay prepares a replay of rules in the merchant's zone loc. Rules are
// taken as enabled.
func NewRiskReplay(rules []RiskRule, loc *time.Location) *RiskReplay {
	rs := make([]RiskRule, len(rules))
	w := 0
	for i, r := range rules {
		r.Enabled = true
		rs[i] = r
		w = max(w, r.Window)
	}
	return &RiskReplay{rules: rs, loc: loc, day: map[string]replayDay{}, cust: map[string][]time.Time{},
		bins: map[string][]time.Time{}, window: time.Duration(w) * time.Minute}
}

// Next decides on one past payment made at at; calls must come in time order.
func (p *RiskReplay) Next(c RiskCheck, at time.Time) RiskResult {
	k := RiskCounters{Customer: map[int]int{}, BIN: map[int]int{}}
	start := RiskDay(at, p.loc)
	d := p.day[c.CustomerID]
	if !d.start.Equal(start) {
		d = replayDay{start: start, amount: map[string]int64{}}
	}
	k.DayAmount, k.DayCount = d.amount[c.Currency], d.count
	for _, r := range p.rules {
		switch r.Kind {
		case RiskVelocityCustomer:
			k.Customer[r.Window] = countSince(p.cust[c.CustomerID], at.Add(-time.Duration(r.Window)*time.Minute))
		case RiskVelocityBIN:
			if c.CardBIN != "" {
				k.BIN[r.Window] = countSince(p.bins[c.CardBIN], at.Add(-time.Duration(r.Window)*time.Minute))
			}
		}
	}
	res := EvaluateRisk(p.rules, c, k)
	if res.Decision != RiskBlock {
		d.amount[c.Currency] += c.Amount
		d.count++
	}
	p.day[c.CustomerID] = d
	if p.window > 0 {
		p.cust[c.CustomerID] = prune(append(p.cust[c.CustomerID], at), at.Add(-p.window))
		if c.CardBIN != "" {
			p.bins[c.CardBIN] = prune(append(p.bins[c.CardBIN], at), at.Add(-p.window))
		}
	}
	return res
}

// countSince counts times after since (the window is (since, now]).
func countSince(ts []time.Time, since time.Time) int {
	n := 0
	for i := len(ts) - 1; i >= 0 && ts[i].After(since); i-- {
		n++
	}
	return n
}

// prune drops times at or before since, keeping the slice small.
func prune(ts []time.Time, since time.Time) []time.Time {
	i := 0
	for i < len(ts) && !ts[i].After(since) {
		i++
	}
	if i == 0 {
		return ts
	}
	return append(ts[:0], ts[i:]...)
}

// Backtest is what a rule would have done to past payments.
type Backtest struct {
	Days            int
	Payments        int   // replayed
	Matched         int   // payments the rule's condition held for
	Blocked         int   // payments a block rule would have stopped
	BlockedSucceed  int   // … of which had succeeded
	BlockedAmount   int64 // … their amount (in Currency)
	Verified        int   // payments a verify rule would have sent to a second verification
	VerifiedSucceed int
	Allowed         int // payments an allow rule would have let through
	Currency        string
}

// Add counts one replayed payment with its result under the candidate rule;
// amounts are summed for payments in b.Currency only.
func (b *Backtest) Add(res RiskResult, succeeded bool, m Money) {
	b.Payments++
	if len(res.Reasons) == 0 {
		return
	}
	b.Matched++
	switch res.Decision {
	case RiskBlock:
		b.Blocked++
		if succeeded {
			b.BlockedSucceed++
			if m.Currency == b.Currency {
				b.BlockedAmount += m.Amount
			}
		}
	case RiskVerify:
		b.Verified++
		if succeeded {
			b.VerifiedSucceed++
		}
	case RiskAllow:
		b.Allowed++
	}
}

// RiskDecision is a logged decision as the decisions page shows it.
type RiskDecision struct {
	ID         int64     `db:"id"`
	CustomerID string    `db:"customer_id"`
	OrderID    string    `db:"order_id"`
	Amount     int64     `db:"amount"`
	Currency   string    `db:"currency"`
	Channel    string    `db:"channel"`
	CardBIN    string    `db:"card_bin"`
	Decision   string    `db:"decision"`
	RuleIDs    []int64   `db:"-"`
	CreatedAt  time.Time `db:"created_at"`
	// PaidLater: the customer of a blocked decision paid successfully afterwards —
	// an honest payment the rules stopped.
	PaidLater bool `db:"paid_later"`
}

// RiskRuleStats is what a rule did to live checks in a period.
type RiskRuleStats struct {
	Blocked  int // decisions the rule blocked
	Verified int // decisions the rule sent to verification
	// Honest counts blocked decisions whose customer later paid successfully.
	Honest int
}
