package domain

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"
)

func TestFeedbackTokens(t *testing.T) {
	seen := map[string]bool{}
	for range 10_000 {
		tok := NewFeedbackToken()
		if len(tok.Token) != 22 || !WellFormedFeedbackToken(tok.Token) {
			t.Fatalf("token %q", tok.Token)
		}
		s := sha256.Sum256([]byte(tok.Token))
		if tok.Hash != hex.EncodeToString(s[:]) || HashFeedbackToken(tok.Token) != tok.Hash {
			t.Fatal("hash is not sha256 of the token")
		}
		if seen[tok.Token] {
			t.Fatal("token repeated")
		}
		seen[tok.Token] = true
	}
	for _, bad := range []string{"", "short", strings.Repeat("A", 21), strings.Repeat("A", 23), "AAAAAAAAAAAAAAAAAAAA+/", "AAAAAAAAAAAAAAAAAAAA=="} {
		if WellFormedFeedbackToken(bad) {
			t.Errorf("%q accepted", bad)
		}
	}
	if got := FeedbackURL("https://pay.example.cn/", "abc"); got != "https://pay.example.cn/f/abc" {
		t.Fatal(got)
	}
}

func TestFeedbackLinkState(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	rev := now.Add(-time.Minute)
	for _, c := range []struct {
		l    FeedbackLink
		want FeedbackLinkState
	}{
		{FeedbackLink{ExpiresAt: now.Add(time.Second)}, FeedbackLinkOpen},
		{FeedbackLink{ExpiresAt: now}, FeedbackLinkExpired},
		{FeedbackLink{ExpiresAt: now.Add(-time.Hour)}, FeedbackLinkExpired},
		{FeedbackLink{ExpiresAt: now.Add(time.Hour), RevokedAt: &rev}, FeedbackLinkRevoked},
		{FeedbackLink{ExpiresAt: now.Add(-time.Hour), RevokedAt: &rev}, FeedbackLinkRevoked},
	} {
		if got := c.l.State(now); got != c.want {
			t.Errorf("%+v: %s, want %s", c.l, got, c.want)
		}
	}
}

func TestFeedbackFormValidate(t *testing.T) {
	ok := FeedbackForm{Solved: "no", Problem: "charged_twice", Rating: "3", Comment: " <b>hi</b>\r\nthere\x00 ", Contact: "sms"}
	a, errs := ok.Validate()
	if errs != nil || a.Solved || a.Problem != ProblemChargedTwice || a.Rating != 3 || a.Comment != "<b>hi</b>\nthere" || a.Contact != "sms" {
		t.Fatalf("%+v %v", a, errs)
	}
	if !a.Problem.NeedsReconciliation() || !ProblemChargedNoOrder.NeedsReconciliation() || ProblemTimeout.NeedsReconciliation() {
		t.Fatal("reconciliation problems")
	}
	for _, c := range []struct {
		f     FeedbackForm
		field string
	}{
		{FeedbackForm{Problem: "other", Rating: "1"}, "solved"},
		{FeedbackForm{Solved: "yes", Problem: "", Rating: "1"}, "problem"},
		{FeedbackForm{Solved: "yes", Problem: "Other", Rating: "1"}, "problem"},
		{FeedbackForm{Solved: "yes", Problem: "other", Rating: "0"}, "rating"},
		{FeedbackForm{Solved: "yes", Problem: "other", Rating: "6"}, "rating"},
		{FeedbackForm{Solved: "yes", Problem: "other", Rating: "10"}, "rating"},
		{FeedbackForm{Solved: "yes", Problem: "other", Rating: ""}, "rating"},
		{FeedbackForm{Solved: "yes", Problem: "other", Rating: "5", Comment: strings.Repeat("é", 1001)}, "comment"},
		{FeedbackForm{Solved: "yes", Problem: "other", Rating: "5", Comment: "\xff"}, "comment"},
		{FeedbackForm{Solved: "yes", Problem: "other", Rating: "5", Contact: "fax"}, "contact"},
	} {
		_, errs := c.f.Validate()
		if errs[c.field] == "" {
			t.Errorf("%+v: no error on %s (%v)", c.f, c.field, errs)
		}
	}
	if _, errs := (FeedbackForm{Solved: "yes", Problem: "other", Rating: "5", Comment: strings.Repeat("é", 1000)}).Validate(); errs != nil {
		t.Fatalf("1000 characters refused: %v", errs)
	}
}

func TestFeedbackGroupFigures(t *testing.T) {
	g := FeedbackGroup{Links: 4, Answers: 3, Solved: 1, RatingSum: 10}
	if g.ResponseRate() != 0.75 || g.SolvedShare() != 1.0/3 || g.Average() != 10.0/3 {
		t.Fatalf("%v %v %v", g.ResponseRate(), g.SolvedShare(), g.Average())
	}
	if (FeedbackGroup{}).ResponseRate() != 0 || (FeedbackGroup{}).Average() != 0 || (FeedbackGroup{}).SolvedShare() != 0 {
		t.Fatal("empty group")
	}
}

func TestDraftNoticeCarriesFeedbackLinkOnlyWhereTheTemplateUsesIt(t *testing.T) {
	m := Merchant{Name: "欧乐商城"}
	tx := Transaction{OrderID: "O1", Amount: 100, Currency: "CNY", PhoneMasked: "138****1234", EmailMasked: "z***@e.com", CustomerRef: "C1", Code: "101"}
	e := CodeEntry{Code: "101", Category: CategoryFunds}
	link := NoticeLinks{Feedback: "https://pay.example.cn/f/AAAAAAAAAAAAAAAAAAAAAA"}
	for _, c := range []struct {
		ch   NotifyChannel
		uses bool
	}{{NotifyEmail, true}, {NotifyInApp, true}, {NotifySMS, false}, {NotifyPhone, false}} {
		for _, lang := range []string{"zh-CN", "en"} {
			d, err := DraftNotice(m, e, tx, c.ch, DefaultTemplates(), "", lang, link)
			if err != nil {
				t.Fatal(err)
			}
			if d.CarriesLink(link.Feedback) != c.uses || strings.Contains(d.Body, link.Feedback) != c.uses {
				t.Errorf("%s %s: uses=%v body=%q", c.ch, lang, c.uses, d.Body)
			}
		}
	}
	// Without links nothing changes for existing callers.
	d, err := DraftNotice(m, e, tx, NotifyEmail, DefaultTemplates(), "", "zh-CN")
	if err != nil || strings.Contains(d.Body, "/f/") {
		t.Fatalf("%v %+v", err, d)
	}
}

// FuzzFeedbackFormValidate: whatever a client posts, Validate never panics, and an
// answer it accepts is one the database takes (its CHECKs) and the views show.
func FuzzFeedbackFormValidate(f *testing.F) {
	f.Add("yes", "balance", "5", "谢谢", "")
	f.Add("no", "charged_twice", "1", "<script>alert(1)</script>\r\n", "sms")
	f.Add("maybe", "x", "55", "\x00\xff", "fax")
	f.Fuzz(func(t *testing.T, solved, problem, rating, comment, contact string) {
		a, errs := FeedbackForm{Solved: solved, Problem: problem, Rating: rating, Comment: comment, Contact: contact}.Validate()
		if errs != nil {
			return
		}
		if !a.Problem.Valid() || a.Rating < 1 || a.Rating > 5 || !utf8.ValidString(a.Comment) ||
			utf8.RuneCountInString(a.Comment) > MaxFeedbackComment || strings.ContainsRune(a.Comment, 0) {
			t.Fatalf("accepted %+v", a)
		}
		for _, r := range a.Comment {
			if r != '\n' && r != '\t' && unicode.IsControl(r) {
				t.Fatalf("control character %U kept", r)
			}
		}
		if a.Contact != "" && a.Contact != "sms" && a.Contact != "email" && a.Contact != "phone" {
			t.Fatalf("contact %q", a.Contact)
		}
	})
}

// FuzzFeedbackToken: the token check in front of the database accepts exactly the
// tokens NewFeedbackToken makes.
func FuzzFeedbackToken(f *testing.F) {
	f.Add(NewFeedbackToken().Token)
	f.Add("AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("../../etc/passwd")
	f.Fuzz(func(t *testing.T, s string) {
		if !WellFormedFeedbackToken(s) {
			return
		}
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil || len(b) != FeedbackTokenBytes || base64.RawURLEncoding.EncodeToString(b) != s {
			t.Fatalf("accepted %q", s)
		}
	})
}

func TestParseFeedbackLinkDays(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{{"", FeedbackLinkTTL, true}, {"7", 7 * 24 * time.Hour, true}, {"365", 365 * 24 * time.Hour, true},
		{"0", 0, false}, {"366", 0, false}, {"-1", 0, false}, {"30d", 0, false}} {
		got, err := ParseFeedbackLinkDays(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("%q: %v %v", c.in, got, err)
		}
	}
}
