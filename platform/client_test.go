package platform_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"paymend/domain"
	"paymend/platform"
	"paymend/platform/sandbox"
)

const apiKey = "sk_test"

// flaky wraps the sandbox: it answers the first n requests with status (or, when
// status is 0, drops the connection) and records every Idempotency-Key it saw.
type flaky struct {
	next   http.Handler
	mu     sync.Mutex
	n      int
	status int
	hits   int
	keys   []string
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.hits++
	f.keys = append(f.keys, r.Header.Get("Idempotency-Key"))
	fail := f.n > 0
	if fail {
		f.n--
	}
	status := f.status
	f.mu.Unlock()
	if fail {
		if status == 0 {
			panic(http.ErrAbortHandler) // drops the connection: a network error
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, `{"error":{"code":"flaky","message":"try again"}}`)
		return
	}
	f.next.ServeHTTP(w, r)
}

func (f *flaky) stats() (int, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.hits, append([]string(nil), f.keys...)
}

type env struct {
	sb     *sandbox.Sandbox
	flaky  *flaky
	srv    *httptest.Server
	client *platform.Client
}

func newEnv(t *testing.T, opts ...platform.Option) *env {
	t.Helper()
	sb := sandbox.New(sandbox.Config{
		APIKey:      apiKey,
		RefundDelay: 20 * time.Millisecond,
		SlowDelay:   300 * time.Millisecond,
		HangTimeout: 5 * time.Second,
		Logger:      slog.New(slog.DiscardHandler),
	})
	f := &flaky{next: sb.Handler()}
	srv := httptest.NewServer(f)
	t.Cleanup(func() { srv.Close(); sb.Close() })
	opts = append([]platform.Option{platform.WithBackoff(5 * time.Millisecond), platform.WithAttemptTimeout(2 * time.Second)}, opts...)
	return &env{sb: sb, flaky: f, srv: srv, client: platform.New(srv.URL+"/", apiKey, opts...)}
}

func (e *env) payment(t *testing.T, outcome sandbox.Outcome, amount int64) sandbox.Transaction {
	t.Helper()
	txn, err := e.sb.CreatePayment(sandbox.PaymentRequest{Outcome: outcome, Amount: amount})
	if err != nil {
		t.Fatal(err)
	}
	return txn
}

func TestGetTransaction(t *testing.T) {
	e := newEnv(t)
	paid := e.payment(t, sandbox.OutcomeSucceeded, 12900)
	failed := e.payment(t, sandbox.OutcomeFailed, 500)
	ctx := context.Background()

	got, err := e.client.GetTransaction(ctx, paid.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := platform.Transaction{ID: paid.ID, Status: domain.StatusSucceeded, Amount: 12900, Debited: 12900, Currency: "CNY"}
	if got != want {
		t.Fatalf("GetTransaction = %+v, want %+v", got, want)
	}
	got, err = e.client.GetTransaction(ctx, failed.ID)
	if err != nil || got.Status != domain.StatusFailed || got.Debited != 0 {
		t.Fatalf("failed payment = %+v, %v", got, err)
	}
	if _, err := e.client.GetTransaction(ctx, "TNOPE"); !errors.Is(err, platform.ErrNotFound) {
		t.Fatalf("unknown transaction: %v", err)
	}
	if _, err := e.client.GetTransaction(ctx, ""); !errors.Is(err, platform.ErrRejected) {
		t.Fatalf("empty id: %v", err)
	}
}

func TestRefundFlow(t *testing.T) {
	e := newEnv(t)
	txn := e.payment(t, sandbox.OutcomeSucceeded, 10000)
	ctx := context.Background()
	req := platform.RefundRequest{TransactionID: txn.ID, Amount: 2500, Reason: "订单取消"}

	rf, err := e.client.CreateRefund(ctx, "refund-1", req)
	if err != nil {
		t.Fatal(err)
	}
	if rf.ID == "" || rf.Status != platform.RefundPending || rf.Amount != 2500 || rf.TransactionID != txn.ID || rf.Currency != "CNY" {
		t.Fatalf("CreateRefund = %+v", rf)
	}
	again, err := e.client.CreateRefund(ctx, "refund-1", req)
	if err != nil || again.ID != rf.ID {
		t.Fatalf("same key again = %+v, %v", again, err)
	}
	other := req
	other.Amount = 2600
	if _, err := e.client.CreateRefund(ctx, "refund-1", other); !errors.Is(err, platform.ErrConflict) {
		t.Fatalf("same key, other body: %v", err)
	}

	deadline := time.Now().Add(3 * time.Second)
	for rf.Status == platform.RefundPending && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		if rf, err = e.client.GetRefund(ctx, rf.ID); err != nil {
			t.Fatal(err)
		}
	}
	if rf.Status != platform.RefundSucceeded || !rf.Status.Final() {
		t.Fatalf("refund never succeeded: %+v", rf)
	}
	list, err := e.client.ListRefunds(ctx, txn.ID)
	if err != nil || len(list) != 1 || list[0].ID != rf.ID {
		t.Fatalf("ListRefunds = %+v, %v", list, err)
	}
	if list, err := e.client.ListRefunds(ctx, "TNONE"); err != nil || len(list) != 0 || list == nil {
		t.Fatalf("ListRefunds(unknown) = %#v, %v", list, err)
	}
	tx, err := e.client.GetTransaction(ctx, txn.ID)
	if err != nil || tx.Status != domain.StatusPartiallyRefunded || tx.Refunded != 2500 {
		t.Fatalf("after refund: %+v, %v", tx, err)
	}

	// More than is left: rejected with the platform's code, and not retried.
	hitsBefore, _ := e.flaky.stats()
	_, err = e.client.CreateRefund(ctx, "refund-2", platform.RefundRequest{TransactionID: txn.ID, Amount: 7501})
	var apiErr *platform.APIError
	if !errors.Is(err, platform.ErrRejected) || !errors.As(err, &apiErr) || apiErr.Code != "amount_exceeds_refundable" || apiErr.Status != 422 {
		t.Fatalf("over-refund: %v", err)
	}
	if hits, _ := e.flaky.stats(); hits != hitsBefore+1 {
		t.Fatalf("4xx was retried: %d requests", hits-hitsBefore)
	}
	if _, err := e.client.GetRefund(ctx, "RNOPE"); !errors.Is(err, platform.ErrNotFound) {
		t.Fatalf("unknown refund: %v", err)
	}
	if _, err := e.client.CreateRefund(ctx, "", req); err == nil {
		t.Fatal("empty idempotency key accepted")
	}
}

func TestWrongKeyIsRejected(t *testing.T) {
	e := newEnv(t)
	txn := e.payment(t, sandbox.OutcomeSucceeded, 100)
	c := platform.New(e.srv.URL, "wrong", platform.WithBackoff(time.Millisecond))
	_, err := c.GetTransaction(context.Background(), txn.ID)
	var apiErr *platform.APIError
	if !errors.Is(err, platform.ErrRejected) || !errors.As(err, &apiErr) || apiErr.Status != 401 {
		t.Fatalf("wrong key: %v", err)
	}
	if strings.Contains(err.Error(), "wrong") && strings.Contains(c.String(), "wrong") {
		t.Fatal("the key shows up in errors or String")
	}
}

func TestRetriesKeepIdempotencyKey(t *testing.T) {
	for _, tt := range []struct {
		name   string
		status int
	}{{"5xx", http.StatusServiceUnavailable}, {"dropped connection", 0}, {"429", http.StatusTooManyRequests}} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			txn := e.payment(t, sandbox.OutcomeSucceeded, 1000)
			e.flaky.mu.Lock()
			e.flaky.n, e.flaky.status = 2, tt.status
			e.flaky.mu.Unlock()

			rf, err := e.client.CreateRefund(context.Background(), "key-42", platform.RefundRequest{TransactionID: txn.ID, Amount: 1000})
			if err != nil {
				t.Fatal(err)
			}
			hits, keys := e.flaky.stats()
			if hits != 3 {
				t.Fatalf("attempts = %d, want 3", hits)
			}
			for _, k := range keys {
				if k != "key-42" {
					t.Fatalf("Idempotency-Key changed between attempts: %q", keys)
				}
			}
			list, _ := e.client.ListRefunds(context.Background(), txn.ID)
			if len(list) != 1 || list[0].ID != rf.ID {
				t.Fatalf("refunds = %+v", list)
			}
		})
	}
}

func TestUnavailableAfterRetries(t *testing.T) {
	t.Run("error fault", func(t *testing.T) {
		e := newEnv(t)
		txn := e.payment(t, sandbox.OutcomeSucceeded, 1000)
		e.sb.SetFault(sandbox.FaultError)
		_, err := e.client.GetTransaction(context.Background(), txn.ID)
		var apiErr *platform.APIError
		if !errors.Is(err, platform.ErrUnavailable) || !errors.As(err, &apiErr) || apiErr.Status != 500 {
			t.Fatalf("error fault: %v", err)
		}
		if errors.Is(err, platform.ErrRejected) {
			t.Fatal("a 5xx counts as rejected")
		}
		if hits, _ := e.flaky.stats(); hits != 3 {
			t.Fatalf("attempts = %d, want 3", hits)
		}
	})
	t.Run("timeout fault", func(t *testing.T) {
		e := newEnv(t, platform.WithAttemptTimeout(100*time.Millisecond))
		txn := e.payment(t, sandbox.OutcomeSucceeded, 1000)
		e.sb.SetFault(sandbox.FaultTimeout)
		start := time.Now()
		_, err := e.client.CreateRefund(context.Background(), "k", platform.RefundRequest{TransactionID: txn.ID, Amount: 1})
		if !errors.Is(err, platform.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("timeout fault: %v", err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("took %v", d)
		}
		e.sb.SetFault(sandbox.FaultOK)
		if list, _ := e.client.ListRefunds(context.Background(), txn.ID); len(list) != 0 {
			t.Fatalf("a hung request created a refund: %+v", list)
		}
	})
	t.Run("slow fault within the attempt timeout", func(t *testing.T) {
		e := newEnv(t)
		txn := e.payment(t, sandbox.OutcomeSucceeded, 1000)
		e.sb.SetFault(sandbox.FaultSlow)
		start := time.Now()
		if _, err := e.client.GetTransaction(context.Background(), txn.ID); err != nil {
			t.Fatalf("slow: %v", err)
		}
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Fatalf("slow fault answered in %v", d)
		}
	})
	t.Run("slow fault beyond the attempt timeout", func(t *testing.T) {
		e := newEnv(t, platform.WithAttemptTimeout(50*time.Millisecond), platform.WithMaxAttempts(2))
		txn := e.payment(t, sandbox.OutcomeSucceeded, 1000)
		e.sb.SetFault(sandbox.FaultSlow)
		if _, err := e.client.GetTransaction(context.Background(), txn.ID); !errors.Is(err, platform.ErrUnavailable) {
			t.Fatalf("slow beyond timeout: %v", err)
		}
		if hits, _ := e.flaky.stats(); hits != 2 {
			t.Fatalf("attempts = %d, want 2", hits)
		}
	})
	t.Run("nothing listening", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		c := platform.New(url, apiKey, platform.WithBackoff(time.Millisecond))
		if _, err := c.GetRefund(context.Background(), "R1"); !errors.Is(err, platform.ErrUnavailable) {
			t.Fatalf("closed port: %v", err)
		}
	})
}

func TestCallerCancellation(t *testing.T) {
	e := newEnv(t)
	txn := e.payment(t, sandbox.OutcomeSucceeded, 1000)
	e.sb.SetFault(sandbox.FaultTimeout)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := e.client.GetTransaction(ctx, txn.ID)
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, platform.ErrUnavailable) {
		t.Fatalf("cancelled call: %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("took %v after the caller gave up", d)
	}
}

func TestConcurrentCreateRefundOneKey(t *testing.T) {
	e := newEnv(t)
	txn := e.payment(t, sandbox.OutcomeSucceeded, 5000)
	var wg sync.WaitGroup
	var ids sync.Map
	var n atomic.Int32
	for range 50 {
		wg.Go(func() {
			rf, err := e.client.CreateRefund(context.Background(), "one-key", platform.RefundRequest{TransactionID: txn.ID, Amount: 5000, Reason: "dup"})
			if err != nil {
				t.Errorf("CreateRefund: %v", err)
				return
			}
			ids.Store(rf.ID, true)
			n.Add(1)
		})
	}
	wg.Wait()
	count := 0
	ids.Range(func(_, _ any) bool { count++; return true })
	if count != 1 || n.Load() != 50 {
		t.Fatalf("50 calls with one key made %d refunds (%d answers)", count, n.Load())
	}
}
