package handlers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"paymend/domain"
)

var feedbackURL = regexp.MustCompile(`https?://[^\s]+/f/([A-Za-z0-9_-]{22})`)

// feedbackFailure delivers a failed payment for merchant code and returns its id.
func (e *env) feedbackFailure(code, txID string, mut func(d map[string]any)) domain.Transaction {
	e.t.Helper()
	e.deliver(code, event("evt_"+txID, "payment.failed", txID, mut), e.clock.Now()).Body.Close()
	tx, err := e.store.TransactionByPlatformID(context.Background(), e.m[code].ID, txID)
	if err != nil {
		e.t.Fatal(err)
	}
	return tx
}

// apiFeedbackLink makes a link through the API and returns its path (/f/…).
func (e *env) apiFeedbackLink(key, txID string, extra ...string) (int, map[string]any) {
	e.t.Helper()
	body := map[string]any{"transaction_id": txID}
	for i := 0; i+1 < len(extra); i += 2 {
		body[extra[i]] = extra[i+1]
	}
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/feedback-links", bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func pathOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || !strings.HasPrefix(u.Path, "/f/") {
		t.Fatalf("not a feedback link: %q", link)
	}
	return u.Path
}

// answer is a valid form; fields may be overridden.
func answer(kv ...string) url.Values {
	v := url.Values{"solved": {"no"}, "problem": {"balance"}, "rating": {"4"}, "comment": {""}, "contact": {""}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.store.DB().QueryRow(q, args...).Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// TestFeedbackLinkTravelsWithTheNotice: an e-mail notice carries a link of its own,
// stored only as a hash; the customer answers without any session, changes the
// answer, and the operator sees every version on the payment's timeline, with HTML in
// the comment shown as text. "Charged twice" requests reconciliation.
func TestFeedbackLinkTravelsWithTheNotice(t *testing.T) {
	e := newEnv(t)
	side := e.customerSide("alpha")
	tx := e.feedbackFailure("alpha", "TFB1", nil)
	op := e.login("operator@alpha.test")
	e.post(op, fmt.Sprintf("/transactions/%d/notify", tx.ID), url.Values{"channel": {"email"}, "lang": {"en"}}).Body.Close()
	rows, _, _ := e.store.Notifications(context.Background(), e.m["alpha"].ID, dbNoticeFilter(tx.ID))
	if len(rows) != 1 || e.waitNotice(rows[0].ID).State != domain.NoticeSent {
		t.Fatalf("notice not sent: %+v", rows)
	}
	var mail sandboxMessage
	for _, m := range received(t, side) {
		if m.Channel == "email" {
			mail = m
		}
	}
	m := feedbackURL.FindStringSubmatch(mail.Text)
	if m == nil {
		t.Fatalf("e-mail has no feedback link:\n%s", mail.Text)
	}
	token := m[1]
	// Only the hash is stored, bound to the payment and the notice.
	if n := e.count(`SELECT count(*) FROM feedback_links WHERE token_hash = $1 AND transaction_id = $2 AND notification_id = $3 AND lang = 'en'`,
		domain.HashFeedbackToken(token), tx.ID, rows[0].ID); n != 1 {
		t.Fatal("link not stored by hash with its payment, notice and language")
	}
	if n := e.count(`SELECT count(*) FROM feedback_links WHERE token_hash LIKE '%' || $1 || '%'`, token); n != 0 {
		t.Fatal("the token itself is stored")
	}

	customer := e.browser()
	resp := e.get(customer, "/f/"+token, "Accept-Language", "zh-CN")
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("X-Robots-Tag"), "noindex") || len(resp.Cookies()) != 0 {
		t.Fatalf("form: %d robots=%q cookies=%v", resp.StatusCode, resp.Header.Get("X-Robots-Tag"), resp.Cookies())
	}
	d := doc(t, resp)
	if c, _ := d.Find(`meta[name="robots"]`).Attr("content"); !strings.Contains(c, "noindex") {
		t.Fatal("no meta robots noindex")
	}
	// The notice was in English, so the form is too, whatever the browser says.
	if l, _ := d.Find("html").Attr("lang"); l != "en" || !strings.Contains(d.Find("h1").Text(), "Tell us") {
		t.Fatalf("form language %q %q", l, d.Find("h1").Text())
	}
	if d.Find(tid("fb-order")).Text() != "O-TFB1" {
		t.Fatal("form does not name the order")
	}

	xss := `<script>alert("x")</script><img src=x onerror=alert(1)>`
	resp = e.post(customer, "/f/"+token, answer("problem", "charged_twice", "rating", "2", "comment", xss, "contact", "email"))
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 0 {
		t.Fatalf("submit: %d cookies %v", resp.StatusCode, resp.Cookies())
	}
	d = doc(t, e.get(customer, resp.Header.Get("Location")))
	if d.Find(tid("fb-thanks")).Length() != 1 || d.Find(tid("fb-thanks-recon")).Length() != 1 {
		t.Fatal("no thanks with the reconciliation promise")
	}
	if got := d.Find(tid("fb-comment")).Text(); got != xss {
		t.Fatalf("form does not show the answer back: %q", got)
	}
	var recon *time.Time
	var answers int
	if err := e.store.DB().QueryRow(`SELECT recon_requested_at, answers FROM feedback WHERE transaction_id = $1`, tx.ID).Scan(&recon, &answers); err != nil {
		t.Fatal(err)
	}
	if recon == nil || answers != 1 {
		t.Fatalf("recon %v answers %d", recon, answers)
	}

	// The answer started a reconciliation run for this payment (issue 6's job).
	deadline := time.Now().Add(20 * time.Second)
	for e.count(`SELECT count(*) FROM recon_runs WHERE merchant_id = $1 AND trigger = 'feedback' AND finished_at IS NOT NULL`, e.m["alpha"].ID) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no reconciliation run triggered by the feedback")
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The customer changes the answer: the latest wins, history is kept, the
	// reconciliation request stays as it was.
	e.clock.Advance(time.Hour)
	e.post(customer, "/f/"+token, answer("solved", "yes", "problem", "other", "rating", "5", "comment", "fixed, thanks")).Body.Close()
	var problem string
	var recon2 *time.Time
	e.store.DB().QueryRow(`SELECT problem, answers, recon_requested_at FROM feedback WHERE transaction_id = $1`, tx.ID).Scan(&problem, &answers, &recon2)
	if problem != "other" || answers != 2 || recon2 == nil || !recon2.Equal(*recon) {
		t.Fatalf("after change: %s %d %v", problem, answers, recon2)
	}
	if n := e.count(`SELECT count(*) FROM feedback_answers WHERE merchant_id = $1`, e.m["alpha"].ID); n != 2 {
		t.Fatalf("%d versions kept", n)
	}

	// The operator sees both answers and the reconciliation request on the payment
	// (signing in again: an hour passed, longer than a session may idle).
	op = e.login("operator@alpha.test")
	page := body(t, e.get(op, fmt.Sprintf("/transactions/%d", tx.ID)))
	for _, want := range []string{`data-kind="feedback.received"`, `data-kind="feedback.updated"`, `data-kind="feedback.recon_requested"`,
		"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;", "fixed, thanks"} {
		if !strings.Contains(page, want) {
			t.Errorf("transaction page lacks %s", want)
		}
	}
	if strings.Contains(page, "<script>alert") || strings.Contains(page, "<img src=x") {
		t.Fatal("comment rendered as HTML")
	}
	d = doc(t, e.get(op, "/feedback"))
	if d.Find(tid("feedback-row")).Length() != 1 || !strings.Contains(d.Find(tid("feedback-comment")).Text(), "fixed, thanks") {
		t.Fatal("inbox does not list the answer")
	}
	// The history on the detail page shows the first answer as text.
	id, _ := d.Find(tid("feedback-row")).Attr("data-id")
	detail := body(t, e.get(op, "/feedback/"+id))
	if !strings.Contains(detail, "&lt;script&gt;") || strings.Contains(detail, "<script>alert") {
		t.Fatal("detail history does not show the first comment as text")
	}
}

// TestFeedbackTokenExpiryAndRevocation: links open for 30 days, can be revoked by an
// operator, and unknown, expired or revoked links get a kind page, never an error.
func TestFeedbackTokenExpiryAndRevocation(t *testing.T) {
	e := newEnv(t)
	e.feedbackFailure("alpha", "TFB2", nil)
	key := handlersNewKey(t, e, "alpha")
	status, out := e.apiFeedbackLink(key, "TFB2")
	if status != http.StatusCreated {
		t.Fatalf("api: %d %v", status, out)
	}
	exp, err := time.Parse(time.RFC3339Nano, fmt.Sprint(out["expires_at"]))
	if d := exp.Sub(e.clock.Now()) - domain.FeedbackLinkTTL; err != nil || d > time.Millisecond || d < -time.Millisecond {
		t.Fatalf("expires_at %v (%v)", out["expires_at"], err)
	}
	path := pathOf(t, fmt.Sprint(out["url"]))
	customer := e.browser()
	if r := e.get(customer, path); r.StatusCode != http.StatusOK {
		t.Fatalf("fresh link: %d", r.StatusCode)
	}
	e.clock.Advance(domain.FeedbackLinkTTL - time.Minute)
	if r := e.get(customer, path); r.StatusCode != http.StatusOK {
		t.Fatalf("link a minute before expiry: %d", r.StatusCode)
	}
	e.clock.Advance(time.Minute + time.Millisecond) // the database keeps microseconds, rounded
	d := doc(t, e.get(customer, path))
	if k, _ := d.Find(tid("fb-gone")).Attr("data-kind"); k != "expired" {
		t.Fatalf("expired link page kind %q", k)
	}
	resp := e.post(customer, path, answer())
	resp.Body.Close()
	if resp.StatusCode != http.StatusGone || e.count(`SELECT count(*) FROM feedback`) != 0 {
		t.Fatalf("answer on expired link: %d", resp.StatusCode)
	}

	// A fresh link, revoked by an operator, closes at once.
	_, out = e.apiFeedbackLink(key, "TFB2", "lang", "zh-CN")
	path = pathOf(t, fmt.Sprint(out["url"]))
	var linkID int64
	e.store.DB().QueryRow(`SELECT id FROM feedback_links WHERE token_hash = $1`, domain.HashFeedbackToken(strings.TrimPrefix(path, "/f/"))).Scan(&linkID)
	viewer := e.login("viewer@alpha.test")
	if r := e.post(viewer, fmt.Sprintf("/feedback/links/%d/revoke", linkID), nil); r.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer revoked: %d", r.StatusCode)
	}
	op := e.login("operator@alpha.test")
	if r := e.post(op, fmt.Sprintf("/feedback/links/%d/revoke", linkID), nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("revoke: %d", r.StatusCode)
	}
	r := e.get(customer, path)
	d = doc(t, r)
	if k, _ := d.Find(tid("fb-gone")).Attr("data-kind"); r.StatusCode != http.StatusGone || k != "revoked" {
		t.Fatalf("revoked link: %d %q", r.StatusCode, k)
	}
	if l, _ := d.Find("html").Attr("lang"); l != "zh-CN" || !strings.Contains(d.Text(), "此链接已关闭") {
		t.Fatalf("revoked page not in the link's language: %q", l)
	}
	if n := e.count(`SELECT count(*) FROM audit_log WHERE action = 'feedback.link.revoke'`); n != 1 {
		t.Fatalf("%d revoke audit entries", n)
	}
	for _, p := range []string{"/f/AAAAAAAAAAAAAAAAAAAAAA", "/f/short", "/f/" + strings.Repeat("x", 300)} {
		r := e.get(customer, p)
		d := doc(t, r)
		if k, _ := d.Find(tid("fb-gone")).Attr("data-kind"); r.StatusCode != http.StatusNotFound || k != "unknown" {
			t.Fatalf("%s: %d %q", p, r.StatusCode, k)
		}
	}
	// The API refuses other merchants' payments and junk.
	if s, _ := e.apiFeedbackLink(key, "TNOPE"); s != http.StatusNotFound {
		t.Fatalf("unknown payment: %d", s)
	}
	if s, _ := e.apiFeedbackLink(key, "TFB2", "lang", "fr"); s != http.StatusUnprocessableEntity {
		t.Fatalf("bad lang: %d", s)
	}
}

// TestFeedbackFormValidationInBothLanguages: every field is checked and the form
// says what to fix in the customer's language (the browser's, when the link has
// none), keeping what was typed.
func TestFeedbackFormValidationInBothLanguages(t *testing.T) {
	e := newEnv(t)
	e.feedbackFailure("alpha", "TFB3", nil)
	_, out := e.apiFeedbackLink(handlersNewKey(t, e, "alpha"), "TFB3")
	path := pathOf(t, fmt.Sprint(out["url"]))
	c := e.browser()
	for _, tc := range []struct {
		accept string
		want   []string
	}{
		{"en-US,en;q=0.9", []string{"Please say whether the problem was solved", "Please choose what happened", "Please choose a rating from 1 to 5"}},
		{"zh-CN,zh;q=0.9", []string{"请选择问题是否已解决", "请选择发生了什么", "请选择 1 到 5 星"}},
	} {
		resp := e.post(c, path, url.Values{"comment": {"我的银行卡"}, "contact": {""}}, "Accept-Language", tc.accept)
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Fatalf("%s: %d", tc.accept, resp.StatusCode)
		}
		d := doc(t, resp)
		errs := d.Find(tid("fb-errors")).Text()
		for _, w := range tc.want {
			if !strings.Contains(errs, w) {
				t.Errorf("%s: errors lack %q: %s", tc.accept, w, errs)
			}
		}
		if d.Find(tid("fb-comment")).Text() != "我的银行卡" {
			t.Errorf("%s: the comment typed was lost", tc.accept)
		}
		if d.Find(tid("fb-error-rating")).Length() != 1 || d.Find("#fb-rating[aria-describedby]").Length() != 1 {
			t.Errorf("%s: the rating's error is not tied to the field", tc.accept)
		}
	}
	for _, tc := range []struct {
		form  url.Values
		field string
	}{
		{answer("rating", "6"), "rating"},
		{answer("rating", "0"), "rating"},
		{answer("problem", "hacked"), "problem"},
		{answer("solved", "maybe"), "solved"},
		{answer("contact", "fax"), "contact"},
		{answer("comment", strings.Repeat("长", 1001)), "comment"},
	} {
		d := doc(t, e.post(c, path+"?lang=en", tc.form))
		if d.Find(tid("fb-error-"+tc.field)).Length() != 1 {
			t.Errorf("%v: no error on %s", tc.form, tc.field)
		}
	}
	if n := e.count(`SELECT count(*) FROM feedback`); n != 0 {
		t.Fatalf("%d invalid answers stored", n)
	}
	// 1,000 characters exactly are fine.
	resp := e.post(c, path, answer("comment", strings.Repeat("长", 1000)))
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("1000-character comment: %d", resp.StatusCode)
	}
	// A body over the form's size limit is refused before anything is read.
	big := answer("comment", strings.Repeat("x", 40_000))
	if r := e.post(c, path, big); r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("40 KB body: %d", r.StatusCode)
	}
}

// TestFeedbackRateLimitsAndHoneypot: a filled honeypot is thanked and dropped;
// answers per link and per client address are limited.
func TestFeedbackRateLimitsAndHoneypot(t *testing.T) {
	e := newEnv(t)
	key := handlersNewKey(t, e, "alpha")
	var paths []string
	for i := range 3 {
		id := fmt.Sprintf("TFB4%d", i)
		e.feedbackFailure("alpha", id, nil)
		_, out := e.apiFeedbackLink(key, id)
		paths = append(paths, pathOf(t, fmt.Sprint(out["url"])))
	}
	c := e.browser()
	resp := e.post(c, paths[0], answer("website", "http://spam.example"))
	d := doc(t, resp)
	if resp.StatusCode != http.StatusOK || d.Find(tid("fb-thanks")).Length() != 1 {
		t.Fatalf("honeypot: %d", resp.StatusCode)
	}
	if n := e.count(`SELECT count(*) FROM feedback`); n != 0 {
		t.Fatal("honeypot answer stored")
	}
	// Per link: 10 posts an hour (the honeypot one counted).
	for i := 2; i <= 10; i++ {
		r := e.post(c, paths[0], answer("rating", fmt.Sprint(1+i%5)))
		r.Body.Close()
		if r.StatusCode != http.StatusSeeOther {
			t.Fatalf("post %d: %d", i, r.StatusCode)
		}
	}
	r := e.post(c, paths[0], answer())
	d = doc(t, r)
	if k, _ := d.Find(tid("fb-gone")).Attr("data-kind"); r.StatusCode != http.StatusTooManyRequests || k != "limited" || r.Header.Get("Retry-After") == "" {
		t.Fatalf("11th post on one link: %d %q", r.StatusCode, k)
	}
	// Per address: 20 posts in 10 minutes over any links.
	for i := 12; i <= 20; i++ {
		r := e.post(c, paths[1], answer())
		r.Body.Close()
		if r.StatusCode != http.StatusSeeOther {
			t.Fatalf("post %d: %d", i, r.StatusCode)
		}
	}
	if r := e.post(c, paths[2], answer()); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("21st post from one address: %d", r.StatusCode)
	}
	if n := e.count(`SELECT count(*) FROM feedback WHERE link_id = (SELECT id FROM feedback_links WHERE token_hash = $1)`,
		domain.HashFeedbackToken(strings.TrimPrefix(paths[2], "/f/"))); n != 0 {
		t.Fatal("a limited post was stored")
	}
	// Windows pass.
	e.clock.Advance(time.Hour)
	if r := e.post(c, paths[2], answer()); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("after the window: %d", r.StatusCode)
	}
}

// TestFeedbackFormIsCSRFSafe: Go's cross-origin protection covers the public form:
// a same-origin browser post is taken, a cross-site one refused.
func TestFeedbackFormIsCSRFSafe(t *testing.T) {
	e := newEnv(t)
	e.feedbackFailure("alpha", "TFB5", nil)
	_, out := e.apiFeedbackLink(handlersNewKey(t, e, "alpha"), "TFB5")
	path := pathOf(t, fmt.Sprint(out["url"]))
	c := e.browser()
	r := e.post(c, path, answer(), "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")
	r.Body.Close()
	if r.StatusCode != http.StatusForbidden || e.count(`SELECT count(*) FROM feedback`) != 0 {
		t.Fatalf("cross-site post: %d", r.StatusCode)
	}
	r = e.post(c, path, answer(), "Sec-Fetch-Site", "same-origin", "Origin", e.srv.URL)
	r.Body.Close()
	if r.StatusCode != http.StatusSeeOther || e.count(`SELECT count(*) FROM feedback`) != 1 {
		t.Fatalf("same-origin post: %d", r.StatusCode)
	}
}

// feedbackAnswered gives merchant code a payment with an answered link.
func (e *env) feedbackAnswered(key, code, txID string, mut func(d map[string]any), form url.Values) int64 {
	e.t.Helper()
	e.feedbackFailure(code, txID, mut)
	_, out := e.apiFeedbackLink(key, txID)
	path := pathOf(e.t.(*testing.T), fmt.Sprint(out["url"]))
	r := e.post(e.browser(), path, form)
	r.Body.Close()
	if r.StatusCode != http.StatusSeeOther {
		e.t.Fatalf("answer %s: %d", txID, r.StatusCode)
	}
	var id int64
	e.store.DB().QueryRow(`SELECT f.id FROM feedback f JOIN transactions t ON t.id = f.transaction_id WHERE t.platform_id = $1 AND t.merchant_id = $2`,
		txID, e.m[code].ID).Scan(&id)
	return id
}

// TestFeedbackInboxIsScopedByMerchant: each merchant sees and works only its own
// answers, through every inbox route and the API.
func TestFeedbackInboxIsScopedByMerchant(t *testing.T) {
	e := newEnv(t)
	alphaKey, betaKey := handlersNewKey(t, e, "alpha"), handlersNewKey(t, e, "beta")
	aID := e.feedbackAnswered(alphaKey, "alpha", "TFBA", nil, answer("comment", "alpha secret comment"))
	e.feedbackAnswered(betaKey, "beta", "TFBB", nil, answer("comment", "beta comment"))
	beta := e.login("operator@beta.test")
	page := body(t, e.get(beta, "/feedback"))
	if strings.Contains(page, "alpha secret comment") || !strings.Contains(page, "beta comment") {
		t.Fatal("beta's inbox shows alpha's answer or lacks its own")
	}
	for _, p := range []string{"/feedback/links", "/feedback/summary", "/feedback?status=new"} {
		if b := body(t, e.get(beta, p)); strings.Contains(b, "TFBA") || strings.Contains(b, "alpha secret") {
			t.Fatalf("%s shows alpha's data", p)
		}
	}
	id := fmt.Sprint(aID)
	if r := e.get(beta, "/feedback/"+id); r.StatusCode != http.StatusNotFound {
		t.Fatalf("beta reads alpha's answer: %d", r.StatusCode)
	}
	for _, p := range []string{"/status", "/assign", "/notes", "/reply"} {
		r := e.post(beta, "/feedback/"+id+p, url.Values{"status": {"closed"}, "user_id": {"0"}, "body": {"x"}, "channel": {"sms"}})
		r.Body.Close()
		if r.StatusCode != http.StatusNotFound {
			t.Fatalf("beta %s on alpha's answer: %d", p, r.StatusCode)
		}
	}
	var linkID int64
	e.store.DB().QueryRow(`SELECT link_id FROM feedback WHERE id = $1`, aID).Scan(&linkID)
	if r := e.post(beta, fmt.Sprintf("/feedback/links/%d/revoke", linkID), nil); r.StatusCode != http.StatusNotFound {
		t.Fatalf("beta revokes alpha's link: %d", r.StatusCode)
	}
	if s, _ := e.apiFeedbackLink(betaKey, "TFBA"); s != http.StatusNotFound {
		t.Fatalf("beta's key makes a link for alpha's payment: %d", s)
	}
	var status string
	var revoked *time.Time
	e.store.DB().QueryRow(`SELECT f.status, l.revoked_at FROM feedback f JOIN feedback_links l ON l.id = f.link_id WHERE f.id = $1`, aID).Scan(&status, &revoked)
	if status != "new" || revoked != nil || e.count(`SELECT count(*) FROM feedback_notes`) != 0 {
		t.Fatal("alpha's answer changed through beta")
	}
	// Beta cannot assign alpha's answer to its own user, nor alpha's to beta's.
	alpha := e.login("operator@alpha.test")
	r := e.post(alpha, "/feedback/"+id+"/assign", url.Values{"user_id": {fmt.Sprint(e.users["operator@beta.test"].ID)}})
	r.Body.Close()
	if r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("assigned to another merchant's user: %d", r.StatusCode)
	}
}

// TestFeedbackInboxWorkflow: filters, status, assignment, notes, and a reply that goes
// out through the notification queue and lands on the timeline.
func TestFeedbackInboxWorkflow(t *testing.T) {
	e := newEnv(t)
	side := e.customerSide("alpha")
	key := handlersNewKey(t, e, "alpha")
	id1 := e.feedbackAnswered(key, "alpha", "TFW1", nil, answer("problem", "timeout", "rating", "1", "contact", "email", "lang", "en"))
	e.feedbackAnswered(key, "alpha", "TFW2", func(d map[string]any) { d["code"] = "301" }, answer("solved", "yes", "problem", "verification", "rating", "5"))
	e.feedbackAnswered(key, "alpha", "TFW3", nil, answer("problem", "charged_no_order", "rating", "3"))
	op := e.login("operator@alpha.test")
	for _, tc := range []struct {
		q    string
		want int
	}{
		{"", 3}, {"?problem=timeout", 1}, {"?rating=5", 1}, {"?solved=yes", 1}, {"?solved=no", 2}, {"?code=301", 1},
		{"?code=101&rating=3", 1}, {"?status=new", 3}, {"?status=closed", 0},
		{"?from=" + e.clock.Now().In(domain.ShanghaiZone()).Format("2006-01-02"), 3},
		{"?to=" + e.clock.Now().In(domain.ShanghaiZone()).AddDate(0, 0, -1).Format("2006-01-02"), 0},
	} {
		d := doc(t, e.get(op, "/feedback"+tc.q))
		if n := d.Find(tid("feedback-row")).Length(); n != tc.want {
			t.Errorf("/feedback%s: %d rows, want %d", tc.q, n, tc.want)
		}
	}
	if r := e.get(op, "/feedback?rating=9"); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad filter: %d", r.StatusCode)
	}
	// htmx asks for the table only.
	frag := body(t, e.get(op, "/feedback?problem=timeout", "HX-Request", "true"))
	if !strings.HasPrefix(strings.TrimSpace(frag), `<div id="feedback-table"`) {
		t.Fatalf("htmx answer is not the table fragment: %.80s", frag)
	}
	p := fmt.Sprintf("/feedback/%d", id1)
	viewer := e.login("viewer@alpha.test")
	if r := e.post(viewer, p+"/status", url.Values{"status": {"closed"}}); r.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer changed status: %d", r.StatusCode)
	}
	if d := doc(t, e.get(viewer, p)); d.Find(tid("feedback-reply-form")).Length() != 0 {
		t.Fatal("viewer is offered the reply form")
	}
	me := e.users["operator@alpha.test"]
	for _, step := range []struct {
		path string
		form url.Values
	}{
		{"/assign", url.Values{"user_id": {fmt.Sprint(me.ID)}}},
		{"/notes", url.Values{"body": {"checked with the bank <b>ok</b>"}}},
		{"/reply", url.Values{"channel": {"email"}, "body": {"Sorry about the timeout. Your order is saved; please try again."}}},
	} {
		r := e.post(op, p+step.path, step.form)
		r.Body.Close()
		if r.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: %d", step.path, r.StatusCode)
		}
	}
	if d := doc(t, e.get(op, "/feedback?mine=1")); d.Find(tid("feedback-row")).Length() != 1 {
		t.Fatal("mine filter")
	}
	// The reply moved the answer to in progress and went out as a notice.
	var noticeID int64
	e.store.DB().QueryRow(`SELECT notification_id FROM feedback_notes WHERE feedback_id = $1 AND kind = 'reply'`, id1).Scan(&noticeID)
	if n := e.waitNotice(noticeID); n.State != domain.NoticeSent || n.Lang != "en" || !strings.Contains(n.Subject, "About your payment feedback") {
		t.Fatalf("reply notice %+v", n)
	}
	got := false
	for _, m := range received(t, side) {
		if m.Channel == "email" && strings.Contains(m.Text, "Sorry about the timeout") {
			got = true
		}
	}
	if !got {
		t.Fatal("the customer did not get the reply")
	}
	d := doc(t, e.get(op, p))
	if st := d.Find(tid("feedback-status")).Text(); st != "处理中" {
		t.Fatalf("status after reply %q", st)
	}
	kinds := d.Find(tid("feedback-note-entry")).Map(func(_ int, s *goquery.Selection) string { k, _ := s.Attr("data-kind"); return k })
	if strings.Join(kinds, ",") != "assign,note,reply,status" {
		t.Fatalf("work log %v", kinds)
	}
	if !strings.Contains(body(t, e.get(op, p)), "checked with the bank &lt;b&gt;ok&lt;/b&gt;") {
		t.Fatal("note not shown as text")
	}
	// Close it; closing again changes nothing.
	e.post(op, p+"/status", url.Values{"status": {"closed"}}).Body.Close()
	e.post(op, p+"/status", url.Values{"status": {"closed"}}).Body.Close()
	if n := e.count(`SELECT count(*) FROM feedback_notes WHERE feedback_id = $1 AND kind = 'status'`, id1); n != 2 {
		t.Fatalf("%d status notes", n)
	}
	var txID int64
	e.store.DB().QueryRow(`SELECT transaction_id FROM feedback WHERE id = $1`, id1).Scan(&txID)
	if n := e.count(`SELECT count(*) FROM timeline WHERE transaction_id = $1 AND kind = 'feedback.reply'`, txID); n != 1 {
		t.Fatal("reply not on the timeline")
	}
	for _, a := range []string{"feedback.assign", "feedback.note", "feedback.reply", "feedback.status", "feedback.submit"} {
		if e.count(`SELECT count(*) FROM audit_log WHERE action = $1`, a) == 0 {
			t.Errorf("no audit entry %s", a)
		}
	}
	// "Charged but no order" requested reconciliation.
	if n := e.count(`SELECT count(*) FROM feedback WHERE recon_requested_at IS NOT NULL`); n != 1 {
		t.Fatalf("%d reconciliation requests", n)
	}
	// Validation of the reply.
	r := e.post(op, p+"/reply", url.Values{"channel": {"email"}, "body": {"  "}})
	r.Body.Close()
	if r.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("empty reply: %d", r.StatusCode)
	}
}

// TestFeedbackFigures: response rate, share solved, average rating per code and
// channel, most frequent problems — on the summary fragment and the code page.
func TestFeedbackFigures(t *testing.T) {
	e := newEnv(t)
	key := handlersNewKey(t, e, "alpha")
	e.feedbackAnswered(key, "alpha", "TFS1", nil, answer("rating", "5", "solved", "yes", "problem", "balance"))
	e.feedbackAnswered(key, "alpha", "TFS2", nil, answer("rating", "2", "problem", "balance"))
	e.feedbackAnswered(key, "alpha", "TFS3", func(d map[string]any) { d["code"] = "301"; d["channel"] = "wechat" }, answer("rating", "3", "problem", "verification"))
	e.feedbackFailure("alpha", "TFS4", nil)
	e.apiFeedbackLink(key, "TFS4") // sent, not answered
	op := e.login("viewer@alpha.test")
	resp := e.get(op, "/feedback/summary", "HX-Request", "true")
	d := doc(t, resp)
	if d.Find(tid("nav")).Length() != 0 {
		t.Fatal("htmx summary is a whole page")
	}
	kpi := func(id string) string { return strings.TrimSpace(d.Find(tid(id) + " .kpi-value").Text()) }
	if kpi("fs-links") != "4" || kpi("fs-answers") != "3" || kpi("fs-rate") != "75%" || kpi("fs-solved") != "33%" || kpi("fs-rating") != "3.3" {
		t.Fatalf("figures %s %s %s %s %s", kpi("fs-links"), kpi("fs-answers"), kpi("fs-rate"), kpi("fs-solved"), kpi("fs-rating"))
	}
	if first, _ := d.Find(tid("fs-problems") + " li").First().Attr("data-problem"); first != "balance" {
		t.Fatalf("most frequent problem %q", first)
	}
	row := d.Find(tid("fs-by-code") + ` tr[data-key="101"]`).Text()
	if !strings.Contains(row, "67%") || !strings.Contains(row, "3.5") {
		t.Fatalf("code 101 row %q", row)
	}
	if d.Find(tid("fs-by-channel")+` tr[data-key="wechat"]`).Length() != 1 || d.Find(tid("fs-by-notice")+` tr[data-key="api"]`).Length() != 1 {
		t.Fatal("per channel rows missing")
	}
	// The dashboard's compact form: figures and problems, no tables.
	d2 := doc(t, e.get(op, "/feedback/summary?compact=1", "HX-Request", "true"))
	if d2.Find(tid("fs-rate")).Length() != 1 || d2.Find(tid("fs-groups")).Length() != 0 || d2.Find(tid("fs-open-inbox")).Length() != 1 {
		t.Fatal("compact summary")
	}
	// Without htmx it is a page of its own.
	if d := doc(t, e.get(op, "/feedback/summary?period=7d")); d.Find(tid("nav")).Length() != 1 || d.Find(tid("feedback-summary")).Length() != 1 {
		t.Fatal("summary page")
	}
	// The code page shows the code's own figures.
	d = doc(t, e.get(op, "/codes/301"))
	panel := d.Find(tid("feedback-summary"))
	if strings.TrimSpace(panel.Find(tid("fs-answers")+" .kpi-value").Text()) != "1" || strings.TrimSpace(panel.Find(tid("fs-rating")+" .kpi-value").Text()) != "3.0" {
		t.Fatalf("code page panel: %q", panel.Text())
	}
}
