// Package views holds PayMend's templ components and their view models.
package views

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"paymend/domain"
	"paymend/i18n"
	"paymend/static"
)

// Shell is what every console page's frame needs.
type Shell struct {
	Title    string
	Section  string // which nav item is current
	User     *domain.User
	Merchant *domain.Merchant
	Flashes  []Flash
	Path     string // the current path with query, for the language switch's return
}

// Flash is a one-time message shown at the top of a page.
type Flash struct {
	Kind string // ok, error, info
	Text string
}

// NavItem is one entry of the console navigation.
type NavItem struct {
	Section string
	Href    string
	Key     string
	MinRole domain.Role
}

// Nav is the console navigation; items are shown only to roles that may use them.
var Nav = []NavItem{
	{"overview", "/", "nav.overview", domain.RoleViewer},
	{"transactions", "/transactions", "nav.transactions", domain.RoleViewer},
	{"alerts", "/alerts", "nav.alerts", domain.RoleViewer},
	{"notifications", "/notifications", "nav.notifications", domain.RoleViewer},
	{"calls", "/calls", "nav.calls", domain.RoleOperator},
	{"refunds", "/refunds", "nav.refunds", domain.RoleViewer},
	{"recon", "/reconciliation", "nav.recon", domain.RoleViewer},
	{"feedback", "/feedback", "nav.feedback", domain.RoleViewer},
	{"codes", "/codes", "nav.codes", domain.RoleViewer},
	{"risk", "/risk", "nav.risk", domain.RoleOperator},
	{"emergency", "/emergency", "nav.emergency", domain.RoleOperator},
	{"users", "/users", "nav.users", domain.RoleAdmin},
	{"audit", "/audit", "nav.audit", domain.RoleAdmin},
	{"settings", "/settings", "nav.settings", domain.RoleAdmin},
}

// Can reports whether the shell's user has at least role min.
func (s Shell) Can(min domain.Role) bool { return s.User != nil && s.User.Role.AtLeast(min) }

func t(ctx context.Context, key string, args ...any) string { return i18n.C(ctx, key, args...) }

func lang(ctx context.Context) string { return string(i18n.FromContext(ctx)) }

func asset(name string) string { return static.URL(name) }

// fmtTime shows t in the merchant's zone.
func fmtTime(m *domain.Merchant, at time.Time) string {
	loc := domain.ShanghaiZone()
	if m != nil {
		loc = m.Location()
	}
	return at.In(loc).Format("2006-01-02 15:04:05")
}

func fmtTimePtr(m *domain.Merchant, at *time.Time) string {
	if at == nil {
		return "—"
	}
	return fmtTime(m, *at)
}

func itoa(n int64) string { return fmt.Sprintf("%d", n) }

// withQuery returns path?q with key set to value (other parameters kept).
func withQuery(path string, q url.Values, key, value string) string {
	c := url.Values{}
	for k, v := range q {
		c[k] = append([]string(nil), v...)
	}
	if value == "" {
		c.Del(key)
	} else {
		c.Set(key, value)
	}
	if e := c.Encode(); e != "" {
		return path + "?" + e
	}
	return path
}
