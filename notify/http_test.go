package notify

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"paymend/domain"
)

// gateway is an httptest server that records requests and answers as told.
type gateway struct {
	srv    *httptest.Server
	mu     sync.Mutex
	reqs   []*http.Request
	bodies [][]byte
	status int
	answer string
	header http.Header
	hang   bool // wait until the client gives up
}

func newGateway(t *testing.T, status int, answer string) *gateway {
	t.Helper()
	g := &gateway{status: status, answer: answer, header: http.Header{}}
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		g.mu.Lock()
		g.reqs = append(g.reqs, r)
		g.bodies = append(g.bodies, body)
		hang, status, answer := g.hang, g.status, g.answer
		for k, v := range g.header {
			w.Header()[k] = v
		}
		g.mu.Unlock()
		if hang {
			<-r.Context().Done()
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, answer)
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func (g *gateway) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.reqs)
}

func (g *gateway) last(t *testing.T) (*http.Request, []byte) {
	t.Helper()
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.reqs) == 0 {
		t.Fatal("gateway received nothing")
	}
	return g.reqs[len(g.reqs)-1], g.bodies[len(g.bodies)-1]
}

func TestSMSGatewaySends(t *testing.T) {
	g := newGateway(t, http.StatusOK, `{"id":"sms_01H","status":"accepted"}`)
	ch := &SMSGateway{URL: g.srv.URL + "/_sandbox/sms", APIKey: "gw-key", SenderID: "OuleMall"}
	text := "【欧乐商城】张伟您好,您的订单O1(129.00元)支付未成功。请确认银行卡余额后重新支付。"
	res, err := ch.Send(context.Background(), Message{Channel: domain.NotifySMS, To: "138 1234 1234", Body: text, IdempotencyKey: "ntf-7"})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if res.ProviderID != "sms_01H" || res.Response != `{"id":"sms_01H","status":"accepted"}` {
		t.Errorf("result = %+v", res)
	}
	r, body := g.last(t)
	if r.Method != http.MethodPost || r.URL.Path != "/_sandbox/sms" {
		t.Errorf("%s %s", r.Method, r.URL.Path)
	}
	for k, want := range map[string]string{
		"Authorization":   "Bearer gw-key",
		"Content-Type":    "application/json; charset=utf-8",
		"Idempotency-Key": "ntf-7",
	} {
		if v := r.Header.Get(k); v != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}
	var got map[string]string
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"to": "+8613812341234", "text": text, "sender": "OuleMall"}
	if len(got) != len(want) {
		t.Errorf("body = %s", body)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("body %s = %q, want %q", k, got[k], v)
		}
	}
}

func TestSMSGatewayAnswers(t *testing.T) {
	tests := []struct {
		status     int
		answer     string
		header     string // Retry-After
		permanent  bool
		retryAfter time.Duration
	}{
		{500, `{"error":{"code":"internal","message":"boom"}}`, "", false, 0},
		{502, `bad gateway`, "", false, 0},
		{503, `{"error":{"code":"busy"}}`, "120", false, 2 * time.Minute},
		{429, `{"error":{"code":"rate_limited"}}`, "7", false, 7 * time.Second},
		{408, ``, "", false, 0},
		{400, `{"error":{"code":"invalid_request","message":"text is required"}}`, "", true, 0},
		{401, `{"error":{"code":"unauthorized"}}`, "", true, 0},
		{403, `forbidden`, "", true, 0},
		{404, `not found`, "", true, 0},
		{422, `{"error":{"code":"invalid_number","message":"to is not a valid phone number"}}`, "", true, 0},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			g := newGateway(t, tt.status, tt.answer)
			if tt.header != "" {
				g.header.Set("Retry-After", tt.header)
			}
			ch := &SMSGateway{URL: g.srv.URL, APIKey: "k"}
			res, err := ch.Send(context.Background(), Message{To: "+8613812341234", Body: "hi"})
			var ne *Error
			if !errors.As(err, &ne) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if IsPermanent(err) != tt.permanent || ne.Code != tt.status || ne.RetryAfter != tt.retryAfter {
				t.Errorf("err = %v: permanent %v code %d retry-after %v; want %v %d %v", err, IsPermanent(err), ne.Code, ne.RetryAfter, tt.permanent, tt.status, tt.retryAfter)
			}
			if res.Response != tt.answer {
				t.Errorf("Response = %q, want the gateway's answer %q", res.Response, tt.answer)
			}
		})
	}
}

func TestSMSGatewayMasksTheNumber(t *testing.T) {
	g := newGateway(t, http.StatusBadRequest, `{"error":{"code":"blocked","message":"number 13812341234 (+8613812341234) opted out"}}`)
	ch := &SMSGateway{URL: g.srv.URL, APIKey: "k"}
	res, err := ch.Send(context.Background(), Message{To: "13812341234", Body: "hi"})
	if !IsPermanent(err) {
		t.Fatalf("err = %v", err)
	}
	for _, s := range []string{res.Response, err.Error()} {
		if strings.Contains(s, "13812341234") || !strings.Contains(s, "138****1234") {
			t.Errorf("not masked: %q", s)
		}
	}
}

func TestSMSGatewayTimeoutIsTemporary(t *testing.T) {
	g := newGateway(t, 200, `{}`)
	g.hang = true
	ch := &SMSGateway{URL: g.srv.URL, APIKey: "k", HTTP: &http.Client{Timeout: 100 * time.Millisecond}}
	start := time.Now()
	_, err := ch.Send(context.Background(), Message{To: "+8613812341234", Body: "hi"})
	if err == nil || IsPermanent(err) {
		t.Fatalf("err = %v, want temporary", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Error("the timeout did not end the call")
	}
	// The context's deadline works the same way.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	ch.HTTP = nil
	if _, err := ch.Send(ctx, Message{To: "+8613812341234", Body: "hi"}); err == nil || IsPermanent(err) {
		t.Fatalf("ctx deadline: err = %v, want temporary", err)
	}
	// Nobody listening: temporary too.
	g.srv.Close()
	if _, err := ch.Send(context.Background(), Message{To: "+8613812341234", Body: "hi"}); err == nil || IsPermanent(err) {
		t.Fatalf("closed server: err = %v, want temporary", err)
	}
}

func TestSMSGatewayRefusesBeforeSending(t *testing.T) {
	g := newGateway(t, 200, `{"id":"x"}`)
	tests := []struct {
		name   string
		ch     SMSGateway
		m      Message
		target error
	}{
		{"letters", SMSGateway{URL: g.srv.URL}, Message{To: "call me", Body: "hi"}, ErrInvalidRecipient},
		{"too short", SMSGateway{URL: g.srv.URL}, Message{To: "12345", Body: "hi"}, ErrInvalidRecipient},
		{"landline without country code", SMSGateway{URL: g.srv.URL}, Message{To: "02112345678", Body: "hi"}, ErrInvalidRecipient},
		{"e-mail", SMSGateway{URL: g.srv.URL}, Message{To: "zhang@example.com", Body: "hi"}, ErrInvalidRecipient},
		{"empty", SMSGateway{URL: g.srv.URL}, Message{To: "", Body: "hi"}, ErrInvalidRecipient},
		{"no URL", SMSGateway{}, Message{To: "+8613812341234", Body: "hi"}, ErrNotConfigured},
		{"not http", SMSGateway{URL: "ftp://gw.example"}, Message{To: "+8613812341234", Body: "hi"}, ErrNotConfigured},
		{"empty text", SMSGateway{URL: g.srv.URL}, Message{To: "+8613812341234", Body: "  "}, nil},
		{"wrong channel", SMSGateway{URL: g.srv.URL}, Message{Channel: domain.NotifyEmail, To: "+8613812341234", Body: "hi"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.ch.Send(context.Background(), tt.m)
			if !IsPermanent(err) || (tt.target != nil && !errors.Is(err, tt.target)) {
				t.Fatalf("err = %v, want permanent %v", err, tt.target)
			}
			if strings.Contains(err.Error(), "zhang") {
				t.Errorf("error holds the recipient: %v", err)
			}
		})
	}
	if n := g.count(); n != 0 {
		t.Errorf("gateway received %d requests", n)
	}
}

var inappSecret = []byte("whsec_demo_inapp")

func TestInAppSendsSigned(t *testing.T) {
	g := newGateway(t, http.StatusAccepted, `{"id":"inapp_9","status":"accepted"}`)
	ch := &InApp{URL: g.srv.URL + "/hooks/notices", Secret: inappSecret}
	m := Message{Channel: domain.NotifyInApp, To: "C000123", Subject: "订单支付未成功", Body: "您的订单O1(129.00元)支付未成功。请稍后再试。", MerchantCode: "demo", IdempotencyKey: "ntf-9"}
	res, err := ch.Send(context.Background(), m)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if res.ProviderID != "inapp_9" || !strings.Contains(res.Response, "accepted") {
		t.Errorf("result = %+v", res)
	}
	r, body := g.last(t)
	if err := domain.VerifyWebhook(r.Header.Get(domain.SignatureHeader), body, [][]byte{inappSecret}, time.Now()); err != nil {
		t.Errorf("signature does not verify: %v (header %q)", err, r.Header.Get(domain.SignatureHeader))
	}
	if err := domain.VerifyWebhook(r.Header.Get(domain.SignatureHeader), body, [][]byte{[]byte("other")}, time.Now()); err == nil {
		t.Error("signature verifies under another secret")
	}
	if r.Header.Get("X-Merchant-Code") != "demo" || r.Header.Get("Idempotency-Key") != "ntf-9" || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		t.Errorf("headers = %v", r.Header)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"merchant_code": "demo", "to": "C000123", "subject": m.Subject, "text": m.Body, "idempotency_key": "ntf-9"}
	if len(got) != len(want) {
		t.Errorf("body has fields %v, want exactly %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("body %s = %v, want %q", k, got[k], v)
		}
	}
}

func TestInAppSignsAtTheClockTime(t *testing.T) {
	g := newGateway(t, http.StatusOK, `{}`)
	ch := &InApp{URL: g.srv.URL, Secret: inappSecret, Clock: fixedClock(testNow)}
	if _, err := ch.Send(context.Background(), Message{To: "C1", Body: "hi", MerchantCode: "demo"}); err != nil {
		t.Fatal(err)
	}
	r, body := g.last(t)
	if want := domain.SignWebhook(inappSecret, testNow, body); r.Header.Get(domain.SignatureHeader) != want {
		t.Errorf("signature %q, want %q", r.Header.Get(domain.SignatureHeader), want)
	}
}

func TestInAppFailures(t *testing.T) {
	tests := []struct {
		name      string
		status    int
		hang      bool
		ch        func(url string) *InApp
		m         Message
		permanent bool
		target    error
		sent      bool
	}{
		{"500 is temporary", 500, false, nil, Message{}, false, nil, true},
		{"503 is temporary", 503, false, nil, Message{}, false, nil, true},
		{"400 is permanent", 400, false, nil, Message{}, true, nil, true},
		{"410 is permanent", 410, false, nil, Message{}, true, nil, true},
		{"timeout is temporary", 200, true, nil, Message{}, false, nil, true},
		{"no secret", 200, false, func(u string) *InApp { return &InApp{URL: u} }, Message{}, true, ErrNotConfigured, false},
		{"no URL", 200, false, func(string) *InApp { return &InApp{Secret: inappSecret} }, Message{}, true, ErrNotConfigured, false},
		{"no merchant code", 200, false, nil, Message{To: "C1", Body: "hi"}, true, ErrNotConfigured, false},
		{"no customer", 200, false, nil, Message{To: " ", Body: "hi", MerchantCode: "demo"}, true, ErrInvalidRecipient, false},
		{"customer id with a line break", 200, false, nil, Message{To: "C1\nX", Body: "hi", MerchantCode: "demo"}, true, ErrInvalidRecipient, false},
		{"customer id too long", 200, false, nil, Message{To: strings.Repeat("C", 201), Body: "hi", MerchantCode: "demo"}, true, ErrInvalidRecipient, false},
		{"empty text", 200, false, nil, Message{To: "C1", MerchantCode: "demo"}, true, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateway(t, tt.status, `{"error":{"code":"x"}}`)
			g.hang = tt.hang
			ch := &InApp{URL: g.srv.URL, Secret: inappSecret, HTTP: &http.Client{Timeout: 100 * time.Millisecond}}
			if tt.ch != nil {
				ch = tt.ch(g.srv.URL)
			}
			m := tt.m
			if m == (Message{}) {
				m = Message{To: "C1", Body: "hi", MerchantCode: "demo"}
			}
			_, err := ch.Send(context.Background(), m)
			if err == nil || IsPermanent(err) != tt.permanent {
				t.Fatalf("err = %v, want permanent=%v", err, tt.permanent)
			}
			if tt.target != nil && !errors.Is(err, tt.target) {
				t.Errorf("err = %v, want %v", err, tt.target)
			}
			if sent := g.count() > 0; sent != tt.sent {
				t.Errorf("sent = %v, want %v", sent, tt.sent)
			}
		})
	}
}

func TestRedact(t *testing.T) {
	tests := []struct {
		s, to, want string
	}{
		{"550 <Zhang.Wei@Example.com>: no such user", "zhang.wei@example.com", "550 <z***@example.com>: no such user"},
		{"bad number +8613812341234 / 13812341234 / 8613812341234", "138-1234-1234", "bad number 138****1234 / 138****1234 / 138****1234"},
		{"customer C000123 unknown", "C000123", "customer *** unknown"},
		{"nothing here", "zhang@example.com", "nothing here"},
		{"short", "ab", "short"},
	}
	for _, tt := range tests {
		if got := redact(tt.s, tt.to); got != tt.want {
			t.Errorf("redact(%q, %q) = %q, want %q", tt.s, tt.to, got, tt.want)
		}
	}
	long := strings.Repeat("长", 1000)
	if got := clean(long, ""); len(got) > MaxResponse || !strings.HasPrefix(long, got) {
		t.Errorf("clean cut %d bytes badly", len(got))
	}
}
