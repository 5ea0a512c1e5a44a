package handlers_test

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jmoiron/sqlx"

	"paymend/db"
	"paymend/db/dbtest"
)

func TestAdminManagesUsers(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	admin := e.login("admin@alpha.test")

	// Validation errors come back in Chinese, on the form fragment, nothing created.
	resp := e.post(admin, "/users", url.Values{"email": {"not-an-email"}, "role": {"boss"}, "password": {"password1234"}}, "HX-Request", "true")
	d := doc(t, resp)
	if resp.StatusCode != http.StatusUnprocessableEntity || d.Find(tid("user-form")).Length() != 1 || d.Find(tid("nav")).Length() != 0 {
		t.Fatalf("invalid create: %d", resp.StatusCode)
	}
	for id, want := range map[string]string{"error-email": "邮箱", "error-role": "管理员", "error-password": "常见"} {
		if got := d.Find(tid(id)).Text(); !strings.Contains(got, want) {
			t.Errorf("%s = %q", id, got)
		}
	}
	// A good one is created and can log in.
	resp = e.post(admin, "/users", url.Values{"email": {"New.Ops@Alpha.test"}, "name": {"小王"}, "role": {"operator"}, "password": {testPassword}})
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	if resp := e.post(admin, "/users", url.Values{"email": {"new.ops@alpha.test"}, "role": {"operator"}, "password": {testPassword}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("duplicate e-mail: %d", resp.StatusCode)
	}
	newOps := e.login("new.ops@alpha.test")
	u, _ := e.store.UserForLogin(ctx, "new.ops@alpha.test")
	id := func(u int64) string { return strconv.FormatInt(u, 10) }

	// Promoting ends their sessions so the new rights apply at once.
	if resp := e.post(admin, "/users/"+id(u.ID)+"/role", url.Values{"role": {"admin"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("role: %d", resp.StatusCode)
	}
	if resp := e.get(newOps, "/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("session survived a role change: %d", resp.StatusCode)
	}
	// Disabling ends sessions and blocks login.
	newOps = e.login("new.ops@alpha.test")
	if resp := e.post(admin, "/users/"+id(u.ID)+"/disable", url.Values{"disabled": {"true"}}); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable: %d", resp.StatusCode)
	}
	if resp := e.get(newOps, "/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatal("disabled user's session still works")
	}
	if resp := e.post(e.browser(), "/login", url.Values{"email": {"new.ops@alpha.test"}, "password": {testPassword}}); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("disabled login: %d", resp.StatusCode)
	}
	// An admin cannot demote or disable themself, and the last admin stays.
	self := e.users["admin@alpha.test"]
	if resp := e.post(admin, "/users/"+id(self.ID)+"/role", url.Values{"role": {"viewer"}}); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("self demote: %d", resp.StatusCode)
	}
	// Every change is audited.
	entries, _, _ := e.store.AuditLog(ctx, e.m["alpha"].ID, db.AuditFilter{Action: "user.", Limit: 100})
	var actions []string
	for _, en := range entries {
		actions = append(actions, en.Action)
	}
	if got := strings.Join(actions, ","); got != "user.disable,user.role,user.create" {
		t.Fatalf("audit %s", got)
	}
	// The audit page shows them, filtered, newest first.
	d = doc(t, e.get(admin, "/audit?action=user."))
	if n := d.Find(tid("audit-row")).Length(); n != 3 {
		t.Fatalf("audit rows %d", n)
	}
	if resp := e.get(admin, "/audit?from=yesterday"); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad audit filter: %d", resp.StatusCode)
	}
}

// proxy is a TCP relay to PostgreSQL that a test can cut and restore, to play a
// database outage without stopping the shared server.
type proxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	down   bool
	conns  []net.Conn
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.setDown(true) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.down {
				p.mu.Unlock()
				c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				c.Close()
				continue
			}
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { defer c.Close(); defer up.Close(); copyConn(up, c) }()
			go func() { defer c.Close(); defer up.Close(); copyConn(c, up) }()
		}
	}()
	return p
}

func copyConn(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (p *proxy) setDown(down bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = down
	if down {
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
	}
}

// proxiedEnv is an env whose database connections pass through a proxy the test can
// cut; direct reaches the same database around the proxy.
func proxiedEnv(t *testing.T) (e *env, p *proxy, direct *sqlx.DB) {
	direct, dbURL := dbtest.New(t)
	u, _ := url.Parse(dbURL)
	p = newProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	d, err := db.Open(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return newEnvOn(t, db.New(d)), p, direct
}

func TestReadinessFollowsTheDatabase(t *testing.T) {
	e, p, _ := proxiedEnv(t)
	c := e.login("viewer@alpha.test")
	check := func(want int) {
		t.Helper()
		resp := e.get(e.browser(), "/readyz")
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("readyz %d, want %d", resp.StatusCode, want)
		}
	}
	check(http.StatusOK)
	p.setDown(true)
	check(http.StatusServiceUnavailable)
	if resp := e.get(e.browser(), "/healthz"); resp.StatusCode != http.StatusOK {
		t.Fatal("healthz must not depend on the database")
	}
	// A signed-in page answers 503 with a friendly message, not a 500 or a login page.
	resp := e.get(c, "/transactions")
	page := body(t, resp)
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(page, "数据库暂时不可用") {
		t.Fatalf("during outage: %d", resp.StatusCode)
	}
	p.setDown(false)
	check(http.StatusOK)
	if resp := e.get(c, "/transactions"); resp.StatusCode != http.StatusOK {
		t.Fatalf("after recovery: %d", resp.StatusCode)
	}
}
