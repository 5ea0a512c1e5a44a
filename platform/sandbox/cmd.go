package sandbox

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// ParseSecrets reads OULEPAY_WEBHOOK_SECRETS: "code=secret,code2=secret2".
// Whitespace around entries is ignored; an empty string gives an empty map.
func ParseSecrets(s string) (map[string][]byte, error) {
	out := map[string][]byte{}
	for entry := range strings.SplitSeq(s, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		code, secret, ok := strings.Cut(entry, "=")
		code, secret = strings.TrimSpace(code), strings.TrimSpace(secret)
		if !ok || !plainToken(code, 64) || secret == "" {
			return nil, fmt.Errorf("sandbox: webhook secrets: entry %q is not code=secret", redact(entry))
		}
		out[code] = []byte(secret)
	}
	return out, nil
}

// redact keeps the merchant code of a "code=secret" entry for error messages.
func redact(entry string) string {
	if code, _, ok := strings.Cut(entry, "="); ok {
		return code + "=…"
	}
	if len(entry) > 8 {
		return entry[:4] + "…"
	}
	return entry
}

// Command runs `paymend sandbox [flags]` until ctx is done. getenv supplies
// OULEPAY_API_KEY, OULEPAY_WEBHOOK_SECRETS and PAYMEND_DEMO_WEBHOOK_SECRET (the
// default secrets are "demo=$PAYMEND_DEMO_WEBHOOK_SECRET"). Flags: --addr,
// --smtp-addr, --console-url, --api-key, --stream. The usage goes to out.
//
// adopt, when not nil, lists transactions that exist already (the console's demo
// data) for the merchants with secrets; they are imported so refunds of them work.
func Command(ctx context.Context, args []string, getenv func(string) string, out io.Writer, logger *slog.Logger,
	adopt func(ctx context.Context, merchants []string) ([]ImportRequest, error)) error {
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fs.SetOutput(out)
	apiKey := getenv("OULEPAY_API_KEY")
	if apiKey == "" {
		apiKey = "sandbox"
	}
	cfg := Config{Logger: logger}
	fs.StringVar(&cfg.Addr, "addr", "127.0.0.1:8081", "HTTP listen address of the simulated platform")
	fs.StringVar(&cfg.SMTPAddr, "smtp-addr", "127.0.0.1:2525", `SMTP listen address of the customer-side mail server ("" for none)`)
	fs.StringVar(&cfg.ConsoleURL, "console-url", "http://127.0.0.1:8080", "PayMend console base URL that receives webhooks")
	fs.StringVar(&cfg.APIKey, "api-key", apiKey, "bearer key the /v1 API requires (OULEPAY_API_KEY)")
	fs.BoolVar(&cfg.Stream, "stream", false, "send a steady flow of payments for merchant demo (about one every 2 s)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("sandbox: unexpected arguments %q", fs.Args())
	}
	raw := getenv("OULEPAY_WEBHOOK_SECRETS")
	if raw == "" && getenv("PAYMEND_DEMO_WEBHOOK_SECRET") != "" {
		raw = "demo=" + getenv("PAYMEND_DEMO_WEBHOOK_SECRET")
	}
	secrets, err := ParseSecrets(raw)
	if err != nil {
		return err
	}
	cfg.Secrets = secrets
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if len(secrets) == 0 {
		cfg.Logger.Warn("sandbox: no webhook secrets (OULEPAY_WEBHOOK_SECRETS or PAYMEND_DEMO_WEBHOOK_SECRET); webhooks will not be sent")
	}
	sb := New(cfg)
	if adopt != nil && len(secrets) > 0 {
		codes := make([]string, 0, len(secrets))
		for c := range secrets {
			codes = append(codes, c)
		}
		reqs, err := adopt(ctx, codes)
		if err != nil {
			cfg.Logger.Warn("sandbox: could not adopt the console's transactions", "err", err)
		}
		n := 0
		for _, r := range reqs {
			if _, created, err := sb.ImportTransaction(r); err == nil && created {
				n++
			}
		}
		if n > 0 {
			cfg.Logger.Info("sandbox: adopted existing transactions so they can be refunded", "count", n)
		}
	}
	return sb.Run(ctx)
}
