package domain

import (
	"regexp"
	"strings"
	"testing"
)

// withLuhn appends the Luhn check digit to digits.
func withLuhn(digits string) string {
	for c := '0'; c <= '9'; c++ {
		if Luhn(digits + string(c)) {
			return digits + string(c)
		}
	}
	panic("unreachable")
}

func TestLuhn(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"4111111111111111", true},
		{"4111111111111112", false},
		{"79927398713", true},
		{"0", true},
		{"", false},
		{"4111 1111 1111 1111", false}, // digits only
		{"41111111111111x1", false},
	}
	for _, tt := range tests {
		if got := Luhn(tt.in); got != tt.want {
			t.Errorf("Luhn(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestScrubPAN(t *testing.T) {
	visa := "4111111111111111"
	cup19 := withLuhn("622202123456789012") // 19 digits
	cup19Masked := "622202" + PANMask + cup19[15:]
	short13 := withLuhn("422222222222") // 13 digits
	twelve := withLuhn("62220212345")   // 12 digits, Luhn-valid
	twenty := withLuhn("6222021234567890123")
	notLuhn := "4111111111111112"
	tests := []struct {
		name    string
		in      string
		want    string
		changed bool
	}{
		{"plain 16", visa, "411111******1111", true},
		{"in text", "卡号 " + visa + " 支付失败", "卡号 411111******1111 支付失败", true},
		{"spaced", "card 4111 1111 1111 1111.", "card 411111******1111.", true},
		{"dashed", "4111-1111-1111-1111", "411111******1111", true},
		{"19 digits", cup19, cup19Masked, true},
		{"13 digits", short13, short13[:6] + PANMask + short13[9:], true},
		{"several", visa + "," + cup19 + ";" + visa, "411111******1111," + cup19Masked + ";411111******1111", true},
		{"in JSON-ish text", `{"pan":"` + visa + `"}`, `{"pan":"411111******1111"}`, true},
		{"not Luhn kept", notLuhn, notLuhn, false},
		{"12 digits kept", twelve, twelve, false},
		{"20 digits kept", twenty, twenty, false},
		{"20-digit run containing a PAN kept", "9" + visa + "000", "9" + visa + "000", false},
		{"double separator splits", "4111111111  111111", "4111111111  111111", false},
		{"timestamp kept", "2026-11-25T10:00:00Z", "2026-11-25T10:00:00Z", false},
		{"phone-like 11 digits kept", "13812341234", "13812341234", false},
		{"empty", "", "", false},
		{"trailing separator not eaten", visa + "- x", "411111******1111- x", true},
		{"minus before kept", "-" + visa, "-411111******1111", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, changed := ScrubPAN(tt.in)
			if got != tt.want || changed != tt.changed {
				t.Fatalf("ScrubPAN(%q) = %q, %v; want %q, %v", tt.in, got, changed, tt.want, tt.changed)
			}
			if hasPANRun(got) {
				t.Fatalf("ScrubPAN(%q) left a card number: %q", tt.in, got)
			}
		})
	}
}

func TestCardFromPAN(t *testing.T) {
	tests := []struct {
		in        string
		bin, last string
		ok        bool
	}{
		{"4111111111111111", "411111", "1111", true},
		{"6222 0212 3456 7890", "622202", "7890", true},
		{"622202", "", "", false},
		{"12345678901234567890", "", "", false},
		{"4111x111111111111", "", "", false},
	}
	for _, tt := range tests {
		bin, last, ok := CardFromPAN(tt.in)
		if bin != tt.bin || last != tt.last || ok != tt.ok {
			t.Errorf("CardFromPAN(%q) = %q, %q, %v; want %q, %q, %v", tt.in, bin, last, ok, tt.bin, tt.last, tt.ok)
		}
	}
}

// panRun matches a maximal run of digits separated by single spaces or dashes; it is
// an independent statement of what ScrubPAN looks for, used to check its output.
var panRun = regexp.MustCompile(`[0-9](?:[ -]?[0-9])*`)

// hasPANRun reports whether s holds a 13–19 digit run that passes Luhn.
func hasPANRun(s string) bool {
	for _, m := range panRun.FindAllString(s, -1) {
		d := strings.NewReplacer(" ", "", "-", "").Replace(m)
		if len(d) >= 13 && len(d) <= 19 && Luhn(d) {
			return true
		}
	}
	return false
}

func FuzzScrubPAN(f *testing.F) {
	f.Add("4111 1111 1111 1111")
	f.Add("x4111111111111111y6222021234567890123")
	f.Fuzz(func(t *testing.T, s string) {
		out, changed := ScrubPAN(s)
		if hasPANRun(out) {
			t.Fatalf("ScrubPAN(%q) = %q still holds a card number", s, out)
		}
		if !changed && out != s {
			t.Fatalf("unchanged but different")
		}
	})
}

func BenchmarkScrubPAN(b *testing.B) {
	s := strings.Repeat("订单 O20261125000123 金额 129.00 卡 4111 1111 1111 1111 ", 20)
	for b.Loop() {
		ScrubPAN(s)
	}
}
