package handlers_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

func TestMerchantTemplatesReplaceTheShippedOnes(t *testing.T) {
	e := newEnv(t)
	e.deliver("alpha", event("evt_tpl", "payment.failed", "TTPL", nil), e.clock.Now()).Body.Close()
	admin := e.login("admin@alpha.test")
	d := doc(t, e.get(admin, "/settings/templates/sms.funds"))
	if d.Find(tid("template-preview")).Length() != 1 {
		t.Fatal("no preview")
	}
	// An unknown variable is refused with a message in Chinese; nothing is stored.
	resp := e.post(admin, "/settings/templates/sms.funds", url.Values{"body_zh": {"【{{.MerchantName}}】{{.Secret}}"}, "body_en": {"x"}})
	page := body(t, resp)
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(page, "Secret") {
		t.Fatalf("bad template: %d", resp.StatusCode)
	}
	form := url.Values{"body_zh": {"【{{.MerchantName}}】{{.CustomerName}}您好,订单{{.OrderID}}未支付成功,{{.NextStep}}。"},
		"body_en": {"[{{.MerchantName}}] Order {{.OrderID}} was not paid. {{.NextStep}}."}}
	if resp := e.post(admin, "/settings/templates/sms.funds", form); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("save: %d", resp.StatusCode)
	}
	// The next notice for a 101 failure uses the merchant's text.
	tx, _ := e.store.TransactionByPlatformID(t.Context(), e.m["alpha"].ID, "TTPL")
	op := e.login("operator@alpha.test")
	d = doc(t, e.get(op, fmt.Sprintf("/transactions/%d/notify/preview?channel=sms", tx.ID), "HX-Request", "true"))
	if got := d.Find(tid("notice-body")).Text(); !strings.Contains(got, "订单O-TTPL未支付成功") {
		t.Fatalf("preview %q", got)
	}
	// Another merchant still gets the shipped text; reset restores it here.
	if resp := e.post(admin, "/settings/templates/sms.funds/reset", nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("reset: %d", resp.StatusCode)
	}
	d = doc(t, e.get(op, fmt.Sprintf("/transactions/%d/notify/preview?channel=sms", tx.ID), "HX-Request", "true"))
	if got := d.Find(tid("notice-body")).Text(); strings.Contains(got, "未支付成功") {
		t.Fatalf("after reset %q", got)
	}
	if resp := e.get(op, "/settings/templates"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("operator: %d", resp.StatusCode)
	}
}
