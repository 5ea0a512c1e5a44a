package domain

import (
	"errors"
	"fmt"
)

// This file holds the resolution playbook: the per-transaction state machine that
// follows the platform guide's procedure for a failed payment — confirm the reason,
// notify the customer, offer a remedy, check whether money left the customer's
// account — and its closing states.
//
// Rules:
//   - The open steps new → reason_confirmed → customer_notified → remedy_offered →
//     funds_checked only move forward; any later open step may be reached directly
//     (steps may be skipped), the same or an earlier step never.
//   - resolve, write_off and mark_retried_success close the case from any open state
//     (retried_success is also set automatically when the same order later succeeds).
//   - mark_refunded closes the case only from funds_checked: money is refunded only
//     after the funds were checked.
//   - Closed states are final; only reopen (admin only — see AdminOnly) takes a closed
//     case back to reason_confirmed.

// ResolutionState is where a failed transaction stands in the playbook.
type ResolutionState string

// Resolution states.
const (
	ResolutionNew              ResolutionState = "new"
	ResolutionReasonConfirmed  ResolutionState = "reason_confirmed"
	ResolutionCustomerNotified ResolutionState = "customer_notified"
	ResolutionRemedyOffered    ResolutionState = "remedy_offered"
	ResolutionFundsChecked     ResolutionState = "funds_checked"
	ResolutionResolved         ResolutionState = "resolved"
	ResolutionRetriedSuccess   ResolutionState = "retried_success"
	ResolutionRefunded         ResolutionState = "refunded"
	ResolutionWrittenOff       ResolutionState = "written_off"
)

// ResolutionStates lists every state in playbook order, open states first.
var ResolutionStates = []ResolutionState{
	ResolutionNew, ResolutionReasonConfirmed, ResolutionCustomerNotified,
	ResolutionRemedyOffered, ResolutionFundsChecked,
	ResolutionResolved, ResolutionRetriedSuccess, ResolutionRefunded, ResolutionWrittenOff,
}

// stateStep is the position of an open state in the playbook; closed states are 100.
var stateStep = map[ResolutionState]int{
	ResolutionNew: 0, ResolutionReasonConfirmed: 1, ResolutionCustomerNotified: 2,
	ResolutionRemedyOffered: 3, ResolutionFundsChecked: 4,
	ResolutionResolved: 100, ResolutionRetriedSuccess: 100, ResolutionRefunded: 100, ResolutionWrittenOff: 100,
}

var stateLabels = map[ResolutionState]Text{
	ResolutionNew:              {ZH: "待处理", EN: "New"},
	ResolutionReasonConfirmed:  {ZH: "已确认原因", EN: "Reason confirmed"},
	ResolutionCustomerNotified: {ZH: "已通知客户", EN: "Customer notified"},
	ResolutionRemedyOffered:    {ZH: "已提供补救方案", EN: "Remedy offered"},
	ResolutionFundsChecked:     {ZH: "已复核资金", EN: "Funds checked"},
	ResolutionResolved:         {ZH: "已解决", EN: "Resolved"},
	ResolutionRetriedSuccess:   {ZH: "重试成功", EN: "Retried successfully"},
	ResolutionRefunded:         {ZH: "已退款", EN: "Refunded"},
	ResolutionWrittenOff:       {ZH: "已核销", EN: "Written off"},
}

// Valid reports whether s is one of ResolutionStates.
func (s ResolutionState) Valid() bool {
	_, ok := stateStep[s]
	return ok
}

// Terminal reports whether s closes the case.
func (s ResolutionState) Terminal() bool {
	return s == ResolutionResolved || s == ResolutionRetriedSuccess ||
		s == ResolutionRefunded || s == ResolutionWrittenOff
}

// Label returns the state's name in lang.
func (s ResolutionState) Label(lang string) string {
	if t, ok := stateLabels[s]; ok {
		return t.In(lang)
	}
	return string(s)
}

// ResolutionAction is what an operator (or the system) does to a case.
type ResolutionAction string

// Resolution actions.
const (
	DoConfirmReason      ResolutionAction = "confirm_reason"
	DoNotifyCustomer     ResolutionAction = "notify_customer"
	DoOfferRemedy        ResolutionAction = "offer_remedy"
	DoCheckFunds         ResolutionAction = "check_funds"
	DoMarkRefunded       ResolutionAction = "mark_refunded"
	DoResolve            ResolutionAction = "resolve"
	DoMarkRetriedSuccess ResolutionAction = "mark_retried_success"
	DoWriteOff           ResolutionAction = "write_off"
	DoReopen             ResolutionAction = "reopen"
)

// ResolutionActions lists every action in playbook order.
var ResolutionActions = []ResolutionAction{
	DoConfirmReason, DoNotifyCustomer, DoOfferRemedy, DoCheckFunds,
	DoMarkRefunded, DoResolve, DoMarkRetriedSuccess, DoWriteOff, DoReopen,
}

var resolutionActionLabels = map[ResolutionAction]Text{
	DoConfirmReason:      {ZH: "确认失败原因", EN: "Confirm reason"},
	DoNotifyCustomer:     {ZH: "通知客户", EN: "Notify customer"},
	DoOfferRemedy:        {ZH: "提供补救方案", EN: "Offer remedy"},
	DoCheckFunds:         {ZH: "复核资金", EN: "Check funds"},
	DoMarkRefunded:       {ZH: "标记已退款", EN: "Mark refunded"},
	DoResolve:            {ZH: "结案", EN: "Resolve"},
	DoMarkRetriedSuccess: {ZH: "标记重试成功", EN: "Mark retried successfully"},
	DoWriteOff:           {ZH: "核销关闭", EN: "Write off"},
	DoReopen:             {ZH: "重新打开", EN: "Reopen"},
}

// Valid reports whether a is one of ResolutionActions.
func (a ResolutionAction) Valid() bool {
	_, ok := resolutionActionLabels[a]
	return ok
}

// Label returns the action's name in lang.
func (a ResolutionAction) Label(lang string) string {
	if t, ok := resolutionActionLabels[a]; ok {
		return t.In(lang)
	}
	return string(a)
}

// AdminOnly reports whether only an admin may take the action (reopen).
// NextState does not know roles; handlers enforce this.
func (a ResolutionAction) AdminOnly() bool { return a == DoReopen }

// ErrIllegalTransition is wrapped by NextState when an action is not allowed in a state.
var ErrIllegalTransition = errors.New("illegal resolution transition")

// NextState returns the state that action a leads to from state from, or an error
// wrapping ErrIllegalTransition (also for unknown states or actions). See the
// rules at the top of this file.
func NextState(from ResolutionState, a ResolutionAction) (ResolutionState, error) {
	illegal := func() (ResolutionState, error) {
		return from, fmt.Errorf("resolution: %s from %s: %w", a, from, ErrIllegalTransition)
	}
	step, ok := stateStep[from]
	if !ok {
		return illegal()
	}
	if from.Terminal() {
		if a == DoReopen {
			return ResolutionReasonConfirmed, nil
		}
		return illegal()
	}
	var to ResolutionState
	switch a {
	case DoConfirmReason:
		to = ResolutionReasonConfirmed
	case DoNotifyCustomer:
		to = ResolutionCustomerNotified
	case DoOfferRemedy:
		to = ResolutionRemedyOffered
	case DoCheckFunds:
		to = ResolutionFundsChecked
	case DoMarkRefunded:
		if from != ResolutionFundsChecked {
			return illegal()
		}
		return ResolutionRefunded, nil
	case DoResolve:
		return ResolutionResolved, nil
	case DoMarkRetriedSuccess:
		return ResolutionRetriedSuccess, nil
	case DoWriteOff:
		return ResolutionWrittenOff, nil
	default: // reopen on an open case, or unknown
		return illegal()
	}
	if stateStep[to] <= step {
		return illegal()
	}
	return to, nil
}

// AllowedActions lists the actions NextState accepts from state, in playbook order
// (reopen included for closed states; the caller hides it from non-admins).
func AllowedActions(from ResolutionState) []ResolutionAction {
	var out []ResolutionAction
	for _, a := range ResolutionActions {
		if _, err := NextState(from, a); err == nil {
			out = append(out, a)
		}
	}
	return out
}

// RemedyKind is the kind of remedy offered to the customer with offer_remedy.
type RemedyKind string

// Remedy kinds.
const (
	RemedyRetry        RemedyKind = "retry"
	RemedyOtherCard    RemedyKind = "other_card"
	RemedyOtherChannel RemedyKind = "other_channel"
	RemedyVerification RemedyKind = "verification"
)

// RemedyKinds lists every remedy kind.
var RemedyKinds = []RemedyKind{RemedyRetry, RemedyOtherCard, RemedyOtherChannel, RemedyVerification}

var remedyLabels = map[RemedyKind]Text{
	RemedyRetry:        {ZH: "稍后重试", EN: "Retry later"},
	RemedyOtherCard:    {ZH: "更换银行卡", EN: "Use another card"},
	RemedyOtherChannel: {ZH: "更换支付渠道", EN: "Use another channel"},
	RemedyVerification: {ZH: "身份验证", EN: "Identity verification"},
}

// Valid reports whether k is one of RemedyKinds.
func (k RemedyKind) Valid() bool {
	_, ok := remedyLabels[k]
	return ok
}

// Label returns the remedy kind's name in lang.
func (k RemedyKind) Label(lang string) string {
	if t, ok := remedyLabels[k]; ok {
		return t.In(lang)
	}
	return string(k)
}

// SuggestedRemedy picks the remedy kind to preselect for a failure code: an identity
// check when the code asks for one, a retry for soft failures, another card when
// the card is the problem, otherwise another channel.
func SuggestedRemedy(e CodeEntry) RemedyKind {
	switch {
	case e.HasAction(ActionVerifyIdentity) && (e.Category == CategoryRisk || e.Category == CategoryAuth):
		return RemedyVerification
	case e.Retry == RetrySoft:
		return RemedyRetry
	case e.HasAction(ActionChangeCard):
		return RemedyOtherCard
	}
	return RemedyOtherChannel
}

// categoryHints holds, per category, the hints for notifying the customer and for
// offering a remedy.
var categoryHints = map[Category]struct{ notify, remedy Text }{
	CategoryFunds: {
		notify: Text{ZH: "通知客户确认银行卡余额或额度", EN: "Ask the customer to check the card balance or limit"},
		remedy: Text{ZH: "建议客户更换银行卡或支付方式", EN: "Suggest another card or payment method"},
	},
	CategoryCard: {
		notify: Text{ZH: "通知客户银行卡暂不可用", EN: "Tell the customer the card can't be used"},
		remedy: Text{ZH: "建议客户更换银行卡或联系发卡银行", EN: "Suggest another card or calling the issuing bank"},
	},
	CategoryAuth: {
		notify: Text{ZH: "通知客户核对支付信息", EN: "Ask the customer to check the payment details"},
		remedy: Text{ZH: "引导客户重新验证后支付", EN: "Guide the customer to verify again and pay"},
	},
	CategoryNetwork: {
		notify: Text{ZH: "通知客户交易未成功,建议稍后重试", EN: "Tell the customer it didn't go through; suggest retrying later"},
		remedy: Text{ZH: "建议客户稍后重试,确保网络稳定", EN: "Suggest a later retry on a stable network"},
	},
	CategoryRisk: {
		notify: Text{ZH: "通知客户需进一步验证身份(勿透露风控细节)", EN: "Ask the customer for an identity check (never reveal risk details)"},
		remedy: Text{ZH: "引导客户完成二次验证或提供补充资料", EN: "Guide the customer through second-step verification or documents"},
	},
	CategoryMerchant: {
		notify: Text{ZH: "通知客户更换支付方式,同时检查商户配置", EN: "Ask the customer to use another method; check the merchant configuration"},
		remedy: Text{ZH: "提供已开通的其他支付渠道", EN: "Offer another enabled channel"},
	},
	CategoryPlatform: {
		notify: Text{ZH: "通知客户平台维护或繁忙,请稍后再试", EN: "Tell the customer the platform is busy or in maintenance"},
		remedy: Text{ZH: "建议客户稍后重试或更换支付渠道", EN: "Suggest a later retry or another channel"},
	},
	CategoryUnclassified: {
		notify: Text{ZH: "通知客户支付未成功,建议稍后再试或更换支付方式", EN: "Tell the customer it didn't go through; suggest retrying or another method"},
		remedy: Text{ZH: "建议客户稍后再试或更换支付方式,并联系平台确认原因", EN: "Suggest a retry or another method; ask the platform for the cause"},
	},
}

// RecommendedAction returns the next step to offer as the main action of a case in
// state, with a short hint tailored to the failure code's category. A closed case
// has no main action: it returns "" and a note on how to reopen.
func RecommendedAction(state ResolutionState, e CodeEntry) (ResolutionAction, Text) {
	hints, ok := categoryHints[e.Category]
	if !ok {
		hints = categoryHints[CategoryUnclassified]
	}
	switch state {
	case ResolutionNew:
		if !e.Known() {
			return DoConfirmReason, Text{
				ZH: "错误码未收录,请结合错误提示确认失败原因",
				EN: "Unknown code: use the error message to confirm the reason",
			}
		}
		return DoConfirmReason, Text{
			ZH: fmt.Sprintf("核对返回码 %s(%s),确认失败原因", e.Code, e.Title.In("zh-CN")),
			EN: fmt.Sprintf("Check return code %s (%s) and confirm the reason", e.Code, e.Title.In("en")),
		}
	case ResolutionReasonConfirmed:
		return DoNotifyCustomer, hints.notify
	case ResolutionCustomerNotified:
		return DoOfferRemedy, hints.remedy
	case ResolutionRemedyOffered:
		if e.Category == CategoryNetwork || e.Category == CategoryPlatform || !e.Known() {
			return DoCheckFunds, Text{
				ZH: "超时或系统错误可能已扣款,请复核订单与平台数据",
				EN: "Money may have been taken despite the error: reconcile the order with the platform",
			}
		}
		return DoCheckFunds, Text{
			ZH: "复核订单状态,确认是否已扣款",
			EN: "Check the order status and whether money was taken",
		}
	case ResolutionFundsChecked:
		return DoResolve, Text{
			ZH: "未扣款即可结案;已扣款且订单未完成请先退款",
			EN: "Close if nothing was taken; refund first if money was taken and the order did not complete",
		}
	}
	if state.Terminal() {
		return "", Text{ZH: "已结案;如需继续处理,管理员可重新打开", EN: "Closed; an admin can reopen it if needed"}
	}
	return "", Text{ZH: "未知的处理状态", EN: "Unknown resolution state"}
}
