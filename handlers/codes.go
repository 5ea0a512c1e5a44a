package handlers

import (
	"github.com/labstack/echo/v4"

	"paymend/domain"
)

// Codes is the failure-code catalog area (issue 4): pages, overrides, import/export
// and the codes API.
type Codes struct{ Deps }

// Routes registers the catalog routes.
func (h *Codes) Routes() {}

// catalog returns the failure-code catalog as the request's merchant sees it.
func (d Deps) catalog(c echo.Context) (*domain.Catalog, error) {
	return domain.NewCatalog(domain.DefaultCatalog(), nil), nil
}
