package sandbox

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"paymend/domain"
)

// This file generates the realistic payments the sandbox streams (--stream) and
// fills bursts with. It is kept apart so that it can be swapped for a generator
// shared with `seed --demo`: anything with a Next method will do.

// Generator makes payment requests for the stream and for bursts. The sandbox
// calls it from one goroutine at a time.
type Generator interface {
	Next(now time.Time) PaymentRequest
}

// RandomGenerator is the default Generator: about 80 % succeeded payments, the
// rest failures led by 101 (insufficient balance), then 202 (timeout) and 301
// (risk control), with a few timeout_then_success cases whose money was debited.
type RandomGenerator struct {
	mu       sync.Mutex
	rnd      *rand.Rand
	merchant string
}

// NewGenerator returns a RandomGenerator for merchant; seed 0 picks a random seed.
func NewGenerator(merchant string, seed uint64) *RandomGenerator {
	if seed == 0 {
		seed = rand.Uint64()
	}
	return &RandomGenerator{rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), merchant: merchant}
}

// failureCode is a platform return code with its message (the catalog's Chinese
// title) and how often the stream uses it.
type failureCode struct {
	Code, Message string
	Weight        int
}

// failureCodes is the stream's failure mix; messages match domain/codes.json.
var failureCodes = []failureCode{
	{"101", "余额不足", 40},
	{"202", "交易超时/未授权", 16},
	{"301", "风控拦截", 10},
	{"121", "支付密码错误", 6},
	{"111", "银行卡已过期", 5},
	{"102", "超出单日交易限额", 4},
	{"112", "银行卡已冻结或挂失", 4},
	{"122", "短信验证码错误或已过期", 4},
	{"201", "网络异常", 4},
	{"503", "系统繁忙", 3},
	{"302", "疑似欺诈交易", 2},
	{"504", "渠道服务暂不可用", 2},
}

// codeMessage is the platform's message for code.
func codeMessage(code string) string {
	for _, c := range failureCodes {
		if c.Code == code {
			return c.Message
		}
	}
	return "支付失败"
}

type weightedChannel struct {
	Name   string
	Weight int
}

var streamChannels = []weightedChannel{{"card", 40}, {"wechat", 25}, {"alipay", 25}, {"unionpay", 8}, {"bank_transfer", 2}}

var streamBanks = []struct {
	Code string
	BINs []string
}{
	{"ICBC", []string{"622202", "621226", "622208"}},
	{"CCB", []string{"621700", "436742", "622700"}},
	{"ABC", []string{"622848", "622845"}},
	{"BOC", []string{"621661", "456351"}},
	{"CMB", []string{"622588", "621483"}},
	{"BOCOM", []string{"622260", "622262"}},
	{"PSBC", []string{"621799", "622188"}},
}

var (
	surnames   = []string{"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭", "何", "林", "欧阳"}
	givenNames = []string{"伟", "芳", "娜", "敏", "静", "磊", "洋", "勇", "艳", "杰", "婷", "强", "军", "丽", "秀英", "建华", "晓明", "思琪", "子涵", "浩然"}
	emailNames = []string{"wei", "fang", "na", "min", "jing", "lei", "yang", "yong", "jie", "ting", "qiang", "li", "xiaoming", "siqi", "haoran"}
)

// Next returns one realistic payment.
func (g *RandomGenerator) Next(now time.Time) PaymentRequest {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.rnd
	p := PaymentRequest{
		MerchantCode: g.merchant,
		OrderID:      newOrderID(),
		Amount:       g.amount(),
		Currency:     "CNY",
		Channel:      pickChannel(r),
	}
	switch u := r.Float64(); {
	case u < 0.80:
		p.Outcome = OutcomeSucceeded
	case u < 0.98:
		p.Outcome = OutcomeFailed
		p.Code = pickCode(r)
	default:
		p.Outcome = OutcomeTimeoutThenSuccess
	}
	c := g.customer()
	p.Customer = &c
	if p.Channel == "card" || p.Channel == "unionpay" {
		card := g.card()
		p.Card = &card
	}
	return p
}

// Customer returns a random customer (for callers that build their own payments).
func (g *RandomGenerator) Customer() domain.Customer {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.customer()
}

// amount is in fen: mostly tens to hundreds of yuan, a few thousands, rarely more.
func (g *RandomGenerator) amount() int64 {
	r := g.rnd
	var yuan int64
	switch u := r.Float64(); {
	case u < 0.60:
		yuan = 10 + r.Int64N(290)
	case u < 0.90:
		yuan = 300 + r.Int64N(1700)
	case u < 0.99:
		yuan = 2000 + r.Int64N(6000)
	default:
		yuan = 8000 + r.Int64N(52000)
	}
	cents := []int64{0, 0, 0, 90, 99, 50}[r.IntN(6)]
	return yuan*100 + cents
}

func (g *RandomGenerator) customer() domain.Customer {
	r := g.rnd
	c := domain.Customer{
		ID:    newID("C", 10),
		Name:  surnames[r.IntN(len(surnames))] + givenNames[r.IntN(len(givenNames))],
		Phone: fmt.Sprintf("+861%d%09d", 3+r.IntN(7), r.IntN(1_000_000_000)),
	}
	if r.IntN(10) < 6 {
		c.Email = fmt.Sprintf("%s%d@example.com", emailNames[r.IntN(len(emailNames))], r.IntN(1000))
	}
	return c
}

func (g *RandomGenerator) card() domain.Card {
	r := g.rnd
	b := streamBanks[r.IntN(len(streamBanks))]
	return domain.Card{BIN: b.BINs[r.IntN(len(b.BINs))], Last4: fmt.Sprintf("%04d", r.IntN(10000)), Bank: b.Code}
}

func pickChannel(r *rand.Rand) string {
	total := 0
	for _, c := range streamChannels {
		total += c.Weight
	}
	n := r.IntN(total)
	for _, c := range streamChannels {
		if n < c.Weight {
			return c.Name
		}
		n -= c.Weight
	}
	return "card"
}

func pickCode(r *rand.Rand) string {
	total := 0
	for _, c := range failureCodes {
		total += c.Weight
	}
	n := r.IntN(total)
	for _, c := range failureCodes {
		if n < c.Weight {
			return c.Code
		}
		n -= c.Weight
	}
	return "101"
}
