package domain

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Cursor marks a position in a list ordered by (time, id) descending. It is opaque to
// clients and stable: rows inserted later never shift a page.
type Cursor struct {
	At time.Time
	ID int64
}

// ErrBadCursor is returned for a cursor that was not produced by Encode.
var ErrBadCursor = errors.New("bad cursor")

// IsZero reports whether c is the start of the list.
func (c Cursor) IsZero() bool { return c.ID == 0 && c.At.IsZero() }

// Encode returns the cursor's opaque text.
func (c Cursor) Encode() string {
	if c.IsZero() {
		return ""
	}
	raw := strconv.FormatInt(c.At.UnixMicro(), 36) + "." + strconv.FormatInt(c.ID, 36)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// DecodeCursor parses the text of Encode; empty text is the zero cursor.
func DecodeCursor(s string) (Cursor, error) {
	if s == "" {
		return Cursor{}, nil
	}
	if len(s) > 64 {
		return Cursor{}, ErrBadCursor
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return Cursor{}, ErrBadCursor
	}
	a, b, ok := strings.Cut(string(raw), ".")
	if !ok {
		return Cursor{}, ErrBadCursor
	}
	us, err1 := strconv.ParseInt(a, 36, 64)
	id, err2 := strconv.ParseInt(b, 36, 64)
	if err1 != nil || err2 != nil || id <= 0 || us < 0 || us > 1e17 {
		return Cursor{}, ErrBadCursor
	}
	return Cursor{At: time.UnixMicro(us).UTC(), ID: id}, nil
}

// AuditEntry is one line of the append-only audit log.
type AuditEntry struct {
	ID         int64     `db:"id"`
	MerchantID *int64    `db:"merchant_id"`
	UserID     *int64    `db:"user_id"`
	Actor      string    `db:"actor"`
	Action     string    `db:"action"`
	Target     string    `db:"target"`
	Result     string    `db:"result"`
	IP         string    `db:"ip"`
	RequestID  string    `db:"request_id"`
	Details    []byte    `db:"details"`
	At         time.Time `db:"at"`
}

// Audit results.
const (
	AuditOK     = "ok"
	AuditDenied = "denied"
	AuditFailed = "failed"
)
