package domain

import (
	_ "embed"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// This file holds the failure-code catalog: the platform's return codes, what they
// mean for the merchant's operators, what may be said to the paying customer, and
// what to do next. The default catalog is embedded from codes.json.
//
// JSON format (codes.json, ParseCatalogJSON, MarshalCatalogJSON): an array of
//
//	{"code":"101","category":"funds",
//	 "title":{"zh-CN":"余额不足","en":"Insufficient balance"},
//	 "explanation":{"zh-CN":"…","en":"…"},
//	 "customer_message":{"zh-CN":"…","en":"…"},
//	 "actions":["confirm_balance","change_card"],
//	 "retry":"hard","retry_after":0,"alt_channel":""}
//
// retry_after is written as whole seconds; when reading it may also be a Go duration
// string such as "10m" or "1h30m". retry may be omitted on input and then means "hard".
// ParseCatalogJSON also accepts an object {"codes":[…]}.

//go:embed codes.json
var embeddedCodes []byte

// Text is a user-facing text in the two console languages.
type Text struct {
	ZH string `json:"zh-CN"`
	EN string `json:"en"`
}

// In returns the text in lang: "en" (or "en-…") gives English, anything else Chinese.
// When the chosen language is empty it falls back to the other one.
func (t Text) In(lang string) string {
	if isEnglish(lang) {
		if t.EN != "" {
			return t.EN
		}
		return t.ZH
	}
	if t.ZH != "" {
		return t.ZH
	}
	return t.EN
}

// IsZero reports whether both languages are empty.
func (t Text) IsZero() bool { return t.ZH == "" && t.EN == "" }

func isEnglish(lang string) bool {
	if len(lang) < 2 || !strings.EqualFold(lang[:2], "en") {
		return false
	}
	return len(lang) == 2 || lang[2] == '-' || lang[2] == '_'
}

// Category groups failure codes by their cause.
type Category string

// Failure categories. CategoryUnclassified is only ever given to codes that the
// catalog does not know; catalog entries always carry one of the others.
const (
	CategoryFunds        Category = "funds"
	CategoryCard         Category = "card"
	CategoryAuth         Category = "auth"
	CategoryNetwork      Category = "network"
	CategoryRisk         Category = "risk"
	CategoryMerchant     Category = "merchant"
	CategoryPlatform     Category = "platform"
	CategoryUnclassified Category = "unclassified"
)

// Categories lists every category in display order, unclassified last.
var Categories = []Category{
	CategoryFunds, CategoryCard, CategoryAuth, CategoryNetwork,
	CategoryRisk, CategoryMerchant, CategoryPlatform, CategoryUnclassified,
}

var categoryLabels = map[Category]Text{
	CategoryFunds:        {ZH: "资金与限额", EN: "Funds and limits"},
	CategoryCard:         {ZH: "银行卡状态", EN: "Card status"},
	CategoryAuth:         {ZH: "授权与验证", EN: "Authorization and verification"},
	CategoryNetwork:      {ZH: "网络与超时", EN: "Network and timeouts"},
	CategoryRisk:         {ZH: "风险控制", EN: "Risk control"},
	CategoryMerchant:     {ZH: "商户配置", EN: "Merchant configuration"},
	CategoryPlatform:     {ZH: "平台维护与系统错误", EN: "Platform maintenance and system errors"},
	CategoryUnclassified: {ZH: "未分类", EN: "Unclassified"},
}

// Valid reports whether c is one of Categories (unclassified included).
func (c Category) Valid() bool {
	_, ok := categoryLabels[c]
	return ok
}

// Label returns the category's name in lang; an unknown category is shown as is.
func (c Category) Label(lang string) string {
	if t, ok := categoryLabels[c]; ok {
		return t.In(lang)
	}
	return string(c)
}

// Action is a suggested remedial step, a key from Actions.
type Action string

// Remedial steps. Their labels use the platform guide's wording.
const (
	ActionConfirmBalance   Action = "confirm_balance"
	ActionChangeCard       Action = "change_card"
	ActionChangeMethod     Action = "change_method"
	ActionRetryLater       Action = "retry_later"
	ActionVerifyIdentity   Action = "verify_identity"
	ActionProvideInfo      Action = "provide_info"
	ActionCheckPaymentInfo Action = "check_payment_info"
	ActionContactBank      Action = "contact_bank"
	ActionContactPlatform  Action = "contact_platform"
	ActionCheckNetwork     Action = "check_network"
	ActionCheckConfig      Action = "check_config"
	ActionCheckOrder       Action = "check_order"
	ActionWaitMaintenance  Action = "wait_maintenance"
)

// Actions lists every action in display order.
var Actions = []Action{
	ActionConfirmBalance, ActionChangeCard, ActionChangeMethod, ActionRetryLater,
	ActionVerifyIdentity, ActionProvideInfo, ActionCheckPaymentInfo, ActionContactBank,
	ActionContactPlatform, ActionCheckNetwork, ActionCheckConfig, ActionCheckOrder,
	ActionWaitMaintenance,
}

var actionLabels = map[Action]Text{
	ActionConfirmBalance:   {ZH: "请确认银行卡余额", EN: "Check the card balance"},
	ActionChangeCard:       {ZH: "更换银行卡", EN: "Use another card"},
	ActionChangeMethod:     {ZH: "更换支付方式", EN: "Use another payment method"},
	ActionRetryLater:       {ZH: "请稍后再试", EN: "Try again later"},
	ActionVerifyIdentity:   {ZH: "核实身份/二次验证", EN: "Verify identity (second-step verification)"},
	ActionProvideInfo:      {ZH: "提供补充资料", EN: "Provide supporting documents"},
	ActionCheckPaymentInfo: {ZH: "核对支付信息", EN: "Check the payment details"},
	ActionContactBank:      {ZH: "联系发卡银行", EN: "Contact the issuing bank"},
	ActionContactPlatform:  {ZH: "联系支付平台客服", EN: "Contact OulePay support"},
	ActionCheckNetwork:     {ZH: "确保网络稳定", EN: "Make sure the network is stable"},
	ActionCheckConfig:      {ZH: "检查商户配置", EN: "Check the merchant configuration"},
	ActionCheckOrder:       {ZH: "复核订单状态", EN: "Check the order status"},
	ActionWaitMaintenance:  {ZH: "耐心等待维护结束", EN: "Wait for the maintenance to finish"},
}

// Valid reports whether a is one of Actions.
func (a Action) Valid() bool {
	_, ok := actionLabels[a]
	return ok
}

// Label returns the action's label in lang.
func (a Action) Label(lang string) string { return ActionLabel(a, lang) }

// ActionLabel returns the label of a in lang; an unknown action is shown as is.
func ActionLabel(a Action, lang string) string {
	if t, ok := actionLabels[a]; ok {
		return t.In(lang)
	}
	return string(a)
}

// RetryKind says whether retrying the same payment can succeed.
type RetryKind string

// Retry kinds.
const (
	// RetryHard: never retry as is; something must change first (card, method, data).
	RetryHard RetryKind = "hard"
	// RetrySoft: the same payment may succeed later (after RetryAfter).
	RetrySoft RetryKind = "soft"
)

// Valid reports whether k is hard or soft.
func (k RetryKind) Valid() bool { return k == RetryHard || k == RetrySoft }

// Label returns the retry kind's name in lang.
func (k RetryKind) Label(lang string) string {
	switch k {
	case RetryHard:
		return Text{ZH: "不可直接重试", EN: "Do not retry as is"}.In(lang)
	case RetrySoft:
		return Text{ZH: "可稍后重试", EN: "Retry later"}.In(lang)
	}
	return string(k)
}

// CodeEntry is one failure code as the catalog describes it.
type CodeEntry struct {
	Code     string
	Category Category
	Title    Text
	// Explanation is for the merchant's operators.
	Explanation Text
	// CustomerMessage is safe to send to the paying customer: gentle, professional,
	// one clear next step, and never a word about risk-control rules.
	CustomerMessage Text
	Actions         []Action
	Retry           RetryKind
	// RetryAfter is how long to wait before a soft retry; 0 means "any time".
	RetryAfter time.Duration
	// AltChannel is a suggested alternative channel from Channels, or "".
	AltChannel string
	// ChannelNotice is set by ForChannel while the payment's channel is degraded or
	// down: what to tell the customer about it (never part of the catalog itself).
	ChannelNotice Text
}

// Known reports whether the entry comes from the catalog rather than being the
// generic stand-in that Lookup returns for an unknown code.
func (e CodeEntry) Known() bool {
	return e.Category != "" && e.Category != CategoryUnclassified
}

// Retryable reports whether the same payment may be retried (a soft failure).
func (e CodeEntry) Retryable() bool { return e.Retry == RetrySoft }

// HasAction reports whether a is among the entry's actions.
func (e CodeEntry) HasAction(a Action) bool { return slices.Contains(e.Actions, a) }

func (e CodeEntry) clone() CodeEntry {
	e.Actions = slices.Clone(e.Actions)
	return e
}

// codeEntryJSON is the wire form of CodeEntry.
type codeEntryJSON struct {
	Code            string          `json:"code"`
	Category        Category        `json:"category"`
	Title           Text            `json:"title"`
	Explanation     Text            `json:"explanation"`
	CustomerMessage Text            `json:"customer_message"`
	Actions         []Action        `json:"actions"`
	Retry           RetryKind       `json:"retry"`
	RetryAfter      json.RawMessage `json:"retry_after,omitempty"`
	AltChannel      string          `json:"alt_channel"`
}

// MarshalJSON writes the entry in the catalog's JSON format (retry_after in seconds).
func (e CodeEntry) MarshalJSON() ([]byte, error) {
	actions := e.Actions
	if actions == nil {
		actions = []Action{}
	}
	return json.Marshal(codeEntryJSON{
		Code: e.Code, Category: e.Category, Title: e.Title, Explanation: e.Explanation,
		CustomerMessage: e.CustomerMessage, Actions: actions, Retry: e.Retry,
		RetryAfter: json.RawMessage(strconv.FormatInt(int64(e.RetryAfter/time.Second), 10)),
		AltChannel: e.AltChannel,
	})
}

// UnmarshalJSON reads the catalog's JSON format; retry_after may be seconds or a
// duration string, and a missing retry means hard.
func (e *CodeEntry) UnmarshalJSON(b []byte) error {
	var w codeEntryJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	d, err := parseRetryAfterJSON(w.RetryAfter)
	if err != nil {
		return fmt.Errorf("code %q: %w", w.Code, err)
	}
	if w.Retry == "" {
		w.Retry = RetryHard
	}
	*e = CodeEntry{
		Code: w.Code, Category: w.Category, Title: w.Title, Explanation: w.Explanation,
		CustomerMessage: w.CustomerMessage, Actions: w.Actions, Retry: w.Retry,
		RetryAfter: d, AltChannel: w.AltChannel,
	}
	return nil
}

func parseRetryAfterJSON(raw json.RawMessage) (time.Duration, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var s string
	if raw[0] == '"' {
		if err := json.Unmarshal(raw, &s); err != nil {
			return 0, err
		}
	} else {
		s = string(raw)
	}
	return ParseRetryAfter(s)
}

// maxRetryAfter bounds RetryAfter: longer waits are not "retry later" any more.
const maxRetryAfter = 30 * 24 * time.Hour

// ParseRetryAfter reads a retry delay given as whole seconds ("600") or as a Go
// duration ("10m", "1h30m"). Empty means 0.
func ParseRetryAfter(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, nil
	}
	var d time.Duration
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n < 0 || n > int64(maxRetryAfter/time.Second) {
			return 0, fmt.Errorf("retry_after %q out of range", s)
		}
		d = time.Duration(n) * time.Second
	} else {
		d, err = time.ParseDuration(s)
		if err != nil {
			return 0, fmt.Errorf("retry_after %q is neither seconds nor a duration", s)
		}
	}
	if d < 0 || d > maxRetryAfter {
		return 0, fmt.Errorf("retry_after %q out of range", s)
	}
	return d.Truncate(time.Second), nil
}

// ErrInvalidEntry is wrapped by every validation error of ValidateEntry and
// ValidateOverride.
var ErrInvalidEntry = errors.New("invalid catalog entry")

// FieldError says which field of an entry is invalid and why, in both languages.
type FieldError struct {
	Code  string
	Field string
	Msg   Text
}

func (e *FieldError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("catalog: %s: %s", e.Field, e.Msg.EN)
	}
	return fmt.Sprintf("catalog: code %q: %s: %s", e.Code, e.Field, e.Msg.EN)
}

// Unwrap makes errors.Is(err, ErrInvalidEntry) true.
func (e *FieldError) Unwrap() error { return ErrInvalidEntry }

func fieldErr(code, field, zh, en string) error {
	return &FieldError{Code: code, Field: field, Msg: Text{ZH: zh, EN: en}}
}

// Text length limits, in runes. Customer messages must fit an SMS or two.
const (
	maxCodeLen          = 16
	maxTitleRunes       = 100
	maxExplanationRunes = 2000
	maxCustomerMsgRunes = 300
)

// ValidCode reports whether code is 1–16 characters of [A-Za-z0-9_-].
func ValidCode(code string) bool {
	if len(code) == 0 || len(code) > maxCodeLen {
		return false
	}
	for i := 0; i < len(code); i++ {
		c := code[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// riskWords are words that must never reach a customer: they would reveal that
// risk control is involved (the guide: protect the rules, don't alarm the customer).
var riskWords = []string{"风控", "风险", "拦截", "欺诈", "黑名单", "fraud", "risk", "blacklist"}

// RevealsRiskControl reports whether a customer-facing text mentions risk control.
// Notification templates should be checked with it too.
func RevealsRiskControl(s string) bool {
	l := strings.ToLower(s)
	for _, w := range riskWords {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

func checkText(code, field string, s string, maxRunes int) error {
	if !utf8.ValidString(s) {
		return fieldErr(code, field, "不是有效的 UTF-8 文本", "is not valid UTF-8")
	}
	if utf8.RuneCountInString(s) > maxRunes {
		return fieldErr(code, field, fmt.Sprintf("超过 %d 个字符", maxRunes), fmt.Sprintf("is longer than %d characters", maxRunes))
	}
	for _, r := range s {
		if r != '\n' && r != '\t' && unicode.IsControl(r) {
			return fieldErr(code, field, "含有控制字符", "contains control characters")
		}
	}
	return nil
}

func checkTextPair(code, field string, t Text, maxRunes int) error {
	if err := checkText(code, field+"_zh", t.ZH, maxRunes); err != nil {
		return err
	}
	return checkText(code, field+"_en", t.EN, maxRunes)
}

func checkActions(code string, actions []Action) error {
	seen := make(map[Action]bool, len(actions))
	for _, a := range actions {
		if !a.Valid() {
			return fieldErr(code, "actions", fmt.Sprintf("未知的处理建议 %q", a), fmt.Sprintf("unknown action %q", a))
		}
		if seen[a] {
			return fieldErr(code, "actions", fmt.Sprintf("处理建议 %q 重复", a), fmt.Sprintf("action %q is repeated", a))
		}
		seen[a] = true
	}
	return nil
}

func checkCustomerMessage(code string, t Text) error {
	if strings.TrimSpace(t.ZH) == "" || strings.TrimSpace(t.EN) == "" {
		return fieldErr(code, "customer_message", "客户提示须同时提供中文和英文", "must be given in both Chinese and English")
	}
	if err := checkTextPair(code, "customer_message", t, maxCustomerMsgRunes); err != nil {
		return err
	}
	if RevealsRiskControl(t.ZH) || RevealsRiskControl(t.EN) {
		return fieldErr(code, "customer_message", "客户提示不得透露风控信息", "must not mention risk control")
	}
	return nil
}

func checkAltChannel(code, ch string) error {
	if ch != "" && !ValidChannel(ch) {
		return fieldErr(code, "alt_channel", fmt.Sprintf("未知的支付渠道 %q", ch), fmt.Sprintf("unknown channel %q", ch))
	}
	return nil
}

// ValidateEntry checks an entry before it enters a catalog (imports, admin edits):
// a code of 1–16 characters [A-Za-z0-9_-], a category other than unclassified, a
// Chinese title, known and distinct actions, a customer message in both languages
// that does not mention risk control, a valid retry kind and delay, and an
// alternative channel from Channels or none. Errors are *FieldError.
func ValidateEntry(e CodeEntry) error {
	if !ValidCode(e.Code) {
		return fieldErr(e.Code, "code", "错误码须为 1–16 位字母、数字、下划线或连字符", "must be 1–16 characters of letters, digits, _ or -")
	}
	if !e.Category.Valid() || e.Category == CategoryUnclassified {
		return fieldErr(e.Code, "category", fmt.Sprintf("未知的分类 %q", e.Category), fmt.Sprintf("unknown category %q", e.Category))
	}
	if strings.TrimSpace(e.Title.ZH) == "" {
		return fieldErr(e.Code, "title_zh", "中文标题不能为空", "the Chinese title is required")
	}
	if err := checkTextPair(e.Code, "title", e.Title, maxTitleRunes); err != nil {
		return err
	}
	if err := checkTextPair(e.Code, "explanation", e.Explanation, maxExplanationRunes); err != nil {
		return err
	}
	if err := checkCustomerMessage(e.Code, e.CustomerMessage); err != nil {
		return err
	}
	if err := checkActions(e.Code, e.Actions); err != nil {
		return err
	}
	if !e.Retry.Valid() {
		return fieldErr(e.Code, "retry", "重试类型须为 hard 或 soft", "must be hard or soft")
	}
	if e.RetryAfter < 0 || e.RetryAfter > maxRetryAfter {
		return fieldErr(e.Code, "retry_after", "重试间隔超出范围", "is out of range")
	}
	return checkAltChannel(e.Code, e.AltChannel)
}

// CodeOverride is a merchant's change to one catalog entry. A nil field (or nil
// Actions) keeps the base value. Within a Text, an empty language keeps the base
// text of that language, so a merchant may override only the Chinese wording.
// An override for a code the base catalog lacks adds that code; it counts as known
// only when the override sets a Category.
//
// Stored per merchant, e.g. failure_code_overrides(merchant_id, code, category,
// title_zh, title_en, explanation_zh, explanation_en, customer_message_zh,
// customer_message_en, actions text[], retry, retry_after_seconds, alt_channel),
// every column but the key nullable; a NULL column is a nil field here.
type CodeOverride struct {
	Code            string
	Category        *Category
	Title           *Text
	Explanation     *Text
	CustomerMessage *Text
	Actions         []Action // nil keeps the base actions; an empty non-nil slice clears them
	Retry           *RetryKind
	RetryAfter      *time.Duration
	AltChannel      *string // "" removes the suggestion
}

// ValidateOverride checks the fields an override sets, with the rules of ValidateEntry.
func ValidateOverride(o CodeOverride) error {
	if !ValidCode(o.Code) {
		return fieldErr(o.Code, "code", "错误码须为 1–16 位字母、数字、下划线或连字符", "must be 1–16 characters of letters, digits, _ or -")
	}
	if o.Category != nil && (!o.Category.Valid() || *o.Category == CategoryUnclassified) {
		return fieldErr(o.Code, "category", fmt.Sprintf("未知的分类 %q", *o.Category), fmt.Sprintf("unknown category %q", *o.Category))
	}
	if o.Title != nil {
		if err := checkTextPair(o.Code, "title", *o.Title, maxTitleRunes); err != nil {
			return err
		}
	}
	if o.Explanation != nil {
		if err := checkTextPair(o.Code, "explanation", *o.Explanation, maxExplanationRunes); err != nil {
			return err
		}
	}
	if o.CustomerMessage != nil {
		if err := checkTextPair(o.Code, "customer_message", *o.CustomerMessage, maxCustomerMsgRunes); err != nil {
			return err
		}
		if RevealsRiskControl(o.CustomerMessage.ZH) || RevealsRiskControl(o.CustomerMessage.EN) {
			return fieldErr(o.Code, "customer_message", "客户提示不得透露风控信息", "must not mention risk control")
		}
	}
	if err := checkActions(o.Code, o.Actions); err != nil {
		return err
	}
	if o.Retry != nil && !o.Retry.Valid() {
		return fieldErr(o.Code, "retry", "重试类型须为 hard 或 soft", "must be hard or soft")
	}
	if o.RetryAfter != nil && (*o.RetryAfter < 0 || *o.RetryAfter > maxRetryAfter) {
		return fieldErr(o.Code, "retry_after", "重试间隔超出范围", "is out of range")
	}
	if o.AltChannel != nil {
		return checkAltChannel(o.Code, *o.AltChannel)
	}
	return nil
}

func mergeText(base Text, o *Text) Text {
	if o == nil {
		return base
	}
	if o.ZH != "" {
		base.ZH = o.ZH
	}
	if o.EN != "" {
		base.EN = o.EN
	}
	return base
}

// Apply returns base with the override's fields laid over it.
func (o CodeOverride) Apply(base CodeEntry) CodeEntry {
	e := base.clone()
	if o.Category != nil {
		e.Category = *o.Category
	}
	e.Title = mergeText(e.Title, o.Title)
	e.Explanation = mergeText(e.Explanation, o.Explanation)
	e.CustomerMessage = mergeText(e.CustomerMessage, o.CustomerMessage)
	if o.Actions != nil {
		e.Actions = slices.Clone(o.Actions)
	}
	if o.Retry != nil {
		e.Retry = *o.Retry
	}
	if o.RetryAfter != nil {
		e.RetryAfter = *o.RetryAfter
	}
	if o.AltChannel != nil {
		e.AltChannel = *o.AltChannel
	}
	return e
}

// UnknownEntry is the generic entry that Lookup gives for a code the catalog lacks.
func UnknownEntry(code string) CodeEntry {
	return CodeEntry{
		Code:     code,
		Category: CategoryUnclassified,
		Title:    Text{ZH: "未识别的失败原因", EN: "Unrecognized failure reason"},
		Explanation: Text{
			ZH: "平台返回了目录中没有的错误码。请结合错误提示信息判断原因,复核订单状态确认是否已扣款,并将交易号提交支付平台客服排查;确认原因后可在错误码目录中补充该错误码。",
			EN: "The platform returned a code that is not in the catalog. Use the error message to judge the cause, check the order status to see whether money was taken, and send the transaction id to OulePay support; once the cause is known, add the code to the catalog.",
		},
		CustomerMessage: Text{
			ZH: "支付未成功,请稍后再试或更换支付方式。",
			EN: "Your payment did not go through. Please try again later or use another payment method.",
		},
		Actions: []Action{ActionRetryLater, ActionChangeMethod, ActionCheckOrder, ActionContactPlatform},
		Retry:   RetrySoft,
	}
}

var defaultCatalog = sync.OnceValue(func() []CodeEntry {
	entries, err := ParseCatalogJSON(embeddedCodes)
	if err != nil {
		// codes.json is compiled in and checked by the tests; this cannot happen in a
		// released binary.
		panic("domain: embedded codes.json: " + err.Error())
	}
	sortEntries(entries)
	return entries
})

// DefaultCatalog returns the platform's failure codes from the embedded codes.json,
// sorted by code. The slice is a fresh copy on every call.
func DefaultCatalog() []CodeEntry {
	base := defaultCatalog()
	out := make([]CodeEntry, len(base))
	for i, e := range base {
		out[i] = e.clone()
	}
	return out
}

var defaultCatalogIndex = sync.OnceValue(func() *Catalog { return NewCatalog(defaultCatalog(), nil) })

// CategoryOf returns the category of code in the default catalog (unclassified when
// unknown). A merchant's view, with overrides, is (*Catalog).CategoryOf.
func CategoryOf(code string) Category { return defaultCatalogIndex().CategoryOf(code) }

// Catalog is a merchant's view of the failure codes: the base entries with the
// merchant's overrides applied. It is immutable and safe for concurrent use.
type Catalog struct {
	byCode map[string]CodeEntry
	sorted []CodeEntry
}

// NewCatalog builds a catalog from base entries and overrides. Merchant override
// fields take precedence over base entry fields. A later duplicate code in base
// replaces an earlier one. Entries are not validated here: validate on import.
func NewCatalog(base []CodeEntry, overrides []CodeOverride) *Catalog {
	c := &Catalog{byCode: make(map[string]CodeEntry, len(base)+len(overrides))}
	for _, e := range base {
		c.byCode[e.Code] = e.clone()
	}
	for _, o := range overrides {
		b, ok := c.byCode[o.Code]
		if !ok {
			b = UnknownEntry(o.Code)
		}
		c.byCode[o.Code] = o.Apply(b)
	}
	c.sorted = make([]CodeEntry, 0, len(c.byCode))
	for _, e := range c.byCode {
		c.sorted = append(c.sorted, e)
	}
	sortEntries(c.sorted)
	return c
}

// Lookup returns the entry for code. It never fails: an unknown code gets the
// generic UnknownEntry (category unclassified, Known() false).
func (c *Catalog) Lookup(code string) CodeEntry {
	if c != nil {
		if e, ok := c.byCode[code]; ok {
			return e.clone()
		}
		if t := strings.TrimSpace(code); t != code {
			if e, ok := c.byCode[t]; ok {
				return e.clone()
			}
		}
	}
	return UnknownEntry(code)
}

// Has reports whether code is in the catalog.
func (c *Catalog) Has(code string) bool {
	if c == nil {
		return false
	}
	_, ok := c.byCode[code]
	return ok
}

// CategoryOf returns the category of code, unclassified when unknown.
func (c *Catalog) CategoryOf(code string) Category { return c.Lookup(code).Category }

// All returns every entry sorted by code (numeric codes in numeric order, before
// the others), as a copy.
func (c *Catalog) All() []CodeEntry {
	if c == nil {
		return nil
	}
	out := make([]CodeEntry, len(c.sorted))
	for i, e := range c.sorted {
		out[i] = e.clone()
	}
	return out
}

// Len returns the number of codes in the catalog.
func (c *Catalog) Len() int {
	if c == nil {
		return 0
	}
	return len(c.sorted)
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// CompareCodes orders codes: numeric codes by value, then the rest by text.
func CompareCodes(a, b string) int {
	da, db := allDigits(a), allDigits(b)
	switch {
	case da && db:
		ta, tb := strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
		if len(ta) != len(tb) {
			return len(ta) - len(tb)
		}
		if c := strings.Compare(ta, tb); c != 0 {
			return c
		}
		return strings.Compare(a, b)
	case da:
		return -1
	case db:
		return 1
	}
	return strings.Compare(a, b)
}

func sortEntries(es []CodeEntry) {
	slices.SortStableFunc(es, func(x, y CodeEntry) int { return CompareCodes(x.Code, y.Code) })
}

// ParseCatalogJSON reads a catalog in the JSON format described at the top of this
// file (an array, or an object with "codes") and validates every entry. It fails on
// the first invalid or duplicate entry, naming it.
func ParseCatalogJSON(b []byte) ([]CodeEntry, error) {
	var entries []CodeEntry
	trimmed := strings.TrimLeft(string(b), " \t\r\n\ufeff")
	if strings.HasPrefix(trimmed, "{") {
		var wrap struct {
			Codes []CodeEntry `json:"codes"`
		}
		if err := json.Unmarshal([]byte(trimmed), &wrap); err != nil {
			return nil, fmt.Errorf("catalog: parse json: %w", err)
		}
		entries = wrap.Codes
	} else if err := json.Unmarshal([]byte(trimmed), &entries); err != nil {
		return nil, fmt.Errorf("catalog: parse json: %w", err)
	}
	seen := make(map[string]int, len(entries))
	for i, e := range entries {
		if err := ValidateEntry(e); err != nil {
			return nil, fmt.Errorf("catalog: entry %d: %w", i+1, err)
		}
		if j, dup := seen[e.Code]; dup {
			return nil, fmt.Errorf("catalog: entry %d: code %q repeats entry %d: %w", i+1, e.Code, j+1, ErrInvalidEntry)
		}
		seen[e.Code] = i
	}
	return entries, nil
}

// MarshalCatalogJSON writes entries as an indented JSON array that
// ParseCatalogJSON reads back.
func MarshalCatalogJSON(entries []CodeEntry) ([]byte, error) {
	if entries == nil {
		entries = []CodeEntry{}
	}
	b, err := json.MarshalIndent(entries, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("catalog: marshal json: %w", err)
	}
	return append(b, '\n'), nil
}

// CatalogCSVColumns are the columns of the CSV import/export format, in order.
// Actions are separated by "|"; retry_after_seconds is whole seconds (a duration
// such as "10m" is accepted on import).
var CatalogCSVColumns = []string{
	"code", "category", "title_zh", "title_en", "explanation_zh", "explanation_en",
	"customer_message_zh", "customer_message_en", "actions", "retry",
	"retry_after_seconds", "alt_channel",
}

// WriteCatalogCSV writes entries as UTF-8 CSV with a header row.
func WriteCatalogCSV(w io.Writer, entries []CodeEntry) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(CatalogCSVColumns); err != nil {
		return fmt.Errorf("catalog: write csv: %w", err)
	}
	for _, e := range entries {
		acts := make([]string, len(e.Actions))
		for i, a := range e.Actions {
			acts[i] = string(a)
		}
		rec := []string{
			e.Code, string(e.Category), e.Title.ZH, e.Title.EN, e.Explanation.ZH, e.Explanation.EN,
			e.CustomerMessage.ZH, e.CustomerMessage.EN, strings.Join(acts, "|"), string(e.Retry),
			strconv.FormatInt(int64(e.RetryAfter/time.Second), 10), e.AltChannel,
		}
		if err := cw.Write(rec); err != nil {
			return fmt.Errorf("catalog: write csv: %w", err)
		}
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return fmt.Errorf("catalog: write csv: %w", err)
	}
	return nil
}

// RowError is a problem with one CSV row. Row counts records as a spreadsheet
// does: the header is row 1.
type RowError struct {
	Row    int
	Code   string // the row's code when it could be read
	Field  string // the offending column, when known
	Reason Text
}

func (e RowError) Error() string {
	s := fmt.Sprintf("row %d", e.Row)
	if e.Code != "" {
		s += fmt.Sprintf(" (code %q)", e.Code)
	}
	if e.Field != "" {
		s += ": " + e.Field
	}
	return s + ": " + e.Reason.EN
}

// ErrCatalogCSV is wrapped by ReadCatalogCSV's fatal errors (no usable header, too
// many rows); problems with single rows are RowErrors instead.
var ErrCatalogCSV = errors.New("catalog csv")

// MaxCatalogCSVRows bounds an import. Callers should also bound the upload size.
const MaxCatalogCSVRows = 5000

// ReadCatalogCSV reads the CSV format of WriteCatalogCSV. The header row names the
// columns (any order, case-insensitive; unknown columns are ignored; "code" is
// required). It returns the rows that validate, and a RowError for every other row
// (syntax, validation, duplicate code). The error is for the file as a whole: read
// failure, no header, or more than MaxCatalogCSVRows rows. Text fields are trimmed
// and line breaks normalised to "\n"; an empty retry means hard. The input must be
// UTF-8 (a leading BOM is skipped).
func ReadCatalogCSV(r io.Reader) ([]CodeEntry, []RowError, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true

	header, err := cr.Read()
	if err == io.EOF {
		return nil, nil, fmt.Errorf("catalog: read csv: empty file: %w", ErrCatalogCSV)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("catalog: read csv header: %w: %w", ErrCatalogCSV, err)
	}
	col := make(map[string]int, len(header))
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff")
		}
		h = strings.ToLower(strings.TrimSpace(h))
		if _, dup := col[h]; !dup {
			col[h] = i
		}
	}
	if _, ok := col["code"]; !ok {
		return nil, nil, fmt.Errorf("catalog: read csv: header has no %q column: %w", "code", ErrCatalogCSV)
	}

	var (
		entries []CodeEntry
		rowErrs []RowError
		seen    = map[string]int{}
		row     = 1
	)
	for {
		before := cr.InputOffset()
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		row++
		if row-1 > MaxCatalogCSVRows {
			return nil, nil, fmt.Errorf("catalog: read csv: more than %d rows: %w", MaxCatalogCSVRows, ErrCatalogCSV)
		}
		if err != nil {
			var pe *csv.ParseError
			if !errors.As(err, &pe) {
				return nil, nil, fmt.Errorf("catalog: read csv: %w", err)
			}
			rowErrs = append(rowErrs, RowError{Row: row, Reason: Text{ZH: "CSV 格式错误", EN: "malformed CSV"}})
			if cr.InputOffset() == before {
				break // no progress: stop rather than loop
			}
			continue
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank row
		}
		e, rerr := csvRecordToEntry(rec, col)
		if rerr != nil {
			rerr.Row = row
			rowErrs = append(rowErrs, *rerr)
			continue
		}
		if first, dup := seen[e.Code]; dup {
			rowErrs = append(rowErrs, RowError{Row: row, Code: e.Code, Field: "code",
				Reason: Text{ZH: fmt.Sprintf("错误码与第 %d 行重复", first), EN: fmt.Sprintf("code repeats row %d", first)}})
			continue
		}
		seen[e.Code] = row
		entries = append(entries, e)
	}
	return entries, rowErrs, nil
}

func csvRecordToEntry(rec []string, col map[string]int) (CodeEntry, *RowError) {
	get := func(name string) string {
		i, ok := col[name]
		if !ok || i >= len(rec) {
			return ""
		}
		s := strings.ReplaceAll(rec[i], "\r\n", "\n")
		s = strings.ReplaceAll(s, "\r", "\n")
		return strings.TrimSpace(s)
	}
	e := CodeEntry{
		Code:            get("code"),
		Category:        Category(strings.ToLower(get("category"))),
		Title:           Text{ZH: get("title_zh"), EN: get("title_en")},
		Explanation:     Text{ZH: get("explanation_zh"), EN: get("explanation_en")},
		CustomerMessage: Text{ZH: get("customer_message_zh"), EN: get("customer_message_en")},
		Retry:           RetryKind(strings.ToLower(get("retry"))),
		AltChannel:      strings.ToLower(get("alt_channel")),
	}
	if e.Retry == "" {
		e.Retry = RetryHard
	}
	code := e.Code
	if !utf8.ValidString(code) || len(code) > 64 {
		code = "" // don't echo garbage back in the error
	}
	for _, a := range strings.Split(get("actions"), "|") {
		if a = strings.TrimSpace(a); a != "" {
			e.Actions = append(e.Actions, Action(strings.ToLower(a)))
		}
	}
	d, err := ParseRetryAfter(get("retry_after_seconds"))
	if err != nil {
		return e, &RowError{Code: code, Field: "retry_after_seconds",
			Reason: Text{ZH: "重试间隔须为 0–2592000 之间的整数秒", EN: "must be whole seconds between 0 and 2592000"}}
	}
	e.RetryAfter = d
	if err := ValidateEntry(e); err != nil {
		re := &RowError{Code: code, Reason: Text{ZH: "无效", EN: "invalid"}}
		var fe *FieldError
		if errors.As(err, &fe) {
			re.Field, re.Reason = fe.Field, fe.Msg
		}
		return e, re
	}
	return e, nil
}
