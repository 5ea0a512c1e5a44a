package domain

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestDefaultCatalogIsValid(t *testing.T) {
	entries := DefaultCatalog()
	if len(entries) < 28 {
		t.Fatalf("default catalog has %d codes, want at least 28", len(entries))
	}
	covered := map[Category]int{}
	for _, e := range entries {
		if err := ValidateEntry(e); err != nil {
			t.Errorf("entry %s: %v", e.Code, err)
		}
		if !e.Known() {
			t.Errorf("entry %s: Known() = false", e.Code)
		}
		if e.Title.EN == "" || e.Explanation.ZH == "" || e.Explanation.EN == "" {
			t.Errorf("entry %s: missing title or explanation text", e.Code)
		}
		if len(e.Actions) == 0 {
			t.Errorf("entry %s: no actions", e.Code)
		}
		if e.Retry == RetryHard && e.RetryAfter != 0 {
			t.Errorf("entry %s: hard failure with retry_after %v", e.Code, e.RetryAfter)
		}
		covered[e.Category]++
	}
	for _, c := range Categories {
		if c == CategoryUnclassified {
			continue
		}
		if covered[c] == 0 {
			t.Errorf("category %s has no codes", c)
		}
	}
	cat := NewCatalog(entries, nil)
	for code, want := range map[string]struct {
		cat   Category
		title string
	}{
		"101": {CategoryFunds, "余额不足"},
		"202": {CategoryNetwork, "交易超时/未授权"},
		"301": {CategoryRisk, "风控拦截"},
	} {
		e := cat.Lookup(code)
		if e.Category != want.cat || e.Title.ZH != want.title {
			t.Errorf("Lookup(%s) = %s %q, want %s %q", code, e.Category, e.Title.ZH, want.cat, want.title)
		}
	}
	if e := cat.Lookup("101"); !e.HasAction(ActionConfirmBalance) || !e.HasAction(ActionChangeCard) {
		t.Errorf("101 should suggest confirming the balance and changing the card, got %v", e.Actions)
	}
	if e := cat.Lookup("202"); !e.Retryable() || e.RetryAfter <= 0 {
		t.Errorf("202 should be a soft failure with a delay, got %s %v", e.Retry, e.RetryAfter)
	}
}

func TestRiskCustomerMessagesRevealNothing(t *testing.T) {
	words := []string{"风控", "风险", "拦截", "fraud", "risk"}
	n := 0
	for _, e := range DefaultCatalog() {
		if e.Category != CategoryRisk {
			continue
		}
		n++
		for _, lang := range []string{"zh-CN", "en"} {
			msg := strings.ToLower(e.CustomerMessage.In(lang))
			for _, w := range words {
				if strings.Contains(msg, w) {
					t.Errorf("%s customer message (%s) contains %q: %s", e.Code, lang, w, msg)
				}
			}
		}
	}
	if n < 3 {
		t.Fatalf("only %d risk codes", n)
	}
	if got := NewCatalog(DefaultCatalog(), nil).Lookup("301").CustomerMessage.ZH; !strings.Contains(got, "为保障您的资金安全") {
		t.Errorf("301 customer message = %q, want the guide's safety wording", got)
	}
}

func TestDefaultCatalogReturnsCopy(t *testing.T) {
	a := DefaultCatalog()
	a[0].Title.ZH = "changed"
	a[0].Actions[0] = "x"
	b := DefaultCatalog()
	if b[0].Title.ZH == "changed" || b[0].Actions[0] == "x" {
		t.Fatal("DefaultCatalog shares memory between calls")
	}
}

func TestTextIn(t *testing.T) {
	both := Text{ZH: "中", EN: "en"}
	for _, tc := range []struct {
		t    Text
		lang string
		want string
	}{
		{both, "en", "en"},
		{both, "en-US", "en"},
		{both, "EN_gb", "en"},
		{both, "zh-CN", "中"},
		{both, "", "中"},
		{both, "fr", "中"},
		{both, "eng", "中"},
		{Text{ZH: "中"}, "en", "中"},
		{Text{EN: "en"}, "zh-CN", "en"},
		{Text{}, "en", ""},
	} {
		if got := tc.t.In(tc.lang); got != tc.want {
			t.Errorf("%+v.In(%q) = %q, want %q", tc.t, tc.lang, got, tc.want)
		}
	}
}

func TestLabels(t *testing.T) {
	for _, a := range Actions {
		zh, en := ActionLabel(a, "zh-CN"), ActionLabel(a, "en")
		if zh == string(a) || en == string(a) || zh == en {
			t.Errorf("action %s: labels %q / %q", a, zh, en)
		}
	}
	if got := ActionLabel(ActionConfirmBalance, "zh-CN"); got != "请确认银行卡余额" {
		t.Errorf("confirm_balance label = %q", got)
	}
	if got := ActionLabel(ActionContactPlatform, "zh-CN"); got != "联系支付平台客服" {
		t.Errorf("contact_platform label = %q", got)
	}
	if got := ActionLabel("nope", "en"); got != "nope" {
		t.Errorf("unknown action label = %q", got)
	}
	for _, c := range Categories {
		if !c.Valid() || c.Label("zh-CN") == string(c) || c.Label("en") == string(c) {
			t.Errorf("category %s: labels %q / %q", c, c.Label("zh-CN"), c.Label("en"))
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestOverridePrecedence(t *testing.T) {
	base := DefaultCatalog()
	orig := NewCatalog(base, nil).Lookup("101")
	cat := NewCatalog(base, []CodeOverride{
		{
			Code:            "101",
			Title:           &Text{ZH: "卡内余额不足"}, // EN left empty: keeps the base English
			CustomerMessage: &Text{ZH: "亲,余额不够啦,请确认银行卡余额。", EN: "Balance too low, please check."},
			Actions:         []Action{ActionChangeMethod},
			Retry:           ptr(RetrySoft),
			RetryAfter:      ptr(time.Hour),
			AltChannel:      ptr("wechat"),
		},
		{Code: "202", Actions: nil}, // nothing set: identical to base
		{Code: "MX-1", Category: ptr(CategoryMerchant), Title: &Text{ZH: "商户自定义", EN: "Custom"}},
	})
	got := cat.Lookup("101")
	want := orig
	want.Title = Text{ZH: "卡内余额不足", EN: orig.Title.EN}
	want.CustomerMessage = Text{ZH: "亲,余额不够啦,请确认银行卡余额。", EN: "Balance too low, please check."}
	want.Actions = []Action{ActionChangeMethod}
	want.Retry, want.RetryAfter, want.AltChannel = RetrySoft, time.Hour, "wechat"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("override 101:\n got %+v\nwant %+v", got, want)
	}
	if g, w := cat.Lookup("202"), NewCatalog(base, nil).Lookup("202"); !reflect.DeepEqual(g, w) {
		t.Errorf("empty override changed 202: %+v", g)
	}
	custom := cat.Lookup("MX-1")
	if !custom.Known() || custom.Category != CategoryMerchant || custom.Title.ZH != "商户自定义" || custom.CustomerMessage.ZH == "" {
		t.Errorf("merchant-defined code: %+v", custom)
	}
	if cat.Len() != len(base)+1 {
		t.Errorf("Len = %d, want %d", cat.Len(), len(base)+1)
	}
	// Base catalog untouched by the override.
	if again := NewCatalog(base, nil).Lookup("101"); !reflect.DeepEqual(again, orig) {
		t.Error("NewCatalog modified its base")
	}
	// An empty non-nil Actions clears the list.
	cleared := NewCatalog(base, []CodeOverride{{Code: "101", Actions: []Action{}}}).Lookup("101")
	if len(cleared.Actions) != 0 {
		t.Errorf("empty Actions override kept %v", cleared.Actions)
	}
	// Lookup returns copies.
	got.Actions[0] = "x"
	if cat.Lookup("101").Actions[0] != ActionChangeMethod {
		t.Error("Lookup shares the actions slice")
	}
}

func TestValidateOverride(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    CodeOverride
		ok   bool
	}{
		{"empty", CodeOverride{Code: "101"}, true},
		{"bad code", CodeOverride{Code: "1 01"}, false},
		{"unclassified", CodeOverride{Code: "101", Category: ptr(CategoryUnclassified)}, false},
		{"risk words", CodeOverride{Code: "301", CustomerMessage: &Text{ZH: "您的交易被风控拦截"}}, false},
		{"bad action", CodeOverride{Code: "101", Actions: []Action{"dance"}}, false},
		{"bad retry", CodeOverride{Code: "101", Retry: ptr(RetryKind("maybe"))}, false},
		{"negative delay", CodeOverride{Code: "101", RetryAfter: ptr(-time.Second)}, false},
		{"bad channel", CodeOverride{Code: "101", AltChannel: ptr("paypal")}, false},
		{"clear channel", CodeOverride{Code: "101", AltChannel: ptr("")}, true},
		{"full", CodeOverride{Code: "101", Title: &Text{ZH: "标题"}, Actions: []Action{ActionRetryLater}, Retry: ptr(RetrySoft)}, true},
	} {
		err := ValidateOverride(tc.o)
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidEntry) {
			t.Errorf("%s: error %v does not wrap ErrInvalidEntry", tc.name, err)
		}
	}
}

func TestLookupUnknownCode(t *testing.T) {
	cat := NewCatalog(DefaultCatalog(), nil)
	e := cat.Lookup("999")
	if e.Known() || e.Category != CategoryUnclassified || e.Code != "999" {
		t.Fatalf("Lookup(999) = %+v, want an unclassified unknown entry", e)
	}
	if e.CustomerMessage.ZH != "支付未成功,请稍后再试或更换支付方式。" || e.CustomerMessage.EN == "" {
		t.Errorf("unknown customer message = %+v", e.CustomerMessage)
	}
	if e.Title.ZH == "" || e.Explanation.ZH == "" || len(e.Actions) == 0 {
		t.Errorf("unknown entry is incomplete: %+v", e)
	}
	if cat.CategoryOf("999") != CategoryUnclassified || cat.CategoryOf("101") != CategoryFunds {
		t.Error("CategoryOf")
	}
	if CategoryOf("301") != CategoryRisk || CategoryOf("") != CategoryUnclassified {
		t.Error("package CategoryOf")
	}
	if cat.Has("999") || !cat.Has("101") {
		t.Error("Has")
	}
	var nilCat *Catalog
	if nilCat.Lookup("101").Known() || nilCat.All() != nil || nilCat.Len() != 0 {
		t.Error("nil catalog should behave as empty")
	}
	if got := cat.Lookup(" 101 "); got.Code != "101" {
		t.Errorf("Lookup with spaces = %q", got.Code)
	}
}

func TestAllSortedByCode(t *testing.T) {
	cat := NewCatalog([]CodeEntry{
		{Code: "B1", Category: CategoryPlatform}, {Code: "1000", Category: CategoryFunds},
		{Code: "99", Category: CategoryFunds}, {Code: "101", Category: CategoryFunds}, {Code: "A2", Category: CategoryCard},
	}, nil)
	var got []string
	for _, e := range cat.All() {
		got = append(got, e.Code)
	}
	if want := []string{"99", "101", "1000", "A2", "B1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("All order = %v, want %v", got, want)
	}
	all := NewCatalog(DefaultCatalog(), nil).All()
	for i := 1; i < len(all); i++ {
		if CompareCodes(all[i-1].Code, all[i].Code) >= 0 {
			t.Errorf("default catalog not sorted at %s, %s", all[i-1].Code, all[i].Code)
		}
	}
}

func validEntry() CodeEntry {
	return CodeEntry{
		Code: "X-1", Category: CategoryFunds,
		Title:           Text{ZH: "标题", EN: "Title"},
		CustomerMessage: Text{ZH: "请稍后再试。", EN: "Please try again later."},
		Actions:         []Action{ActionRetryLater}, Retry: RetrySoft, RetryAfter: time.Minute,
	}
}

func TestValidateEntry(t *testing.T) {
	for _, tc := range []struct {
		name  string
		edit  func(*CodeEntry)
		field string
	}{
		{"ok", func(*CodeEntry) {}, ""},
		{"empty code", func(e *CodeEntry) { e.Code = "" }, "code"},
		{"long code", func(e *CodeEntry) { e.Code = strings.Repeat("1", 17) }, "code"},
		{"16 chars", func(e *CodeEntry) { e.Code = strings.Repeat("a", 16) }, ""},
		{"code with dot", func(e *CodeEntry) { e.Code = "1.0" }, "code"},
		{"code with cjk", func(e *CodeEntry) { e.Code = "码" }, "code"},
		{"no category", func(e *CodeEntry) { e.Category = "" }, "category"},
		{"unclassified", func(e *CodeEntry) { e.Category = CategoryUnclassified }, "category"},
		{"bad category", func(e *CodeEntry) { e.Category = "money" }, "category"},
		{"no zh title", func(e *CodeEntry) { e.Title.ZH = "  " }, "title_zh"},
		{"no en title is fine", func(e *CodeEntry) { e.Title.EN = "" }, ""},
		{"unknown action", func(e *CodeEntry) { e.Actions = []Action{"fly"} }, "actions"},
		{"repeated action", func(e *CodeEntry) { e.Actions = []Action{ActionRetryLater, ActionRetryLater} }, "actions"},
		{"no actions is fine", func(e *CodeEntry) { e.Actions = nil }, ""},
		{"no zh message", func(e *CodeEntry) { e.CustomerMessage.ZH = "" }, "customer_message"},
		{"no en message", func(e *CodeEntry) { e.CustomerMessage.EN = "" }, "customer_message"},
		{"risk word", func(e *CodeEntry) { e.CustomerMessage.EN = "Blocked by our Risk team." }, "customer_message"},
		{"long message", func(e *CodeEntry) { e.CustomerMessage.ZH = strings.Repeat("请", 301) }, "customer_message_zh"},
		{"control char", func(e *CodeEntry) { e.Title.EN = "a\x00b" }, "title_en"},
		{"bad utf8", func(e *CodeEntry) { e.Explanation.ZH = "\xff" }, "explanation_zh"},
		{"bad retry", func(e *CodeEntry) { e.Retry = "" }, "retry"},
		{"negative delay", func(e *CodeEntry) { e.RetryAfter = -1 }, "retry_after"},
		{"bad channel", func(e *CodeEntry) { e.AltChannel = "cash" }, "alt_channel"},
		{"good channel", func(e *CodeEntry) { e.AltChannel = "unionpay" }, ""},
	} {
		e := validEntry()
		tc.edit(&e)
		err := ValidateEntry(e)
		if tc.field == "" {
			if err != nil {
				t.Errorf("%s: unexpected error %v", tc.name, err)
			}
			continue
		}
		var fe *FieldError
		if !errors.As(err, &fe) || !errors.Is(err, ErrInvalidEntry) {
			t.Errorf("%s: error %v, want a FieldError", tc.name, err)
			continue
		}
		if fe.Field != tc.field || fe.Msg.ZH == "" || fe.Msg.EN == "" {
			t.Errorf("%s: field %q msg %+v, want field %q", tc.name, fe.Field, fe.Msg, tc.field)
		}
	}
}

func TestCatalogJSONRoundtrip(t *testing.T) {
	entries := DefaultCatalog()
	b, err := MarshalCatalogJSON(entries)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"zh-CN": "余额不足"`)) || !bytes.Contains(b, []byte(`"retry_after": 300`)) {
		t.Errorf("unexpected JSON shape:\n%.400s", b)
	}
	back, err := ParseCatalogJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, entries) {
		t.Error("JSON roundtrip changed the catalog")
	}
	wrapped := append(append([]byte(`{"codes":`), b...), '}')
	if back, err := ParseCatalogJSON(wrapped); err != nil || len(back) != len(entries) {
		t.Errorf("wrapped form: %d entries, %v", len(back), err)
	}
}

func TestParseCatalogJSON(t *testing.T) {
	const ok = `{"code":"X1","category":"network","title":{"zh-CN":"超时"},
		"customer_message":{"zh-CN":"请稍后再试。","en":"Please try later."},
		"actions":["retry_later"],"retry":"soft","retry_after":"10m","alt_channel":"wechat"}`
	got, err := ParseCatalogJSON([]byte("\ufeff[" + ok + "]"))
	if err != nil {
		t.Fatal(err)
	}
	if got[0].RetryAfter != 10*time.Minute || got[0].Retry != RetrySoft || got[0].AltChannel != "wechat" {
		t.Errorf("parsed %+v", got[0])
	}
	noRetry := `{"code":"X2","category":"card","title":{"zh-CN":"卡"},"customer_message":{"zh-CN":"请换卡。","en":"Use another card."}}`
	if got, err := ParseCatalogJSON([]byte("[" + noRetry + "]")); err != nil || got[0].Retry != RetryHard || got[0].RetryAfter != 0 {
		t.Errorf("missing retry: %+v %v", got, err)
	}
	for name, in := range map[string]string{
		"syntax":       `[{"code":`,
		"duplicate":    "[" + ok + "," + ok + "]",
		"invalid":      `[{"code":"X1","category":"nope"}]`,
		"bad delay":    `[{"code":"X1","category":"card","retry_after":"soon"}]`,
		"negative":     `[{"code":"X1","category":"card","retry_after":-5}]`,
		"not an array": `"hello"`,
	} {
		if _, err := ParseCatalogJSON([]byte(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestCatalogCSVRoundtrip(t *testing.T) {
	entries := DefaultCatalog()
	entries[0].Explanation.ZH = "多行\n说明,含 \"引号\""
	var buf bytes.Buffer
	if err := WriteCatalogCSV(&buf, entries); err != nil {
		t.Fatal(err)
	}
	header, _, _ := strings.Cut(buf.String(), "\n")
	if header != strings.Join(CatalogCSVColumns, ",") {
		t.Errorf("header = %q", header)
	}
	back, rowErrs, err := ReadCatalogCSV(&buf)
	if err != nil || len(rowErrs) != 0 {
		t.Fatalf("read back: %v %v", err, rowErrs)
	}
	if !reflect.DeepEqual(back, entries) {
		t.Error("CSV roundtrip changed the catalog")
	}
}

func TestReadCatalogCSVRowErrors(t *testing.T) {
	in := "\ufeffCode,Category,title_zh,title_en,customer_message_zh,customer_message_en,actions,retry,retry_after_seconds,extra\n" +
		"A1,funds,余额不足,Low balance,请确认余额。,Please check your balance.,confirm_balance|change_card,,,x\n" + // row 2 ok
		"A2,funds,,No zh title,请确认余额。,Please check.,,,,\n" + // row 3: title_zh
		"A3,nope,标题,T,请稍后。,Later.,,,,\n" + // row 4: category
		"A1,card,重复,Dup,请稍后。,Later.,,,,\n" + // row 5: duplicate of row 2
		"A5,network,超时,Timeout,请稍后。,Later.,retry_later,soft,10m,\n" + // row 6 ok (duration accepted)
		"A6,network,超时,Timeout,请稍后。,Later.,retry_later,soft,abc,\n" + // row 7: retry_after
		"A7,risk,风控,Risk,您被风控拦截了,You were blocked.,,,,\n" + // row 8: customer message
		"A8,card,卡,Card,请换卡。,Use another card.,teleport,,,\n" + // row 9: actions
		"A9,card,卡,Card,请换卡。\n" // row 10: short row → missing en message
	got, rowErrs, err := ReadCatalogCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Code != "A1" || got[1].Code != "A5" {
		t.Fatalf("valid rows = %+v", got)
	}
	if got[0].Retry != RetryHard || !reflect.DeepEqual(got[0].Actions, []Action{ActionConfirmBalance, ActionChangeCard}) {
		t.Errorf("row 2 parsed as %+v", got[0])
	}
	if got[1].RetryAfter != 10*time.Minute || got[1].Retry != RetrySoft {
		t.Errorf("row 6 parsed as %+v", got[1])
	}
	want := []struct {
		row   int
		code  string
		field string
	}{
		{3, "A2", "title_zh"}, {4, "A3", "category"}, {5, "A1", "code"}, {7, "A6", "retry_after_seconds"},
		{8, "A7", "customer_message"}, {9, "A8", "actions"}, {10, "A9", "customer_message"},
	}
	if len(rowErrs) != len(want) {
		t.Fatalf("row errors = %v", rowErrs)
	}
	for i, w := range want {
		re := rowErrs[i]
		if re.Row != w.row || re.Code != w.code || re.Field != w.field || re.Reason.ZH == "" || re.Reason.EN == "" {
			t.Errorf("row error %d = %+v, want row %d code %s field %s", i, re, w.row, w.code, w.field)
		}
		if !strings.Contains(re.Error(), "row ") {
			t.Errorf("Error() = %q", re.Error())
		}
	}
}

func TestReadCatalogCSVFileErrors(t *testing.T) {
	for name, in := range map[string]string{
		"empty":     "",
		"no code":   "category,title_zh\nfunds,x\n",
		"too many":  "code\n" + strings.Repeat("x\n", MaxCatalogCSVRows+1),
		"only junk": "\"",
	} {
		_, _, err := ReadCatalogCSV(strings.NewReader(in))
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		if !errors.Is(err, ErrCatalogCSV) {
			t.Errorf("%s: %v does not wrap ErrCatalogCSV", name, err)
		}
	}
	// A malformed row in the middle is a row error, not a file error.
	in := "code,category\nA1,funds\n\"A2\"x,\"\nA3,card\n"
	_, rowErrs, err := ReadCatalogCSV(strings.NewReader(in))
	if err != nil || len(rowErrs) == 0 {
		t.Errorf("malformed row: err %v rows %v", err, rowErrs)
	}
}

func FuzzReadCatalogCSV(f *testing.F) {
	var buf bytes.Buffer
	if err := WriteCatalogCSV(&buf, DefaultCatalog()[:3]); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.String())
	f.Add("code,category,title_zh,customer_message_zh,customer_message_en\nA,funds,标题,请稍后,Later\n")
	f.Add("code\n\"\n")
	f.Add("\ufeffcode,actions,retry_after_seconds\nX,a|b||c,99999999999999999999\n")
	f.Add("code,title_zh\n\"a\r\nb\",\"c\"\"d\"\n")
	f.Fuzz(func(t *testing.T, in string) {
		entries, rowErrs, err := ReadCatalogCSV(strings.NewReader(in))
		if err != nil {
			if entries != nil || rowErrs != nil {
				t.Fatal("results returned together with a file error")
			}
			return
		}
		for _, re := range rowErrs {
			if re.Row < 2 || re.Reason.EN == "" {
				t.Fatalf("bad row error %+v", re)
			}
		}
		seen := map[string]bool{}
		for _, e := range entries {
			if err := ValidateEntry(e); err != nil {
				t.Fatalf("returned an invalid entry: %v", err)
			}
			if seen[e.Code] {
				t.Fatalf("returned code %q twice", e.Code)
			}
			seen[e.Code] = true
		}
		// What was accepted survives a write/read roundtrip unchanged.
		var out bytes.Buffer
		if err := WriteCatalogCSV(&out, entries); err != nil {
			t.Fatal(err)
		}
		back, rowErrs2, err := ReadCatalogCSV(&out)
		if err != nil || len(rowErrs2) != 0 || len(back) != len(entries) {
			t.Fatalf("roundtrip: %v %v", err, rowErrs2)
		}
		for i := range back {
			if !reflect.DeepEqual(back[i], entries[i]) {
				t.Fatalf("roundtrip changed %+v into %+v", entries[i], back[i])
			}
		}
	})
}
