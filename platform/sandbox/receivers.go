package sandbox

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/mail"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"paymend/domain"
)

// Message is something the customer's side received: an SMS, an e-mail or an
// in-app message.
type Message struct {
	ID      string            `json:"id"`
	Channel string            `json:"channel"` // "sms", "email" or "inapp"
	To      string            `json:"to"`
	Subject string            `json:"subject"`
	Text    string            `json:"text"`
	At      time.Time         `json:"at"`
	Meta    map[string]string `json:"meta"`
}

const maxMessageText = 20000 // bytes of text kept per message

func (s *Sandbox) recordMessage(m Message) Message {
	m.At = s.clock.Now().UTC()
	if m.Meta == nil {
		m.Meta = map[string]string{}
	}
	m.Text = truncateUTF8(m.Text, maxMessageText)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.messages = append(s.messages, m)
	if len(s.messages) > maxMessages {
		s.messages = append(s.messages[:0:0], s.messages[len(s.messages)-maxMessages:]...)
	}
	s.stats.MessagesHandled++
	return m
}

// Messages returns what the customer's side received, newest first; to, when not
// empty, keeps only messages to that address or phone number (+86 or not).
func (s *Sandbox) Messages(to string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Message{}
	for i := len(s.messages) - 1; i >= 0; i-- {
		if m := s.messages[i]; to == "" || sameRecipient(m.To, to) {
			out = append(out, m)
		}
	}
	return out
}

// sameRecipient compares addresses case-insensitively and phones by E.164 form.
func sameRecipient(a, b string) bool {
	a, b = strings.TrimSpace(a), strings.TrimSpace(b)
	if strings.EqualFold(a, b) {
		return true
	}
	na, okA := domain.NormalizePhone(a)
	nb, okB := domain.NormalizePhone(b)
	return okA && okB && na == nb
}

// GET /_sandbox/messages?to=…&channel=…
func (s *Sandbox) getMessages(w http.ResponseWriter, r *http.Request) {
	msgs := s.Messages(r.URL.Query().Get("to"))
	if ch := r.URL.Query().Get("channel"); ch != "" {
		kept := msgs[:0]
		for _, m := range msgs {
			if m.Channel == ch {
				kept = append(kept, m)
			}
		}
		msgs = kept
	}
	writeJSON(w, http.StatusOK, msgs)
}

// POST /_sandbox/sms: {"to","text","sender"?} with "Authorization: Bearer <key>"
// or "X-API-Key: <key>". Answers {"id","status":"accepted"}; a number that is not
// a valid phone number gets 422 invalid_number.
func (s *Sandbox) postSMS(w http.ResponseWriter, r *http.Request) {
	key := r.Header.Get("X-API-Key")
	if key == "" {
		if v, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
			key = strings.TrimSpace(v)
		}
	}
	if key == "" || (s.cfg.SMSAPIKey != "" && subtle.ConstantTimeCompare([]byte(key), []byte(s.cfg.SMSAPIKey)) != 1) {
		writeError(w, http.StatusUnauthorized, "unauthorized", "missing or wrong SMS gateway API key")
		return
	}
	var req struct {
		To     string `json:"to"`
		Text   string `json:"text"`
		Sender string `json:"sender"`
	}
	if !decodeBody(w, r, &req) {
		return
	}
	switch {
	case strings.TrimSpace(req.To) == "":
		writeError(w, http.StatusBadRequest, "invalid_request", "to is required")
		return
	case strings.TrimSpace(req.Text) == "":
		writeError(w, http.StatusBadRequest, "invalid_request", "text is required")
		return
	case utf8.RuneCountInString(req.Text) > 1000:
		writeError(w, http.StatusBadRequest, "invalid_request", "text is longer than 1000 characters")
		return
	case !domain.ValidPhone(req.To):
		writeError(w, http.StatusUnprocessableEntity, "invalid_number", "to is not a valid phone number")
		return
	}
	m := s.recordMessage(Message{
		ID: newID("sms_", 16), Channel: "sms", To: req.To, Text: req.Text,
		Meta: map[string]string{"sender": req.Sender, "segments": strconv.Itoa(smsSegments(req.Text))},
	})
	writeJSON(w, http.StatusOK, map[string]string{"id": m.ID, "status": "accepted"})
}

// smsSegments counts SMS parts: 70 characters each for Chinese (UCS-2), 160 for ASCII.
func smsSegments(text string) int {
	n, per := utf8.RuneCountInString(text), 160
	for _, r := range text {
		if r > 127 {
			per = 70
			break
		}
	}
	return max(1, (n+per-1)/per)
}

// POST /_sandbox/inapp: the merchant's in-app message endpoint. It records the
// body and checks the Oulepay-Signature header against the merchant's secret (the
// merchant is ?merchant=, X-Merchant-Code or "merchant_code" in the body; when
// unknown, every configured secret is tried). Meta "signature" is valid, invalid,
// unsigned, or unchecked when no secret is configured.
func (s *Sandbox) postInApp(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "body_too_large", "request body too large")
		return
	}
	var doc map[string]any
	_ = json.Unmarshal(body, &doc) // not JSON: the raw text is the message
	merchant := firstNonEmpty(r.URL.Query().Get("merchant"), r.Header.Get("X-Merchant-Code"), str(doc, "merchant_code"), str(doc, "merchant"))
	meta := map[string]string{"merchant": merchant}

	header := r.Header.Get(domain.SignatureHeader)
	switch {
	case header == "":
		meta["signature"] = "unsigned"
	default:
		var secrets [][]byte
		if sec, ok := s.cfg.Secrets[merchant]; ok {
			secrets = [][]byte{sec}
		} else {
			for _, code := range sortedKeys(s.cfg.Secrets) {
				secrets = append(secrets, s.cfg.Secrets[code])
			}
		}
		if len(secrets) == 0 {
			meta["signature"] = "unchecked" // no secret known to check it with
		} else if err := domain.VerifyWebhook(header, body, secrets, s.clock.Now()); err != nil {
			meta["signature"] = "invalid"
			meta["signature_error"] = err.Error()
		} else {
			meta["signature"] = "valid"
		}
	}
	m := Message{ID: newID("inapp_", 16), Channel: "inapp"}
	if doc != nil {
		m.To = firstNonEmpty(str(doc, "to"), str(doc, "customer_id"), str(doc, "user_id"), strIn(doc, "customer", "id"))
		m.Subject = firstNonEmpty(str(doc, "title"), str(doc, "subject"))
		m.Text = firstNonEmpty(str(doc, "text"), str(doc, "message"), str(doc, "body"), str(doc, "content"))
		for _, k := range []string{"id", "transaction_id", "notification_id", "template", "type", "url"} {
			if v := str(doc, k); v != "" {
				meta[k] = v
			}
		}
		if m.Text == "" {
			m.Text = string(body)
		}
	} else {
		m.Text = string(body)
	}
	m.Meta = meta
	m = s.recordMessage(m)
	writeJSON(w, http.StatusAccepted, map[string]string{"id": m.ID, "status": "accepted", "signature": meta["signature"]})
}

// str returns doc[key] when it is a string or a number.
func str(doc map[string]any, key string) string {
	switch v := doc[key].(type) {
	case string:
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	return ""
}

func strIn(doc map[string]any, obj, key string) string {
	if m, ok := doc[obj].(map[string]any); ok {
		return str(m, key)
	}
	return ""
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if strings.TrimSpace(v) != "" {
			return v
		}
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func truncateUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// parseEmail extracts the subject and a readable text body from a raw RFC 5322
// message: RFC 2047 subjects, quoted-printable and base64 bodies, and the
// text/plain (else de-tagged text/html) part of a multipart message.
func parseEmail(raw []byte) (subject, text string, header mail.Header) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return "", string(raw), mail.Header{}
	}
	dec := new(mime.WordDecoder)
	subject = msg.Header.Get("Subject")
	if d, err := dec.DecodeHeader(subject); err == nil {
		subject = d
	}
	text, _ = bodyText(msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body, 0)
	return subject, strings.TrimSpace(text), msg.Header
}

// bodyText returns the best text of one MIME entity and whether it was plain text.
func bodyText(contentType, encoding string, body io.Reader, depth int) (string, bool) {
	mediaType, params, err := mime.ParseMediaType(contentType)
	if contentType == "" || err != nil {
		mediaType = "text/plain"
	}
	body = decodeTransfer(encoding, body)
	if strings.HasPrefix(mediaType, "multipart/") && params["boundary"] != "" && depth < 5 {
		mr := multipart.NewReader(body, params["boundary"])
		var htmlText string
		for {
			p, err := mr.NextPart() // decodes quoted-printable by itself
			if err != nil {
				break
			}
			t, plain := bodyText(p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p, depth+1)
			if plain && strings.TrimSpace(t) != "" {
				return t, true
			}
			if htmlText == "" {
				htmlText = t
			}
		}
		return htmlText, false
	}
	data, _ := io.ReadAll(io.LimitReader(body, 4*maxMessageText))
	if mediaType == "text/html" {
		return htmlToText(string(data)), false
	}
	return string(data), strings.HasPrefix(mediaType, "text/plain")
}

func decodeTransfer(encoding string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(encoding)) {
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, r) // ignores line breaks
	}
	return r
}

var (
	reTags   = regexp.MustCompile(`(?is)<(script|style)[^>]*>.*?</(script|style)>|<[^>]*>`)
	reBlanks = regexp.MustCompile(`[ \t]*\n[ \t\n]*`)
)

func htmlToText(s string) string {
	s = strings.NewReplacer("<br>", "\n", "<br/>", "\n", "<br />", "\n", "</p>", "\n", "</div>", "\n").Replace(s)
	s = html.UnescapeString(reTags.ReplaceAllString(s, ""))
	return strings.TrimSpace(reBlanks.ReplaceAllString(s, "\n"))
}
