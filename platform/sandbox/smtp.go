package sandbox

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

const maxEmailBytes = 10 << 20

// ServeSMTP receives e-mail on ln until ctx is done, recording every message
// (one per recipient) for /_sandbox/messages. No authentication is required;
// AUTH PLAIN with any credentials is accepted too.
func (s *Sandbox) ServeSMTP(ctx context.Context, ln net.Listener) error {
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{s: s, remote: c.Conn().RemoteAddr().String()}, nil
	}))
	srv.Domain = "sandbox.oulepay.test"
	srv.AllowInsecureAuth = true
	srv.MaxMessageBytes = maxEmailBytes
	srv.MaxRecipients = 50
	srv.ReadTimeout = 60 * time.Second
	srv.WriteTimeout = 60 * time.Second
	srv.EnableSMTPUTF8 = true
	srv.ErrorLog = slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)

	done := make(chan struct{})
	defer close(done)
	go func() {
		select {
		case <-ctx.Done():
		case <-s.ctx.Done():
		case <-done:
			return
		}
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if srv.Shutdown(shut) != nil {
			srv.Close()
		}
	}()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, smtp.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
		return err
	}
	return nil
}

// smtpSession collects one SMTP transaction.
type smtpSession struct {
	s      *Sandbox
	remote string
	from   string
	to     []string
	user   string
}

var _ smtp.AuthSession = (*smtpSession)(nil)

func (ss *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *smtpSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		ss.user = username // any credentials will do
		return nil
	}), nil
}

func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	ss.from = from
	return nil
}

func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	ss.to = append(ss.to, to)
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	raw, err := io.ReadAll(io.LimitReader(r, maxEmailBytes+1))
	if err != nil {
		return err
	}
	if len(raw) > maxEmailBytes {
		return &smtp.SMTPError{Code: 552, EnhancedCode: smtp.EnhancedCode{5, 3, 4}, Message: "message too big"}
	}
	subject, text, header := parseEmail(raw)
	meta := map[string]string{
		"from":        ss.from,
		"header_from": header.Get("From"),
		"message_id":  strings.Trim(header.Get("Message-Id"), "<>"),
		"remote":      ss.remote,
	}
	if ss.user != "" {
		meta["auth_user"] = ss.user
	}
	for _, to := range ss.to {
		ss.s.recordMessage(Message{ID: newID("mail_", 16), Channel: "email", To: to, Subject: subject, Text: text, Meta: maps.Clone(meta)})
	}
	ss.s.log.Info("sandbox smtp received", "recipients", len(ss.to), "bytes", len(raw))
	return nil
}

func (ss *smtpSession) Reset() {
	ss.from, ss.to = "", nil
}

func (ss *smtpSession) Logout() error { return nil }
