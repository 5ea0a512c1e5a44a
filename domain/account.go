package domain

import (
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Role is what a user may do. Viewers read; operators act on payments; admins also
// configure the merchant.
type Role string

// Roles, weakest first.
const (
	RoleViewer   Role = "viewer"
	RoleOperator Role = "operator"
	RoleAdmin    Role = "admin"
)

// Roles lists every role, weakest first.
var Roles = []Role{RoleViewer, RoleOperator, RoleAdmin}

func (r Role) rank() int {
	for i, v := range Roles {
		if v == r {
			return i + 1
		}
	}
	return 0
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r.rank() > 0 }

// AtLeast reports whether r grants everything min grants.
func (r Role) AtLeast(min Role) bool { return r.rank() >= min.rank() && r.rank() > 0 }

// Merchant is a tenant of the console.
type Merchant struct {
	ID        int64     `db:"id"`
	Code      string    `db:"code"`
	Name      string    `db:"name"`
	TimeZone  string    `db:"time_zone"`
	Currency  string    `db:"currency"`
	CreatedAt time.Time `db:"created_at"`
}

// Location returns the merchant's time zone, Asia/Shanghai when unknown.
func (m Merchant) Location() *time.Location {
	if m.TimeZone == "" || m.TimeZone == "Asia/Shanghai" {
		return ShanghaiZone()
	}
	if loc, ok := zones.Load(m.TimeZone); ok {
		return loc.(*time.Location)
	}
	loc, err := time.LoadLocation(m.TimeZone)
	if err != nil {
		return ShanghaiZone()
	}
	zones.Store(m.TimeZone, loc)
	return loc
}

// zones caches loaded time zones: time.LoadLocation reads the tz database from disk
// on every call, and a page formats dozens of times. A cache only, never a source.
var zones sync.Map

// ShanghaiZone is the default merchant time zone; a fixed +08:00 zone stands in
// when the system has no tz database.
var ShanghaiZone = sync.OnceValue(func() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*3600)
})

// User is a person who signs in to the console for one merchant.
type User struct {
	ID           int64      `db:"id"`
	MerchantID   int64      `db:"merchant_id"`
	Email        string     `db:"email"`
	Name         string     `db:"name"`
	Role         Role       `db:"role"`
	PasswordHash string     `db:"password_hash"`
	Lang         string     `db:"lang"`
	FailedLogins int        `db:"failed_logins"`
	LockedUntil  *time.Time `db:"locked_until"`
	DisabledAt   *time.Time `db:"disabled_at"`
	LastLoginAt  *time.Time `db:"last_login_at"`
	CreatedAt    time.Time  `db:"created_at"`
}

// Login policy.
const (
	MaxFailedLogins = 10
	LockoutDuration = 30 * time.Minute
	MinPasswordLen  = 12
)

// Locked reports whether the account is locked at now.
func (u User) Locked(now time.Time) bool {
	return u.LockedUntil != nil && now.Before(*u.LockedUntil)
}

// PasswordProblem names why a password is refused; empty when it is acceptable.
type PasswordProblem string

// Password problems, each an i18n key.
const (
	PasswordOK       PasswordProblem = ""
	PasswordTooShort PasswordProblem = "password.too_short"
	PasswordTooLong  PasswordProblem = "password.too_long"
	PasswordCommon   PasswordProblem = "password.common"
	PasswordIsEmail  PasswordProblem = "password.is_email"
)

// CheckPassword applies the password policy: at least 12 characters, at most 72 bytes
// (bcrypt's limit; 24 Chinese characters),
// not a common password or a trivial variation of one, not the e-mail address.
func CheckPassword(pw, email string) PasswordProblem {
	n := utf8.RuneCountInString(pw)
	if n < MinPasswordLen {
		return PasswordTooShort
	}
	if n > 128 || len(pw) > 72 { // bcrypt reads at most 72 bytes
		return PasswordTooLong
	}
	low := strings.ToLower(pw)
	if email != "" && (strings.Contains(low, strings.ToLower(email)) || low == strings.ToLower(strings.SplitN(email, "@", 2)[0])) {
		return PasswordIsEmail
	}
	if _, bad := commonPasswords[low]; bad {
		return PasswordCommon
	}
	// One character repeated, or a plain run like 123456789012 / abcdefghijkl.
	if allSame(low) || isSequence(low) {
		return PasswordCommon
	}
	// Common base words padded with digits or punctuation ("password1234!").
	core := strings.TrimRight(low, "0123456789!@#$%^&*.?_-")
	if _, bad := commonPasswords[core]; bad && len(core) >= 4 {
		return PasswordCommon
	}
	return PasswordOK
}

func allSame(s string) bool {
	for i := 1; i < len(s); i++ {
		if s[i] != s[0] {
			return false
		}
	}
	return true
}

func isSequence(s string) bool {
	up, down := true, true
	for i := 1; i < len(s); i++ {
		if s[i] != s[i-1]+1 {
			up = false
		}
		if s[i] != s[i-1]-1 {
			down = false
		}
	}
	return up || down
}

// commonPasswords holds frequently breached passwords and base words (lower case).
var commonPasswords = func() map[string]struct{} {
	list := []string{
		"password", "password1", "password123", "passw0rd", "p@ssw0rd", "p@ssword",
		"123456789012", "1234567890123", "qwertyuiop", "qwertyuiopas", "qwerty123456",
		"1q2w3e4r5t6y", "1qaz2wsx3edc", "zaq12wsxcde3", "iloveyou", "iloveyou1234",
		"admin", "administrator", "welcome", "welcome123", "letmein", "letmein12345",
		"changeme", "changeme1234", "monkey", "dragon", "football", "baseball",
		"sunshine", "princess", "master", "shadow", "superman", "trustno1",
		"abc123", "abcd1234", "abc12345678", "aa123456", "woaini", "woaini1314",
		"woaini520", "5201314", "1314520", "qq123456", "a123456", "a1234567",
		"zxcvbnm", "zxcvbnm123", "asdfghjkl", "asdfghjkl123", "paymend", "oulepay",
		"secret", "qwerty", "123qwe", "qwe123", "pass", "test", "testtest",
		"111111111111", "000000000000", "888888888888", "666666666666",
		"password1234", "password12345", "passwordpassword", "adminadmin",
		"admin1234567", "administrator1", "welcome12345", "qwertyqwerty",
	}
	m := make(map[string]struct{}, len(list))
	for _, p := range list {
		m[p] = struct{}{}
	}
	return m
}()
