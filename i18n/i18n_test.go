package i18n

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestEveryKeyHasBothLanguages(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range catalogs {
		for k := range c {
			if seen[k] {
				t.Errorf("%s is defined twice", k)
			}
			seen[k] = true
		}
	}
	for k, m := range allMessages() {
		if strings.TrimSpace(m.zh) == "" || strings.TrimSpace(m.en) == "" {
			t.Errorf("%s: missing a language (zh %q, en %q)", k, m.zh, m.en)
		}
		if strings.Count(m.zh, "%") != strings.Count(m.en, "%") {
			t.Errorf("%s: zh and en take different arguments", k)
		}
	}
}

// keyUse finds literal keys passed to the translation helpers in code and templates.
var keyUse = regexp.MustCompile(`(?:\bt\(ctx, |\bT\(c, |web\.T\(c, |i18n\.T\([a-zA-Z.]+, |i18n\.C\(ctx, |Fail\([^,]+, "[a-z_]+", |Key: |FilterError\{[^,]+, )"([a-z0-9_]+\.[a-z0-9_.]*[a-z0-9_])"`)

func TestEveryUsedKeyExists(t *testing.T) {
	root := ".."
	found := 0
	for _, dir := range []string{"views", "handlers", "web", "i18n"} {
		files, _ := filepath.Glob(filepath.Join(root, dir, "*"))
		for _, f := range files {
			if !(strings.HasSuffix(f, ".go") || strings.HasSuffix(f, ".templ")) || strings.HasSuffix(f, "_templ.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range keyUse.FindAllStringSubmatch(string(b), -1) {
				found++
				if !Has(m[1]) {
					t.Errorf("%s uses missing key %q", f, m[1])
				}
			}
		}
	}
	if found < 50 {
		t.Fatalf("only %d key uses found; the scanner is broken", found)
	}
}

func TestDynamicKeyFamilies(t *testing.T) {
	families := map[string][]string{
		"status.":       {"failed", "pending", "succeeded", "refunded", "partially_refunded"},
		"role.":         {"admin", "operator", "viewer"},
		"channel.":      {"card", "wechat", "alipay", "unionpay", "bank_transfer"},
		"audit.result.": {"ok", "denied", "failed"},
		"timeline.":     {"payment.failed", "payment.succeeded", "payment.pending", "refund.succeeded", "refund.failed"},
		"tx.source.":    {"webhook", "import", "seed"},
		"password.":     {"too_short", "too_long", "common", "is_email"},
	}
	for prefix, names := range families {
		for _, n := range names {
			if !Has(prefix + n) {
				t.Errorf("missing %s%s", prefix, n)
			}
		}
	}
}

func TestLanguageSelection(t *testing.T) {
	if l, ok := Parse("en-US"); !ok || l != EN {
		t.Fatal("en-US")
	}
	if l, ok := Parse("fr"); ok || l != ZH {
		t.Fatal("fr must fall back to zh-CN")
	}
	if FromAcceptLanguage("fr-FR,en;q=0.8") != EN || FromAcceptLanguage("") != ZH {
		t.Fatal("Accept-Language")
	}
	ctx := WithLang(context.Background(), EN)
	if C(ctx, "nav.overview") != "Overview" || T(ZH, "nav.overview") != "概览" {
		t.Fatal("lookup")
	}
	if T(EN, "home.vs_prev", "+1") != "+1 vs previous 24 h" {
		t.Fatal("args")
	}
}

func allMessages() map[string]msg {
	out := map[string]msg{}
	for _, c := range catalogs {
		for k, v := range c {
			out[k] = v
		}
	}
	return out
}
