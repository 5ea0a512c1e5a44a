package views

import (
	"fmt"
	"math"
	"strings"
)

// Charts are server-rendered SVG (README "Dashboard charts"): no script, a <title>
// on every mark for the hover value, and each chart carries a text alternative and
// its data as a table.

// LinePoint is one x position of a line chart.
type LinePoint struct {
	Label string  // x label (time)
	Value float64 // y value
	Has   bool    // false: no data (a gap in the line)
	Title string  // the hover text
}

// LineChart is a line over time, optionally with the previous period (dashed) and a
// threshold (a red horizontal rule).
type LineChart struct {
	ID, Title, Desc string
	Cur, Prev       []LinePoint
	Threshold       float64 // 0: none
	Percent         bool    // y values are fractions shown as %
}

const (
	lcW, lcH                   = 720.0, 240.0
	lcL, lcR, lcT, lcB         = 48.0, 14.0, 12.0, 30.0
	bcW, bcRow, bcLabel, bcVal = 520.0, 24.0, 170.0, 96.0
)

func f1(v float64) string {
	return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.1f", v), "0"), ".")
}

// max is the top of the y axis: the data and threshold with headroom, rounded up.
func (c LineChart) max() float64 {
	m := c.Threshold
	for _, ps := range [][]LinePoint{c.Cur, c.Prev} {
		for _, p := range ps {
			if p.Has && p.Value > m {
				m = p.Value
			}
		}
	}
	if m <= 0 {
		if c.Percent {
			return 0.1
		}
		return 10
	}
	top := niceCeil(m * 1.1)
	if c.Percent && top > 1 {
		top = 1
	}
	return top
}

// niceCeil rounds up to 1, 2, 2.5 or 5 times a power of ten.
func niceCeil(v float64) float64 {
	p := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if v <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func (c LineChart) n() int { return max(len(c.Cur), 2) }

func (c LineChart) x(i int) float64 { return lcL + (lcW-lcL-lcR)*float64(i)/float64(c.n()-1) }

func (c LineChart) y(v float64) float64 { return lcT + (lcH-lcT-lcB)*(1-v/c.max()) }

// path draws the points as a polyline with gaps where there is no data.
func (c LineChart) path(ps []LinePoint) string {
	var b strings.Builder
	pen := false
	for i, p := range ps {
		if i >= c.n() {
			break
		}
		if !p.Has {
			pen = false
			continue
		}
		cmd := "L"
		if !pen {
			cmd = "M"
		}
		fmt.Fprintf(&b, "%s%s %s ", cmd, f1(c.x(i)), f1(c.y(p.Value)))
		pen = true
	}
	return strings.TrimSpace(b.String())
}

// ChartTick is an axis label at a position.
type ChartTick struct {
	Pos   float64
	Label string
}

func (c LineChart) yTicks() []ChartTick {
	m := c.max()
	var out []ChartTick
	for i := 0; i <= 4; i++ {
		v := m * float64(i) / 4
		l := fmt.Sprintf("%g", v)
		if c.Percent {
			l = f1(v*100) + "%"
		}
		out = append(out, ChartTick{c.y(v), l})
	}
	return out
}

func (c LineChart) xTicks() []ChartTick {
	n := len(c.Cur)
	if n == 0 {
		return nil
	}
	idx := []int{0, n / 4, n / 2, 3 * n / 4, n - 1}
	var out []ChartTick
	seen := map[int]bool{}
	for _, i := range idx {
		if !seen[i] && i < n {
			seen[i] = true
			out = append(out, ChartTick{c.x(i), c.Cur[i].Label})
		}
	}
	return out
}

// chartDot is a hoverable point.
type chartDot struct {
	X, Y  float64
	Title string
}

func (c LineChart) dots() []chartDot {
	var out []chartDot
	for i, p := range c.Cur {
		if p.Has {
			out = append(out, chartDot{c.x(i), c.y(p.Value), p.Title})
		}
	}
	return out
}

// hoverBands are full-height invisible columns so hovering anywhere shows a value.
func (c LineChart) hoverBands() []chartDot {
	var out []chartDot
	w := (lcW - lcL - lcR) / float64(c.n()-1)
	for i, p := range c.Cur {
		if p.Has {
			out = append(out, chartDot{c.x(i) - w/2, 0, p.Title})
		}
	}
	return out
}

func (c LineChart) bandWidth() string { return f1((lcW - lcL - lcR) / float64(c.n()-1)) }

// BarRow is one bar of a horizontal bar chart.
type BarRow struct {
	Label     string
	Href      string // the transactions behind the bar
	Value     float64
	Prev      float64 // previous period (a thin marker); <0: none
	ValueText string
	Title     string
	Alert     bool // drawn in the alarm colour
}

// BarChart is a horizontal bar chart with the previous period as a marker.
type BarChart struct {
	ID, Title, Desc string
	Rows            []BarRow
}

func (c BarChart) height() float64 { return float64(len(c.Rows))*bcRow + 8 }

func (c BarChart) max() float64 {
	m := 0.0
	for _, r := range c.Rows {
		m = math.Max(m, math.Max(r.Value, r.Prev))
	}
	if m <= 0 {
		return 1
	}
	return m
}

func (c BarChart) width(v float64) float64 {
	return math.Max(0, (bcW-bcLabel-bcVal)*v/c.max())
}

func (c BarChart) rowY(i int) float64 { return 4 + float64(i)*bcRow }

// ColumnChart is a vertical bar per category (hours of the day).
type ColumnChart struct {
	ID, Title, Desc string
	Cols            []BarRow
}

const ccW, ccH, ccB = 720.0, 140.0, 22.0

func (c ColumnChart) max() float64 {
	m := 0.0
	for _, r := range c.Cols {
		m = math.Max(m, r.Value)
	}
	if m <= 0 {
		return 1
	}
	return m
}

func (c ColumnChart) colW() float64 { return ccW / float64(max(len(c.Cols), 1)) }

func (c ColumnChart) colH(v float64) float64 { return (ccH - ccB - 6) * v / c.max() }
