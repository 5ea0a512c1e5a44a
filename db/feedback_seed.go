package db

import (
	"context"
	"fmt"
	"time"
)

// SeedDemoFeedback gives the demo merchant's seeded failures what customers would
// have answered: one failed payment in 8 got a feedback link with its notice
// (e-mail or in-app), and about 40 % of those answered, with the problem following the
// failure code, ratings, comments in the customers' words, statuses an inbox would
// show, timeline entries, and reconciliation requests for "charged" answers. The
// tokens are random and never printed: seeded links cannot be opened (live links
// come with the notices the demo sends). Set-based, so a million payments cost
// seconds. It returns the links written.
func (s *Store) SeedDemoFeedback(ctx context.Context, merchantID int64, now time.Time) (int64, error) {
	var n int64
	err := s.InTx(ctx, func(tx *Store) error {
		const links = `INSERT INTO feedback_links (merchant_id, transaction_id, token_hash, lang, channel, created_by, created_at,
				expires_at, code, pay_channel)
			SELECT $1, t.id, encode(sha256(convert_to(gen_random_uuid()::text || t.id, 'UTF8')), 'hex'), 'zh-CN',
				CASE WHEN t.id % 3 = 0 THEN 'inapp' ELSE 'email' END, 'seed',
				least(t.occurred_at + interval '10 minutes', $2), least(t.occurred_at + interval '10 minutes', $2) + interval '30 days',
				t.code, t.channel
			FROM (SELECT id, occurred_at, code, channel, row_number() OVER (ORDER BY id) AS rn FROM transactions
				WHERE merchant_id = $1 AND pay_status = 'failed') t
			WHERE t.rn % 8 = 1
				AND NOT EXISTS (SELECT 1 FROM feedback_links l WHERE l.merchant_id = $1 AND l.transaction_id = t.id)`
		res, err := tx.x.ExecContext(ctx, links, merchantID, now)
		if err != nil {
			return fmt.Errorf("db: seed feedback links: %w", mapErr(err))
		}
		n, _ = res.RowsAffected()
		const answers = `WITH a AS (
				SELECT l.id AS link_id, l.transaction_id, l.created_at + make_interval(mins => (l.id % 600)::int + 5) AS at,
					CASE WHEN t.code LIKE '1%' THEN (ARRAY['balance', 'card_limit', 'balance', 'other'])[1 + l.id % 4]
						WHEN t.code LIKE '3%' OR t.code LIKE '4%' THEN (ARRAY['verification', 'verification', 'other'])[1 + l.id % 3]
						WHEN t.code LIKE '2%' OR t.code LIKE '5%' THEN (ARRAY['timeout', 'charged_no_order', 'timeout', 'charged_twice', 'timeout'])[1 + l.id % 5]
						ELSE 'other' END AS problem,
					1 + (l.id * 7) % 5 AS rating, l.id % 3 <> 0 AS solved,
					(ARRAY['', '', '换了一张卡就支付成功了,谢谢提醒。', '验证码一直收不到,等了好几分钟。',
						'页面卡住了,不知道有没有扣款。', '', '客服回复很快,满意。', '希望能支持更多支付方式。'])[1 + l.id % 8] AS comment,
					(ARRAY['', 'sms', '', 'email', '', 'phone'])[1 + l.id % 6] AS contact,
					(ARRAY['new', 'in_progress', 'closed', 'closed', 'new'])[1 + l.id % 5] AS status
				FROM feedback_links l JOIN transactions t ON t.merchant_id = l.merchant_id AND t.id = l.transaction_id
				WHERE l.merchant_id = $1 AND l.created_by = 'seed' AND l.id % 5 < 2
					AND NOT EXISTS (SELECT 1 FROM feedback f WHERE f.link_id = l.id)),
			f AS (
				INSERT INTO feedback (merchant_id, link_id, transaction_id, solved, problem, rating, comment, contact, lang,
					status, recon_requested_at, first_at, updated_at)
				SELECT $1, link_id, transaction_id, solved, problem, rating, comment, contact, 'zh-CN', status,
					CASE WHEN problem IN ('charged_no_order', 'charged_twice') THEN least(at, $2) END, least(at, $2), least(at, $2)
				FROM a RETURNING id, transaction_id, solved, problem, rating, comment, contact, updated_at, recon_requested_at),
			h AS (
				INSERT INTO feedback_answers (merchant_id, feedback_id, solved, problem, rating, comment, contact, at)
				SELECT $1, id, solved, problem, rating, comment, contact, updated_at FROM f),
			tl AS (
				INSERT INTO timeline (merchant_id, transaction_id, at, kind, actor, summary, details)
				SELECT $1, transaction_id, updated_at, 'feedback.received', 'customer',
					'Customer feedback: ' || problem || ', rated ' || rating || '/5',
					jsonb_build_object('feedback_id', id, 'solved', solved, 'problem', problem, 'rating', rating,
						'comment', comment, 'contact', contact) FROM f)
			INSERT INTO timeline (merchant_id, transaction_id, at, kind, actor, summary, details)
			SELECT $1, transaction_id, recon_requested_at, 'feedback.recon_requested', 'system',
				'Reconciliation requested: customer reports ' || problem, jsonb_build_object('feedback_id', id, 'problem', problem)
			FROM f WHERE recon_requested_at IS NOT NULL`
		if _, err := tx.x.ExecContext(ctx, answers, merchantID, now); err != nil {
			return fmt.Errorf("db: seed feedback: %w", mapErr(err))
		}
		return nil
	})
	return n, err
}

// SeedDemoFeedbackLink opens a feedback link (by its token's hash) on the demo
// merchant's latest failed payment, so `seed --demo` can print a form to try. It
// reports false when there is no failed payment.
func (s *Store) SeedDemoFeedbackLink(ctx context.Context, merchantID int64, tokenHash string, now time.Time) (bool, error) {
	const q = `INSERT INTO feedback_links (merchant_id, transaction_id, token_hash, lang, channel, created_by, created_at,
			expires_at, code, pay_channel)
		SELECT $1, t.id, $2, 'zh-CN', 'email', 'seed --demo', $3::timestamptz, $3::timestamptz + interval '30 days', t.code, t.channel
		FROM transactions t WHERE t.merchant_id = $1 AND t.pay_status = 'failed'
		ORDER BY t.occurred_at DESC, t.id DESC LIMIT 1`
	res, err := s.x.ExecContext(ctx, q, merchantID, tokenHash, now)
	if err != nil {
		return false, fmt.Errorf("db: demo feedback link: %w", mapErr(err))
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}
