package notify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"paymend/domain"
)

type fixedClock time.Time

func (c fixedClock) Now() time.Time { return time.Time(c) }

var testNow = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

// sink is an SMTP server (emersion/go-smtp) that records what it receives and
// answers with configured errors.
type sink struct {
	mu       sync.Mutex
	msgs     []sunk
	sessions int
	mailErr  error
	rcptErr  error
	dataErr  error
	authErr  error
}

type sunk struct {
	From string
	To   []string
	Raw  []byte
	TLS  bool
	User string
}

type sinkOptions struct {
	starttls  *tls.Config // offer STARTTLS with this config
	implicit  *tls.Config // serve TLS from the first byte
	insecure  bool        // allow AUTH without TLS
	addr      string      // listen address; default 127.0.0.1:0
	configure func(*sink)
}

func startSink(t *testing.T, o sinkOptions) (*sink, string, int) {
	t.Helper()
	s := &sink{}
	if o.configure != nil {
		o.configure(s)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.mu.Lock()
		s.sessions++
		s.mu.Unlock()
		return &sinkSession{s: s, c: c}, nil
	}))
	srv.Domain = "sink.test"
	srv.AllowInsecureAuth = o.insecure
	srv.ReadTimeout = 5 * time.Second
	srv.WriteTimeout = 5 * time.Second
	srv.ErrorLog = nopLogger{}
	srv.TLSConfig = o.starttls
	addr := o.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("listen %s: %v", addr, err)
	}
	if o.implicit != nil {
		ln = tls.NewListener(ln, o.implicit)
	}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(ln) }()
	t.Cleanup(func() { srv.Close(); <-done })
	host, port, _ := net.SplitHostPort(ln.Addr().String())
	p, _ := strconv.Atoi(port)
	return s, host, p
}

type nopLogger struct{}

func (nopLogger) Printf(string, ...any) {}
func (nopLogger) Println(...any)        {}

func (s *sink) received() []sunk {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]sunk(nil), s.msgs...)
}

type sinkSession struct {
	s    *sink
	c    *smtp.Conn
	from string
	to   []string
	user string
}

func (ss *sinkSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *sinkSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if ss.s.authErr != nil {
			return ss.s.authErr
		}
		if user != "mailer" || pass != "s3cret-pass" {
			return &smtp.SMTPError{Code: 535, EnhancedCode: smtp.EnhancedCode{5, 7, 8}, Message: "bad credentials"}
		}
		ss.user = user
		return nil
	}), nil
}

func (ss *sinkSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	return ss.s.mailErr
}

func (ss *sinkSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.s.rcptErr != nil {
		return ss.s.rcptErr
	}
	ss.to = append(ss.to, to)
	return nil
}

func (ss *sinkSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if ss.s.dataErr != nil {
		return ss.s.dataErr
	}
	_, isTLS := ss.c.TLSConnectionState()
	ss.s.mu.Lock()
	ss.s.msgs = append(ss.s.msgs, sunk{From: ss.from, To: ss.to, Raw: raw, TLS: isTLS, User: ss.user})
	ss.s.mu.Unlock()
	return nil
}

func (ss *sinkSession) Reset()        { ss.from, ss.to = "", nil }
func (ss *sinkSession) Logout() error { return nil }

// testCert returns a server config with a fresh self-signed certificate for
// 127.0.0.1 and a client pool that trusts it.
func testCert(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "sink.test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}, pool
}

// decodedEmail is a received message as a mail client shows it.
type decodedEmail struct {
	Header  mail.Header
	Subject string
	Body    string
}

func decodeEmail(t *testing.T, raw []byte) decodedEmail {
	t.Helper()
	msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatalf("read message: %v\n%s", err, raw)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if err != nil {
		t.Fatalf("decode subject %q: %v", msg.Header.Get("Subject"), err)
	}
	var r io.Reader = msg.Body
	switch cte := msg.Header.Get("Content-Transfer-Encoding"); cte {
	case "base64":
		r = base64.NewDecoder(base64.StdEncoding, r)
	case "quoted-printable":
		r = quotedprintable.NewReader(r)
	default:
		t.Fatalf("Content-Transfer-Encoding = %q", cte)
	}
	body, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("decode body: %v", err)
	}
	return decodedEmail{Header: msg.Header, Subject: subject, Body: string(body)}
}

func TestSMTPDeliversUTF8(t *testing.T) {
	s, host, port := startSink(t, sinkOptions{})
	ch := &SMTP{Host: host, Port: port, Security: SecurityNone, From: "欧乐商城 <noreply@shop.example>", Clock: fixedClock(testNow)}
	subject := "【欧乐商城】您的订单 O202611250001 支付未成功,请确认银行卡余额后重新支付,给您带来不便敬请谅解"
	body := "张伟,您好:\n\n您的订单 O202611250001(金额 129.00元)支付未成功。\n请确认银行卡余额后重新支付。\n\n.\n欧乐商城"
	res, err := ch.Send(context.Background(), Message{
		Channel: domain.NotifyEmail, To: "zhang.wei@example.com", Subject: subject, Body: body, IdempotencyKey: "ntf-42",
	})
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if res.ProviderID != "paymend.ntf-42@shop.example" {
		t.Errorf("ProviderID = %q", res.ProviderID)
	}
	if !strings.HasPrefix(res.Response, "250 ") {
		t.Errorf("Response = %q, want the server's 250 reply", res.Response)
	}
	got := s.received()
	if len(got) != 1 {
		t.Fatalf("server received %d messages, want 1", len(got))
	}
	if got[0].From != "noreply@shop.example" || len(got[0].To) != 1 || got[0].To[0] != "zhang.wei@example.com" {
		t.Errorf("envelope from %q to %v", got[0].From, got[0].To)
	}
	for _, line := range strings.Split(string(got[0].Raw), "\r\n") {
		if len(line) > 998 {
			t.Errorf("line of %d bytes", len(line))
		}
		for _, r := range line {
			if r >= 0x80 {
				t.Fatalf("raw message is not 7-bit: %q", line)
			}
		}
	}
	e := decodeEmail(t, got[0].Raw)
	if e.Subject != subject {
		t.Errorf("subject = %q, want %q", e.Subject, subject)
	}
	if want := strings.ReplaceAll(body, "\n", "\r\n") + "\r\n"; e.Body != want {
		t.Errorf("body = %q, want %q", e.Body, want)
	}
	from, err := e.Header.AddressList("From")
	if err != nil || len(from) != 1 || from[0].Name != "欧乐商城" || from[0].Address != "noreply@shop.example" {
		t.Errorf("From = %v, %v", from, err)
	}
	if to := e.Header.Get("To"); to != "<zhang.wei@example.com>" {
		t.Errorf("To = %q", to)
	}
	if d, err := e.Header.Date(); err != nil || !d.Equal(testNow) {
		t.Errorf("Date = %v, %v; want %v", d, err, testNow)
	}
	checks := map[string]string{
		"Message-Id":                "<paymend.ntf-42@shop.example>",
		"Mime-Version":              "1.0",
		"Content-Type":              "text/plain; charset=utf-8",
		"Content-Transfer-Encoding": "base64",
		"Auto-Submitted":            "auto-generated",
	}
	for k, want := range checks {
		if v := e.Header.Get(k); v != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}
}

func TestSMTPEnglishQuotedPrintableAndOneLineSubject(t *testing.T) {
	s, host, port := startSink(t, sinkOptions{})
	ch := &SMTP{Host: host, Port: port, Security: SecurityNone, From: "noreply@shop.example"}
	body := "Dear Zhang Wei,\n\nYour payment of CNY 129.00 did not go through. " + strings.Repeat("Please check your card balance and pay again. ", 4) + "\nPrice = ¥129\n\nOule Mall"
	_, err := ch.Send(context.Background(), Message{To: "zhang@example.com", Subject: "Order O1\r\nBcc: victim@example.com", Body: body, IdempotencyKey: "key with spaces/and:colons"})
	if err != nil {
		t.Fatal(err)
	}
	got := s.received()
	if len(got) != 1 {
		t.Fatalf("received %d", len(got))
	}
	e := decodeEmail(t, got[0].Raw)
	if e.Header.Get("Content-Transfer-Encoding") != "quoted-printable" {
		t.Errorf("CTE = %q", e.Header.Get("Content-Transfer-Encoding"))
	}
	if want := strings.ReplaceAll(body, "\n", "\r\n") + "\r\n"; e.Body != want {
		t.Errorf("body = %q, want %q", e.Body, want)
	}
	if e.Subject != "Order O1 Bcc: victim@example.com" || e.Header.Get("Bcc") != "" {
		t.Errorf("subject %q, Bcc %q: header injection", e.Subject, e.Header.Get("Bcc"))
	}
	id := e.Header.Get("Message-Id")
	if !strings.HasPrefix(id, "<paymend.h") || strings.ContainsAny(id, " /:") {
		t.Errorf("Message-ID for an odd key = %q", id)
	}
	// The same key gives the same Message-ID: a receiver can drop a repeat.
	if a, b := messageID("key with spaces/and:colons", "x@shop.example"), strings.Trim(id, "<>"); a != b {
		t.Errorf("Message-ID not stable: %q vs %q", a, b)
	}
}

func TestSMTPSTARTTLSWithAuth(t *testing.T) {
	srvTLS, pool := testCert(t)
	s, host, port := startSink(t, sinkOptions{starttls: srvTLS})
	ch := &SMTP{Host: host, Port: port, Security: SecuritySTARTTLS, Username: "mailer", Password: "s3cret-pass",
		From: "noreply@shop.example", TLSConfig: &tls.Config{RootCAs: pool}}
	if _, err := ch.Send(context.Background(), Message{To: "li@example.com", Subject: "你好", Body: "正文"}); err != nil {
		t.Fatalf("Send: %v", err)
	}
	got := s.received()
	if len(got) != 1 || !got[0].TLS || got[0].User != "mailer" {
		t.Fatalf("received %+v, want one message over TLS from user mailer", got)
	}

	// Wrong password: 535 is permanent.
	ch.Password = "wrong-password"
	_, err := ch.Send(context.Background(), Message{To: "li@example.com", Subject: "x", Body: "y"})
	var ne *Error
	if !IsPermanent(err) || !errors.As(err, &ne) || ne.Code != 535 {
		t.Errorf("bad credentials: err = %v, want permanent 535", err)
	}
	if strings.Contains(err.Error(), "wrong-password") {
		t.Errorf("error leaks the password: %v", err)
	}
}

func TestSMTPSecurityModes(t *testing.T) {
	srvTLS, pool := testCert(t)
	tests := []struct {
		name      string
		opts      sinkOptions
		client    SMTP
		permanent bool // want a permanent error; false with wantSent means success
		wantSent  bool
		wantTLS   bool
		errHas    string
	}{
		{"none to a plain server", sinkOptions{}, SMTP{Security: SecurityNone}, false, true, false, ""},
		{"starttls refused by a plain server", sinkOptions{}, SMTP{Security: SecuritySTARTTLS, TLSConfig: &tls.Config{RootCAs: pool}}, true, false, false, "does not offer STARTTLS"},
		{"default is starttls", sinkOptions{}, SMTP{}, true, false, false, "does not offer STARTTLS"},
		{"starttls", sinkOptions{starttls: srvTLS}, SMTP{Security: SecuritySTARTTLS, TLSConfig: &tls.Config{RootCAs: pool}}, false, true, true, ""},
		{"starttls with an untrusted certificate", sinkOptions{starttls: srvTLS}, SMTP{Security: SecuritySTARTTLS}, true, false, false, "certificate not trusted"},
		{"implicit tls", sinkOptions{implicit: srvTLS}, SMTP{Security: SecurityTLS, TLSConfig: &tls.Config{RootCAs: pool}}, false, true, true, ""},
		{"implicit tls with an untrusted certificate", sinkOptions{implicit: srvTLS}, SMTP{Security: SecurityTLS}, true, false, false, "certificate not trusted"},
		// net/smtp sends a password in clear only to localhost; 127.0.0.2 stands in for a remote host.
		{"none never sends a password in clear to a remote host", sinkOptions{insecure: true, addr: "127.0.0.2:0"}, SMTP{Security: SecurityNone, Username: "mailer", Password: "s3cret-pass"}, true, false, false, "unencrypted connection"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, host, port := startSink(t, tt.opts)
			ch := tt.client
			ch.Host = host
			ch.Port, ch.From, ch.Timeout = port, "noreply@shop.example", 5*time.Second
			_, err := ch.Send(context.Background(), Message{To: "li@example.com", Subject: "s", Body: "b"})
			if tt.wantSent {
				if err != nil {
					t.Fatalf("Send: %v", err)
				}
				got := s.received()
				if len(got) != 1 || got[0].TLS != tt.wantTLS {
					t.Fatalf("received %+v, want 1 message, TLS %v", got, tt.wantTLS)
				}
				return
			}
			if err == nil || IsPermanent(err) != tt.permanent {
				t.Fatalf("err = %v, want permanent=%v", err, tt.permanent)
			}
			if !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("err = %v, want it to say %q", err, tt.errHas)
			}
			if n := len(s.received()); n != 0 {
				t.Errorf("server received %d messages", n)
			}
		})
	}
}

func TestSMTPReplies(t *testing.T) {
	echo := func(code int, ec smtp.EnhancedCode, msg string) error {
		return &smtp.SMTPError{Code: code, EnhancedCode: ec, Message: msg}
	}
	tests := []struct {
		name      string
		configure func(*sink)
		code      int
		permanent bool
	}{
		{"550 unknown mailbox", func(s *sink) {
			s.rcptErr = echo(550, smtp.EnhancedCode{5, 1, 1}, "<wang.fang@example.com>: Recipient address rejected")
		}, 550, true},
		{"451 on data", func(s *sink) {
			s.dataErr = echo(451, smtp.EnhancedCode{4, 3, 0}, "Try again later for wang.fang@example.com")
		}, 451, false},
		{"452 too many recipients", func(s *sink) { s.rcptErr = echo(452, smtp.EnhancedCode{4, 5, 3}, "Too many recipients") }, 452, false},
		{"554 on data", func(s *sink) { s.dataErr = echo(554, smtp.EnhancedCode{5, 7, 1}, "Message rejected") }, 554, true},
		{"553 sender refused", func(s *sink) { s.mailErr = echo(553, smtp.EnhancedCode{5, 7, 1}, "Sender not allowed") }, 553, true},
		{"421 service closing", func(s *sink) { s.mailErr = echo(421, smtp.EnhancedCode{4, 3, 2}, "Service shutting down") }, 421, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, host, port := startSink(t, sinkOptions{configure: tt.configure})
			ch := &SMTP{Host: host, Port: port, Security: SecurityNone, From: "noreply@shop.example"}
			_, err := ch.Send(context.Background(), Message{To: "wang.fang@example.com", Subject: "s", Body: "b"})
			var ne *Error
			if !errors.As(err, &ne) {
				t.Fatalf("err = %v, want *Error", err)
			}
			if ne.Code != tt.code || IsPermanent(err) != tt.permanent || ne.Channel != domain.NotifyEmail {
				t.Errorf("err = %v (code %d, permanent %v), want code %d permanent %v", err, ne.Code, IsPermanent(err), tt.code, tt.permanent)
			}
			if strings.Contains(strings.ToLower(err.Error()), "wang.fang@example.com") {
				t.Errorf("error text holds the recipient: %v", err)
			}
			if len(s.received()) != 0 {
				t.Error("a refused message was recorded")
			}
		})
	}
}

func TestSMTPRefusesBeforeConnecting(t *testing.T) {
	s, host, port := startSink(t, sinkOptions{})
	good := SMTP{Host: host, Port: port, Security: SecurityNone, From: "noreply@shop.example"}
	tests := []struct {
		name   string
		ch     SMTP
		m      Message
		target error
	}{
		{"no at sign", good, Message{To: "zhang.example.com", Body: "b"}, ErrInvalidRecipient},
		{"no dot in domain", good, Message{To: "zhang@example", Body: "b"}, ErrInvalidRecipient},
		{"display name", good, Message{To: "Zhang <zhang@example.com>", Body: "b"}, ErrInvalidRecipient},
		{"smuggled header", good, Message{To: "zhang@example.com\r\nBcc: x@example.com", Body: "b"}, ErrInvalidRecipient},
		{"empty", good, Message{To: "", Body: "b"}, ErrInvalidRecipient},
		{"phone number", good, Message{To: "+8613812341234", Body: "b"}, ErrInvalidRecipient},
		{"no host", SMTP{From: "noreply@shop.example"}, Message{To: "a@example.com", Body: "b"}, ErrNotConfigured},
		{"bad from", SMTP{Host: host, Port: port, Security: SecurityNone, From: "noreply"}, Message{To: "a@example.com", Body: "b"}, ErrNotConfigured},
		{"bad security", SMTP{Host: host, Port: port, Security: "ssl3", From: "noreply@shop.example"}, Message{To: "a@example.com", Body: "b"}, ErrNotConfigured},
		{"bad port", SMTP{Host: host, Port: 70000, Security: SecurityNone, From: "noreply@shop.example"}, Message{To: "a@example.com", Body: "b"}, ErrNotConfigured},
		{"wrong channel", good, Message{Channel: domain.NotifySMS, To: "a@example.com", Body: "b"}, nil},
		{"empty body", good, Message{To: "a@example.com", Body: " \n"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.ch.Send(context.Background(), tt.m)
			if !IsPermanent(err) {
				t.Fatalf("err = %v, want permanent", err)
			}
			if tt.target != nil && !errors.Is(err, tt.target) {
				t.Errorf("err = %v, want %v", err, tt.target)
			}
			if strings.Contains(err.Error(), "zhang") || strings.Contains(err.Error(), "13812341234") {
				t.Errorf("error text holds the recipient: %v", err)
			}
		})
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sessions != 0 {
		t.Errorf("%d SMTP sessions opened for messages that should never leave", s.sessions)
	}
}

func TestSMTPTemporaryNetworkFailures(t *testing.T) {
	// A server that accepts connections and never greets.
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := mute.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		mute.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	_, mutePortS, _ := net.SplitHostPort(mute.Addr().String())
	mutePort, _ := strconv.Atoi(mutePortS)

	// A port nobody listens on.
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	_, closedPortS, _ := net.SplitHostPort(closed.Addr().String())
	closed.Close()
	closedPort, _ := strconv.Atoi(closedPortS)

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()

	tests := []struct {
		name string
		port int
		ctx  context.Context
	}{
		{"server never answers", mutePort, context.Background()},
		{"connection refused", closedPort, context.Background()},
		{"context cancelled", mutePort, cancelled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := &SMTP{Host: "127.0.0.1", Port: tt.port, Security: SecurityNone, From: "noreply@shop.example", Timeout: 300 * time.Millisecond}
			start := time.Now()
			_, err := ch.Send(tt.ctx, Message{To: "a@example.com", Subject: "s", Body: "b"})
			if err == nil || IsPermanent(err) {
				t.Fatalf("err = %v, want a temporary error", err)
			}
			t.Logf("error: %v", err)
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("took %v, want the timeout to end it", d)
			}
		})
	}
}

// BenchmarkSMTPSend measures one message per connection to a local go-smtp sink.
func BenchmarkSMTPSend(b *testing.B) {
	s := &sink{}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &sinkSession{s: s, c: c}, nil }))
	srv.Domain, srv.ErrorLog = "sink.test", nopLogger{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go srv.Serve(ln)
	defer srv.Close()
	_, portS, _ := net.SplitHostPort(ln.Addr().String())
	port, _ := strconv.Atoi(portS)
	ch := &SMTP{Host: "127.0.0.1", Port: port, Security: SecurityNone, From: "noreply@shop.example"}
	m := Message{To: "zhang@example.com", Subject: "【欧乐商城】您的订单支付未成功", Body: strings.Repeat("您的订单支付未成功。请确认银行卡余额后重新支付。\n", 8), IdempotencyKey: "ntf-1"}
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := ch.Send(context.Background(), m); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
