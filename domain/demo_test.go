package domain

import (
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
)

var demoStart = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC) // a Monday

func genPayments(seed int64, n int) []DemoPayment {
	g := NewDemoGen(seed)
	g.CustomerPool = max(n/3, 1)
	out := make([]DemoPayment, n)
	for i := range out {
		out[i] = g.Payment(demoStart.Add(time.Duration(i) * time.Second))
	}
	return out
}

func TestDemoGenDeterministic(t *testing.T) {
	a, b := genPayments(42, 2000), genPayments(42, 2000)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed gave different payments")
	}
	c := genPayments(43, 2000)
	if reflect.DeepEqual(a[:20], c[:20]) {
		t.Fatal("different seeds gave the same payments")
	}
	sh := mustLoc(t, "Asia/Shanghai")
	g1, g2 := NewDemoGen(7), NewDemoGen(7)
	t1 := g1.Times(demoStart, demoStart.Add(72*time.Hour), 3000, sh)
	t2 := g2.Times(demoStart, demoStart.Add(72*time.Hour), 3000, sh)
	if !reflect.DeepEqual(t1, t2) || !reflect.DeepEqual(g1.Bursts, g2.Bursts) {
		t.Fatal("same seed gave different times")
	}
}

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		// No tzdata on the machine: a fixed +08:00 behaves the same for these tests.
		return time.FixedZone("CST", 8*3600)
	}
	return loc
}

func TestDemoGenShares(t *testing.T) {
	const n = 100_000
	ps := genPayments(1, n)
	status := map[Status]int{}
	codes := map[string]int{}
	channels := map[string]int{}
	var failed, followUps int
	var large, largeRisk, small, smallRisk int
	for _, p := range ps {
		status[p.Status]++
		channels[p.Channel]++
		isRisk := false
		if p.Status == StatusFailed {
			failed++
			codes[p.Code]++
			isRisk = CategoryOf(p.Code) == CategoryRisk
			if p.Code == "" || p.Message == "" {
				t.Fatalf("failed payment without code/message: %+v", p)
			}
			if p.FollowUp != nil {
				followUps++
			}
		} else if p.Code != "" || p.Message != "" || p.FollowUp != nil {
			t.Fatalf("%s payment with code/follow-up: %+v", p.Status, p)
		}
		if p.Amount > 5_000_00 {
			large++
			if isRisk {
				largeRisk++
			}
		} else {
			small++
			if isRisk {
				smallRisk++
			}
		}
	}
	share := func(k int) float64 { return float64(k) / n }
	t.Logf("status %v; failures by code %v; large %d (risk %d), small %d (risk %d); follow-ups %d",
		status, codes, large, largeRisk, small, smallRisk, followUps)
	if s := share(status[StatusSucceeded]); s < 0.80 || s > 0.86 {
		t.Errorf("succeeded share %.3f, want 0.80–0.86", s)
	}
	if s := share(status[StatusPending]); s < 0.015 || s > 0.025 {
		t.Errorf("pending share %.3f, want about 0.02", s)
	}
	if s := share(status[StatusFailed]); s < 0.12 || s > 0.18 {
		t.Errorf("failed share %.3f, want 0.12–0.18", s)
	}
	if len(status) != 3 {
		t.Errorf("unexpected statuses %v", status)
	}

	top, second := "", ""
	for c, k := range codes {
		if top == "" || k > codes[top] {
			top, second = c, top
		} else if second == "" || k > codes[second] {
			second = c
		}
	}
	if top != "101" || second != "202" {
		t.Errorf("most common failures %s, %s; want 101, 202 (counts %v)", top, second, codes)
	}
	if s := float64(codes["101"]) / float64(failed); s < 0.22 || s > 0.38 {
		t.Errorf("101 is %.2f of failures", s)
	}
	if codes["999"] == 0 || codes["999"] > failed/100 {
		t.Errorf("unknown code 999 appears %d times in %d failures, want a few", codes["999"], failed)
	}
	for _, c := range []string{"301", "102", "111", "121", "201", "401", "501"} {
		if codes[c] == 0 {
			t.Errorf("code %s never generated", c)
		}
	}
	for c := range codes {
		if c != "999" && !NewCatalog(DefaultCatalog(), nil).Has(c) {
			t.Errorf("generated code %s is not in the catalog", c)
		}
	}

	largeShare, smallShare := float64(largeRisk)/float64(large), float64(smallRisk)/float64(small)
	if large < 500 || largeShare < 5*smallShare || largeShare < 0.10 {
		t.Errorf("risk failures: %.3f of %d large vs %.4f of small payments", largeShare, large, smallShare)
	}
	if fu := float64(followUps) / float64(failed); fu < 0.02 || fu > 0.04 {
		t.Errorf("follow-ups on %.3f of failures, want about 0.03", fu)
	}
	for _, ch := range Channels {
		if channels[ch] < n/50 {
			t.Errorf("channel %s only %d times", ch, channels[ch])
		}
	}
	if channels["alipay"] < channels["card"] || channels["wechat"] < channels["bank_transfer"] {
		t.Errorf("channel shares look wrong: %v", channels)
	}
}

func TestDemoPaymentFields(t *testing.T) {
	var (
		txRe    = regexp.MustCompile(`^T[0-9A-HJKMNP-TV-Z]{16}$`)
		orderRe = regexp.MustCompile(`^O[0-9A-HJKMNP-TV-Z]{16}$`)
		custRe  = regexp.MustCompile(`^C[0-9A-HJKMNP-TV-Z]{10}$`)
		phoneRe = regexp.MustCompile(`^\+861[3-9][0-9]{9}$`)
		emailRe = regexp.MustCompile(`^[a-z.0-9]+@example\.(com|cn)$`)
		digits8 = regexp.MustCompile(`[0-9]{8}`)
		nameRe  = regexp.MustCompile(`^\p{Han}{2,4}$`)
	)
	banks := map[string]bool{}
	for _, b := range DemoBanks {
		banks[b.Code] = true
	}
	ps := genPayments(9, 100_000)
	byCustomer := map[string]DemoPayment{}
	ids := map[string]bool{}
	var withEmail, maxAmount int64
	for _, p := range ps {
		all := []DemoPayment{p}
		if p.FollowUp != nil {
			all = append(all, *p.FollowUp)
		}
		for _, q := range all {
			if !txRe.MatchString(q.TransactionID) || !orderRe.MatchString(q.OrderID) {
				t.Fatalf("bad ids %q %q", q.TransactionID, q.OrderID)
			}
			if digits8.MatchString(q.TransactionID) || digits8.MatchString(q.OrderID) {
				t.Fatalf("id with a long digit run: %s %s", q.TransactionID, q.OrderID)
			}
			if ids[q.TransactionID] {
				t.Fatalf("duplicate transaction id %s", q.TransactionID)
			}
			ids[q.TransactionID] = true
			if !custRe.MatchString(q.CustomerID) || !phoneRe.MatchString(q.Phone) || !nameRe.MatchString(q.CustomerName) {
				t.Fatalf("bad customer %q %q %q", q.CustomerID, q.CustomerName, q.Phone)
			}
			if q.Email != "" {
				withEmail++
				if !emailRe.MatchString(q.Email) {
					t.Fatalf("bad email %q", q.Email)
				}
			}
			if q.Currency != "CNY" || q.Amount < 100 || q.Amount > 60_000_00 || !ValidChannel(q.Channel) {
				t.Fatalf("bad amount/channel %+v", q)
			}
			maxAmount = max(maxAmount, q.Amount)
			switch q.Channel {
			case "card", "unionpay":
				if !banks[q.Bank] || len(q.BIN) != 6 || len(q.Last4) != 4 {
					t.Fatalf("card payment without card data: %+v", q)
				}
				found := false
				for i, b := range DemoBanks {
					if b.Code == q.Bank {
						for _, bin := range demoBankBINs[i] {
							found = found || bin == q.BIN
						}
					}
				}
				if !found {
					t.Fatalf("BIN %s does not belong to %s", q.BIN, q.Bank)
				}
			default:
				if q.BIN != "" || (q.Bank != "" && !banks[q.Bank]) {
					t.Fatalf("non-card payment with card data: %+v", q)
				}
			}
			if prev, ok := byCustomer[q.CustomerID]; ok {
				if prev.CustomerName != q.CustomerName || prev.Phone != q.Phone || prev.Email != q.Email {
					t.Fatalf("customer %s changed: %+v vs %+v", q.CustomerID, prev, q)
				}
			}
			byCustomer[q.CustomerID] = q
		}
		if f := p.FollowUp; f != nil {
			d := f.OccurredAt.Sub(p.OccurredAt)
			if f.Status != StatusSucceeded || f.OrderID != p.OrderID || f.CustomerID != p.CustomerID ||
				f.Amount != p.Amount || f.FollowUp != nil || d < 2*time.Minute || d > 15*time.Minute {
				t.Fatalf("bad follow-up %+v for %+v", f, p)
			}
		}
	}
	if len(byCustomer) > 100_000/3 || len(byCustomer) < 100_000/10 {
		t.Errorf("%d distinct customers for a pool of %d", len(byCustomer), 100_000/3)
	}
	if withEmail < int64(len(ids))*7/10 {
		t.Errorf("only %d of %d payments have an email", withEmail, len(ids))
	}
	if maxAmount < 20_000_00 {
		t.Errorf("largest amount %d: no tail", maxAmount)
	}
}

func TestDemoTimes(t *testing.T) {
	sh := mustLoc(t, "Asia/Shanghai")
	from := time.Date(2026, 11, 1, 16, 0, 0, 0, time.UTC) // Monday 00:00 in Shanghai
	to := from.Add(28 * 24 * time.Hour)
	g := NewDemoGen(3)
	const n = 200_000
	ts := g.Times(from, to, n, sh)
	if len(ts) != n {
		t.Fatalf("got %d times", len(ts))
	}
	var hours [24]int
	weekday, weekend := 0, 0
	for i, x := range ts {
		if x.Before(from) || !x.Before(to) {
			t.Fatalf("time %v outside range", x)
		}
		if i > 0 && x.Before(ts[i-1]) {
			t.Fatal("times not sorted")
		}
		l := x.In(sh)
		hours[l.Hour()]++
		if wd := l.Weekday(); wd == time.Saturday || wd == time.Sunday {
			weekend++
		} else {
			weekday++
		}
	}
	busy := hours[11] + hours[12] + hours[20] + hours[21]
	quiet := hours[2] + hours[3] + hours[4] + hours[5]
	if busy < 8*quiet {
		t.Errorf("busy hours %d vs quiet hours %d: no daily rhythm (%v)", busy, quiet, hours)
	}
	// Per day, weekends carry more traffic than weekdays (8 weekend days, 20 weekdays).
	if perWeekend, perWeekday := float64(weekend)/8, float64(weekday)/20; perWeekend < perWeekday*1.03 {
		t.Errorf("weekend %.0f/day vs weekday %.0f/day", perWeekend, perWeekday)
	}
	if nb := len(g.Bursts); nb < 2 || nb > 3 {
		t.Fatalf("%d bursts", nb)
	}
	for _, b := range g.Bursts {
		if d := b.End.Sub(b.Start); d < 5*time.Minute || d > 15*time.Minute || b.Start.Before(from) || b.End.After(to) {
			t.Errorf("burst %v–%v", b.Start, b.End)
		}
	}

	// 202 timeouts cluster inside bursts.
	var inBurst, inBurst202, outBurst, outBurst202 int
	for _, x := range ts {
		p := g.Payment(x)
		if g.InBurst(x) {
			inBurst++
			if p.Code == "202" {
				inBurst202++
			}
		} else {
			outBurst++
			if p.Code == "202" {
				outBurst202++
			}
		}
	}
	if inBurst == 0 {
		t.Fatal("no payments in bursts")
	}
	if rin, rout := float64(inBurst202)/float64(inBurst), float64(outBurst202)/float64(outBurst); rin < 0.3 || rin < 10*rout {
		t.Errorf("202 rate in bursts %.3f vs outside %.3f", rin, rout)
	}

	// Degenerate inputs.
	if g.Times(from, to, 0, sh) != nil {
		t.Error("n=0 should give nil")
	}
	if got := g.Times(to, from, 3, nil); len(got) != 3 || !got[0].Equal(to) {
		t.Errorf("empty range: %v", got)
	}
	short := g.Times(from, from.Add(time.Hour), 50, nil)
	if len(short) != 50 || len(g.Bursts) != 0 {
		t.Errorf("short range: %d times, %d bursts", len(short), len(g.Bursts))
	}
	small := g.Times(from, to, 10, sh)
	if len(small) != 10 {
		t.Errorf("small n: %d times", len(small))
	}
}

func TestDemoNoLongDigitRuns(t *testing.T) {
	g := NewDemoGen(5)
	for range 300_000 {
		id := g.id('T')
		run := 0
		for i := 1; i < len(id); i++ {
			if id[i] >= '0' && id[i] <= '9' {
				run++
				if run >= 8 {
					t.Fatalf("%s has a run of %d digits", id, run)
				}
			} else {
				run = 0
			}
		}
		if strings.ContainsAny(id[1:], "ILOU") || len(id) != 17 || id[0] != 'T' {
			t.Fatalf("%s is not T + 16 Crockford base32 characters", id)
		}
	}
}

func BenchmarkDemoGen(b *testing.B) {
	g := NewDemoGen(1)
	g.CustomerPool = 333_333
	at := demoStart
	b.ReportAllocs()
	for b.Loop() {
		p := g.Payment(at)
		if p.TransactionID == "" {
			b.Fatal("empty id")
		}
	}
}

func BenchmarkDemoTimes(b *testing.B) {
	g := NewDemoGen(1)
	to := demoStart.Add(30 * 24 * time.Hour)
	for b.Loop() {
		g.Times(demoStart, to, 100_000, time.UTC)
	}
}
