package domain

import (
	"testing"
	"time"
)

func TestCursorRoundTrip(t *testing.T) {
	c := Cursor{At: time.Date(2026, 11, 25, 10, 0, 0, 123456000, time.UTC), ID: 987654321}
	got, err := DecodeCursor(c.Encode())
	if err != nil || !got.At.Equal(c.At) || got.ID != c.ID {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	if z, err := DecodeCursor(""); err != nil || !z.IsZero() {
		t.Fatal("empty cursor")
	}
	for _, bad := range []string{"!!", "bm8tZG90", "MS4w", "LTEuMQ", string(make([]byte, 100))} {
		if _, err := DecodeCursor(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(Cursor{At: time.Unix(1764000000, 0), ID: 42}.Encode())
	f.Add("")
	f.Add("MS4x")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := DecodeCursor(s)
		if err != nil {
			return
		}
		if c.IsZero() {
			return
		}
		// Whatever decodes must re-encode to something that decodes to the same.
		c2, err := DecodeCursor(c.Encode())
		if err != nil || !c2.At.Equal(c.At) || c2.ID != c.ID {
			t.Fatalf("%q: %+v then %+v %v", s, c, c2, err)
		}
	})
}

func TestMoney(t *testing.T) {
	for _, c := range []struct {
		in   string
		cur  string
		want int64
		ok   bool
	}{{"129", "CNY", 12900, true}, {"129.5", "CNY", 12950, true}, {"1,234.56", "CNY", 123456, true},
		{"1.234", "CNY", 0, false}, {"", "CNY", 0, false}, {"-5", "CNY", 0, false}, {"12.5", "JPY", 0, false}, {"1e5", "CNY", 0, false}} {
		got, err := ParseMoney(c.in, c.cur)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseMoney(%q,%s) = %d, %v", c.in, c.cur, got, err)
		}
	}
	if s := (Money{Amount: 123456789, Currency: "CNY"}).String(); s != "1,234,567.89 CNY" {
		t.Fatal(s)
	}
	if s := (Money{Amount: -5, Currency: "CNY"}).Plain(); s != "-0.05" {
		t.Fatal(s)
	}
}

func TestPasswordPolicy(t *testing.T) {
	for pw, want := range map[string]PasswordProblem{
		"short":                 PasswordTooShort,
		"password1234":          PasswordCommon,
		"123456789012":          PasswordCommon,
		"aaaaaaaaaaaaaaa":       PasswordCommon,
		"Password1234!":         PasswordCommon,
		"zhang@example.com-x":   PasswordIsEmail,
		"correct-horse-battery": PasswordOK,
		"绿色的马在电池上钉订书钉很正确": PasswordOK,
	} {
		if got := CheckPassword(pw, "zhang@example.com"); got != want {
			t.Errorf("%q: %q, want %q", pw, got, want)
		}
	}
}

func TestRoles(t *testing.T) {
	if !RoleAdmin.AtLeast(RoleOperator) || RoleViewer.AtLeast(RoleOperator) || Role("root").AtLeast(RoleViewer) {
		t.Fatal("role order")
	}
	created := time.Unix(0, 0)
	if got := SessionExpiry(created, created.Add(time.Hour)); !got.Equal(created.Add(time.Hour + SessionIdle)) {
		t.Fatal("idle expiry")
	}
	if got := SessionExpiry(created, created.Add(12*time.Hour-time.Minute)); !got.Equal(created.Add(SessionAbsolute)) {
		t.Fatal("absolute cap")
	}
}
