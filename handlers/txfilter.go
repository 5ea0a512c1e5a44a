package handlers

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"paymend/db"
	"paymend/domain"
)

// FilterError names a bad filter parameter; Key is an i18n key for the message.
type FilterError struct {
	Param string
	Key   string
}

// parseTime accepts RFC 3339, a datetime-local value or a date, the last two in the
// merchant's zone. A bare date used as an upper bound means the end of that day.
func parseTime(s string, loc *time.Location, upper bool) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), true
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04:05", "2006-01-02 15:04"} {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t.UTC(), true
		}
	}
	if t, err := time.ParseInLocation("2006-01-02", s, loc); err == nil {
		if upper {
			t = t.AddDate(0, 0, 1)
		}
		return t.UTC(), true
	}
	return time.Time{}, false
}

// TxQuery is a parsed transactions filter and the values it came from.
type TxQuery struct {
	Filter   db.TxFilter
	Values   url.Values
	Category string
	Errors   []FilterError
}

// parseTxQuery reads the list filters shared by the console, the export and the API.
// defaultStatus applies when no status is given ("" = all statuses).
func parseTxQuery(q url.Values, m domain.Merchant, cat *domain.Catalog, defaultStatus string) TxQuery {
	out := TxQuery{Values: q}
	f := &out.Filter
	bad := func(p, key string) { out.Errors = append(out.Errors, FilterError{p, key}) }
	loc := m.Location()

	switch st := strings.TrimSpace(q.Get("status")); {
	case st == "" && defaultStatus != "":
		f.Statuses = []string{defaultStatus}
	case st == "" || st == "all":
	default:
		for _, s := range strings.Split(st, ",") {
			if !domain.Status(s).Valid() {
				bad("status", "filter.err.status")
				break
			}
			f.Statuses = append(f.Statuses, s)
		}
	}
	if code := strings.TrimSpace(q.Get("code")); code != "" {
		if !domain.ValidCode(code) {
			bad("code", "filter.err.code")
		} else {
			f.Codes = []string{code}
		}
	}
	if c := strings.TrimSpace(q.Get("category")); c != "" {
		out.Category = c
		switch {
		case !domain.Category(c).Valid():
			bad("category", "filter.err.category")
		case domain.Category(c) == domain.CategoryUnclassified:
			for _, e := range cat.All() {
				f.NotCodes = append(f.NotCodes, e.Code)
			}
			f.NotCodes = append(f.NotCodes, "") // successes have no code and are not "unclassified"
		default:
			var codes []string
			for _, e := range cat.All() {
				if string(e.Category) == c {
					codes = append(codes, e.Code)
				}
			}
			if len(f.Codes) > 0 { // both a code and a category: the code must be in it
				if cat.CategoryOf(f.Codes[0]) != domain.Category(c) {
					codes = nil
				} else {
					codes = f.Codes
				}
			}
			if len(codes) == 0 {
				f.NoMatch = true
			}
			f.Codes = codes
		}
	}
	if ch := strings.TrimSpace(q.Get("channel")); ch != "" {
		if !domain.ValidChannel(ch) {
			bad("channel", "filter.err.channel")
		}
		f.Channel = ch
	}
	if b := strings.TrimSpace(q.Get("bank")); b != "" {
		if !validText(b, 64) {
			bad("bank", "filter.err.bank")
		}
		f.Bank = b
	}
	if r := strings.TrimSpace(q.Get("resolution")); r != "" {
		if !domain.ResolutionState(r).Valid() {
			bad("resolution", "filter.err.resolution")
		}
		f.Resolution = r
	}
	for _, p := range []struct {
		name  string
		dst   *time.Time
		upper bool
	}{{"from", &f.From, false}, {"to", &f.To, true}} {
		if s := strings.TrimSpace(q.Get(p.name)); s != "" {
			t, ok := parseTime(s, loc, p.upper)
			if !ok {
				bad(p.name, "filter.err.time")
			}
			*p.dst = t
		}
	}
	if !f.From.IsZero() && !f.To.IsZero() && !f.From.Before(f.To) {
		bad("to", "filter.err.range")
	}
	for _, p := range []struct {
		name string
		dst  **int64
	}{{"min_amount", &f.MinAmount}, {"max_amount", &f.MaxAmount}} {
		if s := strings.TrimSpace(q.Get(p.name)); s != "" {
			v, err := domain.ParseMoney(s, m.Currency)
			if err != nil {
				bad(p.name, "filter.err.amount")
				continue
			}
			*p.dst = &v
		}
	}
	if f.MinAmount != nil && f.MaxAmount != nil && *f.MinAmount > *f.MaxAmount {
		bad("max_amount", "filter.err.amount_range")
	}
	if s := strings.TrimSpace(q.Get("q")); s != "" {
		if !validText(s, 100) {
			bad("q", "filter.err.q")
		}
		f.Q = s
	}
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			bad("limit", "filter.err.limit")
		}
		f.Limit = n
	}
	cur, err := domain.DecodeCursor(q.Get("cursor"))
	if err != nil {
		bad("cursor", "filter.err.cursor")
	}
	f.Cursor = cur
	return out
}
