package domain

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"text/template"
	"text/template/parse"
	"time"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds customer notification templates: the channels a notice can go
// out on, the shipped default texts (zh-CN and en, in the tone of the platform's
// failure-handling guide), strict parsing of merchant-edited templates, template
// selection for a failure code, rendering, and SMS segment counting.
//
// Templates are plain text (never HTML) in Go's text/template syntax, restricted to
// two forms: {{.Var}} and {{if .Var}}…{{else}}…{{end}}, with Var one of
// MessageVariables. Anything else — an unknown variable, a function call, range,
// define — is refused when the template is parsed, not when a notice is rendered.

// NotifyChannel is how a notice reaches the paying customer.
type NotifyChannel string

// Notification channels. Phone notices are call tasks for the support team; their
// template is the call script.
const (
	NotifySMS   NotifyChannel = "sms"
	NotifyEmail NotifyChannel = "email"
	NotifyInApp NotifyChannel = "inapp"
	NotifyPhone NotifyChannel = "phone"
)

// NotifyChannels lists every notification channel in display order.
var NotifyChannels = []NotifyChannel{NotifySMS, NotifyEmail, NotifyInApp, NotifyPhone}

var notifyChannelLabels = map[NotifyChannel]Text{
	NotifySMS:   {ZH: "短信", EN: "SMS"},
	NotifyEmail: {ZH: "邮件", EN: "Email"},
	NotifyInApp: {ZH: "站内通知", EN: "In-app"},
	NotifyPhone: {ZH: "电话", EN: "Phone"},
}

// Valid reports whether c is one of NotifyChannels.
func (c NotifyChannel) Valid() bool {
	_, ok := notifyChannelLabels[c]
	return ok
}

// Label returns the channel's name in lang; an unknown channel is shown as is.
func (c NotifyChannel) Label(lang string) string {
	if t, ok := notifyChannelLabels[c]; ok {
		return t.In(lang)
	}
	return string(c)
}

// HasSubject reports whether notices on c carry a subject (an e-mail subject or an
// in-app title).
func (c NotifyChannel) HasSubject() bool { return c == NotifyEmail || c == NotifyInApp }

// MessageTemplate is one notification text for a channel, used for one failure
// code, one category, or (both empty) any failure.
type MessageTemplate struct {
	Key      string        // stable identifier, [a-z0-9._-]{1,64}, e.g. "sms.funds"
	Channel  NotifyChannel //
	Category Category      // "" = any category
	Code     string        // "" = any code; when set it wins over Category
	Subject  Text          // e-mail subject or in-app title; unused for SMS and phone
	Body     Text
}

// MessageVars are the values a template may use. All are plain text, already
// formatted for the message's language (see MessageVarsFor).
type MessageVars struct {
	CustomerName    string // may be empty: templates greet with {{if .CustomerName}}
	Amount          string // e.g. "129.00元" or "CNY 129.00" (FormatMessageAmount)
	OrderID         string
	Time            string // when the payment failed, in the merchant's zone (FormatMessageTime)
	CustomerMessage string // the code's customer message (CodeEntry.CustomerMessage)
	NextStep        string // one clear next step, no final full stop (CustomerNextStep)
	RetryLink       string
	FeedbackLink    string
	MerchantName    string // the SMS signature: 【MerchantName】
	BackupChannel   string // a payment method to try instead, e.g. "支付宝"; may be empty
	// ChannelNotice says the payment's channel is in trouble and offers its backup,
	// e.g. "微信支付目前暂时无法使用,请改用支付宝完成支付"; empty while all is well.
	ChannelNotice string
}

// MessageVariable describes one template variable for editors and previews.
type MessageVariable struct {
	Name  string // as written in a template: {{.Name}}
	Label Text
}

// MessageVariables lists the variables templates may use, in display order.
var MessageVariables = []MessageVariable{
	{"CustomerName", Text{ZH: "客户姓名", EN: "Customer name"}},
	{"Amount", Text{ZH: "金额", EN: "Amount"}},
	{"OrderID", Text{ZH: "订单号", EN: "Order ID"}},
	{"Time", Text{ZH: "支付时间", EN: "Payment time"}},
	{"CustomerMessage", Text{ZH: "失败原因(客户提示)", EN: "Reason (customer message)"}},
	{"NextStep", Text{ZH: "下一步建议", EN: "Next step"}},
	{"RetryLink", Text{ZH: "重新支付链接", EN: "Retry link"}},
	{"FeedbackLink", Text{ZH: "反馈链接", EN: "Feedback link"}},
	{"MerchantName", Text{ZH: "商户名称", EN: "Merchant name"}},
	{"BackupChannel", Text{ZH: "备用支付方式", EN: "Backup payment method"}},
	{"ChannelNotice", Text{ZH: "渠道状态提示(渠道故障时)", EN: "Channel status notice (during an outage)"}},
}

func knownVariable(name string) bool {
	for _, v := range MessageVariables {
		if v.Name == name {
			return true
		}
	}
	return false
}

// ErrInvalidTemplate is wrapped by every template validation error.
var ErrInvalidTemplate = errors.New("invalid message template")

// TemplateError says what is wrong with a template, in both languages, so a form
// can show it next to the field.
type TemplateError struct {
	Field string // "key", "channel", "category", "code", "subject_zh", "body_en", …; "" from ParseMessageTemplate
	Msg   Text
}

func (e *TemplateError) Error() string {
	if e.Field == "" {
		return "template: " + e.Msg.EN
	}
	return "template: " + e.Field + ": " + e.Msg.EN
}

// Unwrap makes errors.Is(err, ErrInvalidTemplate) true.
func (e *TemplateError) Unwrap() error { return ErrInvalidTemplate }

func templateErr(field, zh, en string) *TemplateError {
	return &TemplateError{Field: field, Msg: Text{ZH: zh, EN: en}}
}

// Limits on template texts, in runes.
const (
	maxTemplateBody    = 4000
	maxTemplateSubject = 200
	maxSMSTemplateBody = 500
	maxTemplateKey     = 64
)

// reHTMLTag finds things that look like HTML tags or entities; templates are plain text.
var reHTMLTag = regexp.MustCompile(`<\s*/?\s*[A-Za-z][A-Za-z0-9-]*(\s[^<>]*)?/?\s*>|&(#[0-9]+|#x[0-9A-Fa-f]+|[A-Za-z]+);`)

// ParseMessageTemplate checks one template text: valid UTF-8, no control
// characters, no HTML, correct syntax, and only the allowed forms ({{.Var}} and
// {{if .Var}}…{{else}}…{{end}}) over known variables. The error is a
// *TemplateError wrapping ErrInvalidTemplate.
func ParseMessageTemplate(body string) error {
	_, err := parseMessageTemplate(body)
	return err
}

func parseMessageTemplate(body string) (*template.Template, error) {
	if !utf8.ValidString(body) {
		return nil, templateErr("", "不是有效的 UTF-8 文本", "is not valid UTF-8")
	}
	if utf8.RuneCountInString(body) > maxTemplateBody {
		return nil, templateErr("", fmt.Sprintf("超过 %d 个字符", maxTemplateBody), fmt.Sprintf("is longer than %d characters", maxTemplateBody))
	}
	for _, r := range body {
		if r != '\n' && r != '\t' && r != '\r' && unicode.IsControl(r) {
			return nil, templateErr("", "含有控制字符", "contains control characters")
		}
	}
	t, err := template.New("message").Option("missingkey=error").Parse(body)
	if err != nil {
		return nil, templateErr("", "模板语法错误:"+parseErrDetail(err), "syntax error: "+parseErrDetail(err))
	}
	if len(t.Templates()) > 1 {
		return nil, templateErr("", "不支持 define/block", "define and block are not supported")
	}
	if t.Tree == nil || t.Tree.Root == nil {
		return t, nil
	}
	if err := checkTemplateNodes(t.Tree.Root.Nodes); err != nil {
		return nil, err
	}
	return t, nil
}

// parseErrDetail strips text/template's "template: message:" prefix.
func parseErrDetail(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "template: ")
	s = strings.TrimPrefix(s, "message:")
	return strings.TrimSpace(s)
}

func checkTemplateNodes(nodes []parse.Node) error {
	for _, n := range nodes {
		switch n := n.(type) {
		case *parse.TextNode:
			if m := reHTMLTag.Find(n.Text); m != nil {
				return templateErr("", fmt.Sprintf("模板须为纯文本,不能包含 HTML(%s)", m), fmt.Sprintf("must be plain text, not HTML (%s)", m))
			}
		case *parse.ActionNode:
			if err := checkTemplatePipe(n.Pipe); err != nil {
				return err
			}
		case *parse.IfNode:
			if err := checkTemplatePipe(n.Pipe); err != nil {
				return err
			}
			if n.List != nil {
				if err := checkTemplateNodes(n.List.Nodes); err != nil {
					return err
				}
			}
			if n.ElseList != nil {
				if err := checkTemplateNodes(n.ElseList.Nodes); err != nil {
					return err
				}
			}
		case *parse.CommentNode:
		default:
			return templateErr("", fmt.Sprintf("不支持 %s,只能使用 {{.变量}} 和 {{if .变量}}…{{end}}", n),
				fmt.Sprintf("%s is not supported; use {{.Var}} and {{if .Var}}…{{end}} only", n))
		}
	}
	return nil
}

func checkTemplatePipe(p *parse.PipeNode) error {
	bad := func() error {
		return templateErr("", fmt.Sprintf("不支持 {{%s}},只能使用 {{.变量}}", p), fmt.Sprintf("{{%s}} is not supported; use {{.Var}}", p))
	}
	if p == nil || len(p.Decl) > 0 || len(p.Cmds) != 1 || len(p.Cmds[0].Args) != 1 {
		return bad()
	}
	f, ok := p.Cmds[0].Args[0].(*parse.FieldNode)
	if !ok {
		return bad()
	}
	if len(f.Ident) != 1 || !knownVariable(f.Ident[0]) {
		return templateErr("", fmt.Sprintf("未知变量 {{%s}}", f), fmt.Sprintf("unknown variable {{%s}}", f))
	}
	return nil
}

// ValidTemplateKey reports whether k is 1–64 characters of [a-z0-9._-].
func ValidTemplateKey(k string) bool {
	if k == "" || len(k) > maxTemplateKey {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// ValidateMessageTemplate checks a whole template before it is stored (admin
// edits, imports): key, channel, category and code, a body in both languages that
// parses strictly, a subject in both languages for e-mail, SMS bodies of at most
// 500 characters, and no text that reveals risk control. The error is a
// *TemplateError naming the field.
func ValidateMessageTemplate(t MessageTemplate) error {
	if !ValidTemplateKey(t.Key) {
		return templateErr("key", "标识须为 1–64 位小写字母、数字或 . _ -", "must be 1–64 characters of a–z, 0–9, . _ -")
	}
	if !t.Channel.Valid() {
		return templateErr("channel", fmt.Sprintf("未知的通知渠道 %q", t.Channel), fmt.Sprintf("unknown channel %q", t.Channel))
	}
	if t.Category != "" && (!t.Category.Valid() || t.Category == CategoryUnclassified) {
		return templateErr("category", fmt.Sprintf("未知的分类 %q", t.Category), fmt.Sprintf("unknown category %q", t.Category))
	}
	if t.Code != "" && !ValidCode(t.Code) {
		return templateErr("code", "错误码须为 1–16 位字母、数字、_ 或 -", "must be 1–16 characters of A–Z, a–z, 0–9, _ or -")
	}
	type field struct {
		name, text string
		limit      int
		required   bool
	}
	bodyLimit := maxTemplateBody
	if t.Channel == NotifySMS {
		bodyLimit = maxSMSTemplateBody
	}
	fields := []field{
		{"body_zh", t.Body.ZH, bodyLimit, true},
		{"body_en", t.Body.EN, bodyLimit, true},
	}
	if t.Channel.HasSubject() {
		fields = append(fields,
			field{"subject_zh", t.Subject.ZH, maxTemplateSubject, t.Channel == NotifyEmail},
			field{"subject_en", t.Subject.EN, maxTemplateSubject, t.Channel == NotifyEmail})
	}
	for _, f := range fields {
		if strings.TrimSpace(f.text) == "" {
			if f.required {
				return templateErr(f.name, "不能为空", "is required")
			}
			continue
		}
		if utf8.RuneCountInString(f.text) > f.limit {
			return templateErr(f.name, fmt.Sprintf("超过 %d 个字符", f.limit), fmt.Sprintf("is longer than %d characters", f.limit))
		}
		if err := ParseMessageTemplate(f.text); err != nil {
			te := err.(*TemplateError)
			te.Field = f.name
			return te
		}
		if strings.HasPrefix(f.name, "subject") && strings.ContainsAny(f.text, "\r\n") {
			return templateErr(f.name, "主题只能有一行", "must be a single line")
		}
		if RevealsRiskControl(f.text) {
			return templateErr(f.name, "客户通知不得透露风控信息", "must not mention risk control")
		}
	}
	return nil
}

// Limits on variable values, in runes: a hostile or odd customer name must not
// blow up an SMS.
const (
	maxVarName  = 40
	maxVarValue = 1000
)

// cleanVar makes a variable value safe for a plain-text message: control
// characters (line breaks included) become spaces, surrounding space goes, and the
// value is cut to max runes.
func cleanVar(s string, max int) string {
	if s == "" {
		return ""
	}
	s = strings.ToValidUTF8(s, "")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max])
	}
	return s
}

func (v MessageVars) clean() MessageVars {
	return MessageVars{
		CustomerName:    cleanVar(v.CustomerName, maxVarName),
		Amount:          cleanVar(v.Amount, maxVarValue),
		OrderID:         cleanVar(v.OrderID, maxVarValue),
		Time:            cleanVar(v.Time, maxVarValue),
		CustomerMessage: cleanVar(v.CustomerMessage, maxVarValue),
		NextStep:        cleanVar(v.NextStep, maxVarValue),
		RetryLink:       cleanVar(v.RetryLink, maxVarValue),
		FeedbackLink:    cleanVar(v.FeedbackLink, maxVarValue),
		MerchantName:    cleanVar(v.MerchantName, maxVarName),
		BackupChannel:   cleanVar(v.BackupChannel, maxVarValue),
		ChannelNotice:   cleanVar(v.ChannelNotice, maxVarValue),
	}
}

var (
	reTrailingSpace = regexp.MustCompile(`[ \t]+\n`)
	reManyBlank     = regexp.MustCompile(`\n{3,}`)
)

// RenderMessage renders t in lang ("en…" English, anything else Chinese; a missing
// language falls back to the other) with v. The body has CRLF normalised to LF,
// no trailing spaces on lines, at most one blank line in a row, and no surrounding
// space. The subject is one line, rendered only for e-mail and in-app (e-mail
// requires one); for SMS and phone it is "". Values are inserted as they are —
// plain text, no escaping — after control characters are replaced by spaces.
func RenderMessage(t MessageTemplate, lang string, v MessageVars) (subject, body string, err error) {
	v = v.clean()
	bodyText := t.Body.In(lang)
	if strings.TrimSpace(bodyText) == "" {
		return "", "", fmt.Errorf("template %q: %w", t.Key, templateErr("body", "正文为空", "empty body"))
	}
	body, err = renderText(bodyText, v)
	if err != nil {
		return "", "", fmt.Errorf("template %q: body: %w", t.Key, err)
	}
	body = strings.ReplaceAll(body, "\r\n", "\n")
	body = strings.ReplaceAll(body, "\r", "\n")
	body = reTrailingSpace.ReplaceAllString(body, "\n")
	body = reManyBlank.ReplaceAllString(body, "\n\n")
	body = strings.TrimSpace(body)
	if body == "" {
		return "", "", fmt.Errorf("template %q: %w", t.Key, templateErr("body", "正文渲染后为空", "body renders empty"))
	}
	if t.Channel.HasSubject() {
		if st := t.Subject.In(lang); strings.TrimSpace(st) != "" {
			subject, err = renderText(st, v)
			if err != nil {
				return "", "", fmt.Errorf("template %q: subject: %w", t.Key, err)
			}
			subject = strings.Join(strings.Fields(subject), " ")
		}
		if subject == "" && t.Channel == NotifyEmail {
			return "", "", fmt.Errorf("template %q: %w", t.Key, templateErr("subject", "邮件主题为空", "empty e-mail subject"))
		}
	}
	return subject, body, nil
}

func renderText(text string, v MessageVars) (string, error) {
	var tmpl *template.Template
	if cached, ok := parsedTemplates.Load(text); ok {
		tmpl = cached.(*template.Template)
	} else {
		t, err := parseMessageTemplate(text)
		if err != nil {
			return "", err
		}
		parsedTemplates.Store(text, t)
		tmpl = t
	}
	var b strings.Builder
	if err := tmpl.Execute(&b, v); err != nil {
		return "", fmt.Errorf("render: %w", err)
	}
	return b.String(), nil
}

// parsedTemplates caches parsed template texts by their text: a bulk send renders
// the same few templates thousands of times. A parsed template is safe for
// concurrent Execute. A cache only; never a source of truth.
var parsedTemplates sync.Map

// SelectTemplate picks the template for a failure with entry e on channel ch: one
// for e.Code first, then one for e.Category (with no code), then a generic one
// (neither). Within a level the first in ts wins, so put a merchant's own
// templates before the defaults (or use MergeTemplates). The zero MessageTemplate
// (Key "") means nothing fits.
func SelectTemplate(ts []MessageTemplate, ch NotifyChannel, e CodeEntry) MessageTemplate {
	var byCategory, generic *MessageTemplate
	for i := range ts {
		t := &ts[i]
		if t.Channel != ch {
			continue
		}
		switch {
		case t.Code != "":
			if e.Code != "" && t.Code == e.Code {
				return *t
			}
		case t.Category != "":
			if byCategory == nil && e.Category != "" && t.Category == e.Category {
				byCategory = t
			}
		default:
			if generic == nil {
				generic = t
			}
		}
	}
	if byCategory != nil {
		return *byCategory
	}
	if generic != nil {
		return *generic
	}
	return MessageTemplate{}
}

// MergeTemplates returns base with every template of overrides replacing the base
// template of the same Key; overrides with new keys come after, in their order.
func MergeTemplates(base, overrides []MessageTemplate) []MessageTemplate {
	out := make([]MessageTemplate, 0, len(base)+len(overrides))
	idx := make(map[string]int, len(base))
	for _, t := range base {
		if i, ok := idx[t.Key]; ok {
			out[i] = t
			continue
		}
		idx[t.Key] = len(out)
		out = append(out, t)
	}
	for _, t := range overrides {
		if i, ok := idx[t.Key]; ok {
			out[i] = t
			continue
		}
		idx[t.Key] = len(out)
		out = append(out, t)
	}
	return out
}

// customerSteps are the next steps that may be said to a customer, per action,
// without a final full stop. Actions meant for the merchant's operators
// (contact_platform, check_config) have none; check_order has one only when it is
// the code's sole action (a payment still in progress).
var customerSteps = map[Action]Text{
	ActionConfirmBalance:   {ZH: "请确认银行卡余额后重新支付", EN: "Please check your card balance and pay again"},
	ActionChangeCard:       {ZH: "请更换银行卡或支付方式后重新支付", EN: "Please pay again with another card or payment method"},
	ActionChangeMethod:     {ZH: "请更换支付方式后重新支付", EN: "Please pay again with another payment method"},
	ActionRetryLater:       {ZH: "请稍后再试", EN: "Please try again later"},
	ActionVerifyIdentity:   {ZH: "请按提示完成身份验证后重新支付", EN: "Please complete the identity check as prompted, then pay again"},
	ActionProvideInfo:      {ZH: "请按提示提交补充资料", EN: "Please submit the documents requested"},
	ActionCheckPaymentInfo: {ZH: "请核对支付信息后重新支付", EN: "Please check your payment details and pay again"},
	ActionContactBank:      {ZH: "请联系发卡银行确认后重新支付,或更换银行卡", EN: "Please check with your bank and pay again, or use another card"},
	ActionCheckNetwork:     {ZH: "请确保网络稳定后稍后再试", EN: "Please make sure your connection is stable and try again later"},
	ActionWaitMaintenance:  {ZH: "请在维护结束后再试", EN: "Please try again once the maintenance is over"},
}

var (
	stepCheckOrder = Text{ZH: "请勿重复支付,稍后可在订单页面查看支付结果", EN: "Please don't pay again; you can check the result on the order page shortly"}
	stepFallback   = customerSteps[ActionRetryLater]
)

// CustomerNextStep returns the one next step to tell the customer for e: the
// first of its actions that a customer can take ("请确认银行卡余额后重新支付",
// "请稍后再试", "请更换银行卡或支付方式后重新支付", …), else "请稍后再试". It has no
// final full stop, so templates can write "{{.NextStep}}。".
func CustomerNextStep(e CodeEntry) Text {
	for _, a := range e.Actions {
		if s, ok := customerSteps[a]; ok {
			return s
		}
	}
	if len(e.Actions) == 1 && e.Actions[0] == ActionCheckOrder {
		return stepCheckOrder
	}
	return stepFallback
}

// payChannelLabels name payment channels for customers (BackupChannel).
var payChannelLabels = map[string]Text{
	"card":          {ZH: "其他银行卡", EN: "another card"},
	"wechat":        {ZH: "微信支付", EN: "WeChat Pay"},
	"alipay":        {ZH: "支付宝", EN: "Alipay"},
	"unionpay":      {ZH: "云闪付", EN: "UnionPay"},
	"bank_transfer": {ZH: "银行转账", EN: "bank transfer"},
}

// FormatMessageAmount formats m for a customer message: "129.00元" in Chinese for
// CNY, otherwise "CNY 129.00" style.
func FormatMessageAmount(m Money, lang string) string {
	if m.Currency == "CNY" && !isEnglish(lang) {
		return m.Decimal() + "元"
	}
	return m.Currency + " " + m.Decimal()
}

// FormatMessageTime formats t in loc (Asia/Shanghai when nil) for a customer
// message: "11月25日 18:00" in Chinese, "25 Nov 18:00" in English.
func FormatMessageTime(t time.Time, loc *time.Location, lang string) string {
	if t.IsZero() {
		return ""
	}
	if loc == nil {
		loc = ShanghaiZone()
	}
	t = t.In(loc)
	if isEnglish(lang) {
		return t.Format("2 Jan 15:04")
	}
	return fmt.Sprintf("%d月%d日 %s", int(t.Month()), t.Day(), t.Format("15:04"))
}

// greetingPrefixes are stripped from a customer message: templates greet already.
var greetingPrefixes = []string{"您好,", "您好,", "您好!", "Hello, ", "Hello,", "Hi, "}

// MessageVarsFor fills the variables that follow from a failed payment and its
// code in lang: Amount, Time (in loc), CustomerMessage (without a leading
// greeting), NextStep and BackupChannel (from e.AltChannel). The caller adds
// CustomerName, OrderID, MerchantName, RetryLink and FeedbackLink.
func MessageVarsFor(lang string, e CodeEntry, amount Money, at time.Time, loc *time.Location) MessageVars {
	msg := strings.TrimSpace(e.CustomerMessage.In(lang))
	for _, p := range greetingPrefixes {
		if rest, ok := strings.CutPrefix(msg, p); ok {
			msg = strings.TrimSpace(rest)
			if isEnglish(lang) && msg != "" {
				r, n := utf8.DecodeRuneInString(msg)
				msg = string(unicode.ToUpper(r)) + msg[n:]
			}
			break
		}
	}
	v := MessageVars{
		Amount:          FormatMessageAmount(amount, lang),
		Time:            FormatMessageTime(at, loc, lang),
		CustomerMessage: msg,
		NextStep:        CustomerNextStep(e).In(lang),
	}
	if l, ok := payChannelLabels[e.AltChannel]; ok {
		v.BackupChannel = l.In(lang)
	}
	v.ChannelNotice = e.ChannelNotice.In(lang)
	return v
}

// SampleMessageVars returns realistic values for previews of a template without a
// transaction, and for checking lengths.
func SampleMessageVars(lang string) MessageVars {
	e := CodeEntry{
		Code: "101", Category: CategoryFunds,
		CustomerMessage: Text{
			ZH: "您的本次支付未能完成,可能是银行卡可用余额不足。请确认银行卡余额后重新支付,也可以更换其他银行卡。",
			EN: "Your payment could not be completed, possibly because the card's available balance is too low. Please check your card balance and pay again, or use another card.",
		},
		Actions: []Action{ActionConfirmBalance, ActionChangeCard}, AltChannel: "alipay",
	}
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	v := MessageVarsFor(lang, e, Money{Amount: 12900, Currency: "CNY"}, at, nil)
	v.OrderID = "O202611250001"
	v.RetryLink = "https://pay.example.cn/r/7Kq2Xw9Tb4"
	v.FeedbackLink = "https://pay.example.cn/f/Hn3Vz8Rk1P"
	if isEnglish(lang) {
		v.CustomerName, v.MerchantName = "Zhang Wei", "Oule Mall"
	} else {
		v.CustomerName, v.MerchantName = "张伟", "欧乐商城"
	}
	return v
}

// SMS segment sizes (3GPP TS 23.038 / 23.040).
const (
	smsGSMSingle  = 160 // septets in a single GSM-7 message
	smsGSMPart    = 153 // per part of a concatenated GSM-7 message
	smsUCS2Single = 70  // UTF-16 units in a single UCS-2 message
	smsUCS2Part   = 67  // per part of a concatenated UCS-2 message
)

// gsmBasic and gsmExtension are the GSM 03.38 default alphabet and its extension
// table (two septets each: escape + character).
const (
	gsmBasic = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?" +
		"¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
	gsmExtension = "\f^{}\\[~]|€"
)

// SMSSegments counts the characters and parts an SMS of text needs. When every
// character is in the GSM-7 alphabet, chars counts septets (extension characters
// such as [ ] { } € count 2) and a message takes 1 part up to 160, else parts of
// 153. Otherwise the message is UCS-2: chars counts UTF-16 units (an emoji counts
// 2) and a message takes 1 part up to 70, else parts of 67. An escape pair or a
// surrogate pair is never split across parts. Empty text is (0, 0).
func SMSSegments(text string) (chars, segments int) {
	if text == "" {
		return 0, 0
	}
	gsm := true
	for _, r := range text {
		if !strings.ContainsRune(gsmBasic, r) && !strings.ContainsRune(gsmExtension, r) {
			gsm = false
			break
		}
	}
	single, part := smsUCS2Single, smsUCS2Part
	if gsm {
		single, part = smsGSMSingle, smsGSMPart
	}
	// units holds each character's size, so parts can be filled without splitting one.
	units := make([]int, 0, len(text))
	for _, r := range text {
		n := 1
		switch {
		case gsm && strings.ContainsRune(gsmExtension, r):
			n = 2
		case !gsm && utf16.RuneLen(r) == 2:
			n = 2
		}
		units = append(units, n)
		chars += n
	}
	if chars <= single {
		return chars, 1
	}
	segments, used := 1, 0
	for _, n := range units {
		if used+n > part {
			segments++
			used = 0
		}
		used += n
	}
	return chars, segments
}

// DefaultTemplates returns the shipped notification templates: a generic one per
// channel (sms, email, inapp, phone), ones tailored to the funds, card, auth,
// network and risk categories for sms, email and inapp, and ones for code 204 (a
// payment still in progress: the customer must not pay twice). They follow the
// platform guide's tone — gentle, professional, one clear next step — never
// mention risk control, and SMS texts are signed 【MerchantName】 and fit two
// parts. The slice is new on every call.
func DefaultTemplates() []MessageTemplate {
	return []MessageTemplate{
		// SMS: signed, short, one next step, link last.
		{Key: "sms.generic", Channel: NotifySMS, Body: Text{
			ZH: "【{{.MerchantName}}】{{.CustomerName}}您好,您的订单{{.OrderID}}({{.Amount}})支付未成功。{{.NextStep}}。{{if .ChannelNotice}}{{.ChannelNotice}}。{{end}}{{if .RetryLink}}支付链接:{{.RetryLink}}{{end}}",
			EN: "[{{.MerchantName}}] Hello{{if .CustomerName}} {{.CustomerName}}{{end}}, your payment of {{.Amount}} for order {{.OrderID}} did not go through. {{.NextStep}}.{{if .ChannelNotice}} {{.ChannelNotice}}.{{end}}{{if .RetryLink}} Pay here: {{.RetryLink}}{{end}}",
		}},
		{Key: "sms.funds", Channel: NotifySMS, Category: CategoryFunds, Body: Text{
			ZH: "【{{.MerchantName}}】{{.CustomerName}}您好,您的订单{{.OrderID}}({{.Amount}})支付未成功,可能是银行卡可用余额或额度不足。{{.NextStep}}。{{if .ChannelNotice}}{{.ChannelNotice}}。{{end}}{{if .RetryLink}}支付链接:{{.RetryLink}}{{end}}",
			EN: "[{{.MerchantName}}] Hello{{if .CustomerName}} {{.CustomerName}}{{end}}, your payment of {{.Amount}} for order {{.OrderID}} did not go through, possibly because of the card's balance or limits. {{.NextStep}}.{{if .ChannelNotice}} {{.ChannelNotice}}.{{end}}{{if .RetryLink}} Pay here: {{.RetryLink}}{{end}}",
		}},
		{Key: "sms.card", Channel: NotifySMS, Category: CategoryCard, Body: Text{
			ZH: "【{{.MerchantName}}】{{.CustomerName}}您好,您的订单{{.OrderID}}({{.Amount}})支付未成功,所用银行卡暂时无法完成本次支付。{{.NextStep}}。{{if .ChannelNotice}}{{.ChannelNotice}}。{{end}}{{if .RetryLink}}支付链接:{{.RetryLink}}{{end}}",
			EN: "[{{.MerchantName}}] Hello{{if .CustomerName}} {{.CustomerName}}{{end}}, your payment of {{.Amount}} for order {{.OrderID}} did not go through: the card can't be used for it right now. {{.NextStep}}.{{if .ChannelNotice}} {{.ChannelNotice}}.{{end}}{{if .RetryLink}} Pay here: {{.RetryLink}}{{end}}",
		}},
		{Key: "sms.auth", Channel: NotifySMS, Category: CategoryAuth, Body: Text{
			ZH: "【{{.MerchantName}}】{{.CustomerName}}您好,您的订单{{.OrderID}}({{.Amount}})支付验证未通过,支付未成功。{{.NextStep}}。{{if .ChannelNotice}}{{.ChannelNotice}}。{{end}}{{if .RetryLink}}支付链接:{{.RetryLink}}{{end}}",
			EN: "[{{.MerchantName}}] Hello{{if .CustomerName}} {{.CustomerName}}{{end}}, your payment of {{.Amount}} for order {{.OrderID}} was not verified, so it did not go through. {{.NextStep}}.{{if .ChannelNotice}} {{.ChannelNotice}}.{{end}}{{if .RetryLink}} Pay here: {{.RetryLink}}{{end}}",
		}},
		{Key: "sms.network", Channel: NotifySMS, Category: CategoryNetwork, Body: Text{
			ZH: "【{{.MerchantName}}】{{.CustomerName}}您好,您的订单{{.OrderID}}({{.Amount}})支付未能及时确认,交易未成功。{{.NextStep}}。如已扣款,款项将原路退回。{{if .RetryLink}}支付链接:{{.RetryLink}}{{end}}",
			EN: "[{{.MerchantName}}] Hello{{if .CustomerName}} {{.CustomerName}}{{end}}, your payment of {{.Amount}} for order {{.OrderID}} could not be confirmed in time. {{.NextStep}}. If you were charged, the money will be returned.{{if .RetryLink}} Pay here: {{.RetryLink}}{{end}}",
		}},
		{Key: "sms.risk", Channel: NotifySMS, Category: CategoryRisk, Body: Text{
			ZH: "【{{.MerchantName}}】{{.CustomerName}}您好,为保障您的资金安全,您的订单{{.OrderID}}({{.Amount}})支付暂未完成。{{.NextStep}}。{{if .ChannelNotice}}{{.ChannelNotice}}。{{end}}{{if .RetryLink}}支付链接:{{.RetryLink}}{{end}}",
			EN: "[{{.MerchantName}}] Hello{{if .CustomerName}} {{.CustomerName}}{{end}}, to keep your funds safe, your payment of {{.Amount}} for order {{.OrderID}} is on hold. {{.NextStep}}.{{if .ChannelNotice}} {{.ChannelNotice}}.{{end}}{{if .RetryLink}} Pay here: {{.RetryLink}}{{end}}",
		}},
		{Key: "sms.204", Channel: NotifySMS, Code: "204", Body: Text{
			ZH: "【{{.MerchantName}}】{{.CustomerName}}您好,您的订单{{.OrderID}}已有一笔支付正在处理中,请勿重复支付,稍后可在订单页面查看支付结果。",
			EN: "[{{.MerchantName}}] Hello{{if .CustomerName}} {{.CustomerName}}{{end}}, a payment for order {{.OrderID}} is already being processed, so please don't pay again. You can check the result on the order page shortly.",
		}},

		// E-mail: the code's full customer message, reassurance, links, signature.
		{Key: "email.generic", Channel: NotifyEmail,
			Subject: Text{ZH: "【{{.MerchantName}}】您的订单 {{.OrderID}} 支付未成功", EN: "[{{.MerchantName}}] Your payment for order {{.OrderID}} did not go through"},
			Body:    Text{ZH: emailZH(""), EN: emailEN("")}},
		{Key: "email.funds", Channel: NotifyEmail, Category: CategoryFunds,
			Subject: Text{ZH: "【{{.MerchantName}}】您的订单 {{.OrderID}} 支付未成功,请确认银行卡余额", EN: "[{{.MerchantName}}] Your payment for order {{.OrderID}} did not go through: please check your card"},
			Body: Text{
				ZH: emailZH("为避免再次遇到类似情况,建议您在支付前确认银行卡余额及支付限额。"),
				EN: emailEN("To avoid this next time, you may want to check your card balance and payment limits before paying."),
			}},
		{Key: "email.card", Channel: NotifyEmail, Category: CategoryCard,
			Subject: Text{ZH: "【{{.MerchantName}}】您的订单 {{.OrderID}} 支付未成功,请更换银行卡或支付方式", EN: "[{{.MerchantName}}] Your payment for order {{.OrderID}} did not go through: please use another card"},
			Body: Text{
				ZH: emailZH("如需了解银行卡状态,可联系发卡银行。"),
				EN: emailEN("Your bank can tell you more about the card's status."),
			}},
		{Key: "email.auth", Channel: NotifyEmail, Category: CategoryAuth,
			Subject: Text{ZH: "【{{.MerchantName}}】您的订单 {{.OrderID}} 支付验证未通过", EN: "[{{.MerchantName}}] Your payment for order {{.OrderID}} was not verified"},
			Body: Text{
				ZH: emailZH("为保障您的账户安全,请勿向任何人透露支付密码或短信验证码。"),
				EN: emailEN("For your account's safety, never share your payment password or SMS codes with anyone."),
			}},
		{Key: "email.network", Channel: NotifyEmail, Category: CategoryNetwork,
			Subject: Text{ZH: "【{{.MerchantName}}】您的订单 {{.OrderID}} 支付未成功,请稍后再试", EN: "[{{.MerchantName}}] Your payment for order {{.OrderID}} did not go through: please try again later"},
			Body: Text{
				ZH: emailZH("如您的账户已被扣款,款项将按原路退回,请您放心。"),
				EN: emailEN("If you were charged, the money will be returned to you the way it was paid."),
			}},
		{Key: "email.risk", Channel: NotifyEmail, Category: CategoryRisk,
			Subject: Text{ZH: "【{{.MerchantName}}】您的订单 {{.OrderID}} 需要完成验证", EN: "[{{.MerchantName}}] Your payment for order {{.OrderID}} needs a quick check"},
			Body: Text{
				ZH: emailZH("这是为保障您资金安全的常规核实,感谢您的理解与配合。"),
				EN: emailEN("This is a routine check to keep your funds safe. Thank you for your understanding."),
			}},
		{Key: "email.204", Channel: NotifyEmail, Code: "204",
			Subject: Text{ZH: "【{{.MerchantName}}】您的订单 {{.OrderID}} 支付正在处理中", EN: "[{{.MerchantName}}] Your payment for order {{.OrderID}} is being processed"},
			Body: Text{
				ZH: "{{if .CustomerName}}{{.CustomerName}}{{else}}尊敬的客户{{end}},您好:\n\n" +
					"您在{{.MerchantName}}的订单 {{.OrderID}}(金额 {{.Amount}})已有一笔支付正在处理中,请勿重复支付。稍后可在订单页面查看支付结果;如最终未能成功,已扣款项将原路退回。\n\n" +
					"{{if .FeedbackLink}}如有疑问,欢迎告诉我们:{{.FeedbackLink}}\n\n{{end}}{{.MerchantName}}",
				EN: "Dear {{if .CustomerName}}{{.CustomerName}}{{else}}customer{{end}},\n\n" +
					"A payment for your order {{.OrderID}} ({{.Amount}}) at {{.MerchantName}} is already being processed, so please don't pay again. You can check the result on the order page shortly; if it does not go through, any amount charged will be returned to you.\n\n" +
					"{{if .FeedbackLink}}Questions? Let us know: {{.FeedbackLink}}\n\n{{end}}{{.MerchantName}}",
			}},

		// In-app: a title and a short body the merchant's site or app shows.
		{Key: "inapp.generic", Channel: NotifyInApp,
			Subject: Text{ZH: "订单支付未成功", EN: "Payment not completed"},
			Body:    Text{ZH: inappZH("{{.CustomerMessage}}"), EN: inappEN("{{.CustomerMessage}}")}},
		{Key: "inapp.funds", Channel: NotifyInApp, Category: CategoryFunds,
			Subject: Text{ZH: "订单支付未成功", EN: "Payment not completed"},
			Body:    Text{ZH: inappZH("可能是银行卡可用余额或额度不足。{{.NextStep}}。"), EN: inappEN("This may be due to the card's balance or limits. {{.NextStep}}.")}},
		{Key: "inapp.card", Channel: NotifyInApp, Category: CategoryCard,
			Subject: Text{ZH: "订单支付未成功", EN: "Payment not completed"},
			Body:    Text{ZH: inappZH("所用银行卡暂时无法完成本次支付。{{.NextStep}}。"), EN: inappEN("The card can't be used for this payment right now. {{.NextStep}}.")}},
		{Key: "inapp.auth", Channel: NotifyInApp, Category: CategoryAuth,
			Subject: Text{ZH: "支付验证未通过", EN: "Payment not verified"},
			Body:    Text{ZH: inappZH("{{.CustomerMessage}}"), EN: inappEN("{{.CustomerMessage}}")}},
		{Key: "inapp.network", Channel: NotifyInApp, Category: CategoryNetwork,
			Subject: Text{ZH: "订单支付未成功,请稍后再试", EN: "Payment not completed, please try again later"},
			Body:    Text{ZH: inappZH("支付未能及时确认。{{.NextStep}}。如已扣款,款项将原路退回。"), EN: inappEN("The payment could not be confirmed in time. {{.NextStep}}. If you were charged, the money will be returned.")}},
		{Key: "inapp.risk", Channel: NotifyInApp, Category: CategoryRisk,
			Subject: Text{ZH: "支付需要完成验证", EN: "Your payment needs a quick check"},
			Body:    Text{ZH: inappZH("这是为保障您资金安全的常规核实,{{.NextStep}}。"), EN: inappEN("This is a routine check to keep your funds safe. {{.NextStep}}.")}},
		{Key: "inapp.204", Channel: NotifyInApp, Code: "204",
			Subject: Text{ZH: "支付正在处理中", EN: "Payment in progress"},
			Body: Text{
				ZH: "您的订单{{.OrderID}}已有一笔支付正在处理中,请勿重复支付。稍后可在订单页面查看支付结果。",
				EN: "A payment for order {{.OrderID}} is already being processed, so please don't pay again. You can check the result on the order page shortly.",
			}},

		// Phone: the support team's call script.
		{Key: "phone.generic", Channel: NotifyPhone, Body: Text{
			ZH: "您好,请问是{{if .CustomerName}}{{.CustomerName}}{{else}}订单 {{.OrderID}} 的付款人{{end}}吗?这里是{{.MerchantName}}客服。\n" +
				"您于 {{.Time}} 提交的订单 {{.OrderID}}(金额 {{.Amount}})支付未成功。{{.CustomerMessage}}\n" +
				"下一步:{{.NextStep}}。{{if .BackupChannel}}也可以使用{{.BackupChannel}}完成支付。{{end}}\n" +
				"请问还有什么可以帮您?",
			EN: "Hello, am I speaking with {{if .CustomerName}}{{.CustomerName}}{{else}}the payer of order {{.OrderID}}{{end}}? This is {{.MerchantName}} customer service.\n" +
				"Your payment of {{.Amount}} for order {{.OrderID}} on {{.Time}} did not go through. {{.CustomerMessage}}\n" +
				"Next step: {{.NextStep}}.{{if .BackupChannel}} You can also pay with {{.BackupChannel}}.{{end}}\n" +
				"Is there anything else I can help you with?",
		}},
	}
}

// emailZH builds a Chinese e-mail body with an optional extra paragraph.
func emailZH(extra string) string {
	s := "{{if .CustomerName}}{{.CustomerName}}{{else}}尊敬的客户{{end}},您好:\n\n" +
		"您于 {{.Time}} 在{{.MerchantName}}提交的订单 {{.OrderID}}(金额 {{.Amount}})支付未成功。\n\n" +
		"{{.CustomerMessage}}\n\n"
	if extra != "" {
		s += extra + "\n\n"
	}
	s += "{{if .RetryLink}}重新支付:{{.RetryLink}}\n\n{{end}}" +
		"{{if .ChannelNotice}}{{.ChannelNotice}}。\n\n{{else}}{{if .BackupChannel}}您也可以使用{{.BackupChannel}}完成支付。\n\n{{end}}{{end}}" +
		"{{if .FeedbackLink}}如有疑问或需要帮助,欢迎告诉我们:{{.FeedbackLink}}\n\n{{end}}" +
		"给您带来不便,敬请谅解。\n\n{{.MerchantName}}"
	return s
}

// emailEN builds an English e-mail body with an optional extra paragraph.
func emailEN(extra string) string {
	s := "Dear {{if .CustomerName}}{{.CustomerName}}{{else}}customer{{end}},\n\n" +
		"Your payment of {{.Amount}} for order {{.OrderID}} at {{.MerchantName}} on {{.Time}} did not go through.\n\n" +
		"{{.CustomerMessage}}\n\n"
	if extra != "" {
		s += extra + "\n\n"
	}
	s += "{{if .RetryLink}}Pay again: {{.RetryLink}}\n\n{{end}}" +
		"{{if .ChannelNotice}}{{.ChannelNotice}}.\n\n{{else}}{{if .BackupChannel}}You can also pay with {{.BackupChannel}}.\n\n{{end}}{{end}}" +
		"{{if .FeedbackLink}}Questions or need a hand? Let us know: {{.FeedbackLink}}\n\n{{end}}" +
		"We're sorry for the inconvenience.\n\n{{.MerchantName}}"
	return s
}

// inappZH builds a Chinese in-app body around a reason-and-step sentence.
func inappZH(middle string) string {
	return "您的订单{{.OrderID}}({{.Amount}})支付未成功。" + middle +
		"{{if .RetryLink}}\n重新支付:{{.RetryLink}}{{end}}" +
		"{{if .FeedbackLink}}\n遇到问题?告诉我们:{{.FeedbackLink}}{{end}}"
}

// inappEN builds an English in-app body around a reason-and-step sentence.
func inappEN(middle string) string {
	return "Your payment of {{.Amount}} for order {{.OrderID}} did not go through. " + middle +
		"{{if .RetryLink}}\nPay again: {{.RetryLink}}{{end}}" +
		"{{if .FeedbackLink}}\nHad a problem? Tell us: {{.FeedbackLink}}{{end}}"
}
