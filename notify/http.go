package notify

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

// Defaults of the HTTP channels.
const (
	DefaultHTTPTimeout = 10 * time.Second
	maxAnswerBytes     = 64 << 10
	userAgent          = "PayMend-notify/1"
)

// SMSGateway sends SMS through an HTTP gateway: POST URL with the JSON body
// {"to","text","sender"} and "Authorization: Bearer <APIKey>", as the sandbox's
// /_sandbox/sms expects. The number goes out in E.164 form. A 2xx answer is
// success (its "id" becomes ProviderID); 408, 425, 429 and 5xx are temporary;
// any other 4xx is permanent.
type SMSGateway struct {
	URL      string
	APIKey   string
	SenderID string       // optional sender name or number
	HTTP     *http.Client // default: a client with a DefaultHTTPTimeout timeout
}

// Send implements Channel.
func (g *SMSGateway) Send(ctx context.Context, m Message) (Result, error) {
	const ch = domain.NotifySMS
	if err := checkChannel(ch, m); err != nil {
		return Result{}, err
	}
	if err := checkURL(ch, g.URL); err != nil {
		return Result{}, err
	}
	to, ok := domain.NormalizePhone(m.To)
	if !ok {
		return Result{}, invalidRecipient(ch, m.To, "invalid phone number")
	}
	text := strings.TrimSpace(m.Body)
	if text == "" {
		return Result{}, fail(ch, "", true, 0, "empty text", nil)
	}
	body, err := json.Marshal(struct {
		To     string `json:"to"`
		Text   string `json:"text"`
		Sender string `json:"sender,omitempty"`
	}{to, text, g.SenderID})
	if err != nil {
		return Result{}, fail(ch, "", true, 0, "encode request", err)
	}
	h := http.Header{}
	if g.APIKey != "" {
		h.Set("Authorization", "Bearer "+g.APIKey)
	}
	return postJSON(ctx, g.HTTP, ch, g.URL, h, body, m)
}

// InApp posts messages to the merchant's own endpoint, so their site or app shows
// them to the customer: JSON {"merchant_code","to","subject","text",
// "idempotency_key"} signed like a platform webhook (Oulepay-Signature:
// t=<unix>,v1=<HMAC-SHA256(Secret, "<t>.<body>")>), with X-Merchant-Code and
// Idempotency-Key headers. To is the customer's id in the merchant's systems.
// Answers are classified as for SMSGateway.
type InApp struct {
	URL    string
	Secret []byte
	HTTP   *http.Client // default: a client with a DefaultHTTPTimeout timeout
	Clock  domain.Clock // signing time; default the system clock
}

// maxCustomerRef bounds an in-app recipient id, in bytes.
const maxCustomerRef = 200

// Send implements Channel.
func (a *InApp) Send(ctx context.Context, m Message) (Result, error) {
	const ch = domain.NotifyInApp
	if err := checkChannel(ch, m); err != nil {
		return Result{}, err
	}
	if err := checkURL(ch, a.URL); err != nil {
		return Result{}, err
	}
	if len(a.Secret) == 0 {
		return Result{}, notConfigured(ch, "no signing secret")
	}
	if strings.TrimSpace(m.MerchantCode) == "" {
		return Result{}, notConfigured(ch, "no merchant code")
	}
	to := strings.TrimSpace(m.To)
	if to == "" || len(to) > maxCustomerRef || strings.ContainsFunc(to, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return Result{}, invalidRecipient(ch, m.To, "invalid customer id")
	}
	text := strings.TrimSpace(m.Body)
	if text == "" {
		return Result{}, fail(ch, "", true, 0, "empty text", nil)
	}
	body, err := json.Marshal(struct {
		MerchantCode   string `json:"merchant_code"`
		To             string `json:"to"`
		Subject        string `json:"subject"`
		Text           string `json:"text"`
		IdempotencyKey string `json:"idempotency_key"`
	}{m.MerchantCode, to, strings.TrimSpace(m.Subject), text, m.IdempotencyKey})
	if err != nil {
		return Result{}, fail(ch, "", true, 0, "encode request", err)
	}
	var now time.Time
	if a.Clock != nil {
		now = a.Clock.Now()
	} else {
		now = time.Now()
	}
	h := http.Header{}
	h.Set(domain.SignatureHeader, domain.SignWebhook(a.Secret, now, body))
	h.Set("X-Merchant-Code", m.MerchantCode)
	return postJSON(ctx, a.HTTP, ch, a.URL, h, body, m)
}

func checkURL(ch domain.NotifyChannel, raw string) error {
	u, err := url.Parse(strings.TrimSpace(raw))
	if raw == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return notConfigured(ch, "no valid http(s) URL")
	}
	return nil
}

// postJSON sends body and turns the answer into a Result or a classified error.
func postJSON(ctx context.Context, client *http.Client, ch domain.NotifyChannel, target string, h http.Header, body []byte, m Message) (Result, error) {
	if client == nil {
		client = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSpace(target), bytes.NewReader(body))
	if err != nil {
		return Result{}, notConfigured(ch, "bad URL")
	}
	for k, vs := range h {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	if m.IdempotencyKey != "" {
		req.Header.Set("Idempotency-Key", m.IdempotencyKey)
	}
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error carries the gateway URL, not the recipient; still masked.
		return Result{}, fail(ch, m.To, false, 0, "no answer", unwrapURLError(err))
	}
	defer resp.Body.Close()
	raw, readErr := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes))
	res := Result{Response: clean(string(raw), m.To)}
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		if readErr != nil {
			// Accepted, but the answer was cut: the message went out, so no retry.
			res.Response = clean(res.Response+" [answer cut: "+readErr.Error()+"]", m.To)
		}
		res.ProviderID = clean(answerID(raw), m.To)
		return res, nil
	case code == http.StatusRequestTimeout || code == http.StatusTooEarly || code == http.StatusTooManyRequests || code >= 500:
		e := fail(ch, m.To, false, code, fmt.Sprintf("answered %d", code), answerErr(raw, m.To))
		e.RetryAfter = retryAfter(resp.Header, time.Now())
		return res, e
	case code >= 400:
		return res, fail(ch, m.To, true, code, fmt.Sprintf("answered %d", code), answerErr(raw, m.To))
	default:
		return res, fail(ch, m.To, false, code, fmt.Sprintf("unexpected answer %d", code), nil)
	}
}

// unwrapURLError drops *url.Error's "Post <url>:" prefix but keeps the cause
// (timeouts stay net.Errors for errors.As).
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// answerID picks the message id out of a JSON answer: "id", "message_id",
// "messageId" or "sid".
func answerID(raw []byte) string {
	var doc map[string]any
	if json.Unmarshal(raw, &doc) != nil {
		return ""
	}
	for _, k := range []string{"id", "message_id", "messageId", "sid"} {
		switch v := doc[k].(type) {
		case string:
			return v
		case float64:
			return fmt.Sprintf("%.0f", v)
		}
	}
	return ""
}

// answerErr describes an error answer: {"error":{"code","message"}} when it is
// one, else the start of the body. Masked for to.
func answerErr(raw []byte, to string) error {
	var doc struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(raw, &doc) == nil && (doc.Error.Code != "" || doc.Error.Message != "") {
		return fmt.Errorf("%s", clean(strings.TrimSpace(doc.Error.Code+" "+doc.Error.Message), to))
	}
	if s := clean(string(raw), to); s != "" {
		return fmt.Errorf("%s", truncate(s, 200))
	}
	return nil
}
