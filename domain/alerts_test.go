package domain

import (
	"math"
	"testing"
	"time"
)

func TestDecideAlert(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	rule := AlertRule{Enabled: true, Metric: MetricFailureRate, Threshold: 0.15, MinVolume: 50, CooldownMinutes: 10, EscalateAfterMinutes: 30}
	over := Measurement{Value: 0.4, Volume: 100}
	under := Measurement{Value: 0.05, Volume: 100}
	few := Measurement{Value: 1, Volume: 2}
	firing := &Alert{Status: AlertFiring, OpenedAt: t0, LastBreachAt: t0}
	acked := &Alert{Status: AlertAcknowledged, OpenedAt: t0, LastBreachAt: t0}
	escalated := &Alert{Status: AlertFiring, OpenedAt: t0, LastBreachAt: t0, EscalatedAt: &t0}
	disabled := rule
	disabled.Enabled = false
	for _, c := range []struct {
		name     string
		rule     AlertRule
		m        Measurement
		open     *Alert
		at       time.Duration
		want     AlertAction
		escalate bool
	}{
		{"crossing opens", rule, over, nil, 0, AlertOpen, false},
		{"under stays quiet", rule, under, nil, 0, AlertNone, false},
		{"1 of 2 is not enough volume", rule, few, nil, 0, AlertNone, false},
		{"exactly the threshold is not over", rule, Measurement{Value: 0.15, Volume: 100}, nil, 0, AlertNone, false},
		{"still over updates", rule, over, firing, 5 * time.Minute, AlertUpdate, false},
		{"under within the cool-down stays open", rule, under, firing, 9 * time.Minute, AlertUpdate, false},
		{"under for the cool-down resolves", rule, under, firing, 10 * time.Minute, AlertResolve, false},
		{"too little volume counts as under", rule, few, firing, 11 * time.Minute, AlertResolve, false},
		{"unacknowledged for 30 min escalates", rule, over, firing, 30 * time.Minute, AlertUpdate, true},
		{"acknowledged never escalates", rule, over, acked, 45 * time.Minute, AlertUpdate, false},
		{"escalates once", rule, over, escalated, 45 * time.Minute, AlertUpdate, false},
		{"disabled rule resolves its alert", disabled, over, firing, time.Minute, AlertResolve, false},
		{"disabled rule opens nothing", disabled, over, nil, 0, AlertNone, false},
	} {
		d := DecideAlert(c.rule, c.m, c.open, t0.Add(c.at))
		if d.Action != c.want || d.Escalate != c.escalate {
			t.Errorf("%s: got %+v, want action %d escalate %v", c.name, d, c.want, c.escalate)
		}
	}
}

func TestBaselineRule(t *testing.T) {
	b := func(v float64) *float64 { return &v }
	rule := AlertRule{Enabled: true, Metric: MetricBaselineRate, Threshold: 3, MinVolume: 100}
	for _, c := range []struct {
		name string
		m    Measurement
		want bool
	}{
		{"far above the usual 5 %", Measurement{Value: 0.4, Volume: 120, Baseline: b(0.05)}, true},
		{"3x but only 1.5 pp above", Measurement{Value: 0.015, Volume: 5000, Baseline: b(0.005)}, false},
		{"usual for this hour", Measurement{Value: 0.4, Volume: 120, Baseline: b(0.35)}, false},
		{"no history", Measurement{Value: 0.9, Volume: 500}, false},
		{"too few attempts", Measurement{Value: 0.5, Volume: 20, Baseline: b(0.05)}, false},
		{"usual 0 %, now 10 % of 200", Measurement{Value: 0.1, Volume: 200, Baseline: b(0)}, true},
	} {
		if got := rule.Breached(c.m); got != c.want {
			t.Errorf("%s: %v", c.name, got)
		}
	}
	if v, ok := BaselineOf([]RateSample{{5, 100}, {0, 0}, {7, 100}, {3, 100}}); !ok || math.Abs(v-0.05) > 1e-9 {
		t.Errorf("median of three weeks: %v %v", v, ok)
	}
	if _, ok := BaselineOf([]RateSample{{5, 100}, {0, 0}, {0, 0}, {0, 0}}); ok {
		t.Error("one week of history is not a baseline")
	}
}

func TestAlertRuleValidate(t *testing.T) {
	good := AlertRule{Name: "x", Metric: MetricFailureRate, Scope: ScopeAll, WindowMinutes: 10, Threshold: 0.15, Severity: "warning",
		Emails: []string{"a@b.test"}, WebhookURL: "https://x.test/h"}
	if errs := good.Validate(); len(errs) != 0 {
		t.Fatalf("good rule: %v", errs)
	}
	for name, mut := range map[string]func(*AlertRule){
		"rate above 100 %":       func(r *AlertRule) { r.Threshold = 1.5 },
		"code metric, all scope": func(r *AlertRule) { r.Metric = MetricCodeShare },
		"scope without value":    func(r *AlertRule) { r.Scope = ScopeChannel },
		"refunds by channel":     func(r *AlertRule) { r.Metric, r.Scope, r.ScopeValue = MetricRefundFailures, ScopeChannel, "card" },
		"window 0":               func(r *AlertRule) { r.WindowMinutes = 0 },
		"failure rate of a code": func(r *AlertRule) { r.Scope, r.ScopeValue = ScopeCode, "202" },
		"bad e-mail":             func(r *AlertRule) { r.Emails = []string{"nope"} },
		"ftp webhook":            func(r *AlertRule) { r.WebhookURL = "ftp://x" },
		"unknown severity":       func(r *AlertRule) { r.Severity = "loud" },
	} {
		r := good
		mut(&r)
		if len(r.Validate()) == 0 {
			t.Errorf("%s accepted", name)
		}
	}
}

func TestConcentration(t *testing.T) {
	counts := []DimCount{
		{Dim: "code", Val: "202", Failed: 20, PrevFailed: 0},
		{Dim: "code", Val: "101", Failed: 10, PrevFailed: 10},
		{Dim: "channel", Val: "card", Failed: 30, PrevFailed: 10},
		{Dim: "bank", Val: "CMB", Failed: 2, PrevFailed: 0}, // below the noise floor
	}
	tot := Totals{Failed: 30, Attempts: 100, PrevFailed: 10, PrevAttempts: 100}
	got := Concentration(counts, tot, 3, 10)
	if len(got) != 1 || got[0].Val != "202" {
		t.Fatalf("%+v", got)
	}
	d := got[0]
	if math.Abs(d.ShareChange-2.0/3) > 1e-9 || math.Abs(d.RateContribution-0.2) > 1e-9 || math.Abs(d.ContributionShare-1) > 1e-9 {
		t.Fatalf("202: %+v", d)
	}
	// Over one dimension, contributions add up to the change of the failure rate.
	sum := 0.0
	for _, c := range counts[:2] {
		sum += float64(c.Failed)/float64(tot.Attempts) - float64(c.PrevFailed)/float64(tot.PrevAttempts)
	}
	if math.Abs(sum-tot.RateChange()) > 1e-9 {
		t.Fatalf("contributions %v, change %v", sum, tot.RateChange())
	}
}

func TestDashRange(t *testing.T) {
	loc := time.FixedZone("CST", 8*3600)
	now := time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC) // 18:30 local
	r := NewDashRange("7d", time.Time{}, time.Time{}, now, loc)
	if r.FromDay.Format(time.DateOnly) != "2026-11-19" || r.ToDay.Format(time.DateOnly) != "2026-11-26" ||
		r.PrevFromDay.Format(time.DateOnly) != "2026-11-12" || !r.SeriesHourly {
		t.Fatalf("7d: %+v", r)
	}
	h := NewDashRange("24h", time.Time{}, time.Time{}, now, loc)
	if !h.Hourly || h.To.Sub(h.From) != 24*time.Hour || !h.To.Equal(time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC)) {
		t.Fatalf("24h: %+v", h)
	}
	if p := h.Previous(); !p.To.Equal(h.From) || p.To.Sub(p.From) != 24*time.Hour {
		t.Fatalf("previous of 24h: %+v", p)
	}
	c := NewDashRange("custom", time.Date(2026, 10, 1, 0, 0, 0, 0, loc), time.Date(2026, 10, 31, 0, 0, 0, 0, loc), now, loc)
	if c.Days != 31 || c.SeriesHourly || c.Previous().Days != 31 || c.Previous().ToDay != c.FromDay {
		t.Fatalf("custom: %+v", c)
	}
	if bad := NewDashRange("custom", time.Time{}, time.Time{}, now, loc); bad.Key != "7d" {
		t.Fatalf("empty custom: %+v", bad)
	}
}
