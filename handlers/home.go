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

// Home is the console's landing page: the overview dashboard.
type Home struct{ Deps }

// Routes registers the overview.
func (h *Home) Routes() {
	h.App.Console.GET("/", h.Overview)
}

// dashDims are the dimensions the dashboard reads from the rollups.
var dashDims = []string{"all", "code", "channel", "bank", "bin", "band", "res"}

// driverDims are the dimensions "where are failures concentrated" compares.
var driverDims = map[string]bool{"code": true, "channel": true, "bank": true, "bin": true, "band": true}

func counts(c db.RollupCounts) views.Counts {
	return views.Counts{Attempts: c.Attempts, Succeeded: c.Succeeded, Failed: c.Failed, Pending: c.Pending, FailedAmount: c.FailedAmount}
}

func series(ps []db.SeriesPoint) []views.SeriesPoint {
	out := make([]views.SeriesPoint, len(ps))
	for i, p := range ps {
		out[i] = views.SeriesPoint{At: p.At, Counts: counts(p.RollupCounts)}
	}
	return out
}

// Overview shows the chosen range (default 7 days) against the period before, the
// last hour, open alerts, charts, where failures concentrate and the latest failures.
// Every figure comes from the rollups (see README "Dashboard").
func (h *Home) Overview(c echo.Context) error {
	p := web.MustPrincipal(c)
	ctx := c.Request().Context()
	m := p.Merchant
	loc := m.Location()
	now := h.now()
	if web.IsHTMX(c.Request()) {
		// The alert strip refreshing itself: only the open alerts.
		v := views.HomeView{Loc: loc}
		var err error
		v.OpenAlerts, _, err = h.Store.Alerts(ctx, m.ID, db.AlertFilter{Statuses: []string{domain.AlertFiring, domain.AlertAcknowledged}, Limit: 20})
		if err != nil {
			return err
		}
		return web.Render(c, http.StatusOK, views.OpenAlertsFragment(v), nil)
	}
	d, err := h.Dashboard(c, m, c.QueryParam("range"), c.QueryParam("from"), c.QueryParam("to"), now)
	if err != nil {
		return err
	}
	d.RecentFailures, _, err = h.Store.Transactions(ctx, m.ID, db.TxFilter{Statuses: []string{"failed"}, Limit: 10})
	if err != nil {
		return err
	}
	d.Loc = loc
	return web.Render(c, http.StatusOK, views.HomePage(web.Shell(c, "overview", web.T(c, "home.title")), d), nil)
}

// Dashboard gathers the dashboard's figures (the benchmark measures exactly this).
func (h *Home) Dashboard(c echo.Context, m domain.Merchant, key, fromS, toS string, now time.Time) (views.HomeView, error) {
	ctx := c.Request().Context()
	loc := m.Location()
	if key == "" {
		key = "7d"
	}
	from, _ := time.ParseInLocation(time.DateOnly, fromS, loc)
	to, _ := time.ParseInLocation(time.DateOnly, toS, loc)
	r := domain.NewDashRange(key, from, to, now, loc)
	v := views.HomeView{Range: r, Currency: m.Currency, Loc: loc}
	if r.Key == "custom" {
		v.FromDate, v.ToDate = r.FromDay.Format(time.DateOnly), r.ToDay.AddDate(0, 0, -1).Format(time.DateOnly)
	}
	rows, err := h.Store.DashTotals(ctx, m.ID, r, dashDims)
	if err != nil {
		return v, err
	}
	var dc []domain.DimCount
	for _, x := range rows {
		dv := views.DimVal{Dim: x.Dim, Val: x.Val, Cur: counts(x.Cur), Prev: counts(x.Prev)}
		if x.Dim == "all" {
			v.Cur, v.Prev = dv.Cur, dv.Prev
			continue
		}
		v.Dims = append(v.Dims, dv)
		if driverDims[x.Dim] {
			dc = append(dc, domain.DimCount{Dim: x.Dim, Val: x.Val, Failed: x.Cur.Failed, Attempts: x.Cur.Settled(),
				PrevFailed: x.Prev.Failed, PrevAttempts: x.Prev.Settled()})
		}
	}
	tot := domain.Totals{Failed: v.Cur.Failed, Attempts: v.Cur.Settled(), PrevFailed: v.Prev.Failed, PrevAttempts: v.Prev.Settled()}
	v.Drivers = domain.Concentration(dc, tot, max(3, v.Cur.Failed/100), 10)
	// The range and the period before in one read, split at the range's start.
	both := r
	both.From, both.FromDay = r.PrevFrom, r.PrevFromDay
	points, err := h.Store.DashSeries(ctx, m.ID, both, loc)
	if err != nil {
		return v, err
	}
	for _, p := range series(points) {
		if p.At.Before(r.From) {
			v.Before = append(v.Before, p)
		} else {
			v.Series = append(v.Series, p)
		}
	}
	hours, err := h.Store.DashHourOfDay(ctx, m.ID, r, m.TimeZone)
	if err != nil {
		return v, err
	}
	for i, x := range hours {
		v.Hours[i] = counts(x)
	}
	// The last hour from minute rollups (the current minute included).
	end := now.UTC().Truncate(time.Minute).Add(time.Minute)
	before1, last, err := h.Store.WindowCountsSplit(ctx, m.ID, "all", "", end.Add(-2*time.Hour), end.Add(-time.Hour), end)
	if err != nil {
		return v, err
	}
	v.LastHour, v.HourBefore = counts(last), counts(before1)
	v.OpenAlerts, _, err = h.Store.Alerts(ctx, m.ID, db.AlertFilter{Statuses: []string{domain.AlertFiring, domain.AlertAcknowledged}, Limit: 20})
	if err != nil {
		return v, err
	}
	rules, err := h.Store.AlertRules(ctx, m.ID)
	if err != nil {
		return v, err
	}
	for _, rl := range rules {
		if rl.Enabled && rl.Metric == domain.MetricFailureRate && rl.Scope == domain.ScopeAll {
			v.Threshold = rl.Threshold
			break
		}
	}
	if v.Catalog, err = h.catalog(c); err != nil {
		return v, err
	}
	return v, nil
}
