package domain

import (
	"testing"
	"time"
)

func TestMatchRulePrecedence(t *testing.T) {
	rules := []NotifyRule{
		{ID: 1, Enabled: true, Channels: []NotifyChannel{NotifyEmail}},
		{ID: 2, Enabled: true, Category: CategoryFunds, Channels: []NotifyChannel{NotifySMS}},
		{ID: 3, Enabled: true, Code: "101", Channels: []NotifyChannel{NotifyInApp}},
		{ID: 4, Enabled: false, Code: "202", Channels: []NotifyChannel{NotifySMS}},
	}
	cat := NewCatalog(DefaultCatalog(), nil)
	for code, want := range map[string]int64{"101": 3, "102": 2, "202": 1, "ZZZ": 1} {
		r, ok := MatchRule(rules, cat.Lookup(code))
		if !ok || r.ID != want {
			t.Errorf("%s: rule %d, want %d", code, r.ID, want)
		}
	}
	if _, ok := MatchRule(rules[3:], cat.Lookup("202")); ok {
		t.Error("disabled rule matched")
	}
}

func TestQuietHours(t *testing.T) {
	p := DefaultNotifyPolicy
	loc := ShanghaiZone()
	at := func(h, m int) time.Time { return time.Date(2026, 11, 25, h, m, 0, 0, loc) }
	cases := []struct {
		ch   NotifyChannel
		at   time.Time
		want time.Time
	}{
		{NotifySMS, at(23, 30), at(8, 0).AddDate(0, 0, 1)},
		{NotifySMS, at(3, 0), at(8, 0)},
		{NotifySMS, at(12, 0), at(12, 0)},
		{NotifySMS, at(8, 0), at(8, 0)},
		{NotifyEmail, at(23, 30), at(23, 30)},
		{NotifyPhone, at(22, 0), at(8, 0).AddDate(0, 0, 1)},
	}
	for _, c := range cases {
		if got := p.SendAt(c.ch, c.at.UTC(), loc); !got.Equal(c.want) {
			t.Errorf("%s at %s: %s, want %s", c.ch, c.at, got.In(loc), c.want)
		}
	}
	if (NotifyPolicy{QuietStart: 1, QuietEnd: 5}).Quiet(6) || !(NotifyPolicy{QuietStart: 1, QuietEnd: 5}).Quiet(1) {
		t.Error("non-wrapping window")
	}
}

func TestRuleValidation(t *testing.T) {
	ok := NotifyRule{Name: "余额不足短信", Channels: []NotifyChannel{NotifySMS, NotifyEmail}, Delay: time.Minute}
	if ok.Validate() != nil {
		t.Fatal("valid rule refused")
	}
	for _, bad := range []NotifyRule{
		{Name: "", Channels: []NotifyChannel{NotifySMS}},
		{Name: "x"},
		{Name: "x", Channels: []NotifyChannel{NotifySMS, NotifySMS}},
		{Name: "x", Channels: []NotifyChannel{NotifyPhone}},
		{Name: "x", Channels: []NotifyChannel{NotifySMS}, Delay: 25 * time.Hour},
		{Name: "x", Channels: []NotifyChannel{NotifySMS}, Category: "nope"},
	} {
		if bad.Validate() == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}
