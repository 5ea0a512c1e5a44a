package domain

import (
	"math"
	"sort"
	"time"
)

// AmountBand is a range of payment amounts in minor units, [Min, Max) with Max 0
// meaning no upper bound. Keys match the SQL function rollup_band.
type AmountBand struct {
	Key      string
	Min, Max int64
}

// AmountBands are the bands "where are failures concentrated" compares.
var AmountBands = []AmountBand{{"a", 0, 10000}, {"b", 10000, 50000}, {"c", 50000, 100000},
	{"d", 100000, 500000}, {"e", 500000, 2000000}, {"f", 2000000, 0}}

// BandOf returns the band of an amount.
func BandOf(amount int64) AmountBand {
	for _, b := range AmountBands {
		if b.Max == 0 || amount < b.Max {
			return b
		}
	}
	return AmountBands[len(AmountBands)-1]
}

// Band returns the band with key k.
func Band(k string) (AmountBand, bool) {
	for _, b := range AmountBands {
		if b.Key == k {
			return b, true
		}
	}
	return AmountBand{}, false
}

// DimCount is one value of a dimension (a code, channel, bank, card BIN, amount
// band) in the current and the previous period.
type DimCount struct {
	Dim, Val                 string
	Failed, Attempts         int64 // current period
	PrevFailed, PrevAttempts int64 // previous period
}

// Driver is a dimension value whose share of failures changed between periods.
type Driver struct {
	DimCount
	Share, PrevShare float64 // of all failures in the period
	ShareChange      float64 // Share - PrevShare, in fractions (0.1 = 10 pp)
	// RateContribution is how much this value moved the overall failure rate:
	// Failed/Attempts(total) - PrevFailed/PrevAttempts(total). Over one dimension
	// the contributions add up to the change of the failure rate.
	RateContribution float64
	// ContributionShare is RateContribution / the overall change (NaN-free: 0 when
	// the rate did not move).
	ContributionShare float64
}

// Totals are a period's settled attempts and failures.
type Totals struct{ Failed, Attempts, PrevFailed, PrevAttempts int64 }

// RateChange is the change of the failure rate between the periods.
func (t Totals) RateChange() float64 {
	return ratio(t.Failed, t.Attempts) - ratio(t.PrevFailed, t.PrevAttempts)
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// Concentration ranks dimension values by how much their share of failures grew
// against the previous period, with their contribution to the change of the
// failure rate. Values with fewer than minFailures failures in the current period
// are left out (noise), as are values whose share did not grow. At most limit.
func Concentration(counts []DimCount, tot Totals, minFailures int64, limit int) []Driver {
	change := tot.RateChange()
	var out []Driver
	for _, c := range counts {
		if c.Failed < minFailures {
			continue
		}
		d := Driver{DimCount: c, Share: ratio(c.Failed, tot.Failed), PrevShare: ratio(c.PrevFailed, tot.PrevFailed)}
		d.ShareChange = d.Share - d.PrevShare
		if d.ShareChange <= 0 {
			continue
		}
		d.RateContribution = ratio(c.Failed, tot.Attempts) - ratio(c.PrevFailed, tot.PrevAttempts)
		if math.Abs(change) > 1e-9 {
			d.ContributionShare = d.RateContribution / change
		}
		out = append(out, d)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].ShareChange != out[j].ShareChange {
			return out[i].ShareChange > out[j].ShareChange
		}
		if out[i].Dim != out[j].Dim {
			return out[i].Dim < out[j].Dim
		}
		return out[i].Val < out[j].Val
	})
	if len(out) > limit {
		out = out[:limit]
	}
	return out
}

// DashRange is the period a dashboard shows and the one before it. Hourly ranges
// (24h) use hour buckets in UTC; the others are whole local days, today included.
type DashRange struct {
	Key            string // 24h, 7d, 30d, 90d, custom
	Hourly         bool
	From, To       time.Time // [From, To) as instants
	PrevFrom       time.Time // previous period [PrevFrom, From)
	Days           int       // length in days (0 for 24h)
	FromDay, ToDay time.Time // local dates (midnight in loc) for daily ranges
	PrevFromDay    time.Time
	SeriesHourly   bool // the chart uses hour points (ranges up to 7 days)
}

// NewDashRange builds the range key (24h, 7d, 30d, 90d) or, for "custom", the
// local dates from..to inclusive (at most 366 days) around now in loc.
func NewDashRange(key string, from, to time.Time, now time.Time, loc *time.Location) DashRange {
	if key == "24h" {
		end := now.UTC().Truncate(time.Hour).Add(time.Hour)
		start := end.Add(-24 * time.Hour)
		return DashRange{Key: key, Hourly: true, SeriesHourly: true, From: start, To: end, PrevFrom: start.Add(-24 * time.Hour)}
	}
	y, m, d := now.In(loc).Date()
	today := time.Date(y, m, d, 0, 0, 0, 0, loc)
	days := map[string]int{"7d": 7, "30d": 30, "90d": 90}[key]
	endDay := today.AddDate(0, 0, 1)
	if key == "custom" && !from.IsZero() && !to.IsZero() && !to.Before(from) {
		f := time.Date(from.Year(), from.Month(), from.Day(), 0, 0, 0, 0, loc)
		t := time.Date(to.Year(), to.Month(), to.Day(), 0, 0, 0, 0, loc).AddDate(0, 0, 1)
		n := int(math.Round(t.Sub(f).Hours() / 24))
		if n >= 1 && n <= 366 {
			days, endDay = n, t
		}
	}
	if days == 0 {
		key, days = "7d", 7
	}
	startDay := endDay.AddDate(0, 0, -days)
	r := DashRange{Key: key, Days: days, FromDay: startDay, ToDay: endDay, PrevFromDay: startDay.AddDate(0, 0, -days),
		From: startDay, To: endDay, SeriesHourly: days <= 7}
	r.PrevFrom = r.PrevFromDay
	return r
}

// Previous is the period of the same length just before r.
func (r DashRange) Previous() DashRange {
	p := r
	p.To, p.From = r.From, r.PrevFrom
	p.PrevFrom = r.PrevFrom.Add(-r.From.Sub(r.PrevFrom))
	if !r.Hourly {
		p.ToDay, p.FromDay = r.FromDay, r.PrevFromDay
		p.PrevFromDay = r.PrevFromDay.AddDate(0, 0, -r.Days)
		p.From, p.To, p.PrevFrom = p.FromDay, p.ToDay, p.PrevFromDay
	}
	return p
}
