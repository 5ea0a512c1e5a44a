package domain

import (
	"errors"
	"strings"
	"testing"
	"time"
	"unicode"
)

func TestParseMessageTemplate(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		wantErr string // substring of the English message; "" = valid
	}{
		{"plain text", "您好,支付未成功。", ""},
		{"every variable", "{{.CustomerName}}{{.Amount}}{{.OrderID}}{{.Time}}{{.CustomerMessage}}{{.NextStep}}{{.RetryLink}}{{.FeedbackLink}}{{.MerchantName}}{{.BackupChannel}}", ""},
		{"if else", "{{if .CustomerName}}{{.CustomerName}}{{else}}客户{{end}}您好", ""},
		{"trim markers", "a {{- .Amount -}} b", ""},
		{"comment", "{{/* note for editors */}}hi", ""},
		{"less-than in text", "金额 < 100 时 a<b", ""},
		{"unknown variable", "您好 {{.Name}}", "unknown variable {{.Name}}"},
		{"unknown in if", "{{if .Phone}}x{{end}}", "unknown variable {{.Phone}}"},
		{"unknown in else branch", "{{if .Amount}}x{{else}}{{.Email}}{{end}}", "unknown variable {{.Email}}"},
		{"field of a field", "{{.CustomerName.First}}", "unknown variable"},
		{"lower-case variable", "{{.amount}}", "unknown variable {{.amount}}"},
		{"function call", `{{printf "%s" .Amount}}`, "not supported"},
		{"pipeline", "{{.Amount | len}}", "not supported"},
		{"dot", "{{.}}", "not supported"},
		{"variable declaration", "{{$x := .Amount}}{{$x}}", "not supported"},
		{"range", "{{range .Amount}}x{{end}}", "not supported"},
		{"with", "{{with .Amount}}{{.}}{{end}}", "not supported"},
		{"define", `{{define "x"}}hi{{end}}body`, "define"},
		{"template call", `{{template "x"}}`, "not supported"},
		{"unclosed action", "您好 {{.Amount", "syntax error"},
		{"unclosed if", "{{if .Amount}}x", "syntax error"},
		{"html tag", "请点击 <a href=\"x\">这里</a>", "not HTML"},
		{"html break", "第一行<br/>第二行", "not HTML"},
		{"html entity", "A &amp; B", "not HTML"},
		{"control character", "a\x07b", "control characters"},
		{"invalid utf-8", "a\xffb", "UTF-8"},
		{"too long", strings.Repeat("长", maxTemplateBody+1), "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ParseMessageTemplate(tt.body)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseMessageTemplate(%q) = %v, want nil", tt.body, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseMessageTemplate(%q) = nil, want error containing %q", tt.body, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalidTemplate) {
				t.Errorf("error %v does not wrap ErrInvalidTemplate", err)
			}
			var te *TemplateError
			if !errors.As(err, &te) || te.Msg.ZH == "" || te.Msg.EN == "" {
				t.Fatalf("error %v is not a bilingual *TemplateError", err)
			}
			if !strings.Contains(te.Msg.EN, tt.wantErr) {
				t.Errorf("error = %q, want it to contain %q", te.Msg.EN, tt.wantErr)
			}
		})
	}
}

func testVars(lang string) MessageVars {
	v := MessageVars{
		CustomerName: "张伟", Amount: "129.00元", OrderID: "O123", Time: "11月25日 18:00",
		CustomerMessage: "可能是银行卡可用余额不足。", NextStep: "请确认银行卡余额后重新支付",
		RetryLink: "https://pay.example.cn/r/abc", FeedbackLink: "https://pay.example.cn/f/xyz",
		MerchantName: "欧乐商城", BackupChannel: "支付宝",
	}
	if lang == "en" {
		v.CustomerName, v.Amount, v.Time, v.MerchantName, v.BackupChannel = "Zhang Wei", "CNY 129.00", "25 Nov 18:00", "Oule Mall", "Alipay"
		v.CustomerMessage, v.NextStep = "The card balance may be too low.", "Please check your card balance and pay again"
	}
	return v
}

func TestRenderMessage(t *testing.T) {
	sms := MessageTemplate{Key: "t.sms", Channel: NotifySMS,
		Subject: Text{ZH: "不应出现", EN: "never shown"},
		Body: Text{
			ZH: "【{{.MerchantName}}】{{.CustomerName}}您好,订单{{.OrderID}}({{.Amount}})支付未成功。{{.NextStep}}。{{if .RetryLink}}重新支付:{{.RetryLink}}{{end}}",
			EN: "[{{.MerchantName}}] Hello{{if .CustomerName}} {{.CustomerName}}{{end}}, order {{.OrderID}} ({{.Amount}}) did not go through. {{.NextStep}}.{{if .RetryLink}} Pay again: {{.RetryLink}}{{end}}",
		}}
	email := MessageTemplate{Key: "t.email", Channel: NotifyEmail,
		Subject: Text{ZH: "【{{.MerchantName}}】订单 {{.OrderID}} 支付未成功", EN: "[{{.MerchantName}}] Order {{.OrderID}} did not go through"},
		Body: Text{
			ZH: "{{if .CustomerName}}{{.CustomerName}}{{else}}尊敬的客户{{end}},您好:   \r\n\r\n\r\n\r\n{{.CustomerMessage}}\n{{if .BackupChannel}}也可使用{{.BackupChannel}}。{{end}}\n\n\n{{.MerchantName}}\n",
			EN: "Dear {{if .CustomerName}}{{.CustomerName}}{{else}}customer{{end}},\n\n{{.CustomerMessage}}\n{{if .BackupChannel}}You can also pay with {{.BackupChannel}}.{{end}}\n\n{{.MerchantName}}",
		}}
	onlyZH := MessageTemplate{Key: "t.zh", Channel: NotifyInApp, Body: Text{ZH: "仅中文 {{.OrderID}}"}}

	noName := testVars("zh")
	noName.CustomerName, noName.RetryLink, noName.BackupChannel = "", "", ""
	noNameEN := testVars("en")
	noNameEN.CustomerName, noNameEN.RetryLink, noNameEN.BackupChannel = "", "", ""

	tests := []struct {
		name        string
		tmpl        MessageTemplate
		lang        string
		vars        MessageVars
		wantSubject string
		wantBody    string
	}{
		{"sms zh", sms, "zh-CN", testVars("zh"), "",
			"【欧乐商城】张伟您好,订单O123(129.00元)支付未成功。请确认银行卡余额后重新支付。重新支付:https://pay.example.cn/r/abc"},
		{"sms en", sms, "en", testVars("en"), "",
			"[Oule Mall] Hello Zhang Wei, order O123 (CNY 129.00) did not go through. Please check your card balance and pay again. Pay again: https://pay.example.cn/r/abc"},
		{"sms en-US is English", sms, "en-US", testVars("en"), "",
			"[Oule Mall] Hello Zhang Wei, order O123 (CNY 129.00) did not go through. Please check your card balance and pay again. Pay again: https://pay.example.cn/r/abc"},
		{"sms zh without optional values", sms, "zh-CN", noName, "",
			"【欧乐商城】您好,订单O123(129.00元)支付未成功。请确认银行卡余额后重新支付。"},
		{"sms en without optional values", sms, "en", noNameEN, "",
			"[Oule Mall] Hello, order O123 (CNY 129.00) did not go through. Please check your card balance and pay again."},
		{"email zh: blank lines collapsed, trailing space trimmed", email, "zh-CN", testVars("zh"),
			"【欧乐商城】订单 O123 支付未成功",
			"张伟,您好:\n\n可能是银行卡可用余额不足。\n也可使用支付宝。\n\n欧乐商城"},
		{"email en", email, "en", testVars("en"),
			"[Oule Mall] Order O123 did not go through",
			"Dear Zhang Wei,\n\nThe card balance may be too low.\nYou can also pay with Alipay.\n\nOule Mall"},
		{"email en without name", email, "en", noNameEN,
			"[Oule Mall] Order O123 did not go through",
			"Dear customer,\n\nThe card balance may be too low.\n\nOule Mall"},
		{"missing language falls back", onlyZH, "en", testVars("en"), "", "仅中文 O123"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			subject, body, err := RenderMessage(tt.tmpl, tt.lang, tt.vars)
			if err != nil {
				t.Fatalf("RenderMessage: %v", err)
			}
			if subject != tt.wantSubject {
				t.Errorf("subject = %q, want %q", subject, tt.wantSubject)
			}
			if body != tt.wantBody {
				t.Errorf("body =\n%q\nwant\n%q", body, tt.wantBody)
			}
		})
	}
}

func TestRenderMessageIsPlainText(t *testing.T) {
	tmpl := MessageTemplate{Key: "t", Channel: NotifyEmail,
		Subject: Text{ZH: "订单 {{.OrderID}}"},
		Body:    Text{ZH: "{{.CustomerName}}您好 {{.OrderID}}"}}
	v := testVars("zh")
	v.CustomerName = "<b>张&伟</b>"
	v.OrderID = "O1\r\nBcc: evil@example.com"
	subject, body, err := RenderMessage(tmpl, "zh-CN", v)
	if err != nil {
		t.Fatal(err)
	}
	// No HTML escaping: the customer sees exactly their name; no header injection.
	if want := "<b>张&伟</b>您好 O1  Bcc: evil@example.com"; body != want {
		t.Errorf("body = %q, want %q", body, want)
	}
	if strings.ContainsAny(subject, "\r\n") || subject != "订单 O1 Bcc: evil@example.com" {
		t.Errorf("subject = %q, want one line", subject)
	}
	// A long name is cut so it can't blow up an SMS.
	v.CustomerName = strings.Repeat("名", 500)
	_, body, _ = RenderMessage(tmpl, "zh-CN", v)
	if n := strings.Count(body, "名"); n != maxVarName {
		t.Errorf("name kept %d runes, want %d", n, maxVarName)
	}
}

func TestRenderMessageRefusesBadTemplates(t *testing.T) {
	tests := []struct {
		name string
		tmpl MessageTemplate
	}{
		{"unknown variable", MessageTemplate{Key: "t", Channel: NotifySMS, Body: Text{ZH: "您好 {{.Phone}}", EN: "hi"}}},
		{"unknown variable in subject", MessageTemplate{Key: "t", Channel: NotifyEmail, Subject: Text{ZH: "{{.Secret}}"}, Body: Text{ZH: "正文"}}},
		{"empty body", MessageTemplate{Key: "t", Channel: NotifySMS}},
		{"body renders empty", MessageTemplate{Key: "t", Channel: NotifySMS, Body: Text{ZH: "{{if .RetryLink}}x{{end}}  "}}},
		{"email without subject", MessageTemplate{Key: "t", Channel: NotifyEmail, Body: Text{ZH: "正文"}}},
	}
	v := testVars("zh")
	v.RetryLink = ""
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := RenderMessage(tt.tmpl, "zh-CN", v)
			if !errors.Is(err, ErrInvalidTemplate) {
				t.Fatalf("RenderMessage = %v, want ErrInvalidTemplate", err)
			}
		})
	}
}

func TestSelectTemplate(t *testing.T) {
	ts := []MessageTemplate{
		{Key: "email.generic", Channel: NotifyEmail},
		{Key: "sms.generic", Channel: NotifySMS},
		{Key: "sms.generic.second", Channel: NotifySMS},
		{Key: "sms.funds", Channel: NotifySMS, Category: CategoryFunds},
		{Key: "sms.funds.second", Channel: NotifySMS, Category: CategoryFunds},
		{Key: "sms.101", Channel: NotifySMS, Code: "101"},
		{Key: "sms.102.card", Channel: NotifySMS, Code: "102", Category: CategoryCard}, // code wins, category ignored
		{Key: "email.risk", Channel: NotifyEmail, Category: CategoryRisk},
	}
	tests := []struct {
		name string
		ch   NotifyChannel
		e    CodeEntry
		want string
	}{
		{"code beats category", NotifySMS, CodeEntry{Code: "101", Category: CategoryFunds}, "sms.101"},
		{"category beats generic", NotifySMS, CodeEntry{Code: "103", Category: CategoryFunds}, "sms.funds"},
		{"code template matches whatever its category", NotifySMS, CodeEntry{Code: "102", Category: CategoryFunds}, "sms.102.card"},
		{"generic when nothing specific", NotifySMS, CodeEntry{Code: "201", Category: CategoryNetwork}, "sms.generic"},
		{"unknown code gets generic", NotifySMS, UnknownEntry("X9"), "sms.generic"},
		{"channel is respected", NotifyEmail, CodeEntry{Code: "101", Category: CategoryFunds}, "email.generic"},
		{"category on another channel", NotifyEmail, CodeEntry{Code: "301", Category: CategoryRisk}, "email.risk"},
		{"no template for channel", NotifyPhone, CodeEntry{Code: "101", Category: CategoryFunds}, ""},
		{"empty code never matches a code template", NotifySMS, CodeEntry{Category: CategoryCard}, "sms.generic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := SelectTemplate(ts, tt.ch, tt.e); got.Key != tt.want {
				t.Errorf("SelectTemplate = %q, want %q", got.Key, tt.want)
			}
		})
	}
}

func TestMergeTemplates(t *testing.T) {
	base := DefaultTemplates()
	custom := []MessageTemplate{
		{Key: "sms.funds", Channel: NotifySMS, Category: CategoryFunds, Body: Text{ZH: "自定义 {{.OrderID}}", EN: "custom {{.OrderID}}"}},
		{Key: "sms.101", Channel: NotifySMS, Code: "101", Body: Text{ZH: "101 {{.OrderID}}", EN: "101 {{.OrderID}}"}},
	}
	merged := MergeTemplates(base, custom)
	if len(merged) != len(base)+1 {
		t.Fatalf("merged has %d templates, want %d", len(merged), len(base)+1)
	}
	got := SelectTemplate(merged, NotifySMS, CodeEntry{Code: "103", Category: CategoryFunds})
	if got.Body.ZH != "自定义 {{.OrderID}}" {
		t.Errorf("override of sms.funds not used: %q", got.Body.ZH)
	}
	if got := SelectTemplate(merged, NotifySMS, CodeEntry{Code: "101", Category: CategoryFunds}); got.Key != "sms.101" {
		t.Errorf("new code template not selected: %q", got.Key)
	}
	if base[1].Body.ZH == "自定义 {{.OrderID}}" || DefaultTemplates()[1].Key != base[1].Key {
		t.Error("MergeTemplates changed its input")
	}
}

func TestSMSSegments(t *testing.T) {
	tests := []struct {
		name        string
		text        string
		chars, segs int
	}{
		{"empty", "", 0, 0},
		{"short ascii", "hello", 5, 1},
		{"gsm 160 fits one", strings.Repeat("a", 160), 160, 1},
		{"gsm 161 needs two", strings.Repeat("a", 161), 161, 2},
		{"gsm 306 fits two", strings.Repeat("a", 306), 306, 2},
		{"gsm 307 needs three", strings.Repeat("a", 307), 307, 3},
		{"gsm yen and accents", "¥129 é à Ä ß", 12, 1},
		{"gsm extension counts two", "€[]", 6, 1},
		{"80 brackets fit one", strings.Repeat("[", 80), 160, 1},
		{"81 brackets need two", strings.Repeat("[", 81), 162, 2},
		{"escape pair never split", strings.Repeat("a", 152) + "[" + strings.Repeat("a", 152), 306, 3},
		{"chinese 70 fits one", strings.Repeat("汉", 70), 70, 1},
		{"chinese 71 needs two", strings.Repeat("汉", 71), 71, 2},
		{"chinese 134 fits two", strings.Repeat("汉", 134), 134, 2},
		{"chinese 135 needs three", strings.Repeat("汉", 135), 135, 3},
		{"one chinese char makes all ucs2", "hello 您好" + strings.Repeat("a", 62), 70, 1},
		{"full-width brackets are ucs2", "【商户】hi", 6, 1},
		{"c-cedilla lowercase is not gsm", "ç", 1, 1},
		{"emoji counts two", strings.Repeat("😀", 35), 70, 1},
		{"36 emoji need two", strings.Repeat("😀", 36), 72, 2},
		{"surrogate pair never split", strings.Repeat("a", 66) + "😀" + strings.Repeat("a", 66), 134, 3},
		{"newline is gsm", "a\nb", 3, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chars, segs := SMSSegments(tt.text)
			if chars != tt.chars || segs != tt.segs {
				t.Errorf("SMSSegments = (%d, %d), want (%d, %d)", chars, segs, tt.chars, tt.segs)
			}
		})
	}
}

func TestCustomerNextStep(t *testing.T) {
	tests := []struct {
		actions []Action
		zh, en  string
	}{
		{[]Action{ActionConfirmBalance, ActionChangeCard}, "请确认银行卡余额后重新支付", "Please check your card balance and pay again"},
		{[]Action{ActionChangeCard, ActionChangeMethod}, "请更换银行卡或支付方式后重新支付", "Please pay again with another card or payment method"},
		{[]Action{ActionCheckOrder, ActionCheckNetwork, ActionRetryLater}, "请确保网络稳定后稍后再试", "Please make sure your connection is stable and try again later"},
		{[]Action{ActionRetryLater}, "请稍后再试", "Please try again later"},
		{[]Action{ActionCheckConfig, ActionContactPlatform}, "请稍后再试", "Please try again later"}, // operator-only actions
		{[]Action{ActionCheckOrder}, "请勿重复支付,稍后可在订单页面查看支付结果", "Please don't pay again; you can check the result on the order page shortly"},
		{nil, "请稍后再试", "Please try again later"},
		{[]Action{ActionContactPlatform, ActionVerifyIdentity}, "请按提示完成身份验证后重新支付", "Please complete the identity check as prompted, then pay again"},
	}
	for _, tt := range tests {
		got := CustomerNextStep(CodeEntry{Actions: tt.actions})
		if got.ZH != tt.zh || got.EN != tt.en {
			t.Errorf("CustomerNextStep(%v) = %+v, want %q / %q", tt.actions, got, tt.zh, tt.en)
		}
		if strings.HasSuffix(got.ZH, "。") || strings.HasSuffix(got.EN, ".") || RevealsRiskControl(got.ZH) || RevealsRiskControl(got.EN) {
			t.Errorf("step %+v ends with a full stop or reveals risk control", got)
		}
	}
	for _, a := range Actions {
		if s, ok := customerSteps[a]; ok && (s.ZH == "" || s.EN == "") {
			t.Errorf("customer step for %s is missing a language", a)
		}
	}
}

func TestMessageVarsFor(t *testing.T) {
	cat := NewCatalog(DefaultCatalog(), nil)
	at := time.Date(2026, 11, 25, 10, 5, 0, 0, time.UTC)
	amount := Money{Amount: 1290050, Currency: "CNY"}

	zh := MessageVarsFor("zh-CN", cat.Lookup("101"), amount, at, nil)
	if zh.Amount != "12,900.50元" || zh.Time != "11月25日 18:05" || zh.NextStep != "请确认银行卡余额后重新支付" {
		t.Errorf("zh vars = %+v", zh)
	}
	if strings.HasPrefix(zh.CustomerMessage, "您好") || !strings.HasPrefix(zh.CustomerMessage, "您的本次支付未能完成") {
		t.Errorf("zh customer message keeps its greeting: %q", zh.CustomerMessage)
	}
	en := MessageVarsFor("en", cat.Lookup("101"), amount, at, time.UTC)
	if en.Amount != "CNY 12,900.50" || en.Time != "25 Nov 10:05" || en.NextStep != "Please check your card balance and pay again" {
		t.Errorf("en vars = %+v", en)
	}
	if !strings.HasPrefix(en.CustomerMessage, "Your payment could not") {
		t.Errorf("en customer message = %q, want greeting stripped and capitalised", en.CustomerMessage)
	}
	usd := MessageVarsFor("zh-CN", cat.Lookup("101"), Money{Amount: 500, Currency: "USD"}, at, nil)
	if usd.Amount != "USD 5.00" {
		t.Errorf("USD amount = %q", usd.Amount)
	}
	e := cat.Lookup("201")
	e.AltChannel = "alipay"
	if v := MessageVarsFor("zh-CN", e, amount, at, nil); v.BackupChannel != "支付宝" {
		t.Errorf("backup channel = %q", v.BackupChannel)
	}
	if v := MessageVarsFor("en", e, amount, time.Time{}, nil); v.BackupChannel != "Alipay" || v.Time != "" {
		t.Errorf("en backup channel = %q, time = %q", v.BackupChannel, v.Time)
	}
}

func TestValidateMessageTemplate(t *testing.T) {
	ok := MessageTemplate{Key: "sms.custom-1", Channel: NotifySMS, Category: CategoryFunds,
		Body: Text{ZH: "【{{.MerchantName}}】支付未成功", EN: "[{{.MerchantName}}] payment failed"}}
	if err := ValidateMessageTemplate(ok); err != nil {
		t.Fatalf("valid template refused: %v", err)
	}
	mod := func(f func(*MessageTemplate)) MessageTemplate {
		m := ok
		f(&m)
		return m
	}
	email := MessageTemplate{Key: "email.x", Channel: NotifyEmail,
		Subject: Text{ZH: "主题", EN: "Subject"}, Body: Text{ZH: "正文", EN: "Body"}}
	tests := []struct {
		name  string
		tmpl  MessageTemplate
		field string
	}{
		{"bad key", mod(func(m *MessageTemplate) { m.Key = "SMS Funds" }), "key"},
		{"empty key", mod(func(m *MessageTemplate) { m.Key = "" }), "key"},
		{"bad channel", mod(func(m *MessageTemplate) { m.Channel = "fax" }), "channel"},
		{"unknown category", mod(func(m *MessageTemplate) { m.Category = "weather" }), "category"},
		{"unclassified category", mod(func(m *MessageTemplate) { m.Category = CategoryUnclassified }), "category"},
		{"bad code", mod(func(m *MessageTemplate) { m.Code = "10 1" }), "code"},
		{"missing english", mod(func(m *MessageTemplate) { m.Body.EN = " " }), "body_en"},
		{"unknown variable", mod(func(m *MessageTemplate) { m.Body.ZH = "{{.Phone}}" }), "body_zh"},
		{"risk word zh", mod(func(m *MessageTemplate) { m.Body.ZH = "您的支付被风控拦截" }), "body_zh"},
		{"risk word en", mod(func(m *MessageTemplate) { m.Body.EN = "Blocked by our fraud checks" }), "body_en"},
		{"sms too long", mod(func(m *MessageTemplate) { m.Body.ZH = strings.Repeat("长", maxSMSTemplateBody+1) }), "body_zh"},
		{"html", mod(func(m *MessageTemplate) { m.Body.EN = "<p>hi</p>" }), "body_en"},
		{"email without subject", func() MessageTemplate { m := email; m.Subject.EN = ""; return m }(), "subject_en"},
		{"two-line subject", func() MessageTemplate { m := email; m.Subject.ZH = "a\nb"; return m }(), "subject_zh"},
		{"risk in subject", func() MessageTemplate { m := email; m.Subject.EN = "Risk review"; return m }(), "subject_en"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateMessageTemplate(tt.tmpl)
			var te *TemplateError
			if !errors.As(err, &te) || !errors.Is(err, ErrInvalidTemplate) {
				t.Fatalf("ValidateMessageTemplate = %v, want a *TemplateError", err)
			}
			if te.Field != tt.field {
				t.Errorf("field = %q (%v), want %q", te.Field, err, tt.field)
			}
		})
	}
	if err := ValidateMessageTemplate(email); err != nil {
		t.Errorf("valid e-mail template refused: %v", err)
	}
	inappNoTitle := MessageTemplate{Key: "inapp.x", Channel: NotifyInApp, Body: Text{ZH: "正文", EN: "Body"}}
	if err := ValidateMessageTemplate(inappNoTitle); err != nil {
		t.Errorf("in-app template without a title refused: %v", err)
	}
}

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

func TestDefaultTemplates(t *testing.T) {
	ts := DefaultTemplates()
	keys := map[string]bool{}
	have := map[NotifyChannel]map[Category]bool{}
	for _, tm := range ts {
		if err := ValidateMessageTemplate(tm); err != nil {
			t.Errorf("default template %s: %v", tm.Key, err)
		}
		if keys[tm.Key] {
			t.Errorf("key %s repeats", tm.Key)
		}
		keys[tm.Key] = true
		if tm.Code == "" {
			if have[tm.Channel] == nil {
				have[tm.Channel] = map[Category]bool{}
			}
			have[tm.Channel][tm.Category] = true
		}
		for _, s := range []string{tm.Subject.ZH, tm.Subject.EN, tm.Body.ZH, tm.Body.EN} {
			if reHTMLTag.MatchString(s) || RevealsRiskControl(s) {
				t.Errorf("default template %s has HTML or reveals risk control: %q", tm.Key, s)
			}
		}
	}
	for _, ch := range []NotifyChannel{NotifySMS, NotifyEmail, NotifyInApp, NotifyPhone} {
		if !have[ch][""] {
			t.Errorf("no generic %s template", ch)
		}
	}
	for _, ch := range []NotifyChannel{NotifySMS, NotifyEmail, NotifyInApp} {
		for _, c := range []Category{CategoryFunds, CategoryNetwork, CategoryRisk, CategoryCard, CategoryAuth} {
			if !have[ch][c] {
				t.Errorf("no %s template for category %s", ch, c)
			}
		}
	}
	ts[0].Body.ZH = "changed"
	if DefaultTemplates()[0].Body.ZH == "changed" {
		t.Error("DefaultTemplates shares its slice between calls")
	}
}

// TestDefaultTemplatesRenderForEveryCode renders the template each catalog code
// selects, on every channel and in both languages, with realistic values.
func TestDefaultTemplatesRenderForEveryCode(t *testing.T) {
	ts := DefaultTemplates()
	codes := append(DefaultCatalog(), UnknownEntry("X999"))
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for _, e := range codes {
		for _, lang := range []string{"zh-CN", "en"} {
			v := MessageVarsFor(lang, e, Money{Amount: 1290000, Currency: "CNY"}, at, nil)
			s := SampleMessageVars(lang)
			v.CustomerName, v.OrderID, v.MerchantName, v.FeedbackLink = s.CustomerName, s.OrderID, s.MerchantName, s.FeedbackLink
			// The SMS budget: a 4-character merchant name, a 13-character order id
			// and a retry link of 45 characters still fit two parts.
			v.RetryLink = "https://pay.example.cn/r/" + strings.Repeat("x", 20)
			for _, ch := range NotifyChannels {
				tm := SelectTemplate(ts, ch, e)
				if tm.Key == "" {
					t.Errorf("code %s: no %s template", e.Code, ch)
					continue
				}
				subject, body, err := RenderMessage(tm, lang, v)
				if err != nil {
					t.Errorf("code %s %s %s: %v", e.Code, ch, lang, err)
					continue
				}
				all := subject + "\n" + body
				where := e.Code + " " + string(ch) + " " + lang + " (" + tm.Key + ")"
				if strings.Contains(all, "<no value>") || strings.Contains(all, "{{") || reHTMLTag.MatchString(all) {
					t.Errorf("%s: unrendered or HTML text: %q", where, all)
				}
				if RevealsRiskControl(all) {
					t.Errorf("%s: reveals risk control: %q", where, all)
				}
				if !strings.Contains(all, v.OrderID) {
					t.Errorf("%s: order id missing: %q", where, all)
				}
				if lang == "en" && hasHan(all) {
					t.Errorf("%s: Chinese in an English message: %q", where, all)
				}
				if lang != "en" && !hasHan(body) {
					t.Errorf("%s: no Chinese in a Chinese message: %q", where, body)
				}
				if ch.HasSubject() != (subject != "") {
					t.Errorf("%s: subject %q", where, subject)
				}
				if ch == NotifySMS {
					sig := "【" + v.MerchantName + "】"
					if lang == "en" {
						sig = "[" + v.MerchantName + "]"
					}
					if !strings.HasPrefix(body, sig) {
						t.Errorf("%s: SMS not signed %s: %q", where, sig, body)
					}
					if chars, segs := SMSSegments(body); segs > 2 {
						t.Errorf("%s: SMS is %d characters, %d parts, want at most 2: %q", where, chars, segs, body)
					}
					if e.Code == "204" && strings.Contains(body, v.RetryLink) {
						t.Errorf("%s: a payment in progress must not invite a second payment: %q", where, body)
					}
				}
			}
		}
	}
}

// TestDefaultTemplatesNextSteps checks the guide's wording reaches the customer.
func TestDefaultTemplatesNextSteps(t *testing.T) {
	cat := NewCatalog(DefaultCatalog(), nil)
	ts := DefaultTemplates()
	tests := []struct {
		code string
		ch   NotifyChannel
		want []string
	}{
		{"101", NotifySMS, []string{"请确认银行卡余额", "可用余额或额度不足"}},
		{"102", NotifySMS, []string{"更换银行卡或支付方式"}},
		{"111", NotifySMS, []string{"更换银行卡或支付方式"}},
		{"201", NotifySMS, []string{"稍后再试", "款项将原路退回"}},
		{"503", NotifySMS, []string{"请稍后再试"}},
		{"301", NotifySMS, []string{"为保障您的资金安全", "完成身份验证"}},
		{"204", NotifySMS, []string{"请勿重复支付"}},
		{"101", NotifyEmail, []string{"请确认银行卡余额", "重新支付:https://", "支付宝", "欧乐商城"}},
		{"202", NotifyInApp, []string{"款项将原路退回"}},
	}
	for _, tt := range tests {
		v := MessageVarsFor("zh-CN", cat.Lookup(tt.code), Money{Amount: 12900, Currency: "CNY"}, time.Now(), nil)
		s := SampleMessageVars("zh-CN")
		v.CustomerName, v.OrderID, v.MerchantName, v.RetryLink = s.CustomerName, s.OrderID, s.MerchantName, s.RetryLink
		v.BackupChannel = "支付宝"
		_, body, err := RenderMessage(SelectTemplate(ts, tt.ch, cat.Lookup(tt.code)), "zh-CN", v)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range tt.want {
			if !strings.Contains(body, w) {
				t.Errorf("code %s %s: %q lacks %q", tt.code, tt.ch, body, w)
			}
		}
	}
}

func TestNotifyChannel(t *testing.T) {
	for _, c := range NotifyChannels {
		if !c.Valid() || c.Label("zh-CN") == string(c) || c.Label("en") == "" {
			t.Errorf("channel %s: invalid or unlabelled", c)
		}
	}
	if NotifyChannel("fax").Valid() {
		t.Error("fax is valid")
	}
	for _, v := range MessageVariables {
		if v.Label.ZH == "" || v.Label.EN == "" {
			t.Errorf("variable %s lacks a label", v.Name)
		}
		if err := ParseMessageTemplate("{{." + v.Name + "}}"); err != nil {
			t.Errorf("variable %s refused: %v", v.Name, err)
		}
	}
}

func BenchmarkRenderMessage(b *testing.B) {
	tm := SelectTemplate(DefaultTemplates(), NotifyEmail, CodeEntry{Code: "101", Category: CategoryFunds})
	v := SampleMessageVars("zh-CN")
	for b.Loop() {
		if _, _, err := RenderMessage(tm, "zh-CN", v); err != nil {
			b.Fatal(err)
		}
	}
}
