package domain

import (
	"errors"
	"time"
)

// NotifyRule sends a notice automatically when a payment fails with a code (or a
// category, or any failure), on the first of its channels that can reach the
// customer, after a delay.
type NotifyRule struct {
	ID       int64
	Name     string
	Enabled  bool
	Code     string   // "" = any code
	Category Category // "" = any category
	Channels []NotifyChannel
	Delay    time.Duration
}

// NotifyPolicy is a merchant's limits on automatic notices.
type NotifyPolicy struct {
	QuietStart, QuietEnd int // local hours; no SMS or phone from QuietStart to QuietEnd
	DailyCap             int // notices per customer per local day
}

// DefaultNotifyPolicy is what a merchant has until an admin changes it.
var DefaultNotifyPolicy = NotifyPolicy{QuietStart: 22, QuietEnd: 8, DailyCap: 3}

// ErrBadRule names an invalid rule.
var ErrBadRule = errors.New("invalid notification rule")

// Validate checks a rule before it is saved.
func (r NotifyRule) Validate() error {
	if r.Name == "" || len([]rune(r.Name)) > 100 || len(r.Channels) == 0 || len(r.Channels) > 3 ||
		r.Delay < 0 || r.Delay > 24*time.Hour || (r.Code != "" && !ValidCode(r.Code)) ||
		(r.Category != "" && !r.Category.Valid()) {
		return ErrBadRule
	}
	seen := map[NotifyChannel]bool{}
	for _, c := range r.Channels {
		if (c != NotifySMS && c != NotifyEmail && c != NotifyInApp) || seen[c] {
			return ErrBadRule
		}
		seen[c] = true
	}
	return nil
}

// MatchRule picks the enabled rule for a failure with entry e: a rule for its code
// wins over one for its category, which wins over one for any failure; among equals
// the first (oldest) rule.
func MatchRule(rules []NotifyRule, e CodeEntry) (NotifyRule, bool) {
	best, bestRank := NotifyRule{}, 0
	for _, r := range rules {
		if !r.Enabled {
			continue
		}
		rank := 0
		switch {
		case r.Code != "":
			if r.Code == e.Code {
				rank = 3
			}
		case r.Category != "":
			if r.Category == e.Category {
				rank = 2
			}
		default:
			rank = 1
		}
		if rank > bestRank {
			best, bestRank = r, rank
		}
	}
	return best, bestRank > 0
}

// Quiet reports whether a local hour falls in the quiet window (which may wrap
// past midnight, 22→8).
func (p NotifyPolicy) Quiet(hour int) bool {
	if p.QuietStart == p.QuietEnd {
		return false
	}
	if p.QuietStart < p.QuietEnd {
		return hour >= p.QuietStart && hour < p.QuietEnd
	}
	return hour >= p.QuietStart || hour < p.QuietEnd
}

// SendAt is when a notice due at at may go out on ch: SMS and phone calls wait for
// the end of the quiet window in the merchant's zone; e-mail and in-app do not.
func (p NotifyPolicy) SendAt(ch NotifyChannel, at time.Time, loc *time.Location) time.Time {
	if ch != NotifySMS && ch != NotifyPhone {
		return at
	}
	local := at.In(loc)
	if !p.Quiet(local.Hour()) {
		return at
	}
	end := time.Date(local.Year(), local.Month(), local.Day(), p.QuietEnd, 0, 0, 0, loc)
	if !end.After(local) {
		end = end.AddDate(0, 0, 1)
	}
	return end.UTC()
}

// ErrNoContact means a payment has no customer contact for a channel.
var ErrNoContact = errors.New("no contact for this channel")

// NoticeDraft is a notice rendered for one payment, not yet stored.
type NoticeDraft struct {
	TemplateKey     string
	RecipientMasked string
	Subject, Body   string
	Chars, Segments int // SMS only
}

// RecipientFor names, masked, whom a notice on ch reaches for a payment ("" when
// the payment has no contact for that channel).
func RecipientFor(tx Transaction, ch NotifyChannel) string {
	switch ch {
	case NotifySMS, NotifyPhone:
		return tx.PhoneMasked
	case NotifyEmail:
		return tx.EmailMasked
	case NotifyInApp:
		return tx.CustomerRef
	}
	return ""
}

// DraftNotice renders the notice for a failed payment on ch in lang: the named
// template, or the one templates select for the payment's code. links (at most one)
// fills the per-notice link variables.
func DraftNotice(m Merchant, e CodeEntry, tx Transaction, ch NotifyChannel, templates []MessageTemplate, templateKey, lang string, links ...NoticeLinks) (NoticeDraft, error) {
	tm := SelectTemplate(templates, ch, e)
	if templateKey != "" {
		tm = MessageTemplate{}
		for _, t := range templates {
			if t.Key == templateKey && t.Channel == ch {
				tm = t
			}
		}
	}
	if tm.Key == "" {
		return NoticeDraft{}, errors.New("no template fits")
	}
	to := RecipientFor(tx, ch)
	if to == "" {
		return NoticeDraft{}, ErrNoContact
	}
	v := MessageVarsFor(lang, e, tx.Money(), tx.OccurredAt, m.Location())
	v.CustomerName, v.OrderID, v.MerchantName = tx.CustomerName, tx.OrderID, m.Name
	if len(links) > 0 {
		v.FeedbackLink = links[0].Feedback
	}
	subject, body, err := RenderMessage(tm, lang, v)
	if err != nil {
		return NoticeDraft{}, err
	}
	d := NoticeDraft{TemplateKey: tm.Key, RecipientMasked: to, Subject: subject, Body: body}
	if ch == NotifySMS {
		d.Chars, d.Segments = SMSSegments(body)
	}
	return d, nil
}
