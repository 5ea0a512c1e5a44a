package handlers

import (
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"paymend/db"
	"paymend/domain"
	"paymend/web"
)

// API is the merchant systems' JSON interface (CONTRACT.md). Errors come back as
// {"error":{"code","message"}} through the central error handler.
type API struct{ Deps }

// Routes registers the API routes; every one needs an API key.
func (h *API) Routes() {
	g := h.App.API
	g.GET("/transactions", h.ListTransactions)
	g.GET("/transactions/:id", h.GetTransaction)
}

// TxJSON is a transaction as the API shows it: contact data masked.
type TxJSON struct {
	TransactionID  string         `json:"transaction_id"`
	OrderID        string         `json:"order_id"`
	Status         domain.Status  `json:"status"`
	Code           string         `json:"code"`
	Category       string         `json:"category,omitempty"`
	Message        string         `json:"message"`
	Amount         int64          `json:"amount"`
	RefundedAmount int64          `json:"refunded_amount"`
	Currency       string         `json:"currency"`
	Channel        string         `json:"channel"`
	Card           domain.Card    `json:"card"`
	Customer       CustomerJSON   `json:"customer"`
	OccurredAt     time.Time      `json:"occurred_at"`
	Resolution     string         `json:"resolution"`
	Timeline       []TimelineJSON `json:"timeline,omitempty"`
}

// CustomerJSON is the masked customer.
type CustomerJSON struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Phone string `json:"phone"`
	Email string `json:"email"`
}

// TimelineJSON is one timeline entry.
type TimelineJSON struct {
	At      time.Time `json:"at"`
	Kind    string    `json:"kind"`
	Summary string    `json:"summary"`
}

func txJSON(t domain.Transaction, cat *domain.Catalog) TxJSON {
	out := TxJSON{TransactionID: t.PlatformID, OrderID: t.OrderID, Status: t.Status, Code: t.Code, Message: t.Message,
		Amount: t.Amount, RefundedAmount: t.RefundedAmount, Currency: t.Currency, Channel: t.Channel,
		Card:       domain.Card{BIN: t.CardBIN, Last4: t.CardLast4, Bank: t.Bank},
		Customer:   CustomerJSON{ID: t.CustomerRef, Name: domain.MaskName(t.CustomerName), Phone: t.PhoneMasked, Email: t.EmailMasked},
		OccurredAt: t.OccurredAt.UTC(), Resolution: t.ResolutionState}
	if t.Code != "" {
		out.Category = string(cat.CategoryOf(t.Code))
	}
	return out
}

// ListTransactions answers GET /api/v1/transactions.
func (h *API) ListTransactions(c echo.Context) error {
	p := web.MustPrincipal(c)
	cat, err := h.catalog(c)
	if err != nil {
		return err
	}
	tq := parseTxQuery(c.QueryParams(), p.Merchant, cat, "")
	if len(tq.Errors) > 0 {
		return web.Fail(http.StatusBadRequest, "invalid_"+tq.Errors[0].Param, tq.Errors[0].Key)
	}
	rows, next, err := h.Store.Transactions(c.Request().Context(), p.Merchant.ID, tq.Filter)
	if err != nil {
		return err
	}
	data := make([]TxJSON, 0, len(rows))
	for _, t := range rows {
		data = append(data, txJSON(t, cat))
	}
	return c.JSON(http.StatusOK, map[string]any{"data": data, "next_cursor": next.Encode()})
}

// GetTransaction answers GET /api/v1/transactions/{transaction_id} with its timeline.
func (h *API) GetTransaction(c echo.Context) error {
	p := web.MustPrincipal(c)
	ctx := c.Request().Context()
	id := c.Param("id")
	if len(id) == 0 || len(id) > 64 {
		return web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	t, err := h.Store.TransactionByPlatformID(ctx, p.Merchant.ID, id)
	if errors.Is(err, db.ErrNotFound) {
		return web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	if err != nil {
		return err
	}
	cat, err := h.catalog(c)
	if err != nil {
		return err
	}
	tl, err := h.Store.Timeline(ctx, p.Merchant.ID, t.ID)
	if err != nil {
		return err
	}
	out := txJSON(t, cat)
	out.Timeline = make([]TimelineJSON, 0, len(tl))
	for _, e := range tl {
		out.Timeline = append(out.Timeline, TimelineJSON{At: e.At.UTC(), Kind: e.Kind, Summary: e.Summary})
	}
	return c.JSON(http.StatusOK, out)
}
