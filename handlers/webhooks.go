package handlers

import (
	"errors"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"paymend/db"
	"paymend/domain"
)

// MaxWebhookBody is the largest platform event accepted.
const MaxWebhookBody = 64 << 10

// Webhooks receives the platform's signed events.
type Webhooks struct{ Deps }

// Routes registers the webhook endpoint: no session, no API key, the signature is
// the authentication.
func (h *Webhooks) Routes() {
	h.App.Echo.POST("/webhooks/oulepay/:merchant_code", h.Receive, middleware.BodyLimit("64K"))
}

// webhookError answers a refused event. Nothing has been stored when it is called.
func webhookError(c echo.Context, status int, code, message string) error {
	return c.JSON(status, map[string]any{"error": map[string]string{"code": code, "message": message}})
}

// Receive verifies, sanitises and stores one event. A repeated event id is
// acknowledged with 200 and changes nothing.
func (h *Webhooks) Receive(c echo.Context) error {
	ctx := c.Request().Context()
	raw, err := io.ReadAll(io.LimitReader(c.Request().Body, MaxWebhookBody+1))
	if err != nil {
		return webhookError(c, http.StatusBadRequest, "unreadable_body", "the request body could not be read")
	}
	if len(raw) > MaxWebhookBody {
		return webhookError(c, http.StatusRequestEntityTooLarge, "body_too_large", "events are limited to 64 KiB")
	}
	m, sealed, err := h.Store.WebhookTarget(ctx, c.Param("merchant_code"))
	if errors.Is(err, db.ErrNotFound) {
		return webhookError(c, http.StatusNotFound, "unknown_merchant", "no merchant with this code")
	}
	if err != nil {
		return err
	}
	secrets := make([][]byte, 0, len(sealed))
	for _, s := range sealed {
		plain, err := h.Sealer.Open(s)
		if err != nil {
			return err
		}
		secrets = append(secrets, []byte(plain))
	}
	if err := domain.VerifyWebhook(c.Request().Header.Get("Oulepay-Signature"), raw, secrets, h.now()); err != nil {
		switch {
		case errors.Is(err, domain.ErrSignatureStale):
			return webhookError(c, http.StatusBadRequest, "stale_timestamp", "the signature timestamp is more than 300 s from now")
		case errors.Is(err, domain.ErrSignatureMalformed):
			return webhookError(c, http.StatusBadRequest, "malformed_signature", "the Oulepay-Signature header is malformed")
		default:
			return webhookError(c, http.StatusUnauthorized, "bad_signature", "missing or invalid Oulepay-Signature")
		}
	}
	ev, err := domain.ParseEvent(raw)
	var ee *domain.EventError
	if errors.As(err, &ee) {
		return webhookError(c, http.StatusBadRequest, "invalid_event", ee.Error())
	}
	if err != nil {
		return webhookError(c, http.StatusBadRequest, "invalid_event", "the body is not a valid event")
	}
	clean, contact, err := domain.SanitizeEvent(raw)
	if err != nil {
		return webhookError(c, http.StatusBadRequest, "invalid_event", "the body is not valid JSON")
	}
	rec, err := eventRecord(h.Sealer, ev, clean, contact, "webhook")
	if err != nil {
		return err
	}
	res, err := h.Store.IngestEvent(ctx, m.ID, rec)
	if err != nil {
		return err
	}
	status := "stored"
	if res.Duplicate {
		status = "duplicate"
	}
	return c.JSON(http.StatusOK, map[string]string{"status": status, "event_id": ev.ID})
}

// eventRecord turns a parsed, sanitised event into what the store keeps: contact
// sealed, masked forms for display.
func eventRecord(sealer *domain.Sealer, ev domain.PaymentEvent, clean []byte, contact domain.Customer, source string) (db.EventRecord, error) {
	phone, err := sealer.Seal(contact.Phone)
	if err != nil {
		return db.EventRecord{}, err
	}
	email, err := sealer.Seal(contact.Email)
	if err != nil {
		return db.EventRecord{}, err
	}
	rec := db.EventRecord{
		EventID: ev.ID, Type: string(ev.Type), Source: source, PlatformID: ev.TransactionID, RefundID: ev.RefundID,
		Amount: ev.Amount, Payload: clean, PhoneSealed: phone, EmailSealed: email, OccurredAt: ev.OccurredAt,
		OrderID: ev.OrderID, Currency: ev.Currency, Channel: ev.Channel, Code: ev.Code, Message: ev.Message,
		CardBIN: ev.Card.BIN, CardLast4: ev.Card.Last4, Bank: ev.Card.Bank,
		CustomerRef: ev.Customer.ID, CustomerName: ev.Customer.Name,
	}
	if contact.Phone != "" {
		rec.PhoneMasked = domain.MaskPhone(contact.Phone)
	}
	if contact.Email != "" {
		rec.EmailMasked = domain.MaskEmail(contact.Email)
	}
	return rec, nil
}
