package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/sessions"

	"paymend/domain"
)

// SessionCookie is the name of the session cookie.
const SessionCookie = "pm_session"

// Session value keys.
const (
	sessUserID     = "uid"
	sessMerchantID = "mid"
)

// PGStore is a gorilla/sessions store that keeps sessions in PostgreSQL. The cookie
// holds only a random token; the database holds its keyed hash, so neither a copy of
// the database nor of the cookie jar alone gives a usable session.
type PGStore struct {
	b      Backend
	secret []byte
	secure func(*http.Request) bool
	now    func() time.Time
}

var _ sessions.Store = (*PGStore)(nil)

// NewPGStore returns a store over b; secure tells whether a request came over TLS.
func NewPGStore(b Backend, secret []byte, secure func(*http.Request) bool, now func() time.Time) *PGStore {
	return &PGStore{b: b, secret: secret, secure: secure, now: now}
}

func (s *PGStore) hash(token string) string {
	m := hmac.New(sha256.New, s.secret)
	m.Write([]byte(token))
	return hex.EncodeToString(m.Sum(nil))
}

// Get returns the request's cached session (see sessions.GetRegistry).
func (s *PGStore) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(s, name)
}

// New loads the session named by the request's cookie, or returns a new empty one.
// A database error is returned as is, so the caller can answer 503 instead of
// sending a signed-in user to the login page.
func (s *PGStore) New(r *http.Request, name string) (*sessions.Session, error) {
	sess := sessions.NewSession(s, name)
	sess.Options = s.options(r)
	sess.IsNew = true
	ck, err := r.Cookie(name)
	if err != nil || ck.Value == "" || len(ck.Value) > 100 {
		return sess, nil
	}
	now := s.now()
	rec, err := s.b.SessionByID(r.Context(), s.hash(ck.Value), now)
	if errors.Is(err, domain.ErrNotFound) {
		return sess, nil
	}
	if err != nil {
		return sess, fmt.Errorf("session: load: %w", err)
	}
	if len(rec.Data) > 0 {
		var vals map[string]any
		if json.Unmarshal(rec.Data, &vals) == nil {
			for k, v := range vals {
				sess.Values[k] = v
			}
		}
	}
	sess.ID = rec.ID
	sess.Values[sessUserID] = rec.UserID
	sess.Values[sessMerchantID] = rec.MerchantID
	sess.IsNew = false
	// Slide the idle expiry, but write at most once a minute per session.
	if now.Sub(rec.LastSeenAt) > time.Minute {
		if err := s.b.TouchSession(r.Context(), rec.MerchantID, rec.ID, now, domain.SessionExpiry(rec.CreatedAt, now)); err != nil {
			return sess, fmt.Errorf("session: touch: %w", err)
		}
	}
	rec.LastSeenAt = now
	r2 := rec
	sess.Values["_rec"] = &r2
	return sess, nil
}

// Save writes the session. A session whose MaxAge is negative is deleted server-side
// and its cookie cleared; a new session gets a fresh random token.
func (s *PGStore) Save(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	if sess.Options != nil && sess.Options.MaxAge < 0 {
		if sess.ID != "" {
			if err := s.b.DeleteSession(r.Context(), sess.ID); err != nil {
				return fmt.Errorf("session: delete: %w", err)
			}
		}
		http.SetCookie(w, sessions.NewCookie(sess.Name(), "", sess.Options))
		return nil
	}
	uid, _ := sess.Values[sessUserID].(int64)
	mid, _ := sess.Values[sessMerchantID].(int64)
	if uid == 0 || mid == 0 {
		return errors.New("session: save without a user")
	}
	data, err := s.encode(sess)
	if err != nil {
		return err
	}
	if sess.ID == "" {
		token := randomToken(32)
		now := s.now()
		rec := domain.Session{ID: s.hash(token), MerchantID: mid, UserID: uid, Data: data, CreatedAt: now,
			LastSeenAt: now, ExpiresAt: domain.SessionExpiry(now, now)}
		if err := s.b.CreateSession(r.Context(), mid, rec); err != nil {
			return fmt.Errorf("session: create: %w", err)
		}
		sess.ID = rec.ID
		http.SetCookie(w, sessions.NewCookie(sess.Name(), token, sess.Options))
		return nil
	}
	if err := s.b.SaveSessionData(r.Context(), mid, sess.ID, data); err != nil {
		return fmt.Errorf("session: save: %w", err)
	}
	return nil
}

func (s *PGStore) encode(sess *sessions.Session) ([]byte, error) {
	vals := map[string]any{}
	for k, v := range sess.Values {
		ks, ok := k.(string)
		if !ok || ks == sessUserID || ks == sessMerchantID || ks == "_rec" {
			continue
		}
		vals[ks] = v
	}
	b, err := json.Marshal(vals)
	if err != nil {
		return nil, fmt.Errorf("session: encode: %w", err)
	}
	return b, nil
}

// options are the cookie attributes: HttpOnly, SameSite=Lax, Secure under TLS; the
// cookie lives for the browser session, the server decides expiry.
func (s *PGStore) options(r *http.Request) *sessions.Options {
	return &sessions.Options{Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secure(r)}
}

func randomToken(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// RandomToken returns n random bytes as URL-safe text (API keys, link tokens).
func RandomToken(n int) string { return randomToken(n) }
