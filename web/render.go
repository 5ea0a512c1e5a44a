package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/a-h/templ"
	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"paymend/views"
)

// Render answers with the whole page, or only fragment when htmx asked for one
// (HX-Request without HX-Boosted or a history restore). It always sets
// Vary: HX-Request so caches keep the two apart.
func Render(c echo.Context, status int, page, fragment templ.Component) error {
	c.Response().Header().Add("Vary", "HX-Request")
	comp := page
	if fragment != nil && IsHTMX(c.Request()) {
		comp = fragment
	}
	c.Response().Header().Set(echo.HeaderContentType, echo.MIMETextHTMLCharsetUTF8)
	c.Response().WriteHeader(status)
	return comp.Render(c.Request().Context(), c.Response())
}

// Shell builds the page frame's view model for the request, consuming its flashes.
func Shell(c echo.Context, section, title string) views.Shell {
	s := views.Shell{Section: section, Title: title, Path: c.Request().URL.RequestURI()}
	if p, ok := PrincipalOf(c); ok && p.APIKey == nil {
		u, m := p.User, p.Merchant
		s.User, s.Merchant = &u, &m
		s.Flashes = takeFlashes(c)
	}
	return s
}

// AddFlash queues a message for the next page the user sees.
func AddFlash(c echo.Context, kind, text string) {
	sess, ok := c.Get(sessionKey).(*sessions.Session)
	if !ok {
		return
	}
	sess.AddFlash(kind + "\x00" + text)
	_ = sess.Save(c.Request(), c.Response())
}

func takeFlashes(c echo.Context) []views.Flash {
	sess, ok := c.Get(sessionKey).(*sessions.Session)
	if !ok {
		return nil
	}
	raw := sess.Flashes()
	if len(raw) == 0 {
		return nil
	}
	_ = sess.Save(c.Request(), c.Response())
	out := make([]views.Flash, 0, len(raw))
	for _, r := range raw {
		s, _ := r.(string)
		kind, text, _ := strings.Cut(s, "\x00")
		out = append(out, views.Flash{Kind: kind, Text: text})
	}
	return out
}

// Redirect sends the browser to path after a form post: 303 for plain requests,
// HX-Redirect for htmx so the whole page changes.
func Redirect(c echo.Context, path string) error {
	if c.Request().Header.Get("HX-Request") == "true" {
		c.Response().Header().Set("HX-Redirect", path)
		return c.NoContent(http.StatusNoContent)
	}
	return c.Redirect(http.StatusSeeOther, path)
}

// SafeBack returns p if it is a local path (never another host), else "/".
func SafeBack(p string) string {
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(u.Path, "/") ||
		strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return "/"
	}
	return u.RequestURI()
}

func itoa(n int) string { return strconv.Itoa(n) }
