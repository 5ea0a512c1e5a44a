package handlers

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"paymend/db"
	"paymend/domain"
	"paymend/views"
	"paymend/web"
)

// Users lets an admin manage the merchant's people.
type Users struct{ Deps }

// Routes registers the admin-only user routes.
func (h *Users) Routes() {
	g := h.App.Console.Group("/users", web.RequireRole(domain.RoleAdmin))
	g.GET("", h.List)
	g.POST("", h.Create)
	g.POST("/:id/role", h.SetRole)
	g.POST("/:id/disable", h.SetDisabled)
}

func (h *Users) view(c echo.Context, form views.UserForm) (views.UsersView, error) {
	p := web.MustPrincipal(c)
	users, err := h.Store.Users(c.Request().Context(), p.Merchant.ID)
	return views.UsersView{Users: users, Self: p.User.ID, Form: form}, err
}

// List shows the users page.
func (h *Users) List(c echo.Context) error {
	v, err := h.view(c, views.UserForm{})
	if err != nil {
		return err
	}
	return web.Render(c, http.StatusOK, views.UsersPage(web.Shell(c, "users", web.T(c, "users.title")), v), nil)
}

// Create adds a user with an initial password the admin hands over.
func (h *Users) Create(c echo.Context) error {
	f := views.UserForm{
		Email: strings.ToLower(strings.TrimSpace(c.FormValue("email"))),
		Name:  strings.TrimSpace(c.FormValue("name")),
		Role:  c.FormValue("role"), Errors: map[string]string{},
	}
	pw := c.FormValue("password")
	if !validText(f.Email, 254) || !domain.ValidEmail(f.Email) {
		f.Errors["email"] = web.T(c, "users.err.email")
	}
	if !validText(f.Name, 100) {
		f.Errors["name"] = web.T(c, "users.err.name")
	}
	if !domain.Role(f.Role).Valid() {
		f.Errors["role"] = web.T(c, "users.err.role")
	}
	if prob := domain.CheckPassword(pw, f.Email); prob != domain.PasswordOK {
		f.Errors["password"] = web.T(c, string(prob))
	}
	mid := web.MerchantID(c)
	if len(f.Errors) == 0 {
		hash, err := web.HashPassword(pw)
		if err != nil {
			return err
		}
		u, err := h.Store.CreateUser(c.Request().Context(), mid, domain.User{Email: f.Email, Name: f.Name,
			Role: domain.Role(f.Role), PasswordHash: hash})
		switch {
		case errors.Is(err, db.ErrDuplicate):
			f.Errors["email"] = web.T(c, "users.err.taken")
		case err != nil:
			return err
		default:
			h.audit(c, "user.create", u.Email, domain.AuditOK, map[string]any{"role": u.Role})
			web.AddFlash(c, "ok", web.T(c, "users.created", u.Email))
			return web.Redirect(c, "/users")
		}
	}
	v, err := h.view(c, f)
	if err != nil {
		return err
	}
	shell := web.Shell(c, "users", web.T(c, "users.title"))
	return web.Render(c, http.StatusUnprocessableEntity, views.UsersPage(shell, v), views.UserCreateForm(f))
}

// target loads the user named in the path, refusing changes to oneself.
func (h *Users) target(c echo.Context) (domain.User, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return domain.User{}, web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	u, err := h.Store.User(c.Request().Context(), web.MerchantID(c), id)
	if errors.Is(err, db.ErrNotFound) {
		return u, web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	if err != nil {
		return u, err
	}
	if u.ID == web.MustPrincipal(c).User.ID {
		return u, web.Fail(http.StatusUnprocessableEntity, "self_change", "users.err.self")
	}
	return u, nil
}

// keepsAnAdmin refuses a change that would leave the merchant without an active admin.
// It runs inside the change's transaction after LockMerchant, so two admins demoting
// each other at once cannot both pass.
func keepsAnAdmin(c echo.Context, tx *db.Store, u domain.User) error {
	if u.Role != domain.RoleAdmin || u.DisabledAt != nil {
		return nil
	}
	if err := tx.LockMerchant(c.Request().Context(), u.MerchantID); err != nil {
		return err
	}
	n, err := tx.CountActiveAdmins(c.Request().Context(), u.MerchantID)
	if err != nil {
		return err
	}
	if n <= 1 {
		return web.Fail(http.StatusUnprocessableEntity, "last_admin", "users.err.last_admin")
	}
	return nil
}

// SetRole changes a user's role; their sessions end so the new rights apply at once.
func (h *Users) SetRole(c echo.Context) error {
	u, err := h.target(c)
	if err != nil {
		return err
	}
	role := domain.Role(c.FormValue("role"))
	if !role.Valid() {
		return web.Fail(http.StatusUnprocessableEntity, "invalid_role", "users.err.role")
	}
	if role == u.Role {
		return web.Redirect(c, "/users")
	}
	ctx := c.Request().Context()
	err = h.Store.InTx(ctx, func(tx *db.Store) error {
		if role != domain.RoleAdmin {
			if err := keepsAnAdmin(c, tx, u); err != nil {
				return err
			}
		}
		if err := tx.SetUserRole(ctx, u.MerchantID, u.ID, role); err != nil {
			return err
		}
		return tx.DeleteUserSessions(ctx, u.MerchantID, u.ID)
	})
	if err != nil {
		return err
	}
	h.audit(c, "user.role", u.Email, domain.AuditOK, map[string]any{"from": u.Role, "to": role})
	web.AddFlash(c, "ok", web.T(c, "users.role_changed", u.Email))
	return web.Redirect(c, "/users")
}

// SetDisabled disables or re-enables a user; disabling ends their sessions.
func (h *Users) SetDisabled(c echo.Context) error {
	u, err := h.target(c)
	if err != nil {
		return err
	}
	disable := c.FormValue("disabled") == "true"
	ctx := c.Request().Context()
	err = h.Store.InTx(ctx, func(tx *db.Store) error {
		if disable {
			if err := keepsAnAdmin(c, tx, u); err != nil {
				return err
			}
		}
		if err := tx.SetUserDisabled(ctx, u.MerchantID, u.ID, disable, h.now()); err != nil {
			return err
		}
		return tx.DeleteUserSessions(ctx, u.MerchantID, u.ID)
	})
	if err != nil {
		return err
	}
	action, msg := "user.enable", "users.enabled"
	if disable {
		action, msg = "user.disable", "users.disabled_msg"
	}
	h.audit(c, action, u.Email, domain.AuditOK, nil)
	web.AddFlash(c, "ok", web.T(c, msg, u.Email))
	return web.Redirect(c, "/users")
}
