package handlers

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"

	"paymend/domain"
	"paymend/web"
)

// Orders receives order states from the merchant's order system (for reconciliation).
type Orders struct{ Deps }

// Routes registers POST /api/v1/orders.
func (h *Orders) Routes() { h.App.API.POST("/orders", h.Report) }

// maxOrderBatch bounds one report.
const maxOrderBatch = 1000

// Report accepts one order object or {"orders":[…]}. Every order is checked first;
// if any is invalid nothing is stored and the answer lists each problem by index.
func (h *Orders) Report(c echo.Context) error {
	raw, err := io.ReadAll(io.LimitReader(c.Request().Body, 1<<20))
	if err != nil {
		return web.Fail(http.StatusBadRequest, "invalid_json", "error.bad_request")
	}
	var batch struct {
		Orders []domain.Order `json:"orders"`
	}
	var orders []domain.Order
	trimmed := bytes.TrimSpace(raw)
	if bytes.Contains(trimmed, []byte(`"orders"`)) {
		if err := json.Unmarshal(trimmed, &batch); err != nil {
			return web.Fail(http.StatusBadRequest, "invalid_json", "error.bad_request")
		}
		orders = batch.Orders
	} else {
		var one domain.Order
		if err := json.Unmarshal(trimmed, &one); err != nil {
			return web.Fail(http.StatusBadRequest, "invalid_json", "error.bad_request")
		}
		orders = []domain.Order{one}
	}
	if len(orders) == 0 || len(orders) > maxOrderBatch {
		return web.Fail(http.StatusUnprocessableEntity, "invalid_batch", "orders.err.batch")
	}
	type problem struct {
		Index   int    `json:"index"`
		OrderID string `json:"order_id"`
		Message string `json:"message"`
	}
	var problems []problem
	for i, o := range orders {
		if msg := domain.ValidateOrder(o); msg != "" || !validText(o.OrderID, 64) {
			if msg == "" {
				msg = "order_id has invalid characters"
			}
			problems = append(problems, problem{i, o.OrderID, msg})
		}
	}
	if len(problems) > 0 {
		return c.JSON(http.StatusUnprocessableEntity, map[string]any{"error": map[string]any{"code": "invalid_orders",
			"message": web.T(c, "orders.err.invalid"), "details": problems}})
	}
	if err := h.Store.UpsertOrders(c.Request().Context(), web.MerchantID(c), orders); err != nil {
		return err
	}
	return c.JSON(http.StatusAccepted, map[string]any{"accepted": len(orders)})
}
