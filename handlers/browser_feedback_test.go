package handlers_test

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"paymend/domain"
)

// TestBrowserFeedbackOnAPhone: the customer opens the feedback link from the e-mail
// notice they received, on a phone-sized screen, is told what to fix, answers, and
// the operator then sees the answer on the payment's timeline.
func TestBrowserFeedbackOnAPhone(t *testing.T) {
	e := newEnv(t)
	side := e.customerSide("alpha")
	tx := e.feedbackFailure("alpha", "TFBPHONE", nil)
	op := e.login("operator@alpha.test")
	e.post(op, fmt.Sprintf("/transactions/%d/notify", tx.ID), url.Values{"channel": {"email"}}).Body.Close()
	rows, _, _ := e.store.Notifications(context.Background(), e.m["alpha"].ID, dbNoticeFilter(tx.ID))
	if len(rows) != 1 || e.waitNotice(rows[0].ID).State != domain.NoticeSent {
		t.Fatal("notice not sent")
	}
	var link string
	for _, m := range received(t, side) {
		if m.Channel == "email" {
			link = feedbackURL.FindString(m.Text)
		}
	}
	if link == "" {
		t.Fatal("the e-mail the customer got has no feedback link")
	}

	ctx := newBrowser(t, 390, 844)
	do(t, ctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3), chromedp.EmulateMobile, chromedp.EmulateTouch),
		chromedp.Navigate(link),
		visible(sel("fb-form")),
		shot("feedback-phone-form"),
	)
	if h := text(t, ctx, "h1"); !strings.Contains(h, "支付体验反馈") {
		t.Fatalf("form heading %q (the notice was in Chinese)", h)
	}
	// Fits the screen: nothing scrolls sideways, and every control is big enough to tap.
	fits, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`))
	small, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`[...document.querySelectorAll('.fb-option, .fb-star, .fb-submit')]
		.filter(el => el.getBoundingClientRect().height < 44).length`))
	unlabelled, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`[...document.querySelectorAll('input:not([type=hidden]), textarea')]
		.filter(el => !el.closest('label') && !document.querySelector('label[for="' + el.id + '"]')).length`))
	if !fits || small != 0 || unlabelled != 0 {
		t.Fatalf("phone layout: fits=%v small targets=%d unlabelled=%d", fits, small, unlabelled)
	}

	// Sending without a rating says what is missing, next to the field.
	do(t, ctx,
		click(sel("fb-solved-no")),
		click(sel("fb-problem-charged_no_order")),
		clickAndLoad(sel("fb-submit")),
		visible(sel("fb-errors")),
		shot("feedback-phone-errors"),
	)
	if msg := text(t, ctx, sel("fb-error-rating")); !strings.Contains(msg, "请选择 1 到 5 星") {
		t.Fatalf("rating error %q", msg)
	}
	do(t, ctx,
		click(sel("fb-rating-2")),
		keys(sel("fb-comment"), `扣了钱但订单没有成功 <b>请尽快处理</b>`),
		click(sel("fb-contact-email")),
		clickAndLoad(sel("fb-submit")),
		visible(sel("fb-thanks")),
		shot("feedback-phone-thanks"),
	)
	if txt := text(t, ctx, sel("fb-thanks")); !strings.Contains(txt, "原路退回") {
		t.Fatalf("thanks %q lacks the refund promise", txt)
	}

	// The customer can read it in English too, with the answer kept.
	do(t, ctx, clickAndLoad(sel("fb-lang")), visible(sel("fb-form")), shot("feedback-phone-en"))
	if h := text(t, ctx, "h1"); h != "Tell us about your payment" {
		t.Fatalf("English heading %q", h)
	}
	if checked, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('[data-testid="fb-rating-2"]').checked`)); !checked {
		t.Fatal("the answer is not shown back")
	}

	// The operator sees it on the payment, as text.
	do(t, ctx,
		chromedp.EmulateViewport(1366, 900),
		signIn(e, fmt.Sprintf("/transactions/%d", tx.ID), "operator@alpha.test"),
		visible(sel("tx-timeline")),
		shot("feedback-operator-timeline"),
	)
	kinds, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll('[data-testid="timeline-entry"]')].map(e => e.dataset.kind)`))
	joined := strings.Join(kinds, ",")
	if !strings.Contains(joined, "feedback.received") || !strings.Contains(joined, "feedback.recon_requested") {
		t.Fatalf("timeline %v", kinds)
	}
	entry := text(t, ctx, `[data-kind="feedback.received"]`)
	if !strings.Contains(entry, "已扣款,但订单没有成功") || !strings.Contains(entry, "<b>请尽快处理</b>") {
		t.Fatalf("timeline entry %q", entry)
	}
	bold, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="timeline-entry"] b').length`))
	if bold != 0 {
		t.Fatal("the customer's HTML was rendered")
	}
	// The dashboard loads the feedback figures (htmx).
	do(t, ctx, chromedp.Navigate(e.srv.URL+"/"), visible(sel("feedback-summary")+" "+sel("fs-rate")), shot("feedback-dashboard"))
	if r := text(t, ctx, sel("fs-rate")+" .kpi-value"); r != "100%" {
		t.Fatalf("dashboard response rate %q", r)
	}
	do(t, ctx, chromedp.Navigate(fmt.Sprintf("%s/transactions/%d", e.srv.URL, tx.ID)), visible(sel("tx-timeline")))

	// From the timeline to the answer in the inbox, and the inbox lists it.
	do(t, ctx, clickAndLoad(`[data-kind="feedback.received"] `+sel("timeline-feedback-link")), visible(sel("feedback-answer")),
		shot("feedback-detail"))
	if p := text(t, ctx, sel("feedback-answer-problem")); p != "已扣款,但订单没有成功" {
		t.Fatalf("detail shows %q", p)
	}
	do(t, ctx, chromedp.Navigate(e.srv.URL+"/feedback"), visible(sel("feedback-row")), shot("feedback-inbox"))
}
