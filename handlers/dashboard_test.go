package handlers_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDashboardFromRollups: the overview's figures, comparison with the previous
// period, "where are failures concentrated" and the charts' text alternatives come
// from the rollups the job keeps.
func TestDashboardFromRollups(t *testing.T) {
	e := newEnv(t)
	now := e.clock.Now()
	// Previous 24 h: 10 % failed, all code 101. Last 24 h: 30 % failed, 202 new.
	prev := now.Add(-30 * time.Hour)
	e.payMany("alpha", 10, "failed", "101", prev)
	e.payMany("alpha", 90, "succeeded", "", prev)
	cur := now.Add(-2 * time.Hour)
	e.payMany("alpha", 10, "failed", "101", cur)
	e.payMany("alpha", 20, "failed", "202", cur)
	e.payMany("alpha", 70, "succeeded", "", cur)
	e.payMany("beta", 50, "failed", "301", cur) // another merchant's trouble is not alpha's
	if _, err := e.store.ApplyRollupDeltas(context.Background(), now); err != nil {
		t.Fatal(err)
	}
	c := e.login("viewer@alpha.test")
	d := doc(t, e.get(c, "/?range=24h"))
	kpi := func(id string) string { return strings.Join(strings.Fields(d.Find(tid(id)).Text()), " ") }
	if s := kpi("kpi-failure-rate"); !strings.Contains(s, "30.0%") || !strings.Contains(s, "+20.0 pp") {
		t.Fatalf("failure rate KPI %q", s)
	}
	if s := kpi("kpi-failed"); !strings.Contains(s, "30") || !strings.Contains(s, "+200%") {
		t.Fatalf("failed KPI %q", s)
	}
	if s := kpi("kpi-failed-amount"); !strings.Contains(s, "7,500.00 CNY") {
		t.Fatalf("failed amount KPI %q", s)
	}
	first := d.Find(tid("driver-row")).First()
	if dim, _ := first.Attr("data-dim"); dim != "code" || first.AttrOr("data-val", "") != "202" ||
		!strings.Contains(first.Text(), "0.0% → 66.7%") || !strings.Contains(first.Text(), "+20.0 pp") || !strings.Contains(first.Text(), "100%") {
		t.Fatalf("top driver %s %q", dim, first.Text())
	}
	// Charts: SVG with a title, a description, hover titles, the threshold (default
	// rule 15 %) and a data table.
	if d.Find(tid("chart-rate")+" svg title").Length() < 2 || d.Find(tid("chart-rate-threshold")).Length() != 1 ||
		!strings.Contains(d.Find(tid("chart-rate")+" desc").Text(), "30.0%") {
		t.Fatal("failure-rate chart lacks its text alternative or threshold")
	}
	if s := d.Find(tid("chart-codes") + " .bar-row title").First().Text(); !strings.Contains(s, "202") || !strings.Contains(s, "20") {
		t.Fatalf("top codes hover %q", s)
	}
	if href, _ := d.Find(tid("chart-codes") + " a").First().Attr("href"); !strings.Contains(href, "code=202") || !strings.Contains(href, "status=failed") {
		t.Fatalf("bar link %q", href)
	}
	if s := d.Find(tid("chart-res")).Text(); !strings.Contains(s, "30") {
		t.Fatalf("open failures by step %q", s)
	}
	// Other ranges and a custom range answer; nonsense falls back to 7 days.
	for _, q := range []string{"?range=7d", "?range=30d", "?range=90d", "?range=custom&from=2026-01-01&to=2026-01-31", "?range=nonsense"} {
		if resp := e.get(c, "/"+q); resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", q, resp.StatusCode)
		}
	}
	if s := doc(t, e.get(c, "/?range=7d")).Find(tid("kpi-failed")).Text(); !strings.Contains(s, "40") {
		t.Fatalf("7 days failed %q", s)
	}
}

// TestDashboardAlertStripRefreshes: htmx asks for the alert strip alone.
func TestDashboardAlertStripRefreshes(t *testing.T) {
	e := newEnv(t)
	c := e.login("viewer@alpha.test")
	d := doc(t, e.get(c, "/", "HX-Request", "true"))
	if d.Find(tid("dash-alerts")).Length() != 1 || d.Find(tid("kpis")).Length() != 0 {
		t.Fatal("fragment is not the alert strip alone")
	}
	e.payMany("alpha", 60, "failed", "202", e.clock.Now())
	e.evaluate()
	if n := doc(t, e.get(c, "/", "HX-Request", "true")).Find(tid("dash-alert")).Length(); n != 1 {
		t.Fatalf("%d alerts in the strip", n)
	}
}
