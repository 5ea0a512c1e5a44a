package web

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"paymend/views"
)

// Problem is an error a user should read: an HTTP status and a message key from the
// i18n catalog. Handlers return it; the error handler renders it in the user's
// language as a page, an htmx flash or a JSON error.
type Problem struct {
	Status int
	Code   string // machine code for the JSON API, e.g. "invalid_request"
	Key    string // i18n key of the message
	Args   []any
}

func (p *Problem) Error() string { return fmt.Sprintf("%d %s", p.Status, p.Key) }

// Fail returns a Problem.
func Fail(status int, code, key string, args ...any) *Problem {
	return &Problem{Status: status, Code: code, Key: key, Args: args}
}

// ErrorHandler renders every error that reaches Echo. 5xx errors are logged with the
// request id and shown as a friendly page; nothing internal ever reaches the client.
func (a *App) ErrorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, code, msg := http.StatusInternalServerError, "internal_error", ""
	var p *Problem
	var he *echo.HTTPError
	switch {
	case errors.As(err, &p):
		status, code, msg = p.Status, p.Code, T(c, p.Key, p.Args...)
	case errors.As(err, &he):
		status = he.Code
		code = strings.ToLower(strings.ReplaceAll(http.StatusText(status), " ", "_"))
		msg = T(c, statusKey(status))
	default:
		msg = T(c, "error.internal")
	}
	if status >= 500 {
		a.log.ErrorContext(c.Request().Context(), "request failed", "err", err, "status", status,
			"request_id", RequestID(c), "path", c.Path())
		if status == http.StatusInternalServerError {
			msg = T(c, "error.internal")
		}
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	if strings.HasPrefix(c.Request().URL.Path, "/api/") || strings.HasPrefix(c.Request().URL.Path, "/webhooks/") {
		_ = c.JSON(status, map[string]any{"error": map[string]string{"code": code, "message": msg}})
		return
	}
	if c.Request().Header.Get("HX-Request") == "true" {
		// Show the message in the page's flash area, whatever the request targeted.
		c.Response().Header().Set("HX-Retarget", "#flash")
		c.Response().Header().Set("HX-Reswap", "outerHTML")
		_ = Render(c, status, views.FlashFragment(views.Flash{Kind: "error", Text: msg}), nil)
		return
	}
	_ = Render(c, status, views.ErrorPage(Shell(c, "", T(c, "error.title")), status, msg, RequestID(c)), nil)
}

func statusKey(status int) string {
	switch status {
	case http.StatusNotFound:
		return "error.not_found"
	case http.StatusForbidden:
		return "error.forbidden"
	case http.StatusUnauthorized:
		return "error.unauthorized"
	case http.StatusMethodNotAllowed:
		return "error.method"
	case http.StatusRequestEntityTooLarge:
		return "error.too_large"
	case http.StatusTooManyRequests:
		return "error.rate_limited"
	case http.StatusServiceUnavailable:
		return "error.unavailable"
	case http.StatusBadRequest:
		return "error.bad_request"
	}
	if status >= 500 {
		return "error.internal"
	}
	return "error.bad_request"
}
