package domain

import "strings"

// PANMask is what replaces the middle digits of a scrubbed card number.
const PANMask = "******"

// Card numbers are 13 to 19 digits long (ISO/IEC 7812).
const (
	minPANDigits = 13
	maxPANDigits = 19
)

// Luhn reports whether digits, a string of ASCII digits only, passes the Luhn
// (mod 10) check. Anything that is not a digit, and the empty string, fail.
func Luhn(digits string) bool {
	if digits == "" {
		return false
	}
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		c := digits[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// ScrubPAN replaces every card number in s with its BIN, PANMask and last four
// digits ("622202******1234") and reports whether it changed anything.
//
// A card number is a maximal run of 13 to 19 ASCII digits that passes Luhn; the
// digits may be grouped by single spaces or dashes, as people write card numbers
// ("4111 1111 1111 1111", "4111-1111-1111-1111"). Runs that are shorter, longer or
// fail Luhn are kept as they are, so that order numbers and timestamps survive.
func ScrubPAN(s string) (string, bool) {
	if panCountDigits(s) < minPANDigits {
		return s, false
	}
	var (
		out  strings.Builder
		last int // s[last:] has not been copied to out yet
		buf  [maxPANDigits + 1]byte
	)
	for i := 0; i < len(s); {
		if !panDigit(s[i]) {
			i++
			continue
		}
		start, n, j := i, 0, i
		for {
			if n < len(buf) {
				buf[n] = s[j]
			}
			n++
			j++
			if j < len(s) && panDigit(s[j]) {
				continue
			}
			if j+1 < len(s) && (s[j] == ' ' || s[j] == '-') && panDigit(s[j+1]) {
				j++
				continue
			}
			break
		}
		if n >= minPANDigits && n <= maxPANDigits && Luhn(string(buf[:n])) {
			if out.Len() == 0 {
				out.Grow(len(s))
			}
			out.WriteString(s[last:start])
			out.Write(buf[:6])
			out.WriteString(PANMask)
			out.Write(buf[n-4 : n])
			last = j
		}
		i = j
	}
	if last == 0 {
		return s, false
	}
	out.WriteString(s[last:])
	return out.String(), true
}

// CardFromPAN keeps what PayMend may keep of a full card number: its first six
// digits and last four. Spaces and dashes are ignored; ok is false when what is
// left is not 12 to 19 digits.
func CardFromPAN(pan string) (bin, last4 string, ok bool) {
	d := make([]byte, 0, maxPANDigits)
	for i := 0; i < len(pan); i++ {
		switch c := pan[i]; {
		case panDigit(c):
			if len(d) == maxPANDigits {
				return "", "", false
			}
			d = append(d, c)
		case c == ' ' || c == '-':
		default:
			return "", "", false
		}
	}
	if len(d) < 12 {
		return "", "", false
	}
	return string(d[:6]), string(d[len(d)-4:]), true
}

func panDigit(c byte) bool { return c >= '0' && c <= '9' }

func panCountDigits(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		if panDigit(s[i]) {
			n++
		}
	}
	return n
}
