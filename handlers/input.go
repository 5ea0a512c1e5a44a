package handlers

import (
	"strings"
	"unicode/utf8"
)

// validText reports whether free text from a request can be stored and searched:
// valid UTF-8, no NUL (PostgreSQL text refuses both), at most max runes.
func validText(s string, max int) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0) && utf8.RuneCountInString(s) <= max
}
