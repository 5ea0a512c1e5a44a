package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"strconv"
	"strings"
	"time"

	"paymend/domain"
)

// SMTP security modes.
const (
	SecurityNone     = "none"     // plain text; only for a local relay or the sandbox
	SecuritySTARTTLS = "starttls" // upgrade with STARTTLS; refuse a server without it
	SecurityTLS      = "tls"      // implicit TLS from the first byte (port 465)
)

// DefaultSMTPTimeout bounds a whole SMTP conversation.
const DefaultSMTPTimeout = 15 * time.Second

// SMTP sends e-mail through an SMTP server with net/smtp: one connection per
// message, a UTF-8 text/plain body (quoted-printable, or base64 for mostly
// non-ASCII text), an RFC 2047 subject, Date, and a Message-ID made from the
// idempotency key. Replies 5xx are permanent, 4xx temporary.
type SMTP struct {
	Host string
	// Port defaults to 465 for tls, 587 for starttls and 25 for none.
	Port int
	// Security is none, starttls or tls; "" means starttls.
	Security string
	// Username and Password, when Username is set, authenticate with AUTH PLAIN,
	// which net/smtp allows only over TLS or to localhost.
	Username, Password string
	// From is the sender: "noreply@shop.example" or "欧乐商城 <noreply@shop.example>".
	From    string
	Timeout time.Duration // whole conversation; default DefaultSMTPTimeout

	TLSConfig *tls.Config  // optional: roots for a private CA (ServerName defaults to Host)
	LocalName string       // HELO/EHLO name; default "localhost"
	Clock     domain.Clock // Date header; default the system clock
}

func (s *SMTP) security() string {
	if s.Security == "" {
		return SecuritySTARTTLS
	}
	return strings.ToLower(s.Security)
}

func (s *SMTP) port() int {
	if s.Port != 0 {
		return s.Port
	}
	switch s.security() {
	case SecurityTLS:
		return 465
	case SecurityNone:
		return 25
	}
	return 587
}

func (s *SMTP) tlsConfig() *tls.Config {
	var c *tls.Config
	if s.TLSConfig != nil {
		c = s.TLSConfig.Clone()
	} else {
		c = &tls.Config{}
	}
	if c.ServerName == "" {
		c.ServerName = s.Host
	}
	if c.MinVersion == 0 {
		c.MinVersion = tls.VersionTLS12
	}
	return c
}

// Send implements Channel.
func (s *SMTP) Send(ctx context.Context, m Message) (Result, error) {
	const ch = domain.NotifyEmail
	if err := checkChannel(ch, m); err != nil {
		return Result{}, err
	}
	sec := s.security()
	if sec != SecurityNone && sec != SecuritySTARTTLS && sec != SecurityTLS {
		return Result{}, notConfigured(ch, fmt.Sprintf("unknown security %q", s.Security))
	}
	if strings.TrimSpace(s.Host) == "" || s.port() < 1 || s.port() > 65535 {
		return Result{}, notConfigured(ch, "no SMTP host or port")
	}
	from, err := mail.ParseAddress(s.From)
	if err != nil || !domain.ValidEmail(from.Address) {
		return Result{}, notConfigured(ch, "invalid from address")
	}
	to := strings.TrimSpace(m.To)
	if !domain.ValidEmail(to) {
		return Result{}, invalidRecipient(ch, m.To, "invalid e-mail address")
	}
	if strings.TrimSpace(m.Body) == "" {
		return Result{}, fail(ch, "", true, 0, "empty body", nil)
	}
	now := time.Now()
	if s.Clock != nil {
		now = s.Clock.Now()
	}
	msgID := messageID(m.IdempotencyKey, from.Address)
	raw := buildEmail(from, to, m.Subject, m.Body, msgID, now)

	timeout := s.Timeout
	if timeout <= 0 {
		timeout = DefaultSMTPTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	reply, err := s.deliver(ctx, from.Address, to, raw)
	res := Result{Response: clean(reply, to)}
	if err != nil {
		return res, err
	}
	res.ProviderID = msgID
	return res, nil
}

// step names a stage of the conversation for errors.
type step string

// deliver runs the SMTP conversation and returns the server's final reply.
func (s *SMTP) deliver(ctx context.Context, from, to string, raw []byte) (string, error) {
	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.port()))
	failAt := func(st step, err error, permanentOther bool) error {
		if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
			err = fmt.Errorf("%w: %w", ctx.Err(), err)
		}
		if code := smtpCode(err); code != 0 {
			return fail(domain.NotifyEmail, to, code >= 500, code, string(st), err)
		}
		switch {
		case certificateErr(err):
			return fail(domain.NotifyEmail, to, true, 0, string(st)+": certificate not trusted", err)
		case temporaryNetErr(err):
			return fail(domain.NotifyEmail, to, false, 0, string(st), err)
		}
		return fail(domain.NotifyEmail, to, permanentOther, 0, string(st), err)
	}

	dialer := &net.Dialer{}
	var conn net.Conn
	var err error
	if s.security() == SecurityTLS {
		conn, err = (&tls.Dialer{NetDialer: dialer, Config: s.tlsConfig()}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = dialer.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return "", failAt("connect", err, false)
	}
	// The deadline bounds every read and write; cancelling ctx ends a stuck call.
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()

	c, err := smtp.NewClient(conn, s.Host)
	if err != nil {
		conn.Close()
		return "", failAt("greeting", err, false)
	}
	defer c.Close()
	if err := c.Hello(cmp(s.LocalName, "localhost")); err != nil {
		return "", failAt("hello", err, false)
	}
	if s.security() == SecuritySTARTTLS {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return "", fail(domain.NotifyEmail, to, true, 0, "server does not offer STARTTLS", ErrNotConfigured)
		}
		if err := c.StartTLS(s.tlsConfig()); err != nil {
			return "", failAt("starttls", err, false)
		}
	}
	if s.Username != "" {
		if ok, _ := c.Extension("AUTH"); !ok {
			return "", fail(domain.NotifyEmail, to, true, 0, "server does not offer AUTH", ErrNotConfigured)
		}
		// Errors other than replies (net/smtp refusing to send a password over
		// an unencrypted connection) are settings to fix: permanent.
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, s.Host)); err != nil {
			return "", failAt("auth", err, true)
		}
	}
	if err := c.Mail(from); err != nil {
		return "", failAt("mail from", err, false)
	}
	if err := c.Rcpt(to); err != nil {
		return "", failAt("rcpt to", err, false)
	}
	// DATA by hand (as net/smtp's Data does) to keep the server's final reply.
	id, err := c.Text.Cmd("DATA")
	if err != nil {
		return "", failAt("data", err, false)
	}
	c.Text.StartResponse(id)
	_, _, err = c.Text.ReadResponse(354)
	c.Text.EndResponse(id)
	if err != nil {
		return "", failAt("data", err, false)
	}
	w := c.Text.DotWriter()
	if _, err := w.Write(raw); err != nil {
		w.Close()
		return "", failAt("data", err, false)
	}
	if err := w.Close(); err != nil {
		return "", failAt("data", err, false)
	}
	code, msg, err := c.Text.ReadResponse(250)
	if err != nil {
		return "", failAt("data", err, false)
	}
	_ = c.Quit() // the message is accepted; a failed QUIT changes nothing
	return strconv.Itoa(code) + " " + msg, nil
}

func cmp(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// messageID returns the Message-ID (without angle brackets) for key: "paymend.<key>@<domain of from>".
// A key with characters a Message-ID can't hold is hashed; no key gets a random id.
func messageID(key, fromAddr string) string {
	domainPart := fromAddr[strings.LastIndexByte(fromAddr, '@')+1:]
	local := key
	if local == "" {
		b := make([]byte, 16)
		rand.Read(b)
		local = "r" + hex.EncodeToString(b)
	} else if len(key) > 100 || strings.ContainsFunc(key, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '+' || r == '=')
	}) {
		sum := sha256.Sum256([]byte(key))
		local = "h" + hex.EncodeToString(sum[:16])
	}
	return "paymend." + local + "@" + domainPart
}

// buildEmail returns an RFC 5322 message with CRLF line ends.
func buildEmail(from *mail.Address, to, subject, body, msgID string, date time.Time) []byte {
	var b bytes.Buffer
	header := func(k, v string) {
		b.WriteString(k)
		b.WriteString(": ")
		b.WriteString(v)
		b.WriteString("\r\n")
	}
	header("From", from.String()) // encodes a non-ASCII display name
	header("To", "<"+to+">")
	header("Subject", encodeSubject(subject))
	header("Date", date.Format(time.RFC1123Z))
	header("Message-ID", "<"+msgID+">")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	// A notice, not a conversation: no auto-replies or out-of-office answers.
	header("Auto-Submitted", "auto-generated")
	header("X-Auto-Response-Suppress", "All")

	body = strings.ReplaceAll(body, "\r\n", "\n")
	body = strings.ReplaceAll(body, "\r", "\n")
	body = strings.TrimRight(body, "\n") + "\n"
	body = strings.ReplaceAll(body, "\n", "\r\n")
	if mostlyNonASCII(body) {
		header("Content-Transfer-Encoding", "base64")
		b.WriteString("\r\n")
		enc := base64.StdEncoding.EncodeToString([]byte(body))
		for len(enc) > 76 {
			b.WriteString(enc[:76])
			b.WriteString("\r\n")
			enc = enc[76:]
		}
		b.WriteString(enc)
		b.WriteString("\r\n")
	} else {
		header("Content-Transfer-Encoding", "quoted-printable")
		b.WriteString("\r\n")
		w := quotedprintable.NewWriter(&b)
		w.Write([]byte(body))
		w.Close()
	}
	return b.Bytes()
}

// encodeSubject makes the subject one header value: line breaks become spaces,
// non-ASCII text becomes RFC 2047 Q-encoded words, folded so lines stay short.
func encodeSubject(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	enc := mime.QEncoding.Encode("utf-8", s)
	// The encoder separates long runs into several encoded words with a space;
	// folding there keeps each header line under 78 characters or so.
	return strings.ReplaceAll(enc, "?= =?", "?=\r\n =?")
}

// mostlyNonASCII reports whether more than a third of s's bytes are non-ASCII,
// where base64 is shorter than quoted-printable.
func mostlyNonASCII(s string) bool {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			n++
		}
	}
	return n*3 > len(s)
}
