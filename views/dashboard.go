package views

import (
	"context"
	"fmt"
	"math"
	"net/url"
	"time"

	"paymend/domain"
)

// Counts are rollup sums as the dashboard needs them.
type Counts struct {
	Attempts, Succeeded, Failed, Pending, FailedAmount int64
}

// Settled is failed + succeeded.
func (c Counts) Settled() int64 { return c.Failed + c.Succeeded }

// FailureRate is failed / settled (0 without settled payments).
func (c Counts) FailureRate() float64 {
	if c.Settled() == 0 {
		return 0
	}
	return float64(c.Failed) / float64(c.Settled())
}

// SuccessRate is succeeded / settled (0 without settled payments).
func (c Counts) SuccessRate() float64 {
	if c.Settled() == 0 {
		return 0
	}
	return float64(c.Succeeded) / float64(c.Settled())
}

// DimVal is a dimension value's counts in the period and the one before.
type DimVal struct {
	Dim, Val  string
	Cur, Prev Counts
}

// SeriesPoint is one bucket of the failure-rate chart.
type SeriesPoint struct {
	At time.Time
	Counts
}

// HomeView is the overview dashboard's view model.
type HomeView struct {
	Range            domain.DashRange
	FromDate, ToDate string // the custom range form's values
	Currency         string
	Loc              *time.Location
	LastHour         Counts // the last 60 minutes
	HourBefore       Counts // the 60 minutes before
	Cur, Prev        Counts // the range and the period before (dimension all)
	Dims             []DimVal
	Series, Before   []SeriesPoint // the range's buckets and the previous period's
	Hours            [24]Counts
	Threshold        float64 // the main failure-rate rule's threshold (0: none)
	OpenAlerts       []domain.Alert
	Drivers          []domain.Driver
	RecentFailures   []domain.Transaction
	Catalog          *domain.Catalog
}

// DashRanges are the range choices in menu order.
var DashRanges = []string{"24h", "7d", "30d", "90d"}

func (v HomeView) rangeHref(key string) string { return "/?range=" + key }

// txHref links to the failed payments of the range, narrowed by one dimension value.
func (v HomeView) txHref(dim, val string) string {
	q := url.Values{"status": {"failed"}, "from": {v.Range.From.UTC().Format(time.RFC3339)},
		"to": {v.Range.To.UTC().Format(time.RFC3339)}}
	switch dim {
	case "code", "channel", "bank":
		q.Set(dim, val)
	case "res":
		q.Set("resolution", val)
	case "band":
		b, ok := domain.Band(val)
		if !ok {
			return ""
		}
		if b.Min > 0 {
			q.Set("min_amount", domain.Money{Amount: b.Min, Currency: v.Currency}.Plain())
		}
		if b.Max > 0 {
			q.Set("max_amount", domain.Money{Amount: b.Max - 1, Currency: v.Currency}.Plain())
		}
	case "all":
	default:
		return ""
	}
	return "/transactions?" + q.Encode()
}

func (v HomeView) money(a int64) string {
	return domain.Money{Amount: a, Currency: v.Currency}.String()
}

// dimLabel names a dimension value for people.
func (v HomeView) dimLabel(ctx context.Context, dim, val string) string {
	switch dim {
	case "code":
		if val == "" {
			return t(ctx, "dash.no_code")
		}
		return val + " " + v.Catalog.Lookup(val).Title.In(lang(ctx))
	case "channel":
		return channelLabel(ctx, val)
	case "bank":
		if val == "" {
			return t(ctx, "dash.no_bank")
		}
		return bankLabel(ctx, val)
	case "bin":
		if val == "" {
			return t(ctx, "dash.no_bin")
		}
		return "BIN " + val
	case "band":
		b, ok := domain.Band(val)
		if !ok {
			return val
		}
		if b.Max == 0 {
			return "≥ " + domain.Money{Amount: b.Min, Currency: v.Currency}.String()
		}
		return domain.Money{Amount: b.Min, Currency: v.Currency}.Decimal() + " – " + domain.Money{Amount: b.Max, Currency: v.Currency}.String()
	case "res":
		return domain.ResolutionState(val).Label(lang(ctx))
	}
	return val
}

func (v HomeView) dim(name string) []DimVal {
	var out []DimVal
	for _, d := range v.Dims {
		if d.Dim == name {
			out = append(out, d)
		}
	}
	return out
}

func (v HomeView) unresolved() int64 {
	n := int64(0)
	for _, d := range v.dim("res") {
		if !domain.ResolutionState(d.Val).Terminal() {
			n += d.Cur.Failed
		}
	}
	return n
}

// pointLabel formats a bucket for the x axis.
func (v HomeView) pointLabel(at time.Time) string {
	if v.Range.SeriesHourly {
		if v.Range.Hourly {
			return at.In(v.Loc).Format("15:04")
		}
		return at.In(v.Loc).Format("01-02 15h")
	}
	return at.In(v.Loc).Format("01-02")
}

// rateChart is the failure rate per bucket, the previous period aligned under it.
func (v HomeView) rateChart(ctx context.Context) LineChart {
	step := 24 * time.Hour
	if v.Range.SeriesHourly {
		step = time.Hour
	}
	var buckets []time.Time
	for at := v.Range.From; at.Before(v.Range.To); {
		buckets = append(buckets, at)
		if step == time.Hour {
			at = at.Add(time.Hour)
		} else {
			at = at.AddDate(0, 0, 1)
		}
	}
	index := func(ps []SeriesPoint) map[int64]Counts {
		m := map[int64]Counts{}
		for _, p := range ps {
			m[p.At.Unix()] = p.Counts
		}
		return m
	}
	cur, prev := index(v.Series), index(v.Before)
	c := LineChart{ID: "chart-rate", Percent: true, Threshold: v.Threshold,
		Title: t(ctx, "dash.chart_rate"), Desc: t(ctx, "dash.chart_rate_desc", pct(v.Cur.FailureRate()), pct(v.Prev.FailureRate()))}
	shift := v.Range.From.Sub(v.Range.PrevFrom)
	for _, at := range buckets {
		p := LinePoint{Label: v.pointLabel(at)}
		if x, ok := cur[at.Unix()]; ok && x.Settled() > 0 {
			p.Has, p.Value = true, x.FailureRate()
			p.Title = t(ctx, "dash.point", v.pointLabel(at), pct(p.Value), x.Failed, x.Settled())
		}
		c.Cur = append(c.Cur, p)
		pat := at.Add(-shift)
		if !v.Range.SeriesHourly || !v.Range.Hourly {
			pat = at.AddDate(0, 0, -v.Range.Days)
		}
		pp := LinePoint{}
		if x, ok := prev[pat.Unix()]; ok && x.Settled() > 0 {
			pp.Has, pp.Value = true, x.FailureRate()
		}
		c.Prev = append(c.Prev, pp)
	}
	return c
}

// dimBars charts failures per value of a dimension (top n), the previous period as
// a marker.
func (v HomeView) dimBars(ctx context.Context, id, dim string, n int) BarChart {
	rows := v.dim(dim)
	sortDims(rows)
	c := BarChart{ID: id, Title: t(ctx, map[string]string{"code": "dash.chart_code", "channel": "dash.chart_channel", "bank": "dash.chart_bank"}[dim]), Desc: t(ctx, "dash.chart_bars_desc")}
	for _, d := range rows {
		if d.Cur.Failed == 0 || len(c.Rows) >= n {
			continue
		}
		label := v.dimLabel(ctx, dim, d.Val)
		c.Rows = append(c.Rows, BarRow{Label: label, Href: v.txHref(dim, d.Val), Value: float64(d.Cur.Failed),
			Prev: float64(d.Prev.Failed), ValueText: fmt.Sprintf("%d · %s", d.Cur.Failed, pct(d.Cur.FailureRate())),
			Title: t(ctx, "dash.bar_title", label, d.Cur.Failed, pct(d.Cur.FailureRate()), d.Prev.Failed)})
	}
	return c
}

// resolutionBars charts the range's failures still open, by playbook state.
func (v HomeView) resolutionBars(ctx context.Context) BarChart {
	c := BarChart{ID: "chart-res", Title: t(ctx, "dash.chart_res"), Desc: t(ctx, "dash.chart_res_desc")}
	by := map[string]DimVal{}
	for _, d := range v.dim("res") {
		by[d.Val] = d
	}
	for _, st := range domain.ResolutionStates {
		if st.Terminal() {
			continue
		}
		d := by[string(st)]
		label := st.Label(lang(ctx))
		c.Rows = append(c.Rows, BarRow{Label: label, Href: v.txHref("res", string(st)), Value: float64(d.Cur.Failed), Prev: -1,
			ValueText: itoa(d.Cur.Failed), Title: t(ctx, "dash.res_title", label, d.Cur.Failed)})
	}
	return c
}

// hourChart is failures by local hour of day, hours above the range's rate marked.
func (v HomeView) hourChart(ctx context.Context) ColumnChart {
	c := ColumnChart{ID: "chart-hours", Title: t(ctx, "dash.chart_hours"), Desc: t(ctx, "dash.chart_hours_desc")}
	avg := v.Cur.FailureRate()
	for h, x := range v.Hours {
		label := fmt.Sprintf("%02d", h)
		c.Cols = append(c.Cols, BarRow{Label: label, Value: float64(x.Failed),
			Alert: x.Settled() >= 20 && x.FailureRate() > avg*1.25,
			Title: t(ctx, "dash.hour_title", label, x.Failed, pct(x.FailureRate()))})
	}
	return c
}

func sortDims(rows []DimVal) {
	for i := 1; i < len(rows); i++ {
		for j := i; j > 0 && (rows[j].Cur.Failed > rows[j-1].Cur.Failed ||
			(rows[j].Cur.Failed == rows[j-1].Cur.Failed && rows[j].Val < rows[j-1].Val)); j-- {
			rows[j], rows[j-1] = rows[j-1], rows[j]
		}
	}
}

func pctPlain(f float64) string { return pct(f) }

// pp formats a change of a fraction in percentage points.
func pp(f float64) string { return fmt.Sprintf("%+.1f pp", f*100) }

func pctChange(now, prev int64) string {
	if prev == 0 {
		if now == 0 {
			return "±0"
		}
		return "new"
	}
	return fmt.Sprintf("%+.0f%%", (float64(now)/float64(prev)-1)*100)
}

func clip(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

func deltaClass(d float64) string {
	switch {
	case d > 1e-9:
		return "up-bad"
	case d < -1e-9:
		return "down-good"
	}
	return ""
}

func abs(f float64) float64 { return math.Abs(f) }
