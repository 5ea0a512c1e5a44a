package handlers

import (
	"context"
	"database/sql"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"paymend/db"
	"paymend/domain"
	"paymend/views"
	"paymend/web"
)

// NoticeQueue inserts delivery jobs inside the transaction that created the
// notices. jobs.Runner implements it; main wires it in.
type NoticeQueue interface {
	EnqueueNotices(ctx context.Context, tx *sql.Tx, merchantID int64, ids []int64) error
	// EnqueueTest queues a channel test to a recipient (sealed); the outcome goes
	// to the audit log as notification.test.
	EnqueueTest(ctx context.Context, merchantID int64, channel, toSealed, toMasked, actor string) error
}

// Notifications tells customers that a payment did not go through.
type Notifications struct{ Deps }

// sendChannels are the channels a notice can go out on from the console.
var sendChannels = []domain.NotifyChannel{domain.NotifySMS, domain.NotifyEmail, domain.NotifyInApp}

// Routes registers sending (operators) and the notices list (everyone).
func (h *Notifications) Routes() {
	op := web.RequireRole(domain.RoleOperator)
	h.App.Console.GET("/notifications", h.List)
	h.App.Console.GET("/transactions/:id/notify/preview", h.Preview, op)
	h.App.Console.POST("/transactions/:id/notify", h.Send, op)
	h.App.Console.POST("/transactions/bulk-notify", h.BulkNotify, op)
	h.App.API.POST("/notifications", h.APICreate)
	h.App.API.GET("/notifications/:id", h.APIGet)
}

// draft is a notice rendered for one payment, not yet stored.
type draft struct {
	db.NewNotification
	Segments int
	Chars    int
}

// errNoContact means the payment has no contact for the channel.
var errNoContact = domain.ErrNoContact

// render renders the notice for one payment (see domain.DraftNotice).
func (d Deps) render(m domain.Merchant, cat *domain.Catalog, ts []domain.MessageTemplate, tx domain.Transaction, ch domain.NotifyChannel, templateKey, lang, actor string) (draft, error) {
	// Each notice carries its own feedback link (issue 9); it is stored with the
	// notice only when the template actually uses it.
	tok := domain.NewFeedbackToken()
	link := domain.FeedbackURL(d.BaseURL, tok.Token)
	nd, err := domain.DraftNotice(m, cat.Lookup(tx.Code).ForChannel(tx.Channel, d.channelStates(m.ID)), tx, ch, ts, templateKey, lang, domain.NoticeLinks{Feedback: link})
	if err != nil {
		return draft{}, err
	}
	out := draft{NewNotification: db.NewNotification{TransactionID: tx.ID, Channel: ch, TemplateKey: nd.TemplateKey,
		Lang: lang, RecipientMasked: nd.RecipientMasked, Subject: nd.Subject, Body: nd.Body, CreatedBy: actor},
		Segments: nd.Segments, Chars: nd.Chars}
	if nd.CarriesLink(link) {
		out.Feedback = &db.NewFeedbackLink{TokenHash: tok.Hash, ExpiresAt: d.now().Add(d.feedbackTTL())}
	}
	return out, nil
}

// noticeKit is what rendering a notice needs: the merchant's catalog and templates.
func (d Deps) noticeKit(c echo.Context) (*domain.Catalog, []domain.MessageTemplate, error) {
	cat, err := d.catalog(c)
	if err != nil {
		return nil, nil, err
	}
	ts, err := d.Store.Templates(c.Request().Context(), web.MerchantID(c))
	return cat, ts, err
}

// queue stores notices and their delivery jobs in one transaction and returns the
// ids created (a template already sent for a payment on a channel is skipped).
func (d Deps) queue(ctx context.Context, merchantID int64, ns []db.NewNotification) ([]int64, error) {
	var ids []int64
	err := d.Store.InTx(ctx, func(tx *db.Store) error {
		var err error
		if ids, err = tx.QueueNotifications(ctx, merchantID, ns); err != nil {
			return err
		}
		return d.Notices.EnqueueNotices(ctx, tx.Tx(), merchantID, ids)
	})
	return ids, err
}

// parseChannel accepts a channel a notice can be queued on: the message channels,
// and phone, whose "delivery" puts a call in the support team's worklist.
func parseChannel(s string) (domain.NotifyChannel, bool) {
	for _, c := range append(sendChannels, domain.NotifyPhone) {
		if string(c) == s {
			return c, true
		}
	}
	return "", false
}

// customerLang is the language a notice is written in: the form's choice, else zh-CN.
func customerLang(s string) string {
	if s == "en" {
		return "en"
	}
	return "zh-CN"
}

// Preview renders the notice the operator is about to send (htmx fragment).
func (h *Notifications) Preview(c echo.Context) error {
	tx, err := h.loadTx(c)
	if err != nil {
		return err
	}
	v, err := h.noticeForm(c, tx, c.QueryParam("channel"), c.QueryParam("lang"))
	if err != nil {
		return err
	}
	return web.Render(c, http.StatusOK, views.NoticePreview(v), views.NoticePreview(v))
}

func (h *Notifications) noticeForm(c echo.Context, tx domain.Transaction, channel, lang string) (views.NoticeForm, error) {
	p := web.MustPrincipal(c)
	cat, ts, err := h.noticeKit(c)
	if err != nil {
		return views.NoticeForm{}, err
	}
	ch, ok := parseChannel(channel)
	if !ok {
		ch = domain.NotifySMS
		if tx.PhoneMasked == "" {
			ch = domain.NotifyEmail
		}
	}
	v := views.NoticeForm{TxID: tx.ID, Channel: ch, Lang: customerLang(lang), Channels: sendChannels}
	d, err := h.render(p.Merchant, cat, ts, tx, ch, "", v.Lang, p.Actor())
	switch {
	case errors.Is(err, errNoContact):
		v.Error = web.T(c, "notice.err.no_contact")
	case err != nil:
		return v, err
	default:
		v.To, v.Subject, v.Body, v.Template, v.Segments, v.Chars = d.RecipientMasked, d.Subject, d.Body, d.TemplateKey, d.Segments, d.Chars
	}
	return v, nil
}

// Send queues one notice for the payment; delivery is a job, never this request.
func (h *Notifications) Send(c echo.Context) error {
	tx, err := h.loadTx(c)
	if err != nil {
		return err
	}
	ch, ok := parseChannel(c.FormValue("channel"))
	if !ok {
		return web.Fail(http.StatusUnprocessableEntity, "invalid_channel", "notice.err.channel")
	}
	p := web.MustPrincipal(c)
	cat, ts, err := h.noticeKit(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	d, err := h.render(p.Merchant, cat, ts, tx, ch, "", customerLang(c.FormValue("lang")), p.Actor())
	if errors.Is(err, errNoContact) {
		return web.Fail(http.StatusUnprocessableEntity, "no_contact", "notice.err.no_contact")
	}
	if err != nil {
		return err
	}
	ids, err := h.queue(ctx, p.Merchant.ID, []db.NewNotification{d.NewNotification})
	if err != nil {
		return err
	}
	back := "/transactions/" + strconv.FormatInt(tx.ID, 10)
	if len(ids) == 0 {
		web.AddFlash(c, "info", web.T(c, "notice.already"))
		return web.Redirect(c, back)
	}
	h.audit(c, "notification.queue", tx.PlatformID, domain.AuditOK, map[string]any{"channel": ch, "template": d.TemplateKey})
	web.AddFlash(c, "ok", web.T(c, "notice.queued", d.RecipientMasked))
	return web.Redirect(c, back)
}

// List shows notices newest first with their state, filtered by state and channel.
func (h *Notifications) List(c echo.Context) error {
	q := c.QueryParams()
	f := db.NoticeFilter{State: q.Get("state"), Channel: q.Get("channel")}
	v := views.NoticesView{Query: q}
	status := http.StatusOK
	cur, err := domain.DecodeCursor(q.Get("cursor"))
	okState := f.State == "" || f.State == domain.NoticeQueued || f.State == domain.NoticeSending || f.State == domain.NoticeSent || f.State == domain.NoticeFailed
	_, okCh := parseChannel(f.Channel)
	if err != nil || !okState || (f.Channel != "" && !okCh) {
		status, v.Error = http.StatusBadRequest, web.T(c, "error.bad_filter")
	} else {
		f.Cursor = cur
		rows, next, err := h.Store.Notifications(c.Request().Context(), web.MerchantID(c), f)
		if err != nil {
			return err
		}
		v.Rows, v.Next = rows, next.Encode()
	}
	shell := web.Shell(c, "notifications", web.T(c, "notice.title"))
	return web.Render(c, status, views.NoticesPage(shell, v), views.NoticesTable(shell, v))
}

// noticeJSON is a notification as the API shows it.
type noticeJSON struct {
	ID            int64      `json:"id"`
	TransactionID string     `json:"transaction_id"`
	Channel       string     `json:"channel"`
	Template      string     `json:"template"`
	To            string     `json:"to"`
	State         string     `json:"state"`
	Reason        string     `json:"reason,omitempty"`
	Attempts      int        `json:"attempts"`
	CreatedAt     time.Time  `json:"created_at"`
	SentAt        *time.Time `json:"sent_at,omitempty"`
}

func toNoticeJSON(n domain.Notification) noticeJSON {
	out := noticeJSON{ID: n.ID, TransactionID: n.PlatformID, Channel: string(n.Channel), Template: n.TemplateKey,
		To: n.RecipientMasked, State: n.State, Reason: n.LastError, Attempts: n.Attempts,
		CreatedAt: n.CreatedAt.UTC(), SentAt: n.SentAt}
	return out
}

// APICreate answers POST /api/v1/notifications with 202 and the queued notice.
func (h *Notifications) APICreate(c echo.Context) error {
	var req struct {
		TransactionID string `json:"transaction_id"`
		Channel       string `json:"channel"`
		Template      string `json:"template"`
		Lang          string `json:"lang"`
	}
	if err := c.Bind(&req); err != nil {
		return web.Fail(http.StatusBadRequest, "invalid_json", "error.bad_request")
	}
	ch, ok := parseChannel(req.Channel)
	if !ok {
		return web.Fail(http.StatusUnprocessableEntity, "invalid_channel", "notice.err.channel")
	}
	if req.TransactionID == "" || !validText(req.TransactionID, 64) || !validText(req.Template, 64) {
		return web.Fail(http.StatusUnprocessableEntity, "invalid_transaction", "error.not_found")
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
	cat, ts, err := h.noticeKit(c)
	if err != nil {
		return err
	}
	d, err := h.render(p.Merchant, cat, ts, tx, ch, req.Template, customerLang(req.Lang), p.Actor())
	if errors.Is(err, errNoContact) {
		return web.Fail(http.StatusUnprocessableEntity, "no_contact", "notice.err.no_contact")
	}
	if err != nil {
		return web.Fail(http.StatusUnprocessableEntity, "invalid_template", "notice.err.template")
	}
	ids, err := h.queue(ctx, p.Merchant.ID, []db.NewNotification{d.NewNotification})
	if err != nil {
		return err
	}
	if len(ids) == 0 {
		return web.Fail(http.StatusConflict, "already_sent", "notice.already")
	}
	n, err := h.Store.Notification(ctx, p.Merchant.ID, ids[0])
	if err != nil {
		return err
	}
	h.audit(c, "notification.queue", tx.PlatformID, domain.AuditOK, map[string]any{"channel": ch, "template": d.TemplateKey})
	return c.JSON(http.StatusAccepted, toNoticeJSON(n))
}

// APIGet answers GET /api/v1/notifications/{id}.
func (h *Notifications) APIGet(c echo.Context) error {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	n, err := h.Store.Notification(c.Request().Context(), web.MerchantID(c), id)
	if errors.Is(err, db.ErrNotFound) {
		return web.Fail(http.StatusNotFound, "not_found", "error.not_found")
	}
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, toNoticeJSON(n))
}

// maxBulkNotices bounds one bulk send.
const maxBulkNotices = 10_000

// BulkNotify sends one channel's notice to the customers of many failed payments:
// the ticked ones, or (all=1) every payment matching the list's filter, up to
// 10,000. The first post shows what would be sent; the second (confirm=1) queues.
func (h *Notifications) BulkNotify(c echo.Context) error {
	p := web.MustPrincipal(c)
	ctx := c.Request().Context()
	back := web.SafeBack(c.FormValue("back"))
	ch, ok := parseChannel(c.FormValue("channel"))
	if !ok {
		return web.Fail(http.StatusUnprocessableEntity, "invalid_channel", "notice.err.channel")
	}
	cat, ts, err := h.noticeKit(c)
	if err != nil {
		return err
	}
	var txs []domain.Transaction
	form, _ := c.FormParams()
	if c.FormValue("all") == "1" {
		u, _ := url.Parse(back)
		tq := parseTxQuery(u.Query(), p.Merchant, cat, "failed")
		if len(tq.Errors) > 0 {
			return web.Fail(http.StatusBadRequest, "invalid_filter", tq.Errors[0].Key)
		}
		tq.Filter.Cursor = domain.Cursor{}
		err = h.Store.EachTransaction(ctx, p.Merchant.ID, tq.Filter, maxBulkNotices, func(t domain.Transaction) error {
			txs = append(txs, t)
			return nil
		})
	} else {
		var ids []int64
		for _, s := range form["ids"] {
			if id, err := strconv.ParseInt(s, 10, 64); err == nil && id > 0 {
				ids = append(ids, id)
			}
		}
		if len(ids) > maxBulkNotices {
			ids = ids[:maxBulkNotices]
		}
		txs, err = h.Store.TransactionsByID(ctx, p.Merchant.ID, ids)
	}
	if err != nil {
		return err
	}
	lang := customerLang(c.FormValue("lang"))
	v := views.BulkNoticeView{Channel: ch, Lang: lang, Back: back, All: c.FormValue("all") == "1", Selected: len(txs)}
	var drafts []db.NewNotification
	customers := map[string]bool{}
	for _, t := range txs {
		if t.FailedAt == nil {
			v.NotFailed++
			continue
		}
		d, err := h.render(p.Merchant, cat, ts, t, ch, "", lang, p.Actor())
		if errors.Is(err, errNoContact) {
			v.NoContact++
			continue
		}
		if err != nil {
			return err
		}
		drafts = append(drafts, d.NewNotification)
		customers[t.CustomerRef] = true
		v.IDs = append(v.IDs, t.ID)
		if v.Sample == "" {
			v.Sample = d.Body
		}
	}
	v.Reachable, v.Customers = len(drafts), len(customers)
	if c.FormValue("confirm") != "1" {
		return web.Render(c, http.StatusOK, views.BulkNoticePage(web.Shell(c, "transactions", web.T(c, "notice.bulk_title")), v), nil)
	}
	ids, err := h.queue(ctx, p.Merchant.ID, drafts)
	if err != nil {
		return err
	}
	h.audit(c, "notification.bulk", string(ch), domain.AuditOK, map[string]any{"selected": len(txs),
		"queued": len(ids), "no_contact": v.NoContact, "already": len(drafts) - len(ids)})
	web.AddFlash(c, "ok", web.T(c, "notice.bulk_done", len(ids), len(drafts)-len(ids), v.NoContact))
	return web.Redirect(c, back)
}
