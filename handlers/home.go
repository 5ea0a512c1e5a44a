package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"paymend/db"
	"paymend/domain"
	"paymend/views"
	"paymend/web"
)

// Home is the console's landing page.
type Home struct{ Deps }

// Routes registers the overview.
func (h *Home) Routes() {
	h.App.Console.GET("/", h.Overview)
}

func figures(s db.Summary, currency string) views.SummaryFigures {
	return views.SummaryFigures{Total: s.Total, Failed: s.Failed, Succeeded: s.Succeeded, Unresolved: s.Unresolved,
		CustomersHit: s.CustomersHit, FailedAmount: domain.Money{Amount: s.FailedAmount, Currency: currency},
		FailureRate: s.FailureRate()}
}

// Overview shows the last 24 hours against the 24 before, and the latest failures.
func (h *Home) Overview(c echo.Context) error {
	p := web.MustPrincipal(c)
	ctx := c.Request().Context()
	now := h.now()
	day, err := h.Store.Summarize(ctx, p.Merchant.ID, now.Add(-24*time.Hour), now)
	if err != nil {
		return err
	}
	prev, err := h.Store.Summarize(ctx, p.Merchant.ID, now.Add(-48*time.Hour), now.Add(-24*time.Hour))
	if err != nil {
		return err
	}
	recent, _, err := h.Store.Transactions(ctx, p.Merchant.ID, db.TxFilter{Statuses: []string{"failed"}, Limit: 10})
	if err != nil {
		return err
	}
	cat, err := h.catalog(c)
	if err != nil {
		return err
	}
	v := views.HomeView{Day: figures(day, p.Merchant.Currency), PrevDay: figures(prev, p.Merchant.Currency),
		RecentFailures: recent, Catalog: func(code, lang string) string { return cat.Lookup(code).Title.In(lang) }}
	return web.Render(c, http.StatusOK, views.HomePage(web.Shell(c, "overview", web.T(c, "home.title")), v), nil)
}
