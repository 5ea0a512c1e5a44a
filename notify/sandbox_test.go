package notify

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"paymend/domain"
	"paymend/platform/sandbox"
)

// TestChannelsReachTheSandbox sends one notice through each channel to the real
// sandbox (its SMS gateway, SMTP server and in-app receiver) and finds each in
// GET /_sandbox/messages, as the demo shows it.
func TestChannelsReachTheSandbox(t *testing.T) {
	secret := []byte("whsec_demo_sandbox")
	sb := sandbox.New(sandbox.Config{
		Secrets:   map[string][]byte{"demo": secret},
		SMSAPIKey: "sms-key",
		Logger:    slog.New(slog.DiscardHandler),
	})
	srv := httptest.NewServer(sb.Handler())
	smtpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	smtpDone := make(chan error, 1)
	go func() { smtpDone <- sb.ServeSMTP(ctx, smtpLn) }()
	t.Cleanup(func() {
		cancel()
		if err := <-smtpDone; err != nil {
			t.Errorf("ServeSMTP: %v", err)
		}
		srv.Close()
		sb.Close()
	})
	host, portS, _ := net.SplitHostPort(smtpLn.Addr().String())
	port, _ := strconv.Atoi(portS)

	sms := &SMSGateway{URL: srv.URL + "/_sandbox/sms", APIKey: "sms-key", SenderID: "OuleMall"}
	email := &SMTP{Host: host, Port: port, Security: SecurityNone, Username: "demo", Password: "any-password", From: "欧乐商城 <noreply@demo.test>", Timeout: 5 * time.Second}
	inapp := &InApp{URL: srv.URL + "/_sandbox/inapp", Secret: secret}

	v := domain.SampleMessageVars("zh-CN")
	ts := domain.DefaultTemplates()
	entry := domain.NewCatalog(domain.DefaultCatalog(), nil).Lookup("101")
	render := func(ch domain.NotifyChannel) (string, string) {
		subject, body, err := domain.RenderMessage(domain.SelectTemplate(ts, ch, entry), "zh-CN", v)
		if err != nil {
			t.Fatal(err)
		}
		return subject, body
	}

	_, smsText := render(domain.NotifySMS)
	smsRes, err := sms.Send(ctx, Message{Channel: domain.NotifySMS, To: "13812341234", Body: smsText, IdempotencyKey: "ntf-1"})
	if err != nil {
		t.Fatalf("sms: %v", err)
	}
	mailSubject, mailBody := render(domain.NotifyEmail)
	mailRes, err := email.Send(ctx, Message{Channel: domain.NotifyEmail, To: "zhang.wei@example.com", Subject: mailSubject, Body: mailBody, IdempotencyKey: "ntf-2"})
	if err != nil {
		t.Fatalf("email: %v", err)
	}
	appSubject, appBody := render(domain.NotifyInApp)
	appRes, err := inapp.Send(ctx, Message{Channel: domain.NotifyInApp, To: "C000123", Subject: appSubject, Body: appBody, MerchantCode: "demo", IdempotencyKey: "ntf-3"})
	if err != nil {
		t.Fatalf("inapp: %v", err)
	}

	// A wrong SMS key is the gateway's 401: permanent, and nothing recorded.
	bad := &SMSGateway{URL: sms.URL, APIKey: "wrong"}
	if _, err := bad.Send(ctx, Message{To: "13812341234", Body: "x"}); !IsPermanent(err) {
		t.Errorf("wrong SMS key: err = %v, want permanent", err)
	}

	resp, err := http.Get(srv.URL + "/_sandbox/messages")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var msgs []sandbox.Message
	if err := json.NewDecoder(resp.Body).Decode(&msgs); err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 3 {
		t.Fatalf("sandbox has %d messages, want 3: %+v", len(msgs), msgs)
	}
	byChannel := map[string]sandbox.Message{}
	for _, m := range msgs {
		byChannel[m.Channel] = m
	}

	got := byChannel["sms"]
	if got.To != "+8613812341234" || got.Text != smsText || got.Meta["sender"] != "OuleMall" || got.ID != smsRes.ProviderID {
		t.Errorf("sms in sandbox = %+v (result %+v)", got, smsRes)
	}

	got = byChannel["email"]
	// The wire has CRLF line ends; the sandbox keeps them.
	if got.To != "zhang.wei@example.com" || got.Subject != mailSubject || strings.ReplaceAll(got.Text, "\r\n", "\n") != mailBody {
		t.Errorf("email in sandbox = %+v\nwant subject %q body %q", got, mailSubject, mailBody)
	}
	if got.Meta["message_id"] != mailRes.ProviderID || got.Meta["auth_user"] != "demo" || got.Meta["from"] != "noreply@demo.test" {
		t.Errorf("email meta = %v (result %+v)", got.Meta, mailRes)
	}

	got = byChannel["inapp"]
	if got.To != "C000123" || got.Subject != appSubject || got.Text != appBody || got.ID != appRes.ProviderID {
		t.Errorf("inapp in sandbox = %+v (result %+v)", got, appRes)
	}
	if got.Meta["signature"] != "valid" || got.Meta["merchant"] != "demo" {
		t.Errorf("inapp meta = %v, want a valid signature for merchant demo", got.Meta)
	}
}
