// Package platform talks to the OulePay platform API: transactions and refunds.
// Every call has a per-attempt timeout and is retried with backoff on network
// errors, timeouts, 429 and 5xx answers; a refund creation sends the same
// Idempotency-Key on every attempt, so a retry never refunds twice.
package platform

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"paymend/domain"
)

// Defaults for New.
const (
	DefaultAttemptTimeout = 5 * time.Second
	DefaultMaxAttempts    = 3
	DefaultBackoff        = 200 * time.Millisecond
	maxResponseBytes      = 1 << 20
	maxIdempotencyKeyLen  = 255
)

// Errors a Client returns; test with errors.Is.
var (
	// ErrNotFound: the platform does not know the transaction or refund (404).
	ErrNotFound = errors.New("platform: not found")
	// ErrConflict: the Idempotency-Key was used before with another request body (409).
	ErrConflict = errors.New("platform: idempotency key reused with a different request")
	// ErrRejected: the platform refused the request (any other 4xx); errors.As an
	// *APIError for its code and message.
	ErrRejected = errors.New("platform: request rejected")
	// ErrUnavailable: no answer after all attempts (network errors, timeouts, 5xx);
	// it wraps the last cause. Safe to retry later with the same idempotency key.
	ErrUnavailable = errors.New("platform: unavailable")
)

// APIError is an error answer from the platform: {"error":{"code","message"}}.
// errors.Is maps it to ErrNotFound (404), ErrConflict (409) or ErrRejected (other 4xx).
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	if e.Code != "" {
		return fmt.Sprintf("platform: %d %s: %s", e.Status, e.Code, msg)
	}
	return fmt.Sprintf("platform: %d: %s", e.Status, msg)
}

// Is lets errors.Is(err, ErrNotFound/ErrConflict/ErrRejected) work on an APIError.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrConflict:
		return e.Status == http.StatusConflict
	case ErrRejected:
		return e.Status >= 400 && e.Status < 500 && e.Status != http.StatusNotFound && e.Status != http.StatusConflict
	}
	return false
}

// RefundStatus is a refund's state on the platform.
type RefundStatus string

// Refund states as the platform reports them.
const (
	RefundPending   RefundStatus = "pending"
	RefundSucceeded RefundStatus = "succeeded"
	RefundFailed    RefundStatus = "failed"
)

// Final reports whether the refund will not change any more.
func (s RefundStatus) Final() bool { return s == RefundSucceeded || s == RefundFailed }

// Transaction is the platform's view of a payment: its status and how much money
// actually left the customer's account (Debited) and came back (Refunded).
type Transaction struct {
	ID       string        `json:"id"`
	Status   domain.Status `json:"status"`
	Amount   int64         `json:"amount"`
	Debited  int64         `json:"debited"`
	Refunded int64         `json:"refunded"`
	Currency string        `json:"currency"`
}

// RefundRequest asks the platform to return Amount (minor units) of a transaction.
type RefundRequest struct {
	TransactionID string `json:"transaction_id"`
	Amount        int64  `json:"amount"`
	Reason        string `json:"reason"`
}

// Refund is a refund as the platform knows it.
type Refund struct {
	ID            string       `json:"id"`
	TransactionID string       `json:"transaction_id"`
	Amount        int64        `json:"amount"`
	Currency      string       `json:"currency"`
	Reason        string       `json:"reason"`
	Status        RefundStatus `json:"status"`
	FailureReason string       `json:"failure_reason"`
	CreatedAt     time.Time    `json:"created_at"`
	UpdatedAt     time.Time    `json:"updated_at"`
}

// Client calls the OulePay API. It is safe for concurrent use.
type Client struct {
	baseURL        string
	apiKey         string
	http           *http.Client
	attemptTimeout time.Duration
	maxAttempts    int
	backoff        time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the HTTP client (transport, proxies). Its own Timeout should
// be zero or larger than the attempt timeout.
func WithHTTPClient(h *http.Client) Option { return func(c *Client) { c.http = h } }

// WithAttemptTimeout bounds each attempt (default 5 s).
func WithAttemptTimeout(d time.Duration) Option {
	return func(c *Client) {
		if d > 0 {
			c.attemptTimeout = d
		}
	}
}

// WithMaxAttempts sets how many times a call is tried in all (default 3).
func WithMaxAttempts(n int) Option {
	return func(c *Client) {
		if n > 0 {
			c.maxAttempts = n
		}
	}
}

// WithBackoff sets the wait before the second attempt (default 200 ms); it doubles
// for each further attempt, with jitter.
func WithBackoff(d time.Duration) Option {
	return func(c *Client) {
		if d >= 0 {
			c.backoff = d
		}
	}
}

// New returns a Client for the API at baseURL ("http://127.0.0.1:8081") that
// authenticates with apiKey as a bearer token.
func New(baseURL, apiKey string, opts ...Option) *Client {
	c := &Client{
		baseURL:        strings.TrimRight(baseURL, "/"),
		apiKey:         apiKey,
		http:           &http.Client{},
		attemptTimeout: DefaultAttemptTimeout,
		maxAttempts:    DefaultMaxAttempts,
		backoff:        DefaultBackoff,
	}
	for _, o := range opts {
		o(c)
	}
	return c
}

// GetTransaction returns the platform's status and debited amount of a transaction.
func (c *Client) GetTransaction(ctx context.Context, id string) (Transaction, error) {
	var t Transaction
	if id == "" {
		return t, fmt.Errorf("platform: get transaction: %w", &APIError{Status: 400, Code: "invalid_request", Message: "empty transaction id"})
	}
	err := c.do(ctx, http.MethodGet, "/v1/transactions/"+url.PathEscape(id), "", nil, &t)
	if err != nil {
		return t, fmt.Errorf("platform: get transaction %s: %w", id, err)
	}
	return t, nil
}

// CreateRefund asks for a refund. idempotencyKey names this refund for good: the
// same key with the same request returns the same refund (also after a crash or a
// retry), the same key with another request fails with ErrConflict.
func (c *Client) CreateRefund(ctx context.Context, idempotencyKey string, r RefundRequest) (Refund, error) {
	var out Refund
	if idempotencyKey == "" || len(idempotencyKey) > maxIdempotencyKeyLen {
		return out, fmt.Errorf("platform: create refund: idempotency key must be 1 to %d characters", maxIdempotencyKeyLen)
	}
	body, err := json.Marshal(r)
	if err != nil {
		return out, fmt.Errorf("platform: create refund: %w", err)
	}
	if err := c.do(ctx, http.MethodPost, "/v1/refunds", idempotencyKey, body, &out); err != nil {
		return out, fmt.Errorf("platform: create refund for %s: %w", r.TransactionID, err)
	}
	return out, nil
}

// GetRefund returns a refund's current state.
func (c *Client) GetRefund(ctx context.Context, id string) (Refund, error) {
	var out Refund
	if id == "" {
		return out, fmt.Errorf("platform: get refund: %w", &APIError{Status: 400, Code: "invalid_request", Message: "empty refund id"})
	}
	if err := c.do(ctx, http.MethodGet, "/v1/refunds/"+url.PathEscape(id), "", nil, &out); err != nil {
		return out, fmt.Errorf("platform: get refund %s: %w", id, err)
	}
	return out, nil
}

// ListRefunds returns every refund the platform received for a transaction,
// oldest first.
func (c *Client) ListRefunds(ctx context.Context, transactionID string) ([]Refund, error) {
	var out struct {
		Data []Refund `json:"data"`
	}
	path := "/v1/refunds?transaction_id=" + url.QueryEscape(transactionID)
	if err := c.do(ctx, http.MethodGet, path, "", nil, &out); err != nil {
		return nil, fmt.Errorf("platform: list refunds of %s: %w", transactionID, err)
	}
	if out.Data == nil {
		out.Data = []Refund{}
	}
	return out.Data, nil
}

// do runs one API call with retries and decodes a 2xx JSON answer into out.
func (c *Client) do(ctx context.Context, method, path, idemKey string, body []byte, out any) error {
	var last error
	for attempt := 1; attempt <= c.maxAttempts; attempt++ {
		if attempt > 1 {
			if err := sleepCtx(ctx, c.delay(attempt)); err != nil {
				return errors.Join(err, last)
			}
		}
		retry, err := c.attempt(ctx, method, path, idemKey, body, out)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			// The caller gave up; that is not the platform's fault.
			return ctx.Err()
		}
		if !retry {
			return err
		}
		last = err
	}
	return fmt.Errorf("%w after %d attempts: %w", ErrUnavailable, c.maxAttempts, last)
}

// attempt makes one request. retry reports whether a failure is worth another try.
func (c *Client) attempt(ctx context.Context, method, path, idemKey string, body []byte, out any) (retry bool, err error) {
	actx, cancel := context.WithTimeout(ctx, c.attemptTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, method, c.baseURL+path, rd)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+c.apiKey)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "paymend-platform-client/1")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return true, err // network error or attempt timeout
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return true, err
	}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		if err := json.Unmarshal(data, out); err != nil {
			return false, fmt.Errorf("decode %d answer: %w", resp.StatusCode, err)
		}
		return false, nil
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return true, apiError(resp.StatusCode, data)
	default:
		return false, apiError(resp.StatusCode, data)
	}
}

func apiError(status int, data []byte) *APIError {
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	ae := &APIError{Status: status}
	if json.Unmarshal(data, &e) == nil {
		ae.Code, ae.Message = e.Error.Code, e.Error.Message
	}
	if len(ae.Message) > 500 {
		ae.Message = ae.Message[:500]
	}
	return ae
}

// delay is the wait before attempt n (n ≥ 2): backoff·2^(n-2), jittered to 50–100 %.
func (c *Client) delay(n int) time.Duration {
	d := c.backoff << (n - 2)
	if d <= 0 {
		return 0
	}
	return d/2 + rand.N(d/2+1)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// String describes the client without its key, for logs.
func (c *Client) String() string {
	return "platform.Client(" + c.baseURL + ", attempts=" + strconv.Itoa(c.maxAttempts) + ")"
}
