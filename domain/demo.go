package domain

import (
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// This file generates realistic demo payments for the seeder (`seed --demo`) and the
// sandbox's live stream. Everything is deterministic per seed.
//
// Typical seeder use:
//
//	g := domain.NewDemoGen(seed)
//	g.CustomerPool = n / 3
//	for _, at := range g.Times(now.Add(-30*24*time.Hour), now, n, loc) {
//		p := g.Payment(at)
//		store(p)
//		if p.FollowUp != nil && !p.FollowUp.OccurredAt.After(now) {
//			store(*p.FollowUp) // same order, succeeded a few minutes later
//		}
//	}
//
// Shares per Payment call, outside bursts: about 83 % succeeded, 2 % pending, 15 %
// failed. 101 is the most common failure, 202 next; risk codes (301, 305, 303, 302)
// are much likelier above 5,000 CNY; 999 appears now and then as a code the catalog
// does not know. About 3 % of failures get a FollowUp.

// DemoPayment is one generated payment attempt, shaped like the platform's webhook data.
type DemoPayment struct {
	TransactionID string
	OrderID       string
	Amount        int64 // minor units
	Currency      string
	Channel       string
	Bank          string // short bank code such as "ICBC"; "" for wallet balance payments
	BIN           string // card/unionpay only
	Last4         string
	Status        Status
	Code          string // failed only
	Message       string // failed only: the platform's zh message (the catalog title)
	CustomerID    string
	CustomerName  string
	Phone         string // +86…
	Email         string // may be ""; example.com / example.cn only
	OccurredAt    time.Time
	// FollowUp, on about 3 % of failed payments, is a later succeeded payment for the
	// same order (the customer retried a few minutes later). It is never set on a
	// FollowUp itself. It may fall after the end of the range given to Times.
	FollowUp *DemoPayment
}

// Burst is a short window in which 202 timeouts cluster (and traffic peaks).
type Burst struct {
	Start, End time.Time
}

// DemoBanks lists the demo banks with their display names.
var DemoBanks = []struct {
	Code string
	Name Text
}{
	{"ICBC", Text{ZH: "中国工商银行", EN: "Industrial and Commercial Bank of China"}},
	{"CCB", Text{ZH: "中国建设银行", EN: "China Construction Bank"}},
	{"ABC", Text{ZH: "中国农业银行", EN: "Agricultural Bank of China"}},
	{"BOC", Text{ZH: "中国银行", EN: "Bank of China"}},
	{"CMB", Text{ZH: "招商银行", EN: "China Merchants Bank"}},
	{"BOCOM", Text{ZH: "交通银行", EN: "Bank of Communications"}},
	{"PSBC", Text{ZH: "中国邮政储蓄银行", EN: "Postal Savings Bank of China"}},
	{"SPDB", Text{ZH: "浦发银行", EN: "Shanghai Pudong Development Bank"}},
	{"CITIC", Text{ZH: "中信银行", EN: "China CITIC Bank"}},
	{"CEB", Text{ZH: "中国光大银行", EN: "China Everbright Bank"}},
}

// demoBankBINs holds card BINs per DemoBanks entry, and demoBankWeight their shares.
var (
	demoBankBINs = [][]string{
		{"622202", "621226", "622208", "621225"}, // ICBC
		{"621700", "436742", "622700"},           // CCB
		{"622848", "622845", "621282"},           // ABC
		{"621661", "456351", "621785"},           // BOC
		{"622588", "621483", "622575"},           // CMB
		{"622260", "622262", "621069"},           // BOCOM
		{"621799", "622188", "621095"},           // PSBC
		{"622521", "622518", "621792"},           // SPDB
		{"622690", "621773", "622696"},           // CITIC
		{"622660", "621489", "622666"},           // CEB
	}
	demoBankWeight = []float64{18, 16, 13, 11, 12, 7, 8, 5, 5, 5}
)

type weighted[T any] struct {
	cum  []float64
	vals []T
}

func newWeighted[T any](vals []T, w []float64) weighted[T] {
	cum := make([]float64, len(w))
	s := 0.0
	for i, x := range w {
		s += x
		cum[i] = s
	}
	for i := range cum {
		cum[i] /= s
	}
	return weighted[T]{cum: cum, vals: vals}
}

func (w *weighted[T]) pick(u float64) T {
	for i, c := range w.cum {
		if u < c {
			return w.vals[i]
		}
	}
	return w.vals[len(w.vals)-1]
}

type demoCode struct {
	code, msg string
	cat       Category
}

// demoFailureWeights is the general failure mix (per 100 failures, roughly).
var demoFailureWeights = []struct {
	code string
	w    float64
}{
	{"101", 30}, {"202", 16}, {"102", 6}, {"103", 3}, {"104", 1.5}, {"105", 1},
	{"111", 3}, {"112", 2}, {"113", 1}, {"114", 2}, {"115", 1.5},
	{"121", 5}, {"122", 5}, {"123", 2.5}, {"124", 1.5}, {"125", 0.7},
	{"201", 4}, {"203", 2}, {"204", 1.5},
	{"301", 1.5}, {"302", 0.3}, {"303", 1.2}, {"304", 1},
	{"401", 0.5}, {"402", 0.3}, {"403", 0.3}, {"404", 0.2}, {"405", 0.1},
	{"501", 0.5}, {"502", 0.8}, {"503", 1.5}, {"504", 0.5}, {"599", 0.5},
	{"999", 0.4},
}

// demoRiskWeights is the mix of risk failures on large amounts.
var demoRiskWeights = []struct {
	code string
	w    float64
}{{"301", 60}, {"305", 20}, {"303", 12}, {"302", 8}}

var demoChannels = newWeighted([]string{"alipay", "wechat", "card", "unionpay", "bank_transfer"}, []float64{38, 34, 12, 10, 6})

var demoSurnames = []struct{ zh, py string }{
	{"王", "wang"}, {"李", "li"}, {"张", "zhang"}, {"刘", "liu"}, {"陈", "chen"}, {"杨", "yang"},
	{"黄", "huang"}, {"赵", "zhao"}, {"吴", "wu"}, {"周", "zhou"}, {"徐", "xu"}, {"孙", "sun"},
	{"马", "ma"}, {"朱", "zhu"}, {"胡", "hu"}, {"郭", "guo"}, {"何", "he"}, {"林", "lin"},
	{"高", "gao"}, {"罗", "luo"}, {"郑", "zheng"}, {"梁", "liang"}, {"谢", "xie"}, {"宋", "song"},
	{"唐", "tang"}, {"许", "xu"}, {"韩", "han"}, {"冯", "feng"}, {"邓", "deng"}, {"曹", "cao"},
	{"彭", "peng"}, {"曾", "zeng"}, {"肖", "xiao"}, {"田", "tian"}, {"董", "dong"}, {"潘", "pan"},
	{"袁", "yuan"}, {"蔡", "cai"}, {"蒋", "jiang"}, {"余", "yu"}, {"于", "yu"}, {"杜", "du"},
	{"叶", "ye"}, {"程", "cheng"}, {"魏", "wei"}, {"苏", "su"}, {"吕", "lv"}, {"丁", "ding"},
	{"任", "ren"}, {"卢", "lu"}, {"欧阳", "ouyang"}, {"司马", "sima"},
}

var demoGiven = []struct{ zh, py string }{
	{"伟", "wei"}, {"芳", "fang"}, {"娜", "na"}, {"敏", "min"}, {"静", "jing"}, {"丽", "li"},
	{"强", "qiang"}, {"磊", "lei"}, {"军", "jun"}, {"洋", "yang"}, {"勇", "yong"}, {"艳", "yan"},
	{"杰", "jie"}, {"娟", "juan"}, {"涛", "tao"}, {"明", "ming"}, {"超", "chao"}, {"秀", "xiu"},
	{"霞", "xia"}, {"平", "ping"}, {"刚", "gang"}, {"英", "ying"}, {"华", "hua"}, {"玉", "yu"},
	{"红", "hong"}, {"宇", "yu"}, {"浩", "hao"}, {"欣", "xin"}, {"婷", "ting"}, {"雪", "xue"},
	{"琳", "lin"}, {"晨", "chen"}, {"子", "zi"}, {"涵", "han"}, {"梓", "zi"}, {"轩", "xuan"},
	{"思", "si"}, {"雨", "yu"}, {"佳", "jia"}, {"嘉", "jia"}, {"博", "bo"}, {"文", "wen"},
	{"一", "yi"}, {"诺", "nuo"}, {"怡", "yi"}, {"然", "ran"}, {"鑫", "xin"}, {"辉", "hui"},
	{"建", "jian"}, {"国", "guo"}, {"志", "zhi"}, {"海", "hai"}, {"春", "chun"}, {"晓", "xiao"},
}

// demoMobilePrefixes are mainland mobile number prefixes.
var demoMobilePrefixes = []string{
	"130", "131", "132", "133", "135", "136", "137", "138", "139", "150", "151", "152",
	"153", "155", "156", "157", "158", "159", "166", "177", "180", "181", "182", "183",
	"185", "186", "187", "188", "189", "191", "198", "199",
}

var demoEmailDomains = []string{"example.com", "example.cn"}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// DemoGen generates demo payments. It is deterministic per seed and not safe for
// concurrent use.
type DemoGen struct {
	// CustomerPool is how many distinct customers payments are drawn from (default
	// 2000); customers recur with the same name, phone, email and cards. A third of
	// the number of payments is a good value.
	CustomerPool int
	// Bursts are the windows in which 202 timeouts cluster. Times sets them (2–3
	// bursts when the range is at least 6 hours long); callers may set them too.
	Bursts []Burst

	r             *rand.Rand
	seed          uint64
	failures      weighted[demoCode]
	risks         weighted[demoCode]
	banks         weighted[int]
	timeout       demoCode // 202, for bursts
	merchantLimit demoCode // 402, for the largest amounts
}

// NewDemoGen returns a generator for seed (math/rand/v2 PCG).
func NewDemoGen(seed int64) *DemoGen {
	s := uint64(seed)
	g := &DemoGen{
		CustomerPool: 2000,
		r:            rand.New(rand.NewPCG(s, s^0x9e3779b97f4a7c15)),
		seed:         s,
	}
	cat := defaultCatalogIndex()
	mk := func(code string) demoCode {
		e := cat.Lookup(code)
		msg := e.Title.ZH
		if !e.Known() {
			msg = "交易失败" // what the platform says for a code we don't know
		}
		return demoCode{code: code, msg: msg, cat: e.Category}
	}
	var codes []demoCode
	var w []float64
	for _, f := range demoFailureWeights {
		codes, w = append(codes, mk(f.code)), append(w, f.w)
	}
	g.failures = newWeighted(codes, w)
	codes, w = nil, nil
	for _, f := range demoRiskWeights {
		codes, w = append(codes, mk(f.code)), append(w, f.w)
	}
	g.risks = newWeighted(codes, w)
	idx := make([]int, len(DemoBanks))
	for i := range idx {
		idx[i] = i
	}
	g.banks = newWeighted(idx, demoBankWeight)
	g.timeout, g.merchantLimit = mk("202"), mk("402")
	return g
}

// InBurst reports whether at falls inside one of g.Bursts.
func (g *DemoGen) InBurst(at time.Time) bool {
	for _, b := range g.Bursts {
		if !at.Before(b.Start) && at.Before(b.End) {
			return true
		}
	}
	return false
}

// Payment generates one payment attempt at the given time. Inside a burst, about
// 40 % of attempts fail with 202.
func (g *DemoGen) Payment(at time.Time) DemoPayment {
	r := g.r
	ch := demoChannels.pick(r.Float64())
	amount := g.amount(ch)
	cust := g.customerIndex()
	p := DemoPayment{
		TransactionID: g.id('T'),
		OrderID:       g.id('O'),
		Amount:        amount,
		Currency:      "CNY",
		Channel:       ch,
		OccurredAt:    at,
	}
	g.fillCustomer(&p, cust)
	g.fillCard(&p, cust)

	var failed demoCode
	switch {
	case len(g.Bursts) > 0 && g.InBurst(at) && r.Float64() < 0.40:
		failed = g.timeout
	case r.Float64() < 0.02:
		p.Status = StatusPending
	case amount >= 5_000_00 && r.Float64() < riskExtra(amount):
		failed = g.risks.pick(r.Float64())
	case amount >= 50_000_00 && r.Float64() < 0.10:
		failed = g.merchantLimit
	case r.Float64() < 0.148:
		failed = g.failures.pick(r.Float64())
	default:
		p.Status = StatusSucceeded
	}
	if failed.code != "" {
		p.Status, p.Code, p.Message = StatusFailed, failed.code, failed.msg
	}
	if p.Status == StatusFailed && r.Float64() < 0.03 {
		f := p
		f.FollowUp = nil
		f.TransactionID = g.id('T')
		f.Status, f.Code, f.Message = StatusSucceeded, "", ""
		f.OccurredAt = at.Add(2*time.Minute + time.Duration(r.Int64N(int64(13*time.Minute))))
		if cat := failed.cat; cat == CategoryCard || cat == CategoryFunds || cat == CategoryMerchant {
			// the customer switched to a wallet
			f.Channel = []string{"alipay", "wechat"}[r.IntN(2)]
			f.Bank, f.BIN, f.Last4 = "", "", ""
		}
		p.FollowUp = &f
	}
	return p
}

// riskExtra is the chance that a large payment fails on a risk rule.
func riskExtra(amount int64) float64 {
	switch {
	case amount >= 20_000_00:
		return 0.30
	case amount >= 10_000_00:
		return 0.22
	}
	return 0.15
}

// amount draws a log-normal amount around 50–500 CNY with a tail to 60,000 CNY.
func (g *DemoGen) amount(ch string) int64 {
	r := g.r
	bigShare := 0.03
	if ch == "bank_transfer" {
		bigShare = 0.25
	}
	var yuan float64
	if r.Float64() < bigShare {
		yuan = math.Exp(math.Log(6000) + 0.9*r.NormFloat64())
	} else {
		yuan = math.Exp(math.Log(150) + 0.95*r.NormFloat64())
	}
	yuan = min(max(yuan, 1), 60_000)
	cents := int64(yuan) * 100
	switch u := r.Float64(); {
	case u < 0.55: // whole yuan
	case u < 0.80:
		cents += 90 // x.90 pricing
	default:
		cents += r.Int64N(100)
	}
	return min(cents, 60_000_00)
}

// id returns prefix + 16 Crockford base32 characters with no run of 8 digits.
func (g *DemoGen) id(prefix byte) string {
	var b [17]byte
	b[0] = prefix
	x, y := g.r.Uint64(), g.r.Uint64()
	run := 0
	for i := 1; i <= 16; i++ {
		var v uint64
		if i <= 12 {
			v, x = x&31, x>>5
		} else {
			v, y = y&31, y>>5
		}
		if v < 10 {
			run++
			if run >= 8 {
				v = 10 + v%22 // force a letter
				run = 0
			}
		} else {
			run = 0
		}
		b[i] = crockford[v]
	}
	return string(b[:])
}

// customerIndex draws a customer from the pool; low indexes recur more often.
func (g *DemoGen) customerIndex() uint64 {
	n := g.CustomerPool
	if n < 1 {
		n = 1
	}
	u := g.r.Float64()
	return uint64(float64(n) * u * u)
}

// splitmix is a tiny deterministic stream used to derive a customer's stable data
// from (seed, customer index) without touching the main generator.
type splitmix uint64

func (s *splitmix) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (s *splitmix) intn(n int) int { return int(s.next() % uint64(n)) }

func (g *DemoGen) customerStream(idx uint64) splitmix {
	return splitmix(g.seed*0x2545f4914f6cdd1d ^ (idx+1)*0x9e3779b97f4a7c15)
}

func (g *DemoGen) fillCustomer(p *DemoPayment, idx uint64) {
	// Customer id: a bijection of idx over 50 bits, so ids are unique within the pool.
	const mask = 1<<50 - 1
	x := ((idx + g.seed) * 0x5851f42d4c957f2d) & mask
	x ^= x >> 25
	var id [11]byte
	id[0] = 'C'
	for i := 10; i >= 1; i-- {
		id[i] = crockford[x&31]
		x >>= 5
	}
	p.CustomerID = string(id[:])

	s := g.customerStream(idx)
	sn := demoSurnames[skewed(&s, len(demoSurnames))]
	g1 := demoGiven[s.intn(len(demoGiven))]
	name, py := sn.zh+g1.zh, g1.py
	if s.intn(10) < 7 {
		g2 := demoGiven[s.intn(len(demoGiven))]
		name += g2.zh
		py += g2.py
	}
	p.CustomerName = name

	var ph [14]byte
	copy(ph[:], "+86")
	copy(ph[3:], demoMobilePrefixes[s.intn(len(demoMobilePrefixes))])
	for i := 6; i < 14; i++ {
		ph[i] = byte('0' + s.intn(10))
	}
	p.Phone = string(ph[:])

	if s.intn(100) < 85 {
		local := py + "." + sn.py
		if s.intn(2) == 0 {
			local += strconv.Itoa(s.intn(100))
		}
		p.Email = local + "@" + demoEmailDomains[s.intn(len(demoEmailDomains))]
	}
}

// skewed picks an index in [0,n) favouring small ones (common surnames first).
func skewed(s *splitmix, n int) int {
	a, b := s.intn(n), s.intn(n)
	return min(a, b)
}

// fillCard sets bank, BIN and last 4 from the customer's (stable) cards: most
// customers pay with their first card, some with a second one.
func (g *DemoGen) fillCard(p *DemoPayment, idx uint64) {
	s := g.customerStream(idx)
	s.next() // decorrelate from the name stream
	which := 0
	if g.r.IntN(4) == 0 {
		which = 1
	}
	var bank, bin int
	var last4 uint64
	for i := 0; i <= which; i++ {
		bank = g.banks.pick(float64(s.next()>>11) / (1 << 53))
		bin = s.intn(len(demoBankBINs[bank]))
		last4 = s.next() % 10000
	}
	var l4 [4]byte
	for i := 3; i >= 0; i-- {
		l4[i] = byte('0' + last4%10)
		last4 /= 10
	}
	switch p.Channel {
	case "card", "unionpay":
		p.Bank, p.BIN, p.Last4 = DemoBanks[bank].Code, demoBankBINs[bank][bin], string(l4[:])
	case "bank_transfer":
		p.Bank, p.Last4 = DemoBanks[bank].Code, string(l4[:])
	default: // wallets: a linked card most of the time, else the wallet balance
		if g.r.IntN(10) < 7 {
			p.Bank, p.Last4 = DemoBanks[bank].Code, string(l4[:])
		}
	}
}

// demoHourWeight is the relative traffic per local hour of day.
var demoHourWeight = [24]float64{
	0.55, 0.35, 0.12, 0.08, 0.07, 0.10, 0.25, 0.50, 0.80, 1.00, 1.45, 1.70,
	1.65, 1.35, 1.00, 0.95, 1.00, 1.10, 1.25, 1.55, 1.85, 1.95, 1.65, 1.05,
}

func demoWeight(t time.Time) float64 {
	h := t.Hour()
	w := demoHourWeight[h]
	if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
		switch {
		case h >= 7 && h <= 9:
			w *= 0.6 // people sleep in
		case h >= 10 && h <= 23 || h <= 1:
			w *= 1.2
		}
	}
	return w
}

// Times returns n sorted instants in [from, to) following a daily rhythm in loc
// (busy 10–13 h and 19–23 h, quiet 2–6 h; weekends later and busier), with a little
// day-to-day noise. When the range spans at least 6 hours it also picks 2–3 short
// bursts (6–15 min), puts extra traffic in them and stores them in g.Bursts, so that
// Payment makes 202 timeouts cluster there. A nil loc means UTC.
func (g *DemoGen) Times(from, to time.Time, n int, loc *time.Location) []time.Time {
	if n <= 0 {
		return nil
	}
	if loc == nil {
		loc = time.UTC
	}
	out := make([]time.Time, 0, n)
	if !to.After(from) {
		for range n {
			out = append(out, from)
		}
		return out
	}
	r := g.r

	// Hour buckets with weights; partial first/last buckets count by their length.
	type bucket struct {
		start time.Time
		span  time.Duration
	}
	var (
		buckets []bucket
		cum     []float64
		total   float64
		dayMul  = 1.0
		lastDay = -1
	)
	for t := from; t.Before(to); {
		next := t.Truncate(time.Hour).Add(time.Hour)
		if next.After(to) {
			next = to
		}
		lt := t.In(loc)
		if d := lt.YearDay(); d != lastDay {
			lastDay, dayMul = d, 0.9+0.2*r.Float64()
		}
		span := next.Sub(t)
		total += demoWeight(lt) * dayMul * span.Hours()
		buckets = append(buckets, bucket{t, span})
		cum = append(cum, total)
		t = next
	}
	// Instants are drawn as nanoseconds after from: sorting int64s is much faster
	// than sorting time.Times.
	offs := make([]int64, 0, n)
	sample := func() int64 {
		u := r.Float64() * total
		i, _ := slices.BinarySearch(cum, u)
		i = min(i, len(buckets)-1)
		b := buckets[i]
		return int64(b.start.Sub(from)) + r.Int64N(int64(b.span))
	}

	g.Bursts = nil
	if to.Sub(from) >= 6*time.Hour {
		nb := 2 + r.IntN(2)
		per := max(n/150, min(60, n/20))
		for range nb {
			if len(offs)+per > n/2 {
				break
			}
			start := sample()
			d := int64(6*time.Minute) + r.Int64N(int64(9*time.Minute))
			end := min(start+d, int64(to.Sub(from)))
			if end <= start {
				continue
			}
			g.Bursts = append(g.Bursts, Burst{Start: from.Add(time.Duration(start)), End: from.Add(time.Duration(end))})
			for range per {
				offs = append(offs, start+r.Int64N(end-start))
			}
		}
		slices.SortFunc(g.Bursts, func(a, b Burst) int { return a.Start.Compare(b.Start) })
	}
	for len(offs) < n {
		offs = append(offs, sample())
	}
	slices.Sort(offs)
	for _, o := range offs {
		out = append(out, from.Add(time.Duration(o)))
	}
	return out
}
