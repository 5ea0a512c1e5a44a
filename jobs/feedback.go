package jobs

import (
	"time"

	"paymend/db"
	"paymend/domain"
)

// draftNotice renders a notice as domain.DraftNotice does, with a fresh feedback
// link when base is known; the link is returned for storing with the notice only
// when the template uses it, open for ttl (0: domain.FeedbackLinkTTL).
func draftNotice(base string, ttl time.Duration, now time.Time, m domain.Merchant, e domain.CodeEntry, tx domain.Transaction,
	ch domain.NotifyChannel, templates []domain.MessageTemplate, lang string) (domain.NoticeDraft, *db.NewFeedbackLink, error) {
	if base == "" {
		nd, err := domain.DraftNotice(m, e, tx, ch, templates, "", lang)
		return nd, nil, err
	}
	tok := domain.NewFeedbackToken()
	link := domain.FeedbackURL(base, tok.Token)
	nd, err := domain.DraftNotice(m, e, tx, ch, templates, "", lang, domain.NoticeLinks{Feedback: link})
	if err != nil || !nd.CarriesLink(link) {
		return nd, nil, err
	}
	if ttl <= 0 {
		ttl = domain.FeedbackLinkTTL
	}
	return nd, &db.NewFeedbackLink{TokenHash: tok.Hash, ExpiresAt: now.Add(ttl)}, nil
}
