package domain

import (
	"strings"
	"testing"
)

func TestMaskPhone(t *testing.T) {
	tests := []struct{ in, want string }{
		{"+8613812341234", "138****1234"},
		{"13812341234", "138****1234"},
		{"+86 138 1234 1234", "138****1234"},
		{"8613812341234", "138****1234"},
		{"+14155550123", "+141****0123"},
		{"021-12345678", "021****5678"},
		{"12345678", "12****78"},
		{"1234567", "12****67"},
		{"12345", "****5"},
		{"1234", "****"},
		{"abc", "****"},
		{"", ""},
	}
	for _, tt := range tests {
		got := MaskPhone(tt.in)
		if got != tt.want {
			t.Errorf("MaskPhone(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if d := maskDigits(tt.in); len(d) > 0 && strings.Contains(got, d) {
			t.Errorf("MaskPhone(%q) = %q shows the whole number", tt.in, got)
		}
	}
}

func TestMaskEmail(t *testing.T) {
	tests := []struct{ in, want string }{
		{"zhang@example.com", "z***@example.com"},
		{"z@example.com", "z***@example.com"},
		{"张伟@例子.中国", "张***@例子.中国"},
		{"@example.com", "***@example.com"},
		{"nodomain", "n***"},
		{"ab", "***"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := MaskEmail(tt.in); got != tt.want {
			t.Errorf("MaskEmail(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestMaskName(t *testing.T) {
	tests := []struct{ in, want string }{
		{"张三", "张*"},
		{"张", "*"},
		{"欧阳娜娜", "欧**娜"},
		{"Alice", "A***e"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := MaskName(tt.in); got != tt.want {
			t.Errorf("MaskName(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestValidPhone(t *testing.T) {
	tests := []struct {
		in   string
		want bool
		norm string
	}{
		{"+8613812341234", true, "+8613812341234"},
		{"13812341234", true, "+8613812341234"},
		{"138 1234 1234", true, "+8613812341234"},
		{"+14155550123", true, "+14155550123"},
		{"+44 20 7946 0958", true, "+442079460958"},
		{"+86 10 1234 5678", true, "+861012345678"},
		{"12812341234", false, ""},   // no CN mobile starts 12
		{"+861381234123", false, ""}, // +86 1… with 10 digits
		{"+0123456789", false, ""},
		{"+1234567", false, ""},
		{"+1234567890123456", false, ""},
		{"1234567", false, ""},
		{"phone", false, ""},
		{"+86--13812341234", false, ""},
		{"", false, ""},
	}
	for _, tt := range tests {
		norm, ok := NormalizePhone(tt.in)
		if ok != tt.want || norm != tt.norm || ValidPhone(tt.in) != tt.want {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q, %v", tt.in, norm, ok, tt.norm, tt.want)
		}
	}
}

func TestValidEmail(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"zhang@example.com", true},
		{"a.b+tag@sub.example.cn", true},
		{"Zhang <zhang@example.com>", false},
		{"zhang@localhost", false},
		{"zhang@@example.com", false},
		{"zhang@example..com", false},
		{"zhang@.example.com", false},
		{"@example.com", false},
		{" zhang@example.com", false},
		{"zhang example@example.com", false},
		{strings.Repeat("a", 65) + "@example.com", false},
		{"", false},
	}
	for _, tt := range tests {
		if got := ValidEmail(tt.in); got != tt.want {
			t.Errorf("ValidEmail(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}
