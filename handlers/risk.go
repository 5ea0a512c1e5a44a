package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"paymend/db"
	"paymend/domain"
	"paymend/views"
	"paymend/web"
)

// Risk is the merchant's risk control: rules with a backtest before saving, the
// pre-payment decision API, and the decisions log.
type Risk struct{ Deps }

// Routes registers the risk pages (admins change rules; operators read
// decisions) and POST /api/v1/risk/check.
func (h *Risk) Routes() {
	admin := web.RequireRole(domain.RoleAdmin)
	h.App.Console.GET("/risk", h.Rules, web.RequireRole(domain.RoleOperator))
	h.App.Console.POST("/risk/rules/backtest", h.BacktestRule, admin)
	h.App.Console.POST("/risk/rules", h.CreateRule, admin)
	h.App.Console.POST("/risk/rules/:id/toggle", h.ToggleRule, admin)
	h.App.Console.POST("/risk/rules/:id/delete", h.DeleteRule, admin)
	h.App.Console.GET("/risk/decisions", h.Decisions, web.RequireRole(domain.RoleOperator))
	h.App.API.POST("/risk/check", h.Check)
}

// riskRulesTTL is how long a replica keeps a merchant's enabled rules; a change
// made through this replica is seen at once, one made elsewhere within this time.
const riskRulesTTL = 5 * time.Second

// backtestDays is how far a backtest looks back.
const backtestDays = 30

// enabledRules returns the merchant's enabled rules from the per-replica cache.
func (d Deps) enabledRules(ctx context.Context, merchantID int64) ([]domain.RiskRule, error) {
	return d.riskRules.Get(merchantID, d.now(), func() ([]domain.RiskRule, error) {
		return d.Store.RiskRules(ctx, merchantID, true)
	})
}

// riskReasonJSON is one rule behind a decision, as the API shows it.
type riskReasonJSON struct {
	RuleID      int64  `json:"rule_id"`
	Rule        string `json:"rule"`
	Kind        string `json:"kind"`
	Action      string `json:"action"`
	Description string `json:"description"`
}

// Check answers POST /api/v1/risk/check: {"customer_id","amount","currency",
// "channel","card_bin"?,"order_id"?} → {"id","decision","reasons"}. The hot path
// is the cached rules, one counters query (only when a rule needs counters) and
// one insert that logs the decision.
func (h *Risk) Check(c echo.Context) error {
	var req struct {
		CustomerID string `json:"customer_id"`
		Amount     int64  `json:"amount"`
		Currency   string `json:"currency"`
		Channel    string `json:"channel"`
		CardBIN    string `json:"card_bin"`
		OrderID    string `json:"order_id"`
	}
	if err := json.NewDecoder(c.Request().Body).Decode(&req); err != nil {
		return web.Fail(http.StatusBadRequest, "invalid_json", "risk.api.bad_json")
	}
	chk := domain.RiskCheck{CustomerID: req.CustomerID, Amount: req.Amount, Currency: strings.ToUpper(req.Currency),
		Channel: req.Channel, CardBIN: req.CardBIN, OrderID: req.OrderID}
	if field, ok := chk.Validate(); !ok {
		return web.Fail(http.StatusUnprocessableEntity, "invalid_"+field, "risk.api.invalid", field)
	}
	p := web.MustPrincipal(c)
	ctx := c.Request().Context()
	rules, err := h.enabledRules(ctx, p.Merchant.ID)
	if err != nil {
		return err
	}
	now := h.now()
	k, err := h.Store.RiskCounters(ctx, p.Merchant.ID, chk, domain.NeedsFor(rules, chk), domain.RiskDay(now, p.Merchant.Location()), now)
	if err != nil {
		return err
	}
	res := domain.EvaluateRisk(rules, chk, k)
	lang := string(web.Lang(c))
	byID := make(map[int64]domain.RiskRule, len(rules))
	for _, r := range rules {
		byID[r.ID] = r
	}
	reasons := make([]riskReasonJSON, len(res.Reasons))
	for i, r := range res.Reasons {
		reasons[i] = riskReasonJSON{RuleID: r.RuleID, Rule: r.Name, Kind: string(r.Kind), Action: string(r.Action),
			Description: byID[r.RuleID].Describe(lang)}
	}
	reasonsJSON := mustMarshal(reasons)
	id, err := h.Store.LogRiskDecision(ctx, p.Merchant.ID, chk, res, string(reasonsJSON), now)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"id": id, "decision": res.Decision, "reasons": reasons})
}

// ruleForm reads a rule from the form; amounts are decimals in the merchant's
// currency.
func (h *Risk) ruleForm(c echo.Context, m domain.Merchant) (views.RiskRuleForm, domain.RiskRule, bool) {
	f := views.RiskRuleForm{Name: c.FormValue("name"), Kind: c.FormValue("kind"), Action: c.FormValue("action"),
		Amount: strings.TrimSpace(c.FormValue("amount")), Count: c.FormValue("count"), Window: c.FormValue("window"),
		Channel: c.FormValue("channel"), Customers: c.FormValue("customers"), Currency: m.Currency}
	r := domain.RiskRule{Name: f.Name, Kind: domain.RiskKind(f.Kind), Action: domain.RiskAction(f.Action),
		Channel: f.Channel, Currency: m.Currency}
	ok := validText(f.Name, 100) && validText(f.Customers, 70_000)
	if r.Kind.UsesAmount() {
		a, err := domain.ParseMoney(f.Amount, m.Currency)
		ok = ok && err == nil
		r.Amount = a
	}
	if r.Kind.UsesCount() {
		n, err := strconv.Atoi(f.Count)
		ok = ok && err == nil
		r.Count = n
	}
	if r.Kind.UsesWindow() {
		n, err := strconv.Atoi(f.Window)
		ok = ok && err == nil
		r.Window = n
	}
	r.Customers = strings.FieldsFunc(f.Customers, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' || r == ' ' })
	if !ok || r.Validate() != nil {
		return f, r, false
	}
	return f, r, true
}

// runBacktest replays the last 30 days of the merchant's payments through r alone.
func (d Deps) runBacktest(ctx context.Context, m domain.Merchant, r domain.RiskRule) (domain.Backtest, error) {
	to := d.now()
	from := to.AddDate(0, 0, -backtestDays)
	bt := domain.Backtest{Days: backtestDays, Currency: m.Currency}
	replay := domain.NewRiskReplay([]domain.RiskRule{r}, m.Location())
	err := d.Store.EachBacktestPayment(ctx, m.ID, from, to, func(p db.BacktestPayment) {
		res := replay.Next(p.Check, p.OccurredAt)
		bt.Add(res, p.Succeeded, domain.Money{Amount: p.Check.Amount, Currency: p.Check.Currency})
	})
	return bt, err
}

func (h *Risk) view(c echo.Context) (views.RiskView, error) {
	ctx := c.Request().Context()
	p := web.MustPrincipal(c)
	v := views.RiskView{Form: views.RiskRuleForm{Kind: string(domain.RiskAmountOver), Action: string(domain.RiskBlock),
		Currency: p.Merchant.Currency}, Channels: domain.Channels}
	var err error
	if v.Rules, err = h.Store.RiskRules(ctx, p.Merchant.ID, false); err != nil {
		return v, err
	}
	v.Stats, err = h.Store.RiskRuleStats(ctx, p.Merchant.ID, h.now().AddDate(0, 0, -backtestDays))
	return v, err
}

func (h *Risk) render(c echo.Context, status int, v views.RiskView) error {
	return web.Render(c, status, views.RiskPage(web.Shell(c, "risk", web.T(c, "risk.title")), v), nil)
}

// Rules shows the rules in evaluation order with what each stopped in 30 days.
func (h *Risk) Rules(c echo.Context) error {
	v, err := h.view(c)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, v)
}

// BacktestRule shows what the rule in the form would have done to the last 30
// days of payments, with a button to save it.
func (h *Risk) BacktestRule(c echo.Context) error {
	p := web.MustPrincipal(c)
	v, err := h.view(c)
	if err != nil {
		return err
	}
	f, r, ok := h.ruleForm(c, p.Merchant)
	v.Form = f
	if !ok {
		v.Error = web.T(c, "risk.err.rule")
		return h.render(c, http.StatusUnprocessableEntity, v)
	}
	bt, err := h.runBacktest(c.Request().Context(), p.Merchant, r)
	if err != nil {
		return err
	}
	v.Backtest, v.Candidate = &bt, &r
	return h.render(c, http.StatusOK, v)
}

// CreateRule saves a rule after its backtest (run again now, and kept with the
// rule); it starts disabled unless the admin ticked "enable now".
func (h *Risk) CreateRule(c echo.Context) error {
	p := web.MustPrincipal(c)
	ctx := c.Request().Context()
	f, r, ok := h.ruleForm(c, p.Merchant)
	if !ok || c.FormValue("backtested") != "1" {
		v, err := h.view(c)
		if err != nil {
			return err
		}
		v.Form, v.Error = f, web.T(c, "risk.err.rule")
		if ok {
			v.Error = web.T(c, "risk.err.backtest_first")
		}
		return h.render(c, http.StatusUnprocessableEntity, v)
	}
	bt, err := h.runBacktest(ctx, p.Merchant, r)
	if err != nil {
		return err
	}
	r.Enabled, r.CreatedBy = c.FormValue("enable") == "1", p.Actor()
	saved, err := h.Store.CreateRiskRule(ctx, p.Merchant.ID, r, &bt, h.now())
	if err != nil {
		return err
	}
	h.riskRules.Forget(p.Merchant.ID)
	h.audit(c, "risk.rule_create", saved.Name, domain.AuditOK, map[string]any{"id": saved.ID, "kind": saved.Kind,
		"action": saved.Action, "amount": saved.Amount, "count": saved.Count, "window": saved.Window,
		"channel": saved.Channel, "customers": len(saved.Customers), "enabled": saved.Enabled,
		"backtest_blocked": bt.Blocked, "backtest_verified": bt.Verified})
	web.AddFlash(c, "ok", web.T(c, "risk.created", saved.Name))
	return web.Redirect(c, "/risk")
}

func (h *Risk) loadRule(c echo.Context) (domain.RiskRule, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return domain.RiskRule{}, web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	r, err := h.Store.RiskRule(c.Request().Context(), web.MerchantID(c), id)
	if errors.Is(err, db.ErrNotFound) {
		return r, web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	return r, err
}

// ToggleRule switches a rule on or off.
func (h *Risk) ToggleRule(c echo.Context) error {
	r, err := h.loadRule(c)
	if err != nil {
		return err
	}
	mid := web.MerchantID(c)
	if err := h.Store.SetRiskRuleEnabled(c.Request().Context(), mid, r.ID, !r.Enabled, h.now()); err != nil {
		return err
	}
	h.riskRules.Forget(mid)
	h.audit(c, "risk.rule_toggle", r.Name, domain.AuditOK, map[string]any{"id": r.ID, "enabled": !r.Enabled})
	key := "risk.enabled"
	if r.Enabled {
		key = "risk.disabled"
	}
	web.AddFlash(c, "ok", web.T(c, key, r.Name))
	return web.Redirect(c, "/risk")
}

// DeleteRule retires a rule; decisions it made keep its id.
func (h *Risk) DeleteRule(c echo.Context) error {
	r, err := h.loadRule(c)
	if err != nil {
		return err
	}
	mid := web.MerchantID(c)
	if err := h.Store.DeleteRiskRule(c.Request().Context(), mid, r.ID, h.now()); err != nil {
		return err
	}
	h.riskRules.Forget(mid)
	h.audit(c, "risk.rule_delete", r.Name, domain.AuditOK, map[string]any{"id": r.ID})
	web.AddFlash(c, "ok", web.T(c, "risk.deleted", r.Name))
	return web.Redirect(c, "/risk")
}

// Decisions lists recent decisions with filters (decision, rule, customer,
// period), each blocked one marked when its customer later paid successfully.
func (h *Risk) Decisions(c echo.Context) error {
	q := c.QueryParams()
	p := web.MustPrincipal(c)
	ctx := c.Request().Context()
	loc := p.Merchant.Location()
	v := views.RiskDecisionsView{Query: q}
	f := db.RiskDecisionFilter{Decision: q.Get("decision"), CustomerID: strings.TrimSpace(q.Get("customer"))}
	bad := f.Decision != "" && !domain.RiskAction(f.Decision).Valid()
	bad = bad || !validText(f.CustomerID, 64)
	if s := q.Get("rule"); s != "" {
		id, err := strconv.ParseInt(s, 10, 64)
		bad = bad || err != nil
		f.RuleID = id
	}
	if s := q.Get("from"); s != "" {
		t, err := time.ParseInLocation("2006-01-02", s, loc)
		bad = bad || err != nil
		f.From = t
	}
	if s := q.Get("to"); s != "" {
		t, err := time.ParseInLocation("2006-01-02", s, loc)
		bad = bad || err != nil
		f.To = t.AddDate(0, 0, 1)
	}
	cur, err := domain.DecodeCursor(q.Get("cursor"))
	bad = bad || err != nil
	f.Cursor = cur
	rules, err := h.Store.RiskRules(ctx, p.Merchant.ID, false)
	if err != nil {
		return err
	}
	v.Rules = rules
	if v.Stats, err = h.Store.RiskRuleStats(ctx, p.Merchant.ID, h.now().AddDate(0, 0, -backtestDays)); err != nil {
		return err
	}
	status := http.StatusOK
	if bad {
		status, v.Error = http.StatusBadRequest, web.T(c, "error.bad_filter")
	} else {
		rows, next, err := h.Store.RiskDecisions(ctx, p.Merchant.ID, f)
		if err != nil {
			return err
		}
		v.Rows, v.Next = rows, next.Encode()
	}
	shell := web.Shell(c, "risk", web.T(c, "risk.decisions"))
	return web.Render(c, status, views.RiskDecisionsPage(shell, v), views.RiskDecisionsTable(shell, v))
}
