package sandbox

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestParseSecrets(t *testing.T) {
	tests := []struct {
		in      string
		want    map[string]string
		wantErr bool
	}{
		{"", map[string]string{}, false},
		{"demo=s1", map[string]string{"demo": "s1"}, false},
		{" demo = s1 , shop_2=s=2 ,", map[string]string{"demo": "s1", "shop_2": "s=2"}, false},
		{"demo", nil, true},
		{"demo=", nil, true},
		{"bad code=x", nil, true},
	}
	for _, tt := range tests {
		got, err := ParseSecrets(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("ParseSecrets(%q) err = %v", tt.in, err)
			continue
		}
		if err != nil {
			if strings.Contains(err.Error(), "s1") {
				t.Errorf("error shows the secret: %v", err)
			}
			continue
		}
		if len(got) != len(tt.want) {
			t.Errorf("ParseSecrets(%q) = %v", tt.in, got)
		}
		for k, v := range tt.want {
			if string(got[k]) != v {
				t.Errorf("ParseSecrets(%q)[%s] = %q, want %q", tt.in, k, got[k], v)
			}
		}
	}
}

func TestCommand(t *testing.T) {
	env := func(vals map[string]string) func(string) string { return func(k string) string { return vals[k] } }
	quiet := slog.New(slog.DiscardHandler)
	if err := Command(context.Background(), []string{"--help"}, env(nil), io.Discard, quiet, nil); err != nil {
		t.Fatalf("--help: %v", err)
	}
	if err := Command(context.Background(), []string{"--nope"}, env(nil), io.Discard, quiet, nil); err == nil {
		t.Fatal("unknown flag accepted")
	}
	if err := Command(context.Background(), []string{"extra"}, env(nil), io.Discard, quiet, nil); err == nil {
		t.Fatal("stray argument accepted")
	}
	if err := Command(context.Background(), nil, env(map[string]string{"OULEPAY_WEBHOOK_SECRETS": "x"}), io.Discard, quiet, nil); err == nil {
		t.Fatal("bad secrets accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	asked := make(chan []string, 1)
	adopt := func(_ context.Context, merchants []string) ([]ImportRequest, error) {
		asked <- merchants
		return []ImportRequest{{TransactionID: "TADOPT1", MerchantCode: "demo", Amount: 100}}, nil
	}
	go func() {
		done <- Command(ctx, []string{"--addr", "127.0.0.1:0", "--smtp-addr", "127.0.0.1:0"},
			env(map[string]string{"PAYMEND_DEMO_WEBHOOK_SECRET": "s"}), io.Discard, quiet, adopt)
	}()
	select {
	case m := <-asked:
		if len(m) != 1 || m[0] != "demo" {
			t.Errorf("adopt asked for %v", m)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the console's transactions were not adopted")
	}
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Command = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Command did not stop")
	}
}
