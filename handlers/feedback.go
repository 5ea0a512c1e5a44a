package handlers

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"paymend/db"
	"paymend/domain"
	"paymend/i18n"
	"paymend/views"
	"paymend/web"
)

// Feedback is customer feedback (issue 9): the public form behind the link each
// notice carries, the operators' inbox, the figures, and the links API.
type Feedback struct{ Deps }

// Limits of the public form. Counters live in the database (rate_limits), so every
// replica shares them.
const (
	feedbackViewsPerIP   = 120 // GET /f/… per client IP per minute
	feedbackPostsPerIP   = 20  // POST /f/… per client IP per 10 minutes
	feedbackPostsPerLink = 10  // POST /f/{token} per link per hour
	feedbackBodyLimit    = "16K"
	maxReply             = 1000
	maxNote              = 2000
)

// Routes registers the public form outside the console's session group (no
// session is read or written, no cookie is set), the inbox for signed-in users
// (changes for operators), and the API.
func (h *Feedback) Routes() {
	pub := h.App.Echo.Group("/f", publicHeaders, middleware.BodyLimit(feedbackBodyLimit))
	pub.GET("/:token", h.Form)
	pub.POST("/:token", h.Submit)

	op := web.RequireRole(domain.RoleOperator)
	g := h.App.Console.Group("/feedback")
	g.GET("", h.Inbox)
	g.GET("/summary", h.Summary)
	g.GET("/links", h.Links)
	g.POST("/links/:id/revoke", h.Revoke, op)
	g.GET("/:id", h.Show)
	g.POST("/:id/status", h.SetStatus, op)
	g.POST("/:id/assign", h.Assign, op)
	g.POST("/:id/notes", h.AddNote, op)
	g.POST("/:id/reply", h.Reply, op)

	h.App.API.POST("/feedback-links", h.APICreateLink)
}

// feedbackTTL is how long a new feedback link stays open.
func (d Deps) feedbackTTL() time.Duration {
	if d.FeedbackTTL > 0 {
		return d.FeedbackTTL
	}
	return domain.FeedbackLinkTTL
}

// publicHeaders keeps the form out of search engines and its token out of Referer
// headers.
func publicHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		hd := c.Response().Header()
		hd.Set("X-Robots-Tag", "noindex, nofollow")
		hd.Set("Referrer-Policy", "no-referrer")
		return next(c)
	}
}

// ---------------------------------------------------------------------------
// Public form

// publicLang is the form's language: an explicit choice on the page, else the
// notice's language bound to the link, else the browser's.
func publicLang(c echo.Context, link *domain.FeedbackLink) i18n.Lang {
	for _, s := range []string{c.QueryParam("lang"), c.Request().PostFormValue("lang")} {
		if l, ok := i18n.Parse(s); ok && s != "" {
			return l
		}
	}
	if link != nil {
		if l, ok := i18n.Parse(link.Lang); ok && link.Lang != "" {
			return l
		}
	}
	return i18n.FromAcceptLanguage(c.Request().Header.Get("Accept-Language"))
}

func withPublicLang(c echo.Context, l i18n.Lang) {
	r := c.Request()
	c.SetRequest(r.WithContext(i18n.WithLang(r.Context(), l)))
}

// gone answers with the kind page: 404 for an unknown link, 410 for one that
// expired or was revoked, 429 when a client is over its limit.
func gone(c echo.Context, l i18n.Lang, kind string) error {
	withPublicLang(c, l)
	status := http.StatusNotFound
	switch kind {
	case "expired", "revoked":
		status = http.StatusGone
	case "limited":
		status = http.StatusTooManyRequests
		c.Response().Header().Set("Retry-After", "600")
	}
	return web.Render(c, status, views.FeedbackGonePage(views.FeedbackGoneView{Lang: string(l), Kind: kind}), nil)
}

// openLink finds the link named in the URL and checks it can be answered. It
// returns a rendered kind page (done=true) when it cannot.
func (h *Feedback) openLink(c echo.Context) (domain.FeedbackLink, bool, error) {
	tok := c.Param("token")
	if !domain.WellFormedFeedbackToken(tok) {
		return domain.FeedbackLink{}, true, gone(c, publicLang(c, nil), "unknown")
	}
	link, err := h.Store.FeedbackLinkByHash(c.Request().Context(), domain.HashFeedbackToken(tok))
	if errors.Is(err, db.ErrNotFound) {
		return link, true, gone(c, publicLang(c, nil), "unknown")
	}
	if err != nil {
		return link, true, err
	}
	if st := link.State(h.now()); st != domain.FeedbackLinkOpen {
		return link, true, gone(c, publicLang(c, &link), string(st))
	}
	return link, false, nil
}

// hit counts one request against a public limit; false means over it.
func (h *Feedback) hit(c echo.Context, key string, window time.Duration, limit int) (bool, error) {
	return h.Store.HitRateLimit(c.Request().Context(), key, window, limit, h.now())
}

// publicView fills the form's frame: merchant, order, amount, expiry.
func (h *Feedback) publicView(ctx context.Context, link domain.FeedbackLink, l i18n.Lang) (views.PublicFeedbackView, error) {
	m, err := h.Store.Merchant(ctx, link.MerchantID)
	if err != nil {
		return views.PublicFeedbackView{}, err
	}
	tx, err := h.Store.Transaction(ctx, link.MerchantID, link.TransactionID)
	if err != nil {
		return views.PublicFeedbackView{}, err
	}
	return views.PublicFeedbackView{Lang: string(l), Merchant: m.Name, OrderID: tx.OrderID,
		Amount: domain.FormatMessageAmount(tx.Money(), string(l)),
		Until:  domain.FormatMessageTime(link.ExpiresAt, m.Location(), string(l))}, nil
}

func formOf(f domain.Feedback) domain.FeedbackForm {
	solved := "no"
	if f.Solved {
		solved = "yes"
	}
	return domain.FeedbackForm{Solved: solved, Problem: string(f.Problem), Rating: strconv.Itoa(f.Rating),
		Comment: f.Comment, Contact: f.Contact}
}

// Form shows the feedback form, prefilled with the latest answer when there is one.
func (h *Feedback) Form(c echo.Context) error {
	if ok, err := h.hit(c, "fb-view:"+web.ClientIP(c), time.Minute, feedbackViewsPerIP); err != nil {
		return err
	} else if !ok {
		return gone(c, publicLang(c, nil), "limited")
	}
	link, done, err := h.openLink(c)
	if done || err != nil {
		return err
	}
	l := publicLang(c, &link)
	withPublicLang(c, l)
	ctx := c.Request().Context()
	v, err := h.publicView(ctx, link, l)
	if err != nil {
		return err
	}
	v.Token = c.Param("token")
	f, err := h.Store.FeedbackForLink(ctx, link.MerchantID, link.ID)
	switch {
	case err == nil:
		v.HasAnswer, v.Form = true, formOf(f)
		v.Saved = c.QueryParam("saved") == "1"
		v.Recon, v.Contact = f.Problem.NeedsReconciliation(), f.Contact != ""
	case errors.Is(err, db.ErrNotFound):
	default:
		return err
	}
	return web.Render(c, http.StatusOK, views.PublicFeedbackPage(v), nil)
}

// Submit stores the customer's answer (the latest wins; every version is kept),
// or shows the form again with what to fix. A filled honeypot gets the thanks page
// and stores nothing.
func (h *Feedback) Submit(c echo.Context) error {
	if ok, err := h.hit(c, "fb-post:"+web.ClientIP(c), 10*time.Minute, feedbackPostsPerIP); err != nil {
		return err
	} else if !ok {
		return gone(c, publicLang(c, nil), "limited")
	}
	link, done, err := h.openLink(c)
	if done || err != nil {
		return err
	}
	tok := c.Param("token")
	if ok, err := h.hit(c, "fb-link:"+domain.HashFeedbackToken(tok)[:24], time.Hour, feedbackPostsPerLink); err != nil {
		return err
	} else if !ok {
		return gone(c, publicLang(c, &link), "limited")
	}
	l := publicLang(c, &link)
	withPublicLang(c, l)
	ctx := c.Request().Context()
	v, err := h.publicView(ctx, link, l)
	if err != nil {
		return err
	}
	v.Token = tok
	form := domain.FeedbackForm{Solved: c.FormValue("solved"), Problem: c.FormValue("problem"),
		Rating: c.FormValue("rating"), Comment: c.FormValue("comment"), Contact: c.FormValue("contact")}
	v.Form = form
	if c.FormValue("website") != "" {
		// A bot filled the field people cannot see: thank it and keep nothing.
		h.Log.Info("feedback honeypot", "link", link.ID, "request_id", web.RequestID(c))
		v.Saved = true
		return web.Render(c, http.StatusOK, views.PublicFeedbackPage(v), nil)
	}
	answer, errs := form.Validate()
	if len(errs) > 0 {
		v.Errors = errs
		_, ferr := h.Store.FeedbackForLink(ctx, link.MerchantID, link.ID)
		v.HasAnswer = ferr == nil
		return web.Render(c, http.StatusUnprocessableEntity, views.PublicFeedbackPage(v), nil)
	}
	res, err := h.Store.SubmitFeedback(ctx, link.MerchantID, link.ID, answer, string(l), h.now())
	if errors.Is(err, db.ErrConflict) {
		// Revoked or expired between the check and the save.
		return gone(c, l, "revoked")
	}
	if err != nil {
		return err
	}
	if res.ReconOpened && h.Recons != nil {
		// Check this payment's order now (issue 6's reconciliation, trigger
		// "feedback"). recon_requested_at already records the request durably; a
		// failed enqueue is logged and the next scheduled run covers the order.
		if err := h.Recons.EnqueueRecon(context.WithoutCancel(ctx), link.MerchantID, "feedback", []int64{link.TransactionID}); err != nil {
			h.Log.Error("feedback: reconciliation not queued", "err", err, "link", link.ID, "request_id", web.RequestID(c))
		}
	}
	e := web.AuditEntry(c, "feedback.submit", link.PlatformID, domain.AuditOK)
	e.Actor = "customer"
	h.auditFor(c, link.MerchantID, e, map[string]any{"feedback_id": res.Feedback.ID, "problem": answer.Problem,
		"rating": answer.Rating, "first": res.First, "reconciliation": res.ReconOpened})
	return c.Redirect(http.StatusSeeOther, "/f/"+tok+"?saved=1&lang="+url.QueryEscape(string(l)))
}

// ---------------------------------------------------------------------------
// Inbox

// feedbackPeriods are the figures' periods.
var feedbackPeriods = map[string]time.Duration{"7d": 7 * 24 * time.Hour, "30d": 30 * 24 * time.Hour, "90d": 90 * 24 * time.Hour}

// summary computes the figures panel for a period ending now.
func (h *Feedback) summary(c echo.Context, period string) (views.FeedbackSummaryView, error) {
	d, ok := feedbackPeriods[period]
	if !ok {
		period, d = "30d", feedbackPeriods["30d"]
	}
	to := h.now().UTC().Truncate(time.Minute).Add(time.Minute)
	s, err := h.Store.FeedbackStats(c.Request().Context(), web.MerchantID(c), to.Add(-d), to, "")
	return views.FeedbackSummaryView{S: s, Period: period}, err
}

// Summary is the figures panel: an htmx fragment for the dashboard
// (hx-get="/feedback/summary"), or a page of its own without htmx.
func (h *Feedback) Summary(c echo.Context) error {
	v, err := h.summary(c, c.QueryParam("period"))
	if err != nil {
		return err
	}
	v.Compact = c.QueryParam("compact") == "1"
	shell := web.Shell(c, "feedback", web.T(c, "feedback.sum.title"))
	return web.Render(c, http.StatusOK, views.FeedbackSummaryPage(shell, v), views.FeedbackSummary(v))
}

// parseFeedbackFilter reads the inbox's query; ok is false when a value is invalid.
func parseFeedbackFilter(q url.Values, p web.Principal) (db.FeedbackFilter, bool) {
	f := db.FeedbackFilter{Code: strings.TrimSpace(q.Get("code")), Problem: q.Get("problem"), Solved: q.Get("solved"),
		Status: q.Get("status")}
	ok := true
	if f.Code != "" && !domain.ValidCode(f.Code) {
		ok = false
	}
	if f.Problem != "" && !domain.FeedbackProblem(f.Problem).Valid() {
		ok = false
	}
	if f.Status != "" && !domain.ValidFeedbackStatus(f.Status) {
		ok = false
	}
	if f.Solved != "" && f.Solved != "yes" && f.Solved != "no" {
		ok = false
	}
	if r := q.Get("rating"); r != "" {
		n, err := strconv.Atoi(r)
		if err != nil || n < 1 || n > 5 {
			ok = false
		}
		f.Rating = n
	}
	loc := p.Merchant.Location()
	for _, d := range []struct {
		name string
		dst  **time.Time
		add  int
	}{{"from", &f.From, 0}, {"to", &f.To, 1}} {
		if s := q.Get(d.name); s != "" {
			t, err := time.ParseInLocation("2006-01-02", s, loc)
			if err != nil {
				ok = false
				continue
			}
			t = t.AddDate(0, 0, d.add)
			*d.dst = &t
		}
	}
	if q.Get("mine") == "1" {
		f.AssigneeID = p.User.ID
	}
	cur, err := domain.DecodeCursor(q.Get("cursor"))
	if err != nil {
		ok = false
	}
	f.Cursor = cur
	return f, ok
}

// Inbox lists the answers with filters and the figures.
func (h *Feedback) Inbox(c echo.Context) error {
	p := web.MustPrincipal(c)
	q := c.QueryParams()
	v := views.FeedbackInboxView{Query: q, Me: p.User.ID}
	status := http.StatusOK
	f, ok := parseFeedbackFilter(q, p)
	if !ok {
		status, v.Error = http.StatusBadRequest, web.T(c, "error.bad_filter")
	} else {
		rows, next, err := h.Store.FeedbackList(c.Request().Context(), p.Merchant.ID, f)
		if err != nil {
			return err
		}
		v.Rows, v.Next = rows, next.Encode()
	}
	shell := web.Shell(c, "feedback", web.T(c, "feedback.title"))
	if web.IsHTMX(c.Request()) {
		// Only the table is swapped: the figures are not needed.
		return web.Render(c, status, views.FeedbackTable(shell, v), views.FeedbackTable(shell, v))
	}
	sum, err := h.summary(c, "30d")
	if err != nil {
		return err
	}
	v.Summary = sum
	v.Summary.Collapse = true
	return web.Render(c, status, views.FeedbackInboxPage(shell, v), views.FeedbackTable(shell, v))
}

// loadFeedback reads the :id of the request's merchant.
func (h *Feedback) loadFeedback(c echo.Context) (domain.Feedback, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return domain.Feedback{}, web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	f, err := h.Store.Feedback(c.Request().Context(), web.MerchantID(c), id)
	if errors.Is(err, db.ErrNotFound) {
		return f, web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	return f, err
}

// replyChannels are the channels that reach the payment's customer.
func replyChannels(tx domain.Transaction) []domain.NotifyChannel {
	var out []domain.NotifyChannel
	for _, ch := range []domain.NotifyChannel{domain.NotifySMS, domain.NotifyEmail, domain.NotifyInApp, domain.NotifyPhone} {
		if domain.RecipientFor(tx, ch) != "" {
			out = append(out, ch)
		}
	}
	return out
}

func (h *Feedback) detail(c echo.Context, f domain.Feedback) (views.FeedbackDetailView, error) {
	ctx := c.Request().Context()
	p := web.MustPrincipal(c)
	v := views.FeedbackDetailView{F: f, CanAct: p.Role.AtLeast(domain.RoleOperator)}
	var err error
	if v.Tx, err = h.Store.Transaction(ctx, p.Merchant.ID, f.TransactionID); err != nil {
		return v, err
	}
	if v.Link, err = h.Store.FeedbackLink(ctx, p.Merchant.ID, f.LinkID); err != nil {
		return v, err
	}
	v.LinkState = v.Link.State(h.now())
	if v.History, err = h.Store.FeedbackHistory(ctx, p.Merchant.ID, f.ID); err != nil {
		return v, err
	}
	if v.Notes, err = h.Store.FeedbackNotes(ctx, p.Merchant.ID, f.ID); err != nil {
		return v, err
	}
	if v.CanAct {
		if v.Assignees, err = h.Store.Assignees(ctx, p.Merchant.ID); err != nil {
			return v, err
		}
	}
	v.Channels = replyChannels(v.Tx)
	for _, want := range []string{f.Contact, v.Link.Channel} {
		for _, ch := range v.Channels {
			if v.ReplyChannel == "" && string(ch) == want {
				v.ReplyChannel = want
			}
		}
	}
	return v, nil
}

// Show is one answer: what the customer said (and said before), the link, the work
// log, and the forms to work it.
func (h *Feedback) Show(c echo.Context) error {
	f, err := h.loadFeedback(c)
	if err != nil {
		return err
	}
	v, err := h.detail(c, f)
	if err != nil {
		return err
	}
	return web.Render(c, http.StatusOK, views.FeedbackDetailPage(web.Shell(c, "feedback", web.T(c, "feedback.detail")), v), nil)
}

func feedbackPath(id int64) string { return "/feedback/" + strconv.FormatInt(id, 10) }

// SetStatus moves an answer through new → in progress → closed.
func (h *Feedback) SetStatus(c echo.Context) error {
	f, err := h.loadFeedback(c)
	if err != nil {
		return err
	}
	st := c.FormValue("status")
	if !domain.ValidFeedbackStatus(st) {
		return web.Fail(http.StatusUnprocessableEntity, "invalid_status", "feedback.err.status")
	}
	p := web.MustPrincipal(c)
	err = h.Store.SetFeedbackStatus(c.Request().Context(), p.Merchant.ID, f.ID, st, p.Actor(), h.now())
	switch {
	case errors.Is(err, db.ErrConflict):
		web.AddFlash(c, "info", web.T(c, "feedback.status.same"))
	case err != nil:
		return err
	default:
		h.audit(c, "feedback.status", f.PlatformID, domain.AuditOK, map[string]any{"feedback_id": f.ID, "from": f.Status, "to": st})
		web.AddFlash(c, "ok", web.T(c, "feedback.status.changed"))
	}
	return web.Redirect(c, feedbackPath(f.ID))
}

// Assign gives the answer to an operator or admin of the merchant (0: nobody).
func (h *Feedback) Assign(c echo.Context) error {
	f, err := h.loadFeedback(c)
	if err != nil {
		return err
	}
	uid, err := strconv.ParseInt(c.FormValue("user_id"), 10, 64)
	if err != nil || uid < 0 {
		return web.Fail(http.StatusUnprocessableEntity, "invalid_assignee", "feedback.err.assignee")
	}
	p := web.MustPrincipal(c)
	err = h.Store.AssignFeedback(c.Request().Context(), p.Merchant.ID, f.ID, uid, p.Actor(), h.now())
	if errors.Is(err, db.ErrNotFound) {
		return web.Fail(http.StatusUnprocessableEntity, "invalid_assignee", "feedback.err.assignee")
	}
	if err != nil {
		return err
	}
	h.audit(c, "feedback.assign", f.PlatformID, domain.AuditOK, map[string]any{"feedback_id": f.ID, "user_id": uid})
	web.AddFlash(c, "ok", web.T(c, "feedback.assigned"))
	return web.Redirect(c, feedbackPath(f.ID))
}

// AddNote records an internal note (never sent to the customer).
func (h *Feedback) AddNote(c echo.Context) error {
	f, err := h.loadFeedback(c)
	if err != nil {
		return err
	}
	body := strings.TrimSpace(c.FormValue("body"))
	if body == "" || !validText(body, maxNote) {
		return web.Fail(http.StatusUnprocessableEntity, "invalid_note", "feedback.err.note_empty")
	}
	p := web.MustPrincipal(c)
	if _, err := h.Store.AddFeedbackNote(c.Request().Context(), p.Merchant.ID, f.ID, "note", body, p.Actor(), nil, h.now()); err != nil {
		return err
	}
	h.audit(c, "feedback.note", f.PlatformID, domain.AuditOK, map[string]any{"feedback_id": f.ID})
	web.AddFlash(c, "ok", web.T(c, "feedback.note.saved"))
	return web.Redirect(c, feedbackPath(f.ID))
}

// Reply sends the operator's answer to the customer as a notice through the
// notification queue (same channels, same delivery job, same timeline), notes it in
// the work log and moves a new answer to in progress, in one transaction.
func (h *Feedback) Reply(c echo.Context) error {
	f, err := h.loadFeedback(c)
	if err != nil {
		return err
	}
	v, err := h.detail(c, f)
	if err != nil {
		return err
	}
	v.ReplyChannel = c.FormValue("channel")
	v.ReplyBody = strings.TrimSpace(strings.ReplaceAll(c.FormValue("body"), "\r\n", "\n"))
	var ch domain.NotifyChannel
	for _, ok := range v.Channels {
		if string(ok) == v.ReplyChannel {
			ch = ok
		}
	}
	switch {
	case ch == "":
		v.ReplyError = web.T(c, "notice.err.no_contact")
	case v.ReplyBody == "" || !validText(v.ReplyBody, 4000):
		v.ReplyError = web.T(c, "feedback.err.reply_empty")
	case utf8.RuneCountInString(v.ReplyBody) > maxReply:
		v.ReplyError = web.T(c, "feedback.err.reply_long", maxReply)
	}
	shell := web.Shell(c, "feedback", web.T(c, "feedback.detail"))
	if v.ReplyError != "" {
		return web.Render(c, http.StatusUnprocessableEntity, views.FeedbackDetailPage(shell, v), nil)
	}
	p := web.MustPrincipal(c)
	cl := i18n.ZH
	if f.Lang == "en" {
		cl = i18n.EN
	}
	n := db.NewNotification{TransactionID: f.TransactionID, Channel: ch, Lang: string(cl), CreatedBy: p.Actor()}
	switch ch {
	case domain.NotifySMS:
		n.Body, n.RecipientMasked = "【"+p.Merchant.Name+"】"+v.ReplyBody, v.Tx.PhoneMasked
	case domain.NotifyPhone:
		n.Body, n.RecipientMasked = v.ReplyBody, v.Tx.PhoneMasked
	case domain.NotifyEmail:
		n.Subject = i18n.T(cl, "feedback.reply.subject", p.Merchant.Name)
		n.Body, n.RecipientMasked = v.ReplyBody+"\n\n"+p.Merchant.Name, v.Tx.EmailMasked
	case domain.NotifyInApp:
		n.Subject = i18n.T(cl, "feedback.reply.subject", p.Merchant.Name)
		n.Body, n.RecipientMasked = v.ReplyBody, v.Tx.CustomerRef
	}
	ctx := c.Request().Context()
	now := h.now()
	err = h.Store.InTx(ctx, func(tx *db.Store) error {
		noteID, err := tx.AddFeedbackNote(ctx, p.Merchant.ID, f.ID, "reply", v.ReplyBody, p.Actor(), nil, now)
		if err != nil {
			return err
		}
		// One template key per reply: a notice is never sent twice per key.
		n.TemplateKey = "feedback.reply." + strconv.FormatInt(noteID, 10)
		ids, err := tx.QueueNotifications(ctx, p.Merchant.ID, []db.NewNotification{n})
		if err != nil {
			return err
		}
		if len(ids) != 1 {
			return errors.New("feedback: reply notice not queued")
		}
		if err := tx.SetFeedbackNoteNotice(ctx, p.Merchant.ID, noteID, ids[0]); err != nil {
			return err
		}
		d, _ := json.Marshal(map[string]any{"feedback_id": f.ID, "notification_id": ids[0], "channel": ch,
			"to": n.RecipientMasked, "body": v.ReplyBody})
		if err := tx.AppendTimeline(ctx, p.Merchant.ID, f.TransactionID, domain.TimelineEntry{At: now, Kind: "feedback.reply",
			Actor: p.Actor(), Summary: "Reply to feedback sent by " + string(ch), Details: d}); err != nil {
			return err
		}
		if f.Status == domain.FeedbackNew {
			if err := tx.SetFeedbackStatus(ctx, p.Merchant.ID, f.ID, domain.FeedbackInProgress, p.Actor(), now); err != nil {
				return err
			}
		}
		return h.Notices.EnqueueNotices(ctx, tx.Tx(), p.Merchant.ID, ids)
	})
	if err != nil {
		return err
	}
	h.audit(c, "feedback.reply", f.PlatformID, domain.AuditOK, map[string]any{"feedback_id": f.ID, "channel": ch})
	web.AddFlash(c, "ok", web.T(c, "feedback.reply.queued", n.RecipientMasked))
	return web.Redirect(c, feedbackPath(f.ID))
}

// Links lists the merchant's feedback links, newest first.
func (h *Feedback) Links(c echo.Context) error {
	p := web.MustPrincipal(c)
	q := c.QueryParams()
	f := db.FeedbackLinksFilter{PlatformID: strings.TrimSpace(q.Get("tx"))}
	cur, err := domain.DecodeCursor(q.Get("cursor"))
	if err != nil || !validText(f.PlatformID, 64) {
		return web.Fail(http.StatusBadRequest, "invalid_filter", "error.bad_filter")
	}
	f.Cursor = cur
	rows, next, err := h.Store.FeedbackLinks(c.Request().Context(), p.Merchant.ID, f)
	if err != nil {
		return err
	}
	v := views.FeedbackLinksView{Rows: rows, Query: q, Next: next.Encode(), Now: h.now(), CanAct: p.Role.AtLeast(domain.RoleOperator)}
	return web.Render(c, http.StatusOK, views.FeedbackLinksPage(web.Shell(c, "feedback", web.T(c, "feedback.links.title")), v), nil)
}

// Revoke closes a link at once: the customer then sees the kind "closed" page.
func (h *Feedback) Revoke(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	p := web.MustPrincipal(c)
	back := web.SafeBack(c.FormValue("back"))
	if back == "/" {
		back = "/feedback/links"
	}
	err = h.Store.RevokeFeedbackLink(c.Request().Context(), p.Merchant.ID, id, p.Actor(), h.now())
	switch {
	case errors.Is(err, db.ErrNotFound):
		return web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	case errors.Is(err, db.ErrConflict):
		web.AddFlash(c, "info", web.T(c, "feedback.link.already"))
	case err != nil:
		return err
	default:
		h.audit(c, "feedback.link.revoke", strconv.FormatInt(id, 10), domain.AuditOK, nil)
		web.AddFlash(c, "ok", web.T(c, "feedback.link.revoked"))
	}
	return web.Redirect(c, back)
}

// ---------------------------------------------------------------------------
// API

// APICreateLink answers POST /api/v1/feedback-links {"transaction_id","lang"?} with
// 201 {"url","expires_at","transaction_id"}, for merchants who send their own
// messages. The token is shown only here; PayMend keeps its hash.
func (h *Feedback) APICreateLink(c echo.Context) error {
	var req struct {
		TransactionID string `json:"transaction_id"`
		Lang          string `json:"lang"`
	}
	if err := c.Bind(&req); err != nil {
		return web.Fail(http.StatusBadRequest, "invalid_json", "error.bad_request")
	}
	if req.TransactionID == "" || !validText(req.TransactionID, 64) {
		return web.Fail(http.StatusUnprocessableEntity, "invalid_transaction", "error.not_found")
	}
	lang := ""
	if req.Lang != "" {
		l, ok := i18n.Parse(req.Lang)
		if !ok {
			return web.Fail(http.StatusUnprocessableEntity, "invalid_lang", "error.bad_language")
		}
		lang = string(l)
	}
	p := web.MustPrincipal(c)
	ctx := c.Request().Context()
	tx, err := h.Store.TransactionByPlatformID(ctx, p.Merchant.ID, req.TransactionID)
	if errors.Is(err, db.ErrNotFound) {
		return web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	if err != nil {
		return err
	}
	tok := domain.NewFeedbackToken()
	link, err := h.Store.CreateFeedbackLink(ctx, p.Merchant.ID, tx.ID, tok.Hash, lang, "api", p.Actor(), h.now().Add(h.feedbackTTL()))
	if err != nil {
		return err
	}
	h.audit(c, "feedback.link.create", tx.PlatformID, domain.AuditOK, map[string]any{"link_id": link.ID})
	return c.JSON(http.StatusCreated, map[string]any{"url": domain.FeedbackURL(h.BaseURL, tok.Token),
		"expires_at": link.ExpiresAt.UTC(), "transaction_id": tx.PlatformID})
}
