package sandbox

import (
	"html/template"
	"net/http"
	"time"

	"paymend/domain"
)

// pageRows is how many rows of each kind the page shows.
const pageRows = 50

var shanghai = time.FixedZone("CST", 8*3600)

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"money": func(amount int64, currency string) string {
		return domain.Money{Amount: amount, Currency: currency}.String()
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.In(shanghai).Format("2006-01-02 15:04:05")
	},
}).Parse(`<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="10">
<title>欧乐支付沙箱 · OulePay sandbox</title>
<style>
body{font:14px/1.5 system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;margin:0;background:#f6f7f9;color:#1f2328}
header{background:#1f3a5f;color:#fff;padding:12px 24px}
header h1{margin:0;font-size:18px}
header p{margin:4px 0 0;opacity:.85}
main{padding:16px 24px;max-width:1400px}
section{background:#fff;border:1px solid #d8dee4;border-radius:6px;margin:0 0 16px;padding:8px 16px 12px}
h2{font-size:16px;margin:8px 0}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eef0f2;vertical-align:top}
th{font-weight:600;color:#57606a;white-space:nowrap}
td.text{white-space:pre-wrap;max-width:520px}
.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.ok{color:#1a7f37}.bad{color:#cf222e}.muted{color:#57606a}
code{font-size:12px}
dl{display:flex;flex-wrap:wrap;gap:4px 24px;margin:0}
dt{color:#57606a}dd{margin:0;font-weight:600}
</style>
</head>
<body>
<header>
<h1>欧乐支付沙箱 · OulePay sandbox</h1>
<p>模拟平台与客户端收件箱 · Simulated platform and the customer's inbox. 时间为北京时间 · Times are UTC+8. 本页每 10 秒刷新 · Refreshes every 10 s.</p>
</header>
<main>
<section data-testid="status">
<h2>状态 · Status</h2>
<dl>
<dt>故障模式 · Fault mode</dt><dd data-testid="fault">{{.Fault}}</dd>
<dt>支付 · Payments</dt><dd>{{.Stats.Payments}}</dd>
<dt>退款 · Refunds</dt><dd>{{.Stats.RefundsCreated}}</dd>
<dt>Webhook 成功 · delivered</dt><dd>{{.Stats.WebhooksSent}}</dd>
<dt>Webhook 失败 · failed</dt><dd>{{.Stats.WebhooksFailed}}</dd>
<dt>控制台 · Console</dt><dd><code>{{if .ConsoleURL}}{{.ConsoleURL}}{{else}}—{{end}}</code></dd>
</dl>
</section>

<section data-testid="messages">
<h2>客户收到的消息 · Messages customers received ({{len .Messages}})</h2>
{{if .Messages}}
<table>
<thead><tr><th>时间 · At</th><th>渠道 · Channel</th><th>收件人 · To</th><th>主题 · Subject</th><th>内容 · Text</th><th>签名 · Signature</th></tr></thead>
<tbody>
{{range .Messages}}<tr data-testid="message">
<td>{{when .At}}</td><td>{{.Channel}}</td><td>{{.To}}</td><td>{{.Subject}}</td><td class="text">{{.Text}}</td>
<td>{{with index .Meta "signature"}}<span class="{{if eq . "valid"}}ok{{else if eq . "invalid"}}bad{{else}}muted{{end}}">{{.}}</span>{{end}}</td>
</tr>{{end}}
</tbody>
</table>
{{else}}<p class="muted">还没有消息 · No messages yet.</p>{{end}}
</section>

<section data-testid="transactions">
<h2>最近交易 · Recent transactions</h2>
{{if .Transactions}}
<table>
<thead><tr><th>时间 · At</th><th>交易号 · Transaction</th><th>商户 · Merchant</th><th>状态 · Status</th><th class="num">金额 · Amount</th><th class="num">已扣款 · Debited</th><th class="num">已退款 · Refunded</th><th>返回码 · Code</th><th>渠道 · Channel</th></tr></thead>
<tbody>
{{range .Transactions}}<tr data-testid="transaction">
<td>{{when .CreatedAt}}</td><td><code>{{.ID}}</code></td><td>{{.MerchantCode}}</td>
<td class="{{if eq .Status "failed"}}bad{{else if eq .Status "succeeded"}}ok{{end}}">{{.Status}}</td>
<td class="num">{{money .Amount .Currency}}</td><td class="num">{{money .Debited .Currency}}</td><td class="num">{{money .Refunded .Currency}}</td>
<td>{{.Code}} {{.Message}}</td><td>{{.Channel}}</td>
</tr>{{end}}
</tbody>
</table>
{{else}}<p class="muted">还没有交易 · No transactions yet.</p>{{end}}
</section>

<section data-testid="refunds">
<h2>最近退款 · Recent refunds</h2>
{{if .Refunds}}
<table>
<thead><tr><th>时间 · At</th><th>退款号 · Refund</th><th>交易号 · Transaction</th><th>状态 · Status</th><th class="num">金额 · Amount</th><th>原因 · Reason</th></tr></thead>
<tbody>
{{range .Refunds}}<tr data-testid="refund">
<td>{{when .CreatedAt}}</td><td><code>{{.ID}}</code></td><td><code>{{.TransactionID}}</code></td>
<td class="{{if eq .Status "failed"}}bad{{else if eq .Status "succeeded"}}ok{{end}}">{{.Status}}</td>
<td class="num">{{money .Amount .Currency}}</td><td>{{.Reason}}{{with .FailureReason}} — <span class="bad">{{.}}</span>{{end}}</td>
</tr>{{end}}
</tbody>
</table>
{{else}}<p class="muted">还没有退款 · No refunds yet.</p>{{end}}
</section>

<section data-testid="deliveries">
<h2>Webhook 投递 · Webhook deliveries</h2>
{{if .Deliveries}}
<table>
<thead><tr><th>时间 · At</th><th>事件 · Event</th><th>类型 · Type</th><th>交易号 · Transaction</th><th>结果 · Result</th><th class="num">尝试 · Attempts</th></tr></thead>
<tbody>
{{range .Deliveries}}<tr data-testid="delivery">
<td>{{when .At}}</td><td><code>{{.EventID}}</code></td><td>{{.Type}}</td><td><code>{{.TransactionID}}</code></td>
<td>{{if .OK}}<span class="ok">{{.Status}}</span>{{else}}<span class="bad">{{if .Status}}{{.Status}} {{end}}{{.Error}}</span>{{end}}</td>
<td class="num">{{.Attempts}}</td>
</tr>{{end}}
</tbody>
</table>
{{else}}<p class="muted">还没有投递 · No deliveries yet.</p>{{end}}
</section>

<section>
<h2>用法 · How to drive it</h2>
<pre><code>curl -X POST {{.Base}}/_sandbox/payments -d '{"merchant_code":"demo","outcome":"failed","code":"101"}'
curl -X POST {{.Base}}/_sandbox/burst -d '{"merchant_code":"demo","code":"202","count":60,"seconds":30}'
curl -X POST {{.Base}}/_sandbox/faults -d '{"mode":"slow"}'   # ok | slow | error | timeout | refund_fail
curl {{.Base}}/_sandbox/messages</code></pre>
</section>
</main>
</body>
</html>
`))

type pageData struct {
	Fault        Fault
	Stats        Stats
	ConsoleURL   string
	Base         string
	Messages     []Message
	Transactions []Transaction
	Refunds      []Refund
	Deliveries   []Delivery
}

// GET /_sandbox/: what customers received, recent transactions, refunds and
// webhook deliveries, readable without JavaScript.
func (s *Sandbox) page(w http.ResponseWriter, r *http.Request) {
	d := pageData{Fault: s.Fault(), ConsoleURL: s.cfg.ConsoleURL, Base: "http://" + r.Host}
	msgs := s.Messages("")
	d.Messages = msgs[:min(len(msgs), pageRows)]
	dels := s.Deliveries()
	d.Deliveries = dels[:min(len(dels), pageRows)]

	s.mu.Lock()
	d.Stats = s.stats
	for i := len(s.txnOrder) - 1; i >= 0 && len(d.Transactions) < pageRows; i-- {
		t := s.txns[s.txnOrder[i]]
		d.Transactions = append(d.Transactions, s.txnView(t))
	}
	for i := len(s.txnOrder) - 1; i >= 0 && len(d.Refunds) < pageRows; i-- {
		ids := s.refundsOf[s.txnOrder[i]]
		for j := len(ids) - 1; j >= 0 && len(d.Refunds) < pageRows; j-- {
			d.Refunds = append(d.Refunds, refundView(s.refunds[ids[j]]))
		}
	}
	s.mu.Unlock()

	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if err := pageTmpl.Execute(w, d); err != nil {
		s.log.Warn("sandbox page", "err", err)
	}
}
