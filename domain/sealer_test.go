package domain

import (
	"bytes"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

func testKey(b byte) []byte { return bytes.Repeat([]byte{b}, DataKeySize) }

func TestSealerRoundTrip(t *testing.T) {
	s, err := NewSealer(testKey(1))
	if err != nil {
		t.Fatal(err)
	}
	for _, plain := range []string{"+8613812341234", "zhang@example.com", "张三", strings.Repeat("x", 1000), ""} {
		sealed, err := s.Seal(plain)
		if err != nil {
			t.Fatal(err)
		}
		if plain != "" && strings.Contains(sealed, plain) {
			t.Fatalf("sealed value shows the plaintext: %q", sealed)
		}
		got, err := s.Open(sealed)
		if err != nil || got != plain {
			t.Fatalf("Open(Seal(%q)) = %q, %v", plain, got, err)
		}
	}
	a, _ := s.Seal("same")
	b, _ := s.Seal("same")
	if a == b {
		t.Fatal("two seals of the same value are equal: nonce reused")
	}
	if e, _ := s.Seal(""); e != "" {
		t.Fatalf("Seal(\"\") = %q, want empty", e)
	}
}

func TestSealerRefuses(t *testing.T) {
	s, _ := NewSealer(testKey(1))
	other, _ := NewSealer(testKey(2))
	sealed, _ := s.Seal("+8613812341234")
	raw, _ := base64.StdEncoding.DecodeString(sealed)
	flipped := bytes.Clone(raw)
	flipped[len(flipped)-1] ^= 1
	tests := []struct {
		name   string
		sealer *Sealer
		in     string
	}{
		{"wrong key", other, sealed},
		{"tampered", s, base64.StdEncoding.EncodeToString(flipped)},
		{"truncated", s, base64.StdEncoding.EncodeToString(raw[:10])},
		{"not base64", s, "%%%"},
	}
	for _, tt := range tests {
		if got, err := tt.sealer.Open(tt.in); !errors.Is(err, ErrSealedCorrupt) || got != "" {
			t.Errorf("%s: Open = %q, %v; want ErrSealedCorrupt", tt.name, got, err)
		}
	}
}

func TestNewSealerKeys(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33} {
		if _, err := NewSealer(make([]byte, n)); err == nil {
			t.Errorf("NewSealer with %d bytes: want error", n)
		}
	}
	tests := []struct {
		in string
		ok bool
	}{
		{strings.Repeat("ab", 32), true},
		{" " + strings.Repeat("AB", 32) + "\n", true},
		{strings.Repeat("ab", 31), false},
		{strings.Repeat("zz", 32), false},
		{"", false},
	}
	for _, tt := range tests {
		key, err := ParseDataKey(tt.in)
		if (err == nil) != tt.ok || (tt.ok && len(key) != DataKeySize) {
			t.Errorf("ParseDataKey(%q) = %x, %v", tt.in, key, err)
		}
	}
}
