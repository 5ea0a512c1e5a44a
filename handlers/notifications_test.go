package handlers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"paymend/db"
	"paymend/domain"
	"paymend/jobs"
	"paymend/platform/sandbox"
)

// customerSide runs the sandbox's SMS gateway, SMTP server and in-app receiver
// (the customer's side) and points merchant code's channels at them.
func (e *env) customerSide(code string) *httptest.Server {
	e.t.Helper()
	sb := sandbox.New(sandbox.Config{Secrets: map[string][]byte{code: []byte(e.secret[code])},
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv := httptest.NewServer(sb.Handler())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		e.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { sb.ServeSMTP(ctx, ln); close(done) }()
	e.t.Cleanup(func() { cancel(); <-done; srv.Close(); sb.Close() })
	host, portS, _ := net.SplitHostPort(ln.Addr().String())
	port, _ := strconv.Atoi(portS)
	mid := e.m[code].ID
	save := func(cs domain.ChannelSettings, secret string) {
		sealed, _ := e.sealer.Seal(secret)
		if err := e.store.SaveChannelSettings(context.Background(), mid, cs, sealed); err != nil {
			e.t.Fatal(err)
		}
	}
	save(domain.ChannelSettings{Channel: domain.NotifySMS, Enabled: true, URL: srv.URL + "/_sandbox/sms", SenderID: "Shop"}, "sms-key")
	save(domain.ChannelSettings{Channel: domain.NotifyEmail, Enabled: true, Host: host, Port: port, Security: "none",
		From: "商店 <noreply@shop.test>"}, "")
	save(domain.ChannelSettings{Channel: domain.NotifyInApp, Enabled: true, URL: srv.URL + "/_sandbox/inapp"}, e.secret[code])
	return srv
}

type sandboxMessage struct {
	Channel, To, Subject, Text string
}

func received(t *testing.T, srv *httptest.Server) []sandboxMessage {
	resp, err := http.Get(srv.URL + "/_sandbox/messages")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []sandboxMessage
	json.NewDecoder(resp.Body).Decode(&out)
	return out
}

// waitNotice polls until the notice reaches a final state.
func (e *env) waitNotice(id int64) domain.Notification {
	e.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		n, err := e.store.Notification(context.Background(), e.m["alpha"].ID, id)
		if err == nil && (n.State == domain.NoticeSent || n.State == domain.NoticeFailed) {
			return n
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.t.Fatalf("notice %d never finished", id)
	return domain.Notification{}
}

func TestNotifyCustomerOnEveryChannel(t *testing.T) {
	e := newEnv(t)
	side := e.customerSide("alpha")
	e.deliver("alpha", event("evt_n1", "payment.failed", "TNOTE", nil), e.clock.Now()).Body.Close()
	ctx := context.Background()
	tx, _ := e.store.TransactionByPlatformID(ctx, e.m["alpha"].ID, "TNOTE")
	c := e.login("operator@alpha.test")
	path := fmt.Sprintf("/transactions/%d", tx.ID)

	// The preview shows the rendered SMS with its length, masked recipient.
	d := doc(t, e.get(c, path+"/notify/preview?channel=sms", "HX-Request", "true"))
	if to := d.Find(tid("notice-to")).Text(); to != "138****1234" {
		t.Fatalf("preview to %q", to)
	}
	if body := d.Find(tid("notice-body")).Text(); !strings.Contains(body, "余额") || !strings.Contains(d.Find(tid("notice-segments")).Text(), "条短信") {
		t.Fatalf("preview %q", body)
	}
	for _, ch := range []string{"sms", "email", "inapp"} {
		resp := e.post(c, path+"/notify", url.Values{"channel": {ch}})
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: %d", ch, resp.StatusCode)
		}
	}
	// The same template on the same channel is never sent twice.
	e.post(c, path+"/notify", url.Values{"channel": {"sms"}}).Body.Close()
	rows, _, _ := e.store.Notifications(ctx, e.m["alpha"].ID, dbNoticeFilter(tx.ID))
	if len(rows) != 3 {
		t.Fatalf("%d notices", len(rows))
	}
	for _, n := range rows {
		got := e.waitNotice(n.ID)
		if got.State != domain.NoticeSent {
			t.Fatalf("%s: %s (%s)", n.Channel, got.State, got.LastError)
		}
	}
	msgs := received(t, side)
	chans := map[string]sandboxMessage{}
	for _, m := range msgs {
		chans[m.Channel] = m
	}
	if len(chans) != 3 || !strings.Contains(chans["sms"].To, "13812341234") || chans["email"].To != "zhang@example.com" ||
		!strings.Contains(chans["email"].Text, "余额") || chans["inapp"].To != "C1" {
		t.Fatalf("customer side got %+v", msgs)
	}
	// Each outcome is on the timeline and the notices page.
	tl, _ := e.store.Timeline(ctx, e.m["alpha"].ID, tx.ID)
	sent := 0
	for _, en := range tl {
		if en.Kind == "notification.sent" {
			sent++
		}
	}
	if sent != 3 {
		t.Fatalf("%d sent entries on the timeline", sent)
	}
	if n := doc(t, e.get(c, "/notifications?state=sent")).Find(tid("notice-row")).Length(); n != 3 {
		t.Fatalf("notices page shows %d", n)
	}
}

func TestNotificationFailuresAreVisibleAndNothingIsLost(t *testing.T) {
	e := newEnv(t)
	e.deliver("alpha", event("evt_n2", "payment.failed", "TNOTE2", nil), e.clock.Now()).Body.Close()
	ctx := context.Background()
	tx, _ := e.store.TransactionByPlatformID(ctx, e.m["alpha"].ID, "TNOTE2")
	c := e.login("operator@alpha.test")
	// No channel configured: the notice is kept and fails with a clear reason.
	e.post(c, fmt.Sprintf("/transactions/%d/notify", tx.ID), url.Values{"channel": {"sms"}}).Body.Close()
	rows, _, _ := e.store.Notifications(ctx, e.m["alpha"].ID, dbNoticeFilter(tx.ID))
	if len(rows) != 1 {
		t.Fatalf("%d notices", len(rows))
	}
	got := e.waitNotice(rows[0].ID)
	if got.State != domain.NoticeFailed || !strings.Contains(got.LastError, "not") {
		t.Fatalf("unconfigured: %s %q", got.State, got.LastError)
	}
	// An SMTP server that cannot be reached is a temporary failure.
	sealed, _ := e.sealer.Seal("k")
	e.store.SaveChannelSettings(ctx, e.m["alpha"].ID, domain.ChannelSettings{Channel: domain.NotifyEmail, Enabled: true,
		Host: "127.0.0.1", Port: 1, Security: "none", From: "x@shop.test"}, sealed)
	e.post(c, fmt.Sprintf("/transactions/%d/notify", tx.ID), url.Values{"channel": {"email"}}).Body.Close()
	rows, _, _ = e.store.Notifications(ctx, e.m["alpha"].ID, dbNoticeFilter(tx.ID))
	var email domain.Notification
	for _, n := range rows {
		if n.Channel == domain.NotifyEmail {
			email = n
		}
	}
	// Connection refused is temporary: the notice goes back to queued with the reason and is retried.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		n, _ := e.store.Notification(ctx, e.m["alpha"].ID, email.ID)
		if n.Attempts >= 1 && n.LastError != "" {
			email = n
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if email.State == domain.NoticeSent || email.LastError == "" {
		t.Fatalf("unreachable SMTP: %s %q", email.State, email.LastError)
	}
	// A viewer cannot send; an unknown channel is refused with a message.
	if resp := e.post(e.login("viewer@alpha.test"), fmt.Sprintf("/transactions/%d/notify", tx.ID), url.Values{"channel": {"sms"}}); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer: %d", resp.StatusCode)
	}
	if resp := e.post(c, fmt.Sprintf("/transactions/%d/notify", tx.ID), url.Values{"channel": {"fax"}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("fax: %d", resp.StatusCode)
	}
}

func TestNotificationsAPI(t *testing.T) {
	e := newEnv(t)
	e.customerSide("alpha")
	e.deliver("alpha", event("evt_n3", "payment.failed", "TNOTE3", nil), e.clock.Now()).Body.Close()
	key := handlersNewKey(t, e, "alpha")
	call := func(method, path, body string) (*http.Response, map[string]any) {
		req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp, out
	}
	resp, out := call("POST", "/api/v1/notifications", `{"transaction_id":"TNOTE3","channel":"email"}`)
	if resp.StatusCode != http.StatusAccepted || out["state"] != "queued" {
		t.Fatalf("create: %d %v", resp.StatusCode, out)
	}
	id := int64(out["id"].(float64))
	e.waitNotice(id)
	resp, out = call("GET", fmt.Sprintf("/api/v1/notifications/%d", id), "")
	if resp.StatusCode != http.StatusOK || out["state"] != "sent" || out["to"] != "z***@example.com" {
		t.Fatalf("get: %d %v", resp.StatusCode, out)
	}
	for body, want := range map[string]int{
		`{"transaction_id":"TNOTE3","channel":"email"}`:  http.StatusConflict,
		`{"transaction_id":"TNOPE","channel":"email"}`:   http.StatusNotFound,
		`{"transaction_id":"TNOTE3","channel":"pigeon"}`: http.StatusUnprocessableEntity,
		`{"transaction_id":`:                             http.StatusBadRequest,
	} {
		if resp, out := call("POST", "/api/v1/notifications", body); resp.StatusCode != want || (want >= 400) != (out["error"] != nil) {
			t.Errorf("%s: %d %v", body, resp.StatusCode, out)
		}
	}
}

func dbNoticeFilter(txID int64) db.NoticeFilter { return db.NoticeFilter{TransactionID: txID} }

// TestNoticeSurvivesACrashBeforeSending queues a notice while no worker runs (the
// process died right after the commit), then starts workers as a restart would:
// the notice is delivered exactly once.
func TestNoticeSurvivesACrashBeforeSending(t *testing.T) {
	e := newEnv(t)
	side := e.customerSide("alpha")
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	e.jobs.Stop(stopCtx) // the crash: nothing will work the job
	cancel()
	e.deliver("alpha", event("evt_crash", "payment.failed", "TCRASH", nil), e.clock.Now()).Body.Close()
	ctx := context.Background()
	tx, _ := e.store.TransactionByPlatformID(ctx, e.m["alpha"].ID, "TCRASH")
	c := e.login("operator@alpha.test")
	e.post(c, fmt.Sprintf("/transactions/%d/notify", tx.ID), url.Values{"channel": {"sms"}}).Body.Close()
	time.Sleep(500 * time.Millisecond)
	rows, _, _ := e.store.Notifications(ctx, e.m["alpha"].ID, dbNoticeFilter(tx.ID))
	if len(rows) != 1 || rows[0].State != domain.NoticeQueued || len(received(t, side)) != 0 {
		t.Fatalf("before restart: %+v", rows)
	}
	restarted, err := jobs.Start(ctx, jobs.Config{DB: e.store.DB().DB, Store: e.store, Sealer: e.sealer,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), FetchPoll: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer restarted.Stop(ctx)
	if got := e.waitNotice(rows[0].ID); got.State != domain.NoticeSent || got.Attempts != 1 {
		t.Fatalf("after restart: %s, %d attempts", got.State, got.Attempts)
	}
	time.Sleep(300 * time.Millisecond)
	if n := len(received(t, side)); n != 1 {
		t.Fatalf("customer received %d messages", n)
	}
}

func TestPhoneCallWorklist(t *testing.T) {
	e := newEnv(t)
	e.deliver("alpha", event("evt_call", "payment.failed", "TCALL", nil), e.clock.Now()).Body.Close()
	ctx := context.Background()
	tx, _ := e.store.TransactionByPlatformID(ctx, e.m["alpha"].ID, "TCALL")
	c := e.login("operator@alpha.test")
	path := fmt.Sprintf("/transactions/%d/notify", tx.ID)
	if resp := e.post(c, path, url.Values{"channel": {"phone"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	e.post(c, path, url.Values{"channel": {"phone"}}).Body.Close() // the same phone notice is not queued twice
	rows, _, _ := e.store.Notifications(ctx, e.m["alpha"].ID, dbNoticeFilter(tx.ID))
	if len(rows) != 1 || rows[0].Channel != "phone" {
		t.Fatalf("phone notices %+v", rows)
	}
	e.waitNotice(rows[0].ID)
	d := doc(t, e.get(c, "/calls"))
	if n := d.Find(tid("call-task")).Length(); n != 1 {
		t.Fatalf("%d open calls", n)
	}
	if ph := d.Find(tid("call-phone")).Text(); strings.Contains(ph, "13812341234") || !strings.Contains(ph, "138****1234") {
		t.Fatalf("worklist shows %q", ph)
	}
	tasks, _ := e.store.CallTasks(ctx, e.m["alpha"].ID, "open")
	d = doc(t, e.post(c, fmt.Sprintf("/calls/%d/reveal", tasks[0].ID), nil))
	if ph := d.Find(tid("call-phone")).Text(); !strings.Contains(ph, "+8613812341234") {
		t.Fatalf("revealed %q", ph)
	}
	if resp := e.post(c, fmt.Sprintf("/calls/%d/done", tasks[0].ID), url.Values{"outcome": {"reached"}, "notes": {"客户已改用支付宝"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("done: %d", resp.StatusCode)
	}
	tl, _ := e.store.Timeline(ctx, e.m["alpha"].ID, tx.ID)
	kinds := []string{}
	for _, en := range tl {
		kinds = append(kinds, en.Kind)
	}
	if got := strings.Join(kinds, ","); got != "payment.failed,call.created,notification.sent,call.done" {
		t.Fatalf("timeline %s", got)
	}
	entries, _, _ := e.store.AuditLog(ctx, e.m["alpha"].ID, dbAuditFilter("call."))
	if len(entries) != 2 || entries[0].Action != "call.done" || entries[1].Action != "call.reveal" {
		t.Fatalf("call audit entries %+v", entries)
	}
	if resp := e.get(e.login("viewer@alpha.test"), "/calls"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("viewer: %d", resp.StatusCode)
	}
}

func dbAuditFilter(action string) db.AuditFilter { return db.AuditFilter{Action: action} }
