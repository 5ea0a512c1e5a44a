// Package i18n is PayMend's one message catalog for user-facing text: zh-CN is the
// default language, en the second. Every key carries both languages by construction.
package i18n

import (
	"context"
	"fmt"
	"strings"
)

// Lang is a supported UI language.
type Lang string

// Supported languages.
const (
	ZH Lang = "zh-CN"
	EN Lang = "en"
)

// Default is the language used when nothing else is known.
const Default = ZH

// Parse maps a user-supplied language tag to a supported language.
func Parse(s string) (Lang, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	switch {
	case s == "en" || strings.HasPrefix(s, "en-"):
		return EN, true
	case s == "zh" || strings.HasPrefix(s, "zh-"):
		return ZH, true
	}
	return Default, false
}

// FromAcceptLanguage picks the first supported language of an Accept-Language header.
func FromAcceptLanguage(h string) Lang {
	for _, part := range strings.Split(h, ",") {
		tag, _, _ := strings.Cut(part, ";")
		if l, ok := Parse(tag); ok {
			return l
		}
	}
	return Default
}

// Short is the form used in Text.In lookups of domain texts ("zh-CN" or "en").
func (l Lang) String() string { return string(l) }

type ctxKey struct{}

// WithLang returns a context that carries the request's language.
func WithLang(ctx context.Context, l Lang) context.Context {
	return context.WithValue(ctx, ctxKey{}, l)
}

// FromContext returns the language carried by ctx, or Default.
func FromContext(ctx context.Context) Lang {
	if ctx != nil {
		if l, ok := ctx.Value(ctxKey{}).(Lang); ok {
			return l
		}
	}
	return Default
}

// T returns the message for key in language l, formatted with args (fmt verbs).
// A missing key renders as the key itself, and a test keeps that from shipping.
func T(l Lang, key string, args ...any) string {
	m, ok := lookup(key)
	if !ok {
		return key
	}
	s := m.zh
	if l == EN {
		s = m.en
	}
	if len(args) > 0 {
		return fmt.Sprintf(s, args...)
	}
	return s
}

// C is T with the language taken from ctx.
func C(ctx context.Context, key string, args ...any) string {
	return T(FromContext(ctx), key, args...)
}

// Has reports whether key is in the catalog.
func Has(key string) bool { _, ok := lookup(key); return ok }

// catalogs are the message tables, one per area file; a key lives in exactly one.
var catalogs = []map[string]msg{messages, codesMessages, refundsMessages, feedbackMessages, dashboardMessages, riskMessages, emergencyMessages}

func lookup(key string) (msg, bool) {
	for _, c := range catalogs {
		if m, ok := c[key]; ok {
			return m, true
		}
	}
	return msg{}, false
}

type msg struct{ zh, en string }
