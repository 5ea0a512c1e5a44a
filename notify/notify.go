// Package notify delivers customer notices: e-mail over SMTP, SMS through an HTTP
// gateway, and in-app messages as a signed POST to the merchant's own endpoint.
//
// A Channel sends one rendered Message and says whether a failure is worth
// retrying: errors.Is(err, ErrPermanent) (or IsPermanent) means the same message
// will never succeed — an invalid recipient, a 4xx answer, an SMTP 5xx reply, a
// channel that is not configured — while anything else (timeouts, connection
// errors, 5xx answers, SMTP 4xx replies) may succeed later. Recipients are
// validated before anything leaves the process. Nothing here logs, and error
// texts and recorded gateway answers never hold the recipient's phone number or
// address: they are masked.
package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/textproto"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"paymend/domain"
)

// Message is one rendered notice to one customer.
type Message struct {
	Channel domain.NotifyChannel
	// To is a phone number (SMS), an e-mail address (e-mail) or the customer's id
	// in the merchant's systems (in-app).
	To            string
	Subject, Body string
	// MerchantCode identifies the merchant to an in-app endpoint.
	MerchantCode string
	// IdempotencyKey is the same on every attempt for one notice (the job's or
	// notification row's key): it goes out as Idempotency-Key and in the e-mail
	// Message-ID, so a receiver can drop a repeat.
	IdempotencyKey string
}

// Result is what the receiving side answered to an accepted message.
type Result struct {
	// ProviderID is the receiver's id for the message (the gateway's message id,
	// or the e-mail's Message-ID without angle brackets).
	ProviderID string
	// Response is the receiver's answer (HTTP body or final SMTP reply), masked
	// and cut to MaxResponse bytes. Send fills it on failures too, when there was
	// an answer.
	Response string
}

// Channel sends a message on one channel.
type Channel interface {
	Send(ctx context.Context, m Message) (Result, error)
}

// MaxResponse bounds Result.Response, in bytes.
const MaxResponse = 1024

// Errors a Channel wraps; test with errors.Is.
var (
	// ErrPermanent: retrying the same message cannot succeed.
	ErrPermanent = errors.New("notify: permanent failure")
	// ErrInvalidRecipient: the phone number, address or customer id is not
	// usable. Always permanent.
	ErrInvalidRecipient = errors.New("notify: invalid recipient")
	// ErrNotConfigured: the channel's settings are missing or invalid. Always
	// permanent.
	ErrNotConfigured = errors.New("notify: channel not configured")
)

// Error is a failed send. Its text names the channel and the reason and never
// holds the recipient.
type Error struct {
	Channel   domain.NotifyChannel
	Permanent bool
	// Code is the HTTP status or SMTP reply code, 0 when there was no answer.
	Code int
	// RetryAfter is the delay the receiver asked for (HTTP Retry-After), or 0.
	RetryAfter time.Duration
	msg        string // masked
	err        error
}

func (e *Error) Error() string { return e.msg }

// Unwrap returns the cause (ErrInvalidRecipient, ErrNotConfigured, a network
// error, …). Its text is not masked; log Error() instead.
func (e *Error) Unwrap() error { return e.err }

// Is makes errors.Is(err, ErrPermanent) report Permanent.
func (e *Error) Is(target error) bool { return target == ErrPermanent && e.Permanent }

// IsPermanent reports whether err means the message can never be delivered as is.
// A nil error is not permanent.
func IsPermanent(err error) bool { return errors.Is(err, ErrPermanent) }

// fail builds an *Error; cause may be nil. The message is masked for to.
func fail(ch domain.NotifyChannel, to string, permanent bool, code int, reason string, cause error) *Error {
	msg := "notify: " + string(ch) + ": " + reason
	if cause != nil {
		msg += ": " + cause.Error()
	}
	if cause == nil {
		cause = errors.New(reason)
	}
	return &Error{Channel: ch, Permanent: permanent, Code: code, msg: truncate(redact(msg, to), 2*MaxResponse), err: cause}
}

func invalidRecipient(ch domain.NotifyChannel, to, what string) *Error {
	return fail(ch, to, true, 0, what, ErrInvalidRecipient)
}

func notConfigured(ch domain.NotifyChannel, what string) *Error {
	return fail(ch, "", true, 0, what, ErrNotConfigured)
}

func checkChannel(want domain.NotifyChannel, m Message) error {
	if m.Channel != "" && m.Channel != want {
		return fail(want, "", true, 0, fmt.Sprintf("message for channel %q", m.Channel), nil)
	}
	return nil
}

// temporaryNetErr reports whether err is a network-level failure worth retrying:
// timeouts, refused or reset connections, a connection closed early, a cancelled
// context.
func temporaryNetErr(err error) bool {
	var ne net.Error
	var opErr *net.OpError
	return errors.As(err, &ne) || errors.As(err, &opErr) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// certificateErr reports whether err is a TLS certificate problem: a setting to
// fix, not something that passes.
func certificateErr(err error) bool {
	var ve *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var he x509.HostnameError
	var ie x509.CertificateInvalidError
	return errors.As(err, &ve) || errors.As(err, &ua) || errors.As(err, &he) || errors.As(err, &ie)
}

// smtpCode returns the reply code of an SMTP error answer, or 0.
func smtpCode(err error) int {
	var te *textproto.Error
	if errors.As(err, &te) {
		return te.Code
	}
	return 0
}

// redact masks every form of to (as given, its E.164 form, the national mobile
// number, the address in any case) in s.
func redact(s, to string) string {
	to = strings.TrimSpace(to)
	if s == "" || len(to) < 3 {
		return s
	}
	forms := []string{to}
	mask := domain.MaskEmail(to)
	if p, ok := domain.NormalizePhone(to); ok {
		mask = domain.MaskPhone(p)
		forms = append(forms, p, strings.TrimPrefix(p, "+"))
		if strings.HasPrefix(p, "+86") {
			forms = append(forms, p[3:])
		}
	} else if !strings.Contains(to, "@") {
		mask = "***"
	}
	for _, f := range forms {
		if f == "" {
			continue
		}
		s = regexp.MustCompile(`(?i)`+regexp.QuoteMeta(f)).ReplaceAllLiteralString(s, mask)
	}
	return s
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// clean makes a receiver's answer one readable, masked, bounded string.
func clean(s, to string) string {
	s = strings.ToValidUTF8(s, "�")
	s = strings.TrimSpace(s)
	return truncate(redact(s, to), MaxResponse)
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(min(n, 86400)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return min(t.Sub(now), 24*time.Hour)
	}
	return 0
}

// The three transports are Channels.
var (
	_ Channel = (*SMTP)(nil)
	_ Channel = (*SMSGateway)(nil)
	_ Channel = (*InApp)(nil)
)
