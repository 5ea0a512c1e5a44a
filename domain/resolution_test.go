package domain

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// legalTransitions is the playbook written out by hand: every (state, action) pair
// not listed here must be refused.
var legalTransitions = map[ResolutionState]map[ResolutionAction]ResolutionState{
	ResolutionNew: {
		DoConfirmReason:      ResolutionReasonConfirmed,
		DoNotifyCustomer:     ResolutionCustomerNotified,
		DoOfferRemedy:        ResolutionRemedyOffered,
		DoCheckFunds:         ResolutionFundsChecked,
		DoResolve:            ResolutionResolved,
		DoMarkRetriedSuccess: ResolutionRetriedSuccess,
		DoWriteOff:           ResolutionWrittenOff,
	},
	ResolutionReasonConfirmed: {
		DoNotifyCustomer:     ResolutionCustomerNotified,
		DoOfferRemedy:        ResolutionRemedyOffered,
		DoCheckFunds:         ResolutionFundsChecked,
		DoResolve:            ResolutionResolved,
		DoMarkRetriedSuccess: ResolutionRetriedSuccess,
		DoWriteOff:           ResolutionWrittenOff,
	},
	ResolutionCustomerNotified: {
		DoOfferRemedy:        ResolutionRemedyOffered,
		DoCheckFunds:         ResolutionFundsChecked,
		DoResolve:            ResolutionResolved,
		DoMarkRetriedSuccess: ResolutionRetriedSuccess,
		DoWriteOff:           ResolutionWrittenOff,
	},
	ResolutionRemedyOffered: {
		DoCheckFunds:         ResolutionFundsChecked,
		DoResolve:            ResolutionResolved,
		DoMarkRetriedSuccess: ResolutionRetriedSuccess,
		DoWriteOff:           ResolutionWrittenOff,
	},
	ResolutionFundsChecked: {
		DoMarkRefunded:       ResolutionRefunded,
		DoResolve:            ResolutionResolved,
		DoMarkRetriedSuccess: ResolutionRetriedSuccess,
		DoWriteOff:           ResolutionWrittenOff,
	},
	ResolutionResolved:       {DoReopen: ResolutionReasonConfirmed},
	ResolutionRetriedSuccess: {DoReopen: ResolutionReasonConfirmed},
	ResolutionRefunded:       {DoReopen: ResolutionReasonConfirmed},
	ResolutionWrittenOff:     {DoReopen: ResolutionReasonConfirmed},
}

func TestNextStateEveryTransition(t *testing.T) {
	states := append(append([]ResolutionState{}, ResolutionStates...), "bogus", "")
	actions := append(append([]ResolutionAction{}, ResolutionActions...), "bogus", "")
	if len(legalTransitions) != len(ResolutionStates) {
		t.Fatalf("table covers %d states, there are %d", len(legalTransitions), len(ResolutionStates))
	}
	for _, from := range states {
		for _, a := range actions {
			t.Run(fmt.Sprintf("%s/%s", from, a), func(t *testing.T) {
				want, legal := legalTransitions[from][a]
				got, err := NextState(from, a)
				if legal {
					if err != nil || got != want {
						t.Fatalf("NextState(%s, %s) = %s, %v; want %s", from, a, got, err, want)
					}
					return
				}
				if !errors.Is(err, ErrIllegalTransition) {
					t.Fatalf("NextState(%s, %s) = %s, %v; want ErrIllegalTransition", from, a, got, err)
				}
				if got != from {
					t.Fatalf("refused transition returned %s, want the unchanged %s", got, from)
				}
			})
		}
	}
}

func TestNeverBackwards(t *testing.T) {
	pos := map[ResolutionState]int{}
	for i, s := range ResolutionStates {
		pos[s] = i
	}
	for _, from := range ResolutionStates {
		for _, a := range ResolutionActions {
			to, err := NextState(from, a)
			if err != nil || a == DoReopen {
				continue
			}
			if pos[to] <= pos[from] {
				t.Errorf("%s --%s--> %s goes backwards", from, a, to)
			}
			if from.Terminal() {
				t.Errorf("terminal %s left by %s", from, a)
			}
		}
	}
}

func TestAllowedActions(t *testing.T) {
	for _, s := range ResolutionStates {
		got := AllowedActions(s)
		if len(got) != len(legalTransitions[s]) {
			t.Errorf("AllowedActions(%s) = %v", s, got)
		}
		for _, a := range got {
			if _, ok := legalTransitions[s][a]; !ok {
				t.Errorf("AllowedActions(%s) includes %s", s, a)
			}
		}
	}
	if !DoReopen.AdminOnly() || DoResolve.AdminOnly() {
		t.Error("AdminOnly")
	}
}

func TestResolutionLabels(t *testing.T) {
	terminal := 0
	for _, s := range ResolutionStates {
		if !s.Valid() || s.Label("zh-CN") == string(s) || s.Label("en") == string(s) {
			t.Errorf("state %s labels %q/%q", s, s.Label("zh-CN"), s.Label("en"))
		}
		if s.Terminal() {
			terminal++
		}
	}
	if terminal != 4 {
		t.Errorf("%d terminal states, want 4", terminal)
	}
	for _, a := range ResolutionActions {
		if !a.Valid() || a.Label("zh-CN") == string(a) || a.Label("en") == string(a) {
			t.Errorf("action %s labels", a)
		}
	}
	for _, k := range RemedyKinds {
		if !k.Valid() || k.Label("zh-CN") == string(k) || k.Label("en") == string(k) {
			t.Errorf("remedy %s labels", k)
		}
	}
	if ResolutionState("x").Valid() || ResolutionAction("x").Valid() || RemedyKind("x").Valid() {
		t.Error("unknown values reported valid")
	}
}

func TestRecommendedAction(t *testing.T) {
	cat := NewCatalog(DefaultCatalog(), nil)
	for _, tc := range []struct {
		state  ResolutionState
		code   string
		action ResolutionAction
		zh     string // a fragment of the Chinese hint
	}{
		{ResolutionNew, "101", DoConfirmReason, "101"},
		{ResolutionNew, "999", DoConfirmReason, "未收录"},
		{ResolutionReasonConfirmed, "101", DoNotifyCustomer, "确认银行卡余额"},
		{ResolutionReasonConfirmed, "202", DoNotifyCustomer, "稍后重试"},
		{ResolutionReasonConfirmed, "301", DoNotifyCustomer, "验证身份"},
		{ResolutionReasonConfirmed, "999", DoNotifyCustomer, "更换支付方式"},
		{ResolutionCustomerNotified, "101", DoOfferRemedy, "更换银行卡"},
		{ResolutionCustomerNotified, "202", DoOfferRemedy, "稍后重试"},
		{ResolutionCustomerNotified, "301", DoOfferRemedy, "二次验证"},
		{ResolutionCustomerNotified, "401", DoOfferRemedy, "其他支付渠道"},
		{ResolutionRemedyOffered, "202", DoCheckFunds, "可能已扣款"},
		{ResolutionRemedyOffered, "101", DoCheckFunds, "是否已扣款"},
		{ResolutionFundsChecked, "101", DoResolve, "退款"},
		{ResolutionResolved, "101", "", "重新打开"},
		{ResolutionWrittenOff, "999", "", "重新打开"},
	} {
		e := cat.Lookup(tc.code)
		a, hint := RecommendedAction(tc.state, e)
		if a != tc.action || !strings.Contains(hint.ZH, tc.zh) || hint.EN == "" {
			t.Errorf("RecommendedAction(%s, %s) = %q %+v, want %q containing %q", tc.state, tc.code, a, hint, tc.action, tc.zh)
		}
		if a != "" {
			if _, err := NextState(tc.state, a); err != nil {
				t.Errorf("recommended %s is illegal from %s", a, tc.state)
			}
		}
	}
	// Every category gets its own hints at the notify and remedy steps, and every
	// recommendation is a legal move.
	seen := map[string]Category{}
	for _, c := range Categories {
		e := CodeEntry{Code: "X", Category: c}
		for _, s := range []ResolutionState{ResolutionReasonConfirmed, ResolutionCustomerNotified} {
			_, hint := RecommendedAction(s, e)
			if prev, dup := seen[hint.ZH]; dup {
				t.Errorf("%s and %s share the hint %q", prev, c, hint.ZH)
			}
			seen[hint.ZH] = c
		}
		for _, s := range ResolutionStates {
			if a, _ := RecommendedAction(s, e); a != "" {
				if _, err := NextState(s, a); err != nil {
					t.Errorf("%s/%s: recommended %s is illegal", c, s, a)
				}
			}
		}
	}
	// Risk hints are for operators, but customer-facing wording stays in the catalog.
	if _, hint := RecommendedAction(ResolutionReasonConfirmed, cat.Lookup("301")); !strings.Contains(hint.ZH, "勿透露") {
		t.Errorf("risk notify hint should warn against revealing details: %q", hint.ZH)
	}
}

func TestSuggestedRemedy(t *testing.T) {
	cat := NewCatalog(DefaultCatalog(), nil)
	for code, want := range map[string]RemedyKind{
		"101": RemedyOtherCard,
		"111": RemedyOtherCard,
		"202": RemedyRetry,
		"503": RemedyRetry,
		"301": RemedyVerification,
		"123": RemedyVerification,
		"401": RemedyOtherChannel,
		"999": RemedyRetry,
	} {
		if got := SuggestedRemedy(cat.Lookup(code)); got != want {
			t.Errorf("SuggestedRemedy(%s) = %s, want %s", code, got, want)
		}
	}
}
