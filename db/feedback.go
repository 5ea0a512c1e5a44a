package db

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/lib/pq"

	"paymend/domain"
)

// This file stores customer feedback (issue 9): links, answers with their history,
// the inbox's notes, and the figures.

// NewFeedbackLink is a link to store with a queued notice (NewNotification.Feedback).
type NewFeedbackLink struct {
	TokenHash string
	ExpiresAt time.Time
}

// createNoticeLinks stores the feedback links of freshly queued notices (ids), each
// bound to its notice's payment, language and channel. Notices skipped as repeats
// get none.
func (s *Store) createNoticeLinks(ctx context.Context, merchantID int64, ns []NewNotification, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	var b strings.Builder
	args := []any{merchantID, pq.Array(ids)}
	for _, n := range ns {
		if n.Feedback == nil {
			continue
		}
		if len(args) > 2 {
			b.WriteString(", ")
		}
		k := len(args)
		fmt.Fprintf(&b, "($%d::bigint, $%d, $%d, $%d, $%d::timestamptz)", k+1, k+2, k+3, k+4, k+5)
		args = append(args, n.TransactionID, string(n.Channel), n.TemplateKey, n.Feedback.TokenHash, n.Feedback.ExpiresAt)
	}
	if len(args) == 2 {
		return nil
	}
	q := `INSERT INTO feedback_links (merchant_id, transaction_id, notification_id, token_hash, lang, channel, created_by,
			expires_at, code, pay_channel)
		SELECT $1, n.transaction_id, n.id, v.hash, CASE WHEN n.lang IN ('zh-CN', 'en') THEN n.lang ELSE '' END,
			n.channel, n.created_by, v.expires, t.code, t.channel
		FROM (VALUES ` + b.String() + `) AS v (transaction_id, channel, template_key, hash, expires)
		JOIN notifications n ON n.merchant_id = $1 AND n.transaction_id = v.transaction_id
			AND n.channel = v.channel AND n.template_key = v.template_key
		JOIN transactions t ON t.merchant_id = $1 AND t.id = n.transaction_id
		WHERE n.id = ANY($2::bigint[])`
	if _, err := s.x.ExecContext(ctx, q, args...); err != nil {
		return fmt.Errorf("db: notice feedback links: %w", mapErr(err))
	}
	return nil
}

const feedbackLinkCols = `l.id, l.merchant_id, l.transaction_id, l.notification_id, l.lang, l.channel, l.code, l.pay_channel, l.created_by,
	l.created_at, l.expires_at, l.revoked_at, l.revoked_by, t.platform_id, f.id AS feedback_id`

const feedbackLinkFrom = ` FROM feedback_links l
	JOIN transactions t ON t.merchant_id = l.merchant_id AND t.id = l.transaction_id
	LEFT JOIN feedback f ON f.link_id = l.id `

// CreateFeedbackLink stores a link for one of the merchant's payments (the API's and
// the console's own links, not sent with a notice).
func (s *Store) CreateFeedbackLink(ctx context.Context, merchantID, transactionID int64, tokenHash, lang, channel, createdBy string, expires time.Time) (domain.FeedbackLink, error) {
	const q = `INSERT INTO feedback_links (merchant_id, transaction_id, token_hash, lang, channel, created_by, expires_at,
			code, pay_channel)
		SELECT $1, t.id, $3, $4, $5, $6, $7, t.code, t.channel FROM transactions t WHERE t.merchant_id = $1 AND t.id = $2
		RETURNING id`
	var id int64
	if err := s.x.QueryRowxContext(ctx, q, merchantID, transactionID, tokenHash, lang, channel, createdBy, expires).Scan(&id); err != nil {
		return domain.FeedbackLink{}, fmt.Errorf("db: create feedback link: %w", mapErr(err))
	}
	return s.FeedbackLink(ctx, merchantID, id)
}

// FeedbackLink returns one of the merchant's links.
func (s *Store) FeedbackLink(ctx context.Context, merchantID, id int64) (domain.FeedbackLink, error) {
	q := `SELECT ` + feedbackLinkCols + feedbackLinkFrom + `WHERE l.merchant_id = $1 AND l.id = $2`
	var l domain.FeedbackLink
	if err := s.x.QueryRowxContext(ctx, q, merchantID, id).StructScan(&l); err != nil {
		return l, fmt.Errorf("db: feedback link %d: %w", id, mapErr(err))
	}
	return l, nil
}

// FeedbackLinkByHash finds a link by its token's hash, whatever its merchant: the
// public form knows only the token, and the token is the credential.
func (s *Store) FeedbackLinkByHash(ctx context.Context, hash string) (domain.FeedbackLink, error) {
	q := `SELECT ` + feedbackLinkCols + feedbackLinkFrom + `WHERE l.token_hash = $1`
	var l domain.FeedbackLink
	if err := s.x.QueryRowxContext(ctx, q, hash).StructScan(&l); err != nil {
		return l, fmt.Errorf("db: feedback link by token: %w", mapErr(err))
	}
	return l, nil
}

// RevokeFeedbackLink closes a link at once; a link already revoked is ErrConflict.
func (s *Store) RevokeFeedbackLink(ctx context.Context, merchantID, id int64, by string, now time.Time) error {
	const q = `UPDATE feedback_links SET revoked_at = $3, revoked_by = $4
		WHERE merchant_id = $1 AND id = $2 AND revoked_at IS NULL`
	res, err := s.x.ExecContext(ctx, q, merchantID, id, now, by)
	if err != nil {
		return fmt.Errorf("db: revoke feedback link %d: %w", id, mapErr(err))
	}
	if n, _ := res.RowsAffected(); n == 0 {
		if _, err := s.FeedbackLink(ctx, merchantID, id); err != nil {
			return err
		}
		return ErrConflict
	}
	return nil
}

// FeedbackLinksFilter narrows the links list.
type FeedbackLinksFilter struct {
	PlatformID string
	Cursor     domain.Cursor
	Limit      int
}

// FeedbackLinks lists the merchant's links newest first, keyset paged.
func (s *Store) FeedbackLinks(ctx context.Context, merchantID int64, f FeedbackLinksFilter) ([]domain.FeedbackLink, domain.Cursor, error) {
	if f.Limit <= 0 || f.Limit > 100 {
		f.Limit = 50
	}
	q := `SELECT ` + feedbackLinkCols + feedbackLinkFrom + `WHERE l.merchant_id = $1
		AND ($2 = '' OR t.platform_id = $2)
		AND ($3::timestamptz IS NULL OR (l.created_at, l.id) < ($3, $4))
		ORDER BY l.created_at DESC, l.id DESC LIMIT $5`
	var at *time.Time
	if !f.Cursor.IsZero() {
		at = &f.Cursor.At
	}
	var out []domain.FeedbackLink
	if err := sqlxSelect(ctx, s, &out, q, merchantID, f.PlatformID, at, f.Cursor.ID, f.Limit+1); err != nil {
		return nil, domain.Cursor{}, fmt.Errorf("db: feedback links: %w", err)
	}
	var next domain.Cursor
	if len(out) > f.Limit {
		out = out[:f.Limit]
		last := out[len(out)-1]
		next = domain.Cursor{At: last.CreatedAt, ID: last.ID}
	}
	return out, next, nil
}

// SubmitResult says what a submission did.
type SubmitResult struct {
	Feedback     domain.Feedback
	First        bool // the link's first answer
	ReconOpened  bool // this answer opened a reconciliation check
	ReopenedFrom string
}

// SubmitFeedback stores the customer's answer for an open link: the link's feedback
// row takes the latest answer (a closed case reopens as new), the history keeps every
// version, and the payment's timeline shows it. An answer saying the customer was
// charged without an order, or twice, sets recon_requested_at (once) for the
// reconciliation job and notes it on the timeline. All in one transaction; the link
// is re-checked inside it, so a link revoked a moment ago takes nothing.
func (s *Store) SubmitFeedback(ctx context.Context, merchantID, linkID int64, a domain.FeedbackAnswer, lang string, now time.Time) (SubmitResult, error) {
	var res SubmitResult
	err := s.InTx(ctx, func(tx *Store) error {
		var txID int64
		const lock = `SELECT transaction_id FROM feedback_links WHERE merchant_id = $1 AND id = $2
			AND revoked_at IS NULL AND expires_at > $3 FOR UPDATE`
		if err := tx.x.QueryRowxContext(ctx, lock, merchantID, linkID, now).Scan(&txID); err != nil {
			if mapErr(err) == ErrNotFound {
				return ErrConflict
			}
			return fmt.Errorf("db: submit feedback: %w", mapErr(err))
		}
		var prev struct {
			ID     int64      `db:"id"`
			Status string     `db:"status"`
			Recon  *time.Time `db:"recon_requested_at"`
		}
		err := tx.x.QueryRowxContext(ctx, `SELECT id, status, recon_requested_at FROM feedback WHERE merchant_id = $1 AND link_id = $2`,
			merchantID, linkID).StructScan(&prev)
		switch mapErr(err) {
		case nil:
		case ErrNotFound:
			// sqlx allocates pointer fields before it learns there is no row.
			prev.Recon, res.First = nil, true
		default:
			return fmt.Errorf("db: submit feedback: %w", mapErr(err))
		}
		recon := a.Problem.NeedsReconciliation() && prev.Recon == nil
		var reconAt *time.Time
		if recon {
			reconAt = &now
		}
		const up = `INSERT INTO feedback (merchant_id, link_id, transaction_id, solved, problem, rating, comment, contact, lang,
				recon_requested_at, first_at, updated_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)
			ON CONFLICT (link_id) DO UPDATE SET solved = EXCLUDED.solved, problem = EXCLUDED.problem,
				rating = EXCLUDED.rating, comment = EXCLUDED.comment, contact = EXCLUDED.contact, lang = EXCLUDED.lang,
				answers = feedback.answers + 1, updated_at = EXCLUDED.updated_at,
				status = CASE WHEN feedback.status = 'closed' THEN 'new' ELSE feedback.status END,
				recon_requested_at = coalesce(feedback.recon_requested_at, EXCLUDED.recon_requested_at)
			WHERE feedback.merchant_id = $1
			RETURNING id`
		var fid int64
		if err := tx.x.QueryRowxContext(ctx, up, merchantID, linkID, txID, a.Solved, string(a.Problem), a.Rating, a.Comment,
			a.Contact, lang, reconAt, now).Scan(&fid); err != nil {
			return fmt.Errorf("db: submit feedback: %w", mapErr(err))
		}
		if prev.Status == domain.FeedbackClosed {
			res.ReopenedFrom = prev.Status
		}
		const hist = `INSERT INTO feedback_answers (merchant_id, feedback_id, solved, problem, rating, comment, contact, at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
		if _, err := tx.x.ExecContext(ctx, hist, merchantID, fid, a.Solved, string(a.Problem), a.Rating, a.Comment, a.Contact, now); err != nil {
			return fmt.Errorf("db: feedback history: %w", mapErr(err))
		}
		kind := "feedback.updated"
		if res.First {
			kind = "feedback.received"
		}
		d, _ := json.Marshal(map[string]any{"feedback_id": fid, "solved": a.Solved, "problem": a.Problem,
			"rating": a.Rating, "comment": a.Comment, "contact": a.Contact})
		solved := "not solved"
		if a.Solved {
			solved = "solved"
		}
		summary := fmt.Sprintf("Customer feedback: %s, %s, rated %d/5", a.Problem, solved, a.Rating)
		if err := tx.AppendTimeline(ctx, merchantID, txID, domain.TimelineEntry{At: now, Kind: kind, Actor: "customer",
			Summary: summary, Details: d}); err != nil {
			return err
		}
		if recon {
			d, _ := json.Marshal(map[string]any{"feedback_id": fid, "problem": a.Problem})
			if err := tx.AppendTimeline(ctx, merchantID, txID, domain.TimelineEntry{At: now, Kind: "feedback.recon_requested",
				Actor: "system", Summary: "Reconciliation requested: customer reports " + string(a.Problem), Details: d}); err != nil {
				return err
			}
			res.ReconOpened = true
		}
		f, err := tx.Feedback(ctx, merchantID, fid)
		res.Feedback = f
		return err
	})
	return res, err
}

const feedbackCols = `f.id, f.merchant_id, f.link_id, f.transaction_id, f.solved, f.problem, f.rating, f.comment, f.contact,
	f.lang, f.answers, f.status, f.assignee_id, coalesce(u.email, '') AS assignee, f.recon_requested_at, f.first_at,
	f.updated_at, t.platform_id, l.code, l.pay_channel, l.channel AS link_channel`

const feedbackFrom = ` FROM feedback f
	JOIN transactions t ON t.merchant_id = f.merchant_id AND t.id = f.transaction_id
	JOIN feedback_links l ON l.merchant_id = f.merchant_id AND l.id = f.link_id
	LEFT JOIN users u ON u.merchant_id = f.merchant_id AND u.id = f.assignee_id `

// Feedback returns one answer with its inbox state.
func (s *Store) Feedback(ctx context.Context, merchantID, id int64) (domain.Feedback, error) {
	q := `SELECT ` + feedbackCols + feedbackFrom + `WHERE f.merchant_id = $1 AND f.id = $2`
	var f domain.Feedback
	if err := s.x.QueryRowxContext(ctx, q, merchantID, id).StructScan(&f); err != nil {
		return f, fmt.Errorf("db: feedback %d: %w", id, mapErr(err))
	}
	return f, nil
}

// FeedbackForLink returns the answer given through a link, if any.
func (s *Store) FeedbackForLink(ctx context.Context, merchantID, linkID int64) (domain.Feedback, error) {
	q := `SELECT ` + feedbackCols + feedbackFrom + `WHERE f.merchant_id = $1 AND f.link_id = $2`
	var f domain.Feedback
	if err := s.x.QueryRowxContext(ctx, q, merchantID, linkID).StructScan(&f); err != nil {
		return f, fmt.Errorf("db: feedback of link %d: %w", linkID, mapErr(err))
	}
	return f, nil
}

// FeedbackFilter narrows the inbox. Empty fields do not filter.
type FeedbackFilter struct {
	Code       string
	Problem    string
	Rating     int    // 1–5, 0 = any
	Solved     string // "yes", "no", ""
	Status     string
	AssigneeID int64 // 0 = anyone
	From, To   *time.Time
	Cursor     domain.Cursor
	Limit      int
}

// FeedbackList lists the merchant's answers, latest answer first, keyset paged.
func (s *Store) FeedbackList(ctx context.Context, merchantID int64, f FeedbackFilter) ([]domain.Feedback, domain.Cursor, error) {
	if f.Limit <= 0 || f.Limit > 100 {
		f.Limit = 50
	}
	q := `SELECT ` + feedbackCols + feedbackFrom + `WHERE f.merchant_id = $1
		AND ($2 = '' OR l.code = $2) AND ($3 = '' OR f.problem = $3) AND ($4 = 0 OR f.rating = $4)
		AND ($5 = '' OR f.solved = ($5 = 'yes')) AND ($6 = '' OR f.status = $6) AND ($7 = 0 OR f.assignee_id = $7)
		AND ($8::timestamptz IS NULL OR f.updated_at >= $8) AND ($9::timestamptz IS NULL OR f.updated_at < $9)
		AND ($10::timestamptz IS NULL OR (f.updated_at, f.id) < ($10, $11))
		ORDER BY f.updated_at DESC, f.id DESC LIMIT $12`
	var at *time.Time
	if !f.Cursor.IsZero() {
		at = &f.Cursor.At
	}
	var out []domain.Feedback
	if err := sqlxSelect(ctx, s, &out, q, merchantID, f.Code, f.Problem, f.Rating, f.Solved, f.Status, f.AssigneeID,
		f.From, f.To, at, f.Cursor.ID, f.Limit+1); err != nil {
		return nil, domain.Cursor{}, fmt.Errorf("db: feedback list: %w", err)
	}
	var next domain.Cursor
	if len(out) > f.Limit {
		out = out[:f.Limit]
		next = out[len(out)-1].Cursor()
	}
	return out, next, nil
}

// FeedbackHistory lists every submitted version of an answer, newest first.
func (s *Store) FeedbackHistory(ctx context.Context, merchantID, id int64) ([]domain.FeedbackHistoryEntry, error) {
	const q = `SELECT solved, problem, rating, comment, contact, at FROM feedback_answers
		WHERE merchant_id = $1 AND feedback_id = $2 ORDER BY at DESC, id DESC`
	var out []domain.FeedbackHistoryEntry
	if err := sqlxSelect(ctx, s, &out, q, merchantID, id); err != nil {
		return nil, fmt.Errorf("db: feedback history %d: %w", id, err)
	}
	return out, nil
}

// FeedbackNotes lists the operators' work on an answer, oldest first, with the state
// of each reply's notice.
func (s *Store) FeedbackNotes(ctx context.Context, merchantID, id int64) ([]domain.FeedbackNote, error) {
	const q = `SELECT fn.id, fn.kind, fn.body, fn.notification_id, n.state AS notice_state, fn.author, fn.created_at
		FROM feedback_notes fn LEFT JOIN notifications n ON n.merchant_id = fn.merchant_id AND n.id = fn.notification_id
		WHERE fn.merchant_id = $1 AND fn.feedback_id = $2 ORDER BY fn.created_at, fn.id`
	var out []domain.FeedbackNote
	if err := sqlxSelect(ctx, s, &out, q, merchantID, id); err != nil {
		return nil, fmt.Errorf("db: feedback notes %d: %w", id, err)
	}
	return out, nil
}

// AddFeedbackNote records a note, reply, status change or assignment on an answer of
// the merchant's and returns its id.
func (s *Store) AddFeedbackNote(ctx context.Context, merchantID, feedbackID int64, kind, body, author string, notificationID *int64, now time.Time) (int64, error) {
	const q = `INSERT INTO feedback_notes (merchant_id, feedback_id, kind, body, author, notification_id, created_at)
		SELECT $1, f.id, $3, $4, $5, $6, $7 FROM feedback f WHERE f.merchant_id = $1 AND f.id = $2 RETURNING id`
	var id int64
	if err := s.x.QueryRowxContext(ctx, q, merchantID, feedbackID, kind, body, author, notificationID, now).Scan(&id); err != nil {
		return 0, fmt.Errorf("db: feedback note: %w", mapErr(err))
	}
	return id, nil
}

// SetFeedbackNoteNotice links a reply note to the notice that carries it.
func (s *Store) SetFeedbackNoteNotice(ctx context.Context, merchantID, noteID, notificationID int64) error {
	_, err := s.x.ExecContext(ctx, `UPDATE feedback_notes SET notification_id = $3 WHERE merchant_id = $1 AND id = $2`,
		merchantID, noteID, notificationID)
	return mapErr(err)
}

// SetFeedbackStatus moves an answer to status; moving to the status it has is
// ErrConflict. The change is noted.
func (s *Store) SetFeedbackStatus(ctx context.Context, merchantID, id int64, status, author string, now time.Time) error {
	return s.InTx(ctx, func(tx *Store) error {
		res, err := tx.x.ExecContext(ctx, `UPDATE feedback SET status = $3 WHERE merchant_id = $1 AND id = $2 AND status <> $3`,
			merchantID, id, status)
		if err != nil {
			return fmt.Errorf("db: feedback status: %w", mapErr(err))
		}
		if n, _ := res.RowsAffected(); n == 0 {
			if _, err := tx.Feedback(ctx, merchantID, id); err != nil {
				return err
			}
			return ErrConflict
		}
		_, err = tx.AddFeedbackNote(ctx, merchantID, id, "status", status, author, nil, now)
		return err
	})
}

// AssignFeedback gives an answer to one of the merchant's operators or admins
// (userID 0 unassigns). A user of another merchant, a viewer or a disabled account
// is ErrNotFound.
func (s *Store) AssignFeedback(ctx context.Context, merchantID, id, userID int64, author string, now time.Time) error {
	return s.InTx(ctx, func(tx *Store) error {
		var who string
		if userID != 0 {
			err := tx.x.QueryRowxContext(ctx, `SELECT email FROM users WHERE merchant_id = $1 AND id = $2
				AND role IN ('admin', 'operator') AND disabled_at IS NULL`, merchantID, userID).Scan(&who)
			if err != nil {
				return fmt.Errorf("db: assign feedback: %w", mapErr(err))
			}
		}
		res, err := tx.x.ExecContext(ctx, `UPDATE feedback SET assignee_id = nullif($3, 0) WHERE merchant_id = $1 AND id = $2`,
			merchantID, id, userID)
		if err != nil {
			return fmt.Errorf("db: assign feedback: %w", mapErr(err))
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		_, err = tx.AddFeedbackNote(ctx, merchantID, id, "assign", who, author, nil, now)
		return err
	})
}

// Assignees lists the merchant's users who can work the inbox.
func (s *Store) Assignees(ctx context.Context, merchantID int64) ([]domain.User, error) {
	const q = `SELECT ` + userCols + ` FROM users WHERE merchant_id = $1 AND role IN ('admin', 'operator')
		AND disabled_at IS NULL ORDER BY email`
	var out []domain.User
	if err := sqlxSelect(ctx, s, &out, q, merchantID); err != nil {
		return nil, fmt.Errorf("db: assignees: %w", err)
	}
	return out, nil
}

// FeedbackStats computes the feedback figures for links sent in [from, to): response
// rate, share solved and average rating overall, per failure code, per payment
// channel and per notice channel, and the problems most reported. code "" covers
// every code.
func (s *Store) FeedbackStats(ctx context.Context, merchantID int64, from, to time.Time, code string) (domain.FeedbackSummary, error) {
	out := domain.FeedbackSummary{From: from, To: to}
	const q = `SELECT CASE WHEN grouping(l.code) = 0 THEN 'code' WHEN grouping(l.pay_channel) = 0 THEN 'channel'
				WHEN grouping(l.channel) = 0 THEN 'notice' ELSE 'total' END AS dim,
			coalesce(CASE WHEN grouping(l.code) = 0 THEN l.code WHEN grouping(l.pay_channel) = 0 THEN l.pay_channel
				WHEN grouping(l.channel) = 0 THEN l.channel END, '') AS key,
			count(*) AS links, count(f.id) AS answers, count(*) FILTER (WHERE f.solved) AS solved,
			coalesce(sum(f.rating), 0) AS rating_sum
		FROM feedback_links l
		LEFT JOIN feedback f ON f.merchant_id = l.merchant_id AND f.link_id = l.id
		WHERE l.merchant_id = $1 AND l.created_at >= $2 AND l.created_at < $3 AND ($4 = '' OR l.code = $4)
		GROUP BY GROUPING SETS ((l.code), (l.pay_channel), (l.channel), ())
		ORDER BY 1, count(f.id) DESC, 2`
	var rows []struct {
		Dim string `db:"dim"`
		domain.FeedbackGroup
	}
	if err := sqlxSelect(ctx, s, &rows, q, merchantID, from, to, code); err != nil {
		return out, fmt.Errorf("db: feedback stats: %w", err)
	}
	for _, r := range rows {
		g := r.FeedbackGroup
		g.AvgRating = g.Average()
		switch r.Dim {
		case "code":
			out.ByCode = append(out.ByCode, g)
		case "channel":
			out.ByChannel = append(out.ByChannel, g)
		case "notice":
			out.ByNotice = append(out.ByNotice, g)
		default:
			out.Total = g
		}
	}
	const probs = `SELECT f.problem, count(*) AS n FROM feedback_links l
		JOIN feedback f ON f.merchant_id = l.merchant_id AND f.link_id = l.id
		WHERE l.merchant_id = $1 AND l.created_at >= $2 AND l.created_at < $3 AND ($4 = '' OR l.code = $4)
		GROUP BY f.problem ORDER BY n DESC, f.problem`
	if err := sqlxSelect(ctx, s, &out.Problems, probs, merchantID, from, to, code); err != nil {
		return out, fmt.Errorf("db: feedback problems: %w", err)
	}
	return out, nil
}
