// Package handlers holds PayMend's HTTP handlers, one file per area. Each handler
// reads input, scopes by the principal's merchant, calls the store or domain rules,
// and renders.
package handlers

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/labstack/echo/v4"

	"paymend/cache"
	"paymend/db"
	"paymend/domain"
	"paymend/web"
)

// Deps are what handlers are built from.
type Deps struct {
	App     *web.App
	Store   *db.Store
	Sealer  *domain.Sealer
	Log     *slog.Logger
	BaseURL string
	Notices NoticeQueue // inserts notification delivery jobs
	Refunds RefundQueue // inserts refund submit jobs
	Recons  ReconQueue  // starts reconciliation runs
	// FeedbackTTL is how long feedback links stay open (PAYMEND_FEEDBACK_LINK_DAYS);
	// zero means domain.FeedbackLinkTTL.
	FeedbackTTL time.Duration

	banks *cache.TTL[[]string] // filter menu values; set by Register
	// riskRules holds each merchant's enabled risk rules for the risk check.
	riskRules *cache.TTL[[]domain.RiskRule]
	// payChans holds each merchant's payment channel states for notices.
	payChans *cache.TTL[[]domain.PayChannel]
}

func (d Deps) now() time.Time { return d.App.Now() }

// audit appends an audit entry for the request's principal. Audit failures are
// logged, not shown: the action itself already happened.
func (d Deps) audit(c echo.Context, action, target, result string, details map[string]any) {
	mid := int64(0)
	if p, ok := web.PrincipalOf(c); ok {
		mid = p.Merchant.ID
	}
	d.auditFor(c, mid, web.AuditEntry(c, action, target, result), details)
}

func (d Deps) auditFor(c echo.Context, merchantID int64, e domain.AuditEntry, details map[string]any) {
	if err := d.Store.Audit(context.WithoutCancel(c.Request().Context()), merchantID, e, details); err != nil {
		d.Log.Error("audit write failed", "err", err, "action", e.Action, "request_id", web.RequestID(c))
	}
}

// Register adds every area's routes to the app.
func Register(d Deps) {
	d.banks = cache.New[[]string](5 * time.Minute)
	d.riskRules = cache.New[[]domain.RiskRule](riskRulesTTL)
	d.payChans = cache.New[[]domain.PayChannel](payChannelsTTL)
	(&Auth{d}).Routes()
	(&Home{d}).Routes()
	(&Users{d}).Routes()
	(&Audit{d}).Routes()
	(&Settings{d}).Routes()
	(&Webhooks{d}).Routes()
	(&Transactions{d}).Routes()
	(&API{d}).Routes()
	(&Import{d}).Routes()
	(&Codes{d}).Routes()
	(&Resolution{d}).Routes()
	(&Notifications{d}).Routes()
	(&NotifySettings{d}).Routes()
	(&Calls{d}).Routes()
	(&Templates{d}).Routes()
	(&Orders{d}).Routes()
	(&Refunds{d}).Routes()
	(&Recon{d}).Routes()
	(&Feedback{d}).Routes()
	(&Alerts{d}).Routes()
	(&Risk{d}).Routes()
	(&Emergency{d}).Routes()
}

func mustMarshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte("{}")
	}
	return b
}
