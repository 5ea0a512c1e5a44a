package domain

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the HTTP header that carries a platform webhook signature.
const SignatureHeader = "Oulepay-Signature"

// SignatureTolerance is how far a signed timestamp may be from now, either way.
const SignatureTolerance = 300 * time.Second

// Limits that keep a hostile header from costing much work.
const (
	maxSignatureHeader = 4096
	maxSignatureValues = 16
)

// Errors returned by VerifyWebhook. All of them mean "refuse the delivery".
var (
	ErrSignatureMissing   = errors.New("webhook signature: missing")
	ErrSignatureMalformed = errors.New("webhook signature: malformed")
	ErrSignatureStale     = errors.New("webhook signature: timestamp outside tolerance")
	ErrSignatureMismatch  = errors.New("webhook signature: no matching signature")
)

// SignWebhook returns the Oulepay-Signature header value for body sent at t:
// "t=<unix>,v1=<hex HMAC-SHA256(secret, "<unix>.<body>")>".
func SignWebhook(secret []byte, t time.Time, body []byte) string {
	return SignWebhookMulti([][]byte{secret}, t, body)
}

// SignWebhookMulti is SignWebhook with one v1 value per secret, as the platform sends
// during a secret rotation.
func SignWebhookMulti(secrets [][]byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=")
	b.WriteString(ts)
	for _, s := range secrets {
		b.WriteString(",v1=")
		b.WriteString(hex.EncodeToString(webhookMAC(s, ts, body)))
	}
	return b.String()
}

func webhookMAC(secret []byte, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifyWebhook checks an Oulepay-Signature header against body. It succeeds when
// the timestamp is within SignatureTolerance of now and any v1 value matches the
// HMAC under any of secrets (several secrets on our side during a rotation).
// Comparisons are constant-time. Unknown schemes (v0=…) are ignored.
func VerifyWebhook(header string, body []byte, secrets [][]byte, now time.Time) error {
	header = strings.TrimSpace(header)
	if header == "" {
		return ErrSignatureMissing
	}
	if len(header) > maxSignatureHeader {
		return ErrSignatureMalformed
	}
	var (
		ts     string
		haveTS bool
		sigs   [][]byte
	)
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return ErrSignatureMalformed
		}
		switch k {
		case "t":
			if haveTS || !sigDecimal(v, 12) {
				return ErrSignatureMalformed
			}
			ts, haveTS = v, true
		case "v1":
			if len(v) != 2*sha256.Size || len(sigs) >= maxSignatureValues {
				return ErrSignatureMalformed
			}
			sig, err := hex.DecodeString(v)
			if err != nil {
				return ErrSignatureMalformed
			}
			sigs = append(sigs, sig)
		}
	}
	if !haveTS || len(sigs) == 0 {
		return ErrSignatureMalformed
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrSignatureMalformed
	}
	// sigDecimal capped ts at 12 digits, so this cannot overflow.
	diff := now.Unix() - unix
	if diff > int64(SignatureTolerance/time.Second) || -diff > int64(SignatureTolerance/time.Second) {
		return ErrSignatureStale
	}
	matched := false
	for _, secret := range secrets {
		if len(secret) == 0 {
			continue // an unset secret must never verify anything
		}
		want := webhookMAC(secret, ts, body)
		for _, sig := range sigs {
			if hmac.Equal(want, sig) {
				matched = true
			}
		}
	}
	if !matched {
		return ErrSignatureMismatch
	}
	return nil
}

// sigDecimal reports whether s is 1..max ASCII digits.
func sigDecimal(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
