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

// Audit shows the merchant's audit log to admins.
type Audit struct{ Deps }

// Routes registers the audit page.
func (h *Audit) Routes() {
	h.App.Console.GET("/audit", h.List, web.RequireRole(domain.RoleAdmin))
}

// List shows the audit log, filtered and keyset paged; htmx gets the table alone.
func (h *Audit) List(c echo.Context) error {
	q := c.QueryParams()
	p := web.MustPrincipal(c)
	loc := p.Merchant.Location()
	v := views.AuditView{Query: q}
	f := db.AuditFilter{Actor: q.Get("actor"), Action: q.Get("action"), Result: q.Get("result")}
	bad := false
	if s := q.Get("from"); s != "" {
		t, err := time.ParseInLocation("2006-01-02", s, loc)
		bad = bad || err != nil
		f.From = t
	}
	if s := q.Get("to"); s != "" {
		t, err := time.ParseInLocation("2006-01-02", s, loc)
		bad = bad || err != nil
		f.To = t.AddDate(0, 0, 1)
	}
	if r := f.Result; r != "" && r != domain.AuditOK && r != domain.AuditDenied && r != domain.AuditFailed {
		bad = true
	}
	cur, err := domain.DecodeCursor(q.Get("cursor"))
	bad = bad || err != nil || !validText(f.Actor, 100) || !validText(f.Action, 50)
	f.Cursor = cur
	status := http.StatusOK
	if bad {
		status = http.StatusBadRequest
		v.Error = web.T(c, "error.bad_filter")
	} else {
		entries, next, err := h.Store.AuditLog(c.Request().Context(), p.Merchant.ID, f)
		if err != nil {
			return err
		}
		v.Entries, v.Next = entries, next.Encode()
	}
	shell := web.Shell(c, "audit", web.T(c, "audit.title"))
	return web.Render(c, status, views.AuditPage(shell, v), views.AuditTable(shell, v))
}
