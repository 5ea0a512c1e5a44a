package domain

import (
	"net/mail"
	"strings"
	"unicode/utf8"
)

// MaskPhone shows a phone number the way operators may see it: the first three and
// last four digits of a mobile number ("+8613812341234" and "13812341234" both give
// "138****1234"). A Chinese number loses its +86 prefix; other international numbers
// keep their "+". Short or odd input is mostly stars and never comes back whole.
func MaskPhone(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	plus := strings.HasPrefix(s, "+")
	d := maskDigits(s)
	if cn, ok := cnMobile(d, plus); ok {
		return cn[:3] + "****" + cn[7:]
	}
	prefix := ""
	if plus {
		prefix = "+"
	}
	switch n := len(d); {
	case n >= 10:
		return prefix + d[:3] + "****" + d[n-4:]
	case n >= 7:
		return prefix + d[:2] + "****" + d[n-2:]
	case n >= 5:
		return "****" + d[n-1:]
	default:
		return "****"
	}
}

// MaskEmail keeps the first character of the local part and the domain:
// "zhang@example.com" gives "z***@example.com". Input without "@" is starred.
func MaskEmail(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		r, _ := utf8.DecodeRuneInString(s)
		if utf8.RuneCountInString(s) <= 2 {
			return "***"
		}
		return string(r) + "***"
	}
	local, domain := s[:at], s[at+1:]
	if local == "" {
		return "***@" + domain
	}
	r, _ := utf8.DecodeRuneInString(local)
	return string(r) + "***@" + domain
}

// MaskName keeps a name's first character (and last, for three characters or more):
// "张三" gives "张*", "欧阳娜娜" gives "欧**娜", a single character gives "*".
func MaskName(s string) string {
	r := []rune(strings.TrimSpace(s))
	switch n := len(r); {
	case n == 0:
		return ""
	case n == 1:
		return "*"
	case n == 2:
		return string(r[0]) + "*"
	default:
		stars := min(n-2, 6)
		return string(r[0]) + strings.Repeat("*", stars) + string(r[n-1])
	}
}

// ValidPhone reports whether s is a usable phone number: E.164 ("+" and 8 to 15
// digits, no leading zero) or a Chinese mobile number (11 digits starting 13–19).
// Spaces and dashes between digits are allowed.
func ValidPhone(s string) bool {
	_, ok := NormalizePhone(s)
	return ok
}

// NormalizePhone returns s in E.164 form ("+8613812341234" for "138 1234 1234")
// when ValidPhone holds.
func NormalizePhone(s string) (string, bool) {
	s = strings.TrimSpace(s)
	plus := strings.HasPrefix(s, "+")
	body := s
	if plus {
		body = s[1:]
	}
	d := make([]byte, 0, 16)
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case c >= '0' && c <= '9':
			d = append(d, c)
		case (c == ' ' || c == '-') && len(d) > 0 && i+1 < len(body) && body[i+1] >= '0' && body[i+1] <= '9':
		default:
			return "", false
		}
	}
	ds := string(d)
	if cn, ok := cnMobile(ds, plus); ok {
		return "+86" + cn, true
	}
	if !plus || len(ds) < 8 || len(ds) > 15 || ds[0] == '0' {
		return "", false
	}
	if strings.HasPrefix(ds, "86") && ds[2] == '1' && ds[3] >= '3' {
		return "", false // +86 13…19… is a mobile number, which cnMobile refused
	}
	return "+" + ds, true
}

// cnMobile returns the 11-digit national number when d (digits only) is a Chinese
// mobile number, with or without the 86 country code.
func cnMobile(d string, plus bool) (string, bool) {
	if len(d) == 13 && strings.HasPrefix(d, "86") {
		d = d[2:]
	} else if plus {
		return "", false
	}
	if len(d) != 11 || d[0] != '1' || d[1] < '3' {
		return "", false
	}
	return d, true
}

// ValidEmail reports whether s is a plain e-mail address ("name@example.com"): no
// display name, one "@", a dotted domain, sane lengths.
func ValidEmail(s string) bool {
	if len(s) < 3 || len(s) > 254 || strings.TrimSpace(s) != s {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	local, domain := s[:at], s[at+1:]
	if at < 1 || len(local) > 64 || strings.Count(s, "@") != 1 {
		return false
	}
	if !strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") ||
		strings.Contains(domain, "..") || strings.ContainsAny(domain, "[]") {
		return false
	}
	return true
}

func maskDigits(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= '0' && c <= '9' {
			b.WriteByte(c)
		}
	}
	return b.String()
}
