package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"paymend/domain"
)

// Delivery is the outcome of sending one webhook event to the console.
type Delivery struct {
	EventID       string           `json:"event_id"`
	Type          domain.EventType `json:"type"`
	TransactionID string           `json:"transaction_id"`
	RefundID      string           `json:"refund_id,omitempty"`
	Merchant      string           `json:"merchant_code"`
	URL           string           `json:"url,omitempty"`
	Attempts      int              `json:"attempts"`
	Status        int              `json:"status"` // last HTTP status; 0 when none
	OK            bool             `json:"ok"`
	Error         string           `json:"error,omitempty"`
	At            time.Time        `json:"at"`
}

// WebhookURL is where the console receives a merchant's platform events.
func (s *Sandbox) WebhookURL(merchant string) string {
	if s.cfg.ConsoleURL == "" {
		return ""
	}
	return strings.TrimRight(s.cfg.ConsoleURL, "/") + "/webhooks/oulepay/" + url.PathEscape(merchant)
}

// sendEvent delivers ev to the console in the background, signed with the
// merchant's secret, retrying with backoff on network errors and non-2xx answers.
func (s *Sandbox) sendEvent(merchant string, ev domain.PaymentEvent) {
	d := Delivery{
		EventID: ev.ID, Type: ev.Type, TransactionID: ev.TransactionID, RefundID: ev.RefundID,
		Merchant: merchant, URL: s.WebhookURL(merchant),
	}
	body, err := json.Marshal(ev)
	if err != nil {
		d.Error = "encode: " + err.Error()
		s.recordDelivery(d)
		return
	}
	secret := s.cfg.Secrets[merchant]
	switch {
	case d.URL == "":
		d.Error = "not sent: no console URL configured"
		s.recordDelivery(d)
		return
	case len(secret) == 0:
		d.Error = "not sent: no webhook secret for merchant " + merchant
		s.recordDelivery(d)
		s.log.Warn("sandbox webhook not sent: no secret", "merchant", merchant, "event", ev.ID)
		return
	}
	s.goBackground(func() {
		s.deliver(s.ctx, &d, secret, body)
		s.recordDelivery(d)
	})
}

func (s *Sandbox) deliver(ctx context.Context, d *Delivery, secret, body []byte) {
	wait := s.cfg.WebhookBackoff
	for d.Attempts < s.cfg.WebhookAttempts {
		if d.Attempts > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				d.Error = "stopped: " + d.Error
				return
			case <-t.C:
			}
			wait *= 2
		}
		d.Attempts++
		status, err := s.post(ctx, d.URL, secret, body)
		d.Status = status
		if err == nil && status >= 200 && status < 300 {
			d.OK, d.Error = true, ""
			s.log.Info("sandbox webhook delivered", "event", d.EventID, "type", string(d.Type), "status", status, "attempts", d.Attempts)
			return
		}
		if err != nil {
			d.Error = err.Error()
		} else {
			d.Error = fmt.Sprintf("console answered %d", status)
		}
		s.log.Warn("sandbox webhook attempt failed", "event", d.EventID, "attempt", d.Attempts, "err", d.Error)
	}
}

// post sends one signed attempt and returns the HTTP status.
func (s *Sandbox) post(ctx context.Context, target string, secret, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "OulePay-Sandbox-Webhook/1")
	req.Header.Set(domain.SignatureHeader, domain.SignWebhook(secret, s.clock.Now(), body))
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, nil
}

func (s *Sandbox) recordDelivery(d Delivery) {
	d.At = s.clock.Now().UTC()
	s.mu.Lock()
	defer s.mu.Unlock()
	if d.OK {
		s.stats.WebhooksSent++
	} else {
		s.stats.WebhooksFailed++
	}
	s.deliveries = append(s.deliveries, d)
	if len(s.deliveries) > maxDeliveries {
		s.deliveries = append(s.deliveries[:0:0], s.deliveries[len(s.deliveries)-maxDeliveries:]...)
	}
}

// Deliveries returns the webhook deliveries so far, newest first.
func (s *Sandbox) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Delivery, len(s.deliveries))
	for i, d := range s.deliveries {
		out[len(out)-1-i] = d
	}
	return out
}

// GET /_sandbox/deliveries
func (s *Sandbox) getDeliveries(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.Deliveries())
}
