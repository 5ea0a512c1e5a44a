package domain

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// This file holds the rules of customer feedback (issue 9): link tokens, what a
// customer may answer, and how an answer is checked.

// FeedbackLinkTTL is how long a feedback link stays open by default.
const FeedbackLinkTTL = 30 * 24 * time.Hour

// ParseFeedbackLinkDays reads PAYMEND_FEEDBACK_LINK_DAYS: how many days a link
// stays open, 1–365; empty means FeedbackLinkTTL.
func ParseFeedbackLinkDays(s string) (time.Duration, error) {
	if s == "" {
		return FeedbackLinkTTL, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 365 {
		return 0, fmt.Errorf("PAYMEND_FEEDBACK_LINK_DAYS must be a number of days from 1 to 365, not %q", s)
	}
	return time.Duration(n) * 24 * time.Hour, nil
}

// FeedbackTokenBytes is the token's entropy: 128 random bits.
const FeedbackTokenBytes = 16

// FeedbackToken is a fresh link token and the hash it is stored under.
type FeedbackToken struct {
	Token string // base64url, 22 characters; only ever in the link itself
	Hash  string // sha256 hex of Token; what the database keeps
}

// NewFeedbackToken returns a random token of 128 bits (crypto/rand).
func NewFeedbackToken() FeedbackToken {
	b := make([]byte, FeedbackTokenBytes)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	tok := base64.RawURLEncoding.EncodeToString(b)
	return FeedbackToken{Token: tok, Hash: HashFeedbackToken(tok)}
}

// HashFeedbackToken is how a token is looked up.
func HashFeedbackToken(tok string) string {
	s := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(s[:])
}

// WellFormedFeedbackToken reports whether s could be a token at all (22 characters of
// base64url), so junk never reaches the database.
func WellFormedFeedbackToken(s string) bool {
	if len(s) != 22 {
		return false
	}
	// Strict: the unused low bits of the last character must be zero, so one token
	// has exactly one spelling.
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil && len(b) == FeedbackTokenBytes
}

// FeedbackURL is the public link for a token under base (PAYMEND_BASE_URL).
func FeedbackURL(base, token string) string {
	return strings.TrimRight(base, "/") + "/f/" + token
}

// NoticeLinks are per-notice links a caller minted before rendering a notice
// (DraftNotice's optional last argument).
type NoticeLinks struct {
	Feedback string // the customer-feedback link (FeedbackURL), "" for none
}

// CarriesLink reports whether the notice's text contains link: a feedback link is
// stored with its notice only when the template used it.
func (d NoticeDraft) CarriesLink(link string) bool {
	return link != "" && (strings.Contains(d.Body, link) || strings.Contains(d.Subject, link))
}

// FeedbackLinkState is whether a link can still be answered.
type FeedbackLinkState string

// Link states.
const (
	FeedbackLinkOpen    FeedbackLinkState = "open"
	FeedbackLinkExpired FeedbackLinkState = "expired"
	FeedbackLinkRevoked FeedbackLinkState = "revoked"
)

// FeedbackLink is a link to the feedback form, bound to one payment.
type FeedbackLink struct {
	ID             int64      `db:"id"`
	MerchantID     int64      `db:"merchant_id"`
	TransactionID  int64      `db:"transaction_id"`
	NotificationID *int64     `db:"notification_id"`
	Lang           string     `db:"lang"`
	Channel        string     `db:"channel"`
	Code           string     `db:"code"`        // the payment's failure code when the link was made
	PayChannel     string     `db:"pay_channel"` // and its payment channel
	CreatedBy      string     `db:"created_by"`
	CreatedAt      time.Time  `db:"created_at"`
	ExpiresAt      time.Time  `db:"expires_at"`
	RevokedAt      *time.Time `db:"revoked_at"`
	RevokedBy      string     `db:"revoked_by"`
	PlatformID     string     `db:"platform_id"`
	FeedbackID     *int64     `db:"feedback_id"`
}

// State says whether the link is open at now: revocation wins over expiry.
func (l FeedbackLink) State(now time.Time) FeedbackLinkState {
	switch {
	case l.RevokedAt != nil:
		return FeedbackLinkRevoked
	case !now.Before(l.ExpiresAt):
		return FeedbackLinkExpired
	}
	return FeedbackLinkOpen
}

// FeedbackProblem is what the customer says happened.
type FeedbackProblem string

// The problems a customer can choose, in the form's order.
const (
	ProblemBalance        FeedbackProblem = "balance"
	ProblemCardLimit      FeedbackProblem = "card_limit"
	ProblemVerification   FeedbackProblem = "verification"
	ProblemTimeout        FeedbackProblem = "timeout"
	ProblemChargedNoOrder FeedbackProblem = "charged_no_order"
	ProblemChargedTwice   FeedbackProblem = "charged_twice"
	ProblemOther          FeedbackProblem = "other"
)

// FeedbackProblems lists the problems in display order.
var FeedbackProblems = []FeedbackProblem{ProblemBalance, ProblemCardLimit, ProblemVerification, ProblemTimeout,
	ProblemChargedNoOrder, ProblemChargedTwice, ProblemOther}

// Valid reports whether p is one of FeedbackProblems.
func (p FeedbackProblem) Valid() bool {
	for _, q := range FeedbackProblems {
		if p == q {
			return true
		}
	}
	return false
}

// NeedsReconciliation reports whether the answer says money may have left the
// customer without an order: such answers open a reconciliation check.
func (p FeedbackProblem) NeedsReconciliation() bool {
	return p == ProblemChargedNoOrder || p == ProblemChargedTwice
}

// FeedbackContacts are the ways a customer may agree to be contacted ("" = no).
var FeedbackContacts = []string{"", "sms", "email", "phone"}

// Feedback statuses in the inbox.
const (
	FeedbackNew        = "new"
	FeedbackInProgress = "in_progress"
	FeedbackClosed     = "closed"
)

// FeedbackStatuses lists the statuses in workflow order.
var FeedbackStatuses = []string{FeedbackNew, FeedbackInProgress, FeedbackClosed}

// ValidFeedbackStatus reports whether s is a status.
func ValidFeedbackStatus(s string) bool {
	return s == FeedbackNew || s == FeedbackInProgress || s == FeedbackClosed
}

// MaxFeedbackComment is the longest comment, in characters.
const MaxFeedbackComment = 1000

// FeedbackAnswer is what the customer submitted.
type FeedbackAnswer struct {
	Solved  bool            `db:"solved"`
	Problem FeedbackProblem `db:"problem"`
	Rating  int             `db:"rating"`
	Comment string          `db:"comment"`
	Contact string          `db:"contact"`
}

// FeedbackForm is the raw form input, as strings.
type FeedbackForm struct {
	Solved, Problem, Rating, Comment, Contact string
}

// Validate checks the form and returns the answer, or the fields in error with the
// message key of each (i18n "fbf.err.*"). Comments keep their text as typed (HTML
// included: it is shown as text), minus control characters other than line breaks.
func (f FeedbackForm) Validate() (FeedbackAnswer, map[string]string) {
	errs := map[string]string{}
	var a FeedbackAnswer
	switch f.Solved {
	case "yes":
		a.Solved = true
	case "no":
	default:
		errs["solved"] = "fbf.err.solved"
	}
	a.Problem = FeedbackProblem(f.Problem)
	if !a.Problem.Valid() {
		errs["problem"] = "fbf.err.problem"
	}
	if len(f.Rating) == 1 && f.Rating[0] >= '1' && f.Rating[0] <= '5' {
		a.Rating = int(f.Rating[0] - '0')
	} else {
		errs["rating"] = "fbf.err.rating"
	}
	c := strings.ReplaceAll(f.Comment, "\r\n", "\n")
	switch {
	case !utf8.ValidString(c):
		errs["comment"] = "fbf.err.comment_invalid"
	case utf8.RuneCountInString(c) > MaxFeedbackComment:
		errs["comment"] = "fbf.err.comment_long"
	default:
		a.Comment = strings.TrimSpace(strings.Map(func(r rune) rune {
			if r != '\n' && r != '\t' && unicode.IsControl(r) {
				return -1
			}
			return r
		}, c))
	}
	ok := false
	for _, v := range FeedbackContacts {
		if f.Contact == v {
			ok = true
		}
	}
	if ok {
		a.Contact = f.Contact
	} else {
		errs["contact"] = "fbf.err.contact"
	}
	if len(errs) > 0 {
		return FeedbackAnswer{}, errs
	}
	return a, nil
}

// Feedback is one link's answer with the inbox's work on it.
type Feedback struct {
	ID               int64           `db:"id"`
	MerchantID       int64           `db:"merchant_id"`
	LinkID           int64           `db:"link_id"`
	TransactionID    int64           `db:"transaction_id"`
	Solved           bool            `db:"solved"`
	Problem          FeedbackProblem `db:"problem"`
	Rating           int             `db:"rating"`
	Comment          string          `db:"comment"`
	Contact          string          `db:"contact"`
	Lang             string          `db:"lang"`
	Answers          int             `db:"answers"`
	Status           string          `db:"status"`
	AssigneeID       *int64          `db:"assignee_id"`
	Assignee         string          `db:"assignee"`
	ReconRequestedAt *time.Time      `db:"recon_requested_at"`
	FirstAt          time.Time       `db:"first_at"`
	UpdatedAt        time.Time       `db:"updated_at"`
	// From the payment, for lists.
	PlatformID  string `db:"platform_id"`
	Code        string `db:"code"`
	PayChannel  string `db:"pay_channel"`
	LinkChannel string `db:"link_channel"`
}

// Cursor is f's position in the newest-first inbox.
func (f Feedback) Cursor() Cursor { return Cursor{At: f.UpdatedAt, ID: f.ID} }

// FeedbackNote is an operator's note, reply, status change or assignment.
type FeedbackNote struct {
	ID             int64     `db:"id"`
	Kind           string    `db:"kind"`
	Body           string    `db:"body"`
	NotificationID *int64    `db:"notification_id"`
	NoticeState    *string   `db:"notice_state"`
	Author         string    `db:"author"`
	CreatedAt      time.Time `db:"created_at"`
}

// FeedbackHistoryEntry is one submitted version of an answer.
type FeedbackHistoryEntry struct {
	FeedbackAnswer
	At time.Time `db:"at"`
}

// FeedbackGroup is the figures of one slice (a code, a channel, or everything).
type FeedbackGroup struct {
	Key       string  `db:"key"`
	Links     int64   `db:"links"`
	Answers   int64   `db:"answers"`
	Solved    int64   `db:"solved"`
	RatingSum int64   `db:"rating_sum"`
	AvgRating float64 `db:"-"`
}

// ResponseRate is answers per link sent (0 when none were sent).
func (g FeedbackGroup) ResponseRate() float64 {
	if g.Links == 0 {
		return 0
	}
	return float64(g.Answers) / float64(g.Links)
}

// SolvedShare is the share of answers saying the problem was solved.
func (g FeedbackGroup) SolvedShare() float64 {
	if g.Answers == 0 {
		return 0
	}
	return float64(g.Solved) / float64(g.Answers)
}

// Average is the mean rating (0 when no answers).
func (g FeedbackGroup) Average() float64 {
	if g.Answers == 0 {
		return 0
	}
	return float64(g.RatingSum) / float64(g.Answers)
}

// FeedbackSummary is the feedback figures of a period.
type FeedbackSummary struct {
	From, To  time.Time
	Total     FeedbackGroup
	ByCode    []FeedbackGroup
	ByChannel []FeedbackGroup // by the payment's channel
	ByNotice  []FeedbackGroup // by the channel of the notice that carried the link
	Problems  []ProblemCount  // most frequent first
}

// ProblemCount is how often a problem was reported.
type ProblemCount struct {
	Problem FeedbackProblem `db:"problem"`
	Count   int64           `db:"n"`
}
