// Package sandbox is a runnable simulator of the OulePay platform for demos and
// tests: the platform API (transactions, refunds), a webhook sender that signs
// events like the platform does, controls to create payments, bursts and faults,
// and the customer's side (SMS gateway, SMTP server, in-app receiver) with a page
// that shows what customers received. State lives in memory.
package sandbox

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"paymend/domain"
)

// Config configures a Sandbox. Zero values get the defaults named per field.
type Config struct {
	Addr       string // HTTP listen address for Run; default 127.0.0.1:8081
	SMTPAddr   string // SMTP listen address for Run; "" serves no SMTP
	ConsoleURL string // where webhooks go: ConsoleURL + "/webhooks/oulepay/" + merchant code; "" sends none
	APIKey     string // bearer key of the /v1 API; default "sandbox"
	// Secrets maps merchant code to webhook secret. Webhooks for a merchant without
	// a secret are not sent (the delivery log says why); in-app messages are
	// verified against these secrets.
	Secrets map[string][]byte
	Stream  bool // Run sends a steady flow of payments for StreamMerchant

	StreamMerchant string        // default "demo"
	StreamInterval time.Duration // mean time between streamed payments; default 2 s
	Generator      Generator     // payments for the stream; default NewGenerator

	SMSAPIKey string // key /_sandbox/sms requires; "" accepts any non-empty key

	RefundDelay        time.Duration // pending → final; default 300 ms
	TimeoutThenSuccess time.Duration // payment.failed 202 → payment.succeeded; default 3 s
	SlowDelay          time.Duration // fault "slow"; default 2 s
	HangTimeout        time.Duration // fault "timeout" answers 504 after this; default 30 s
	WebhookAttempts    int           // tries per webhook; default 4
	WebhookBackoff     time.Duration // wait before the 2nd try, doubling; default 500 ms

	HTTPClient *http.Client // for webhooks; default a client with a 10 s timeout
	Clock      domain.Clock // default domain.SystemClock
	Logger     *slog.Logger // default slog.Default()
}

// Fault is how the /v1 API misbehaves on purpose.
type Fault string

// Fault modes for POST /_sandbox/faults.
const (
	FaultOK         Fault = "ok"          // answer normally
	FaultSlow       Fault = "slow"        // answer after SlowDelay (2 s)
	FaultError      Fault = "error"       // answer 500
	FaultTimeout    Fault = "timeout"     // hang until the client gives up (or HangTimeout, then 504)
	FaultRefundFail Fault = "refund_fail" // accept refunds, then fail them (refund.failed)
)

// Faults lists every fault mode.
var Faults = []Fault{FaultOK, FaultSlow, FaultError, FaultTimeout, FaultRefundFail}

// RefundFailMarker: refunds of a transaction whose id ends with it always fail.
// POST /_sandbox/payments with "refund_outcome":"failed" makes such an id.
const RefundFailMarker = "XRF"

// Capacity limits of the in-memory state; the oldest entries go first.
const (
	maxTransactions = 20000
	maxMessages     = 2000
	maxDeliveries   = 500
)

// Sandbox is the simulated platform. Create it with New; it is safe for
// concurrent use. Close (or the end of Run) stops its background work.
type Sandbox struct {
	cfg   Config
	log   *slog.Logger
	clock domain.Clock
	fault atomic.Value // Fault
	genMu sync.Mutex   // serializes cfg.Generator

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	bgMu   sync.Mutex // orders wg.Add against Close
	wg     sync.WaitGroup

	mu         sync.Mutex
	txns       map[string]*txn
	txnOrder   []string // creation order, for eviction and listing
	refunds    map[string]*refund
	refundsOf  map[string][]string // transaction id → refund ids, oldest first
	idem       map[string]idemEntry
	messages   []Message // oldest first
	deliveries []Delivery
	stats      Stats
}

type txn struct {
	ID, Merchant, OrderID string
	Amount, Debited       int64
	Currency, Channel     string
	Status                domain.Status
	Code, Message         string
	Card                  domain.Card
	Customer              domain.Customer
	FailRefunds           bool
	CreatedAt, UpdatedAt  time.Time
}

type refund struct {
	ID, TransactionID, Merchant string
	Amount                      int64
	Currency, Reason            string
	Status                      string
	FailureReason               string
	CreatedAt, UpdatedAt        time.Time
}

type idemEntry struct {
	refundID string
	digest   string
}

// Stats counts what the sandbox did, for tests and the page.
type Stats struct {
	Payments        int `json:"payments"`
	WebhooksSent    int `json:"webhooks_sent"`
	WebhooksFailed  int `json:"webhooks_failed"`
	RefundsCreated  int `json:"refunds_created"`
	MessagesHandled int `json:"messages"`
}

// New returns a Sandbox with cfg's defaults filled in.
func New(cfg Config) *Sandbox {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:8081"
	}
	if cfg.APIKey == "" {
		cfg.APIKey = "sandbox"
	}
	if cfg.StreamMerchant == "" {
		cfg.StreamMerchant = "demo"
	}
	if cfg.StreamInterval <= 0 {
		cfg.StreamInterval = 2 * time.Second
	}
	if cfg.RefundDelay <= 0 {
		cfg.RefundDelay = 300 * time.Millisecond
	}
	if cfg.TimeoutThenSuccess <= 0 {
		cfg.TimeoutThenSuccess = 3 * time.Second
	}
	if cfg.SlowDelay <= 0 {
		cfg.SlowDelay = 2 * time.Second
	}
	if cfg.HangTimeout <= 0 {
		cfg.HangTimeout = 30 * time.Second
	}
	if cfg.WebhookAttempts <= 0 {
		cfg.WebhookAttempts = 4
	}
	if cfg.WebhookBackoff <= 0 {
		cfg.WebhookBackoff = 500 * time.Millisecond
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Clock == nil {
		cfg.Clock = domain.SystemClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Generator == nil {
		cfg.Generator = NewGenerator(cfg.StreamMerchant, 0)
	}
	secrets := make(map[string][]byte, len(cfg.Secrets))
	for k, v := range cfg.Secrets {
		secrets[k] = append([]byte(nil), v...)
	}
	cfg.Secrets = secrets
	ctx, cancel := context.WithCancel(context.Background())
	s := &Sandbox{
		cfg:       cfg,
		log:       cfg.Logger.With("component", "sandbox"),
		clock:     cfg.Clock,
		ctx:       ctx,
		cancel:    cancel,
		txns:      map[string]*txn{},
		refunds:   map[string]*refund{},
		refundsOf: map[string][]string{},
		idem:      map[string]idemEntry{},
	}
	s.fault.Store(FaultOK)
	return s
}

// Handler serves the platform API, the sandbox controls and the customer-side
// receivers (see CONTRACT.md).
func (s *Sandbox) Handler() http.Handler {
	mux := http.NewServeMux()
	v1 := func(h http.HandlerFunc) http.Handler { return s.withFaults(s.withAPIKey(h)) }
	mux.Handle("GET /v1/transactions/{id}", v1(s.getTransaction))
	mux.Handle("POST /v1/refunds", v1(s.createRefund))
	mux.Handle("GET /v1/refunds/{id}", v1(s.getRefund))
	mux.Handle("GET /v1/refunds", v1(s.listRefunds))

	mux.HandleFunc("POST /_sandbox/payments", s.postPayment)
	mux.HandleFunc("POST /_sandbox/transactions", s.postImport)
	mux.HandleFunc("POST /_sandbox/burst", s.postBurst)
	mux.HandleFunc("GET /_sandbox/faults", s.getFaults)
	mux.HandleFunc("POST /_sandbox/faults", s.postFaults)
	mux.HandleFunc("POST /_sandbox/sms", s.postSMS)
	mux.HandleFunc("POST /_sandbox/inapp", s.postInApp)
	mux.HandleFunc("GET /_sandbox/messages", s.getMessages)
	mux.HandleFunc("GET /_sandbox/deliveries", s.getDeliveries)
	mux.HandleFunc("GET /_sandbox/{$}", s.page)
	mux.HandleFunc("GET /_sandbox", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/_sandbox/", http.StatusFound)
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/_sandbox/", http.StatusFound)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	return mux
}

// Run serves HTTP on cfg.Addr and SMTP on cfg.SMTPAddr (when set), and streams
// payments when cfg.Stream, until ctx is done; then it shuts down gracefully.
func (s *Sandbox) Run(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("sandbox: listen %s: %w", s.cfg.Addr, err)
	}
	var smtpLn net.Listener
	if s.cfg.SMTPAddr != "" {
		if smtpLn, err = net.Listen("tcp", s.cfg.SMTPAddr); err != nil {
			ln.Close()
			return fmt.Errorf("sandbox: listen smtp %s: %w", s.cfg.SMTPAddr, err)
		}
	}
	return s.Serve(ctx, ln, smtpLn)
}

// Serve is Run on listeners the caller opened (smtpLn may be nil). It closes them.
func (s *Sandbox) Serve(ctx context.Context, ln, smtpLn net.Listener) error {
	defer s.Close()
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 5 * time.Second,
	}
	errc := make(chan error, 2)
	go func() {
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			errc <- fmt.Errorf("sandbox: http: %w", err)
		}
	}()
	s.log.Info("sandbox listening", "addr", ln.Addr().String(), "console", s.cfg.ConsoleURL)
	if smtpLn != nil {
		go func() {
			if err := s.ServeSMTP(ctx, smtpLn); err != nil {
				errc <- err
			}
		}()
		s.log.Info("sandbox smtp listening", "addr", smtpLn.Addr().String())
	}
	if s.cfg.Stream {
		s.goBackground(func() { s.stream(ctx) })
		s.log.Info("sandbox streaming payments", "merchant", s.cfg.StreamMerchant, "every", s.cfg.StreamInterval)
	}
	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	}
	stop()
	s.cancel() // ends hanging handlers, timers and webhook retries
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil && runErr == nil {
		runErr = fmt.Errorf("sandbox: shutdown: %w", err)
	}
	return runErr
}

// Close stops background work (timers, webhook deliveries, bursts, the stream)
// and waits for it. The Handler keeps answering.
func (s *Sandbox) Close() error {
	s.bgMu.Lock()
	s.cancel()
	s.bgMu.Unlock()
	s.wg.Wait()
	return nil
}

// goBackground runs f tracked by Close, unless the sandbox is closed.
func (s *Sandbox) goBackground(f func()) {
	s.bgMu.Lock()
	defer s.bgMu.Unlock()
	if s.ctx.Err() != nil {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// after runs f after d in the background, unless the sandbox closes first.
func (s *Sandbox) after(d time.Duration, f func()) {
	s.goBackground(func() {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-s.ctx.Done():
		case <-t.C:
			f()
		}
	})
}

// Fault returns the current fault mode.
func (s *Sandbox) Fault() Fault { return s.fault.Load().(Fault) }

// SetFault changes how the /v1 API answers.
func (s *Sandbox) SetFault(f Fault) error {
	for _, v := range Faults {
		if v == f {
			s.fault.Store(f)
			s.log.Info("sandbox fault mode", "mode", string(f))
			return nil
		}
	}
	return fmt.Errorf("sandbox: unknown fault mode %q", f)
}

// Stats returns counters of what happened so far.
func (s *Sandbox) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// idAlphabet is Crockford's base32. newID never puts more than three digits in a
// row, so PAN scrubbing cannot mistake an id for a card number.
const idAlphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// newID returns prefix + n random base32 characters.
func newID(prefix string, n int) string {
	b := make([]byte, n)
	rand.Read(b)
	out := make([]byte, 0, len(prefix)+n)
	out = append(out, prefix...)
	digits := 0
	for _, x := range b {
		c := idAlphabet[int(x)%len(idAlphabet)]
		if c <= '9' {
			if digits == 3 {
				c = idAlphabet[10+int(x)%(len(idAlphabet)-10)]
			}
		}
		if c <= '9' {
			digits++
		} else {
			digits = 0
		}
		out = append(out, c)
	}
	return string(out)
}

// randN returns a random number in [0, n), or 0 when n ≤ 0.
func randN(n int64) int64 {
	if n <= 0 {
		return 0
	}
	return mrand.Int64N(n)
}

func newTxnID() string    { return newID("T", 16) }
func newRefundID() string { return newID("R", 16) }
func newEventID() string  { return "evt_" + newID("", 20) }
func newOrderID() string  { return newID("O", 12) }
