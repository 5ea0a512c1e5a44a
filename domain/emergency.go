package domain

import (
	"slices"
	"strings"
	"time"
)

// This file holds the emergency plan's rules: payment channel status with a backup
// channel (and what customers are told about it), incident types with their
// default runbook checklists, severities, and a drill's measured steps.

// ChannelStatus is how a payment channel is doing.
type ChannelStatus string

// Channel statuses.
const (
	ChannelActive   ChannelStatus = "active"
	ChannelDegraded ChannelStatus = "degraded"
	ChannelDown     ChannelStatus = "down"
)

// ChannelStatuses lists the statuses in display order.
var ChannelStatuses = []ChannelStatus{ChannelActive, ChannelDegraded, ChannelDown}

// Valid reports whether s is a known status.
func (s ChannelStatus) Valid() bool { return slices.Contains(ChannelStatuses, s) }

// PayChannel is one payment channel's state in the merchant's emergency plan.
type PayChannel struct {
	Channel   string
	Status    ChannelStatus
	Backup    string // another channel to offer customers while this one is in trouble
	Note      string // for the team
	UpdatedBy string
	UpdatedAt time.Time
}

// Troubled reports whether customers should be told to use another channel.
func (p PayChannel) Troubled() bool { return p.Status == ChannelDegraded || p.Status == ChannelDown }

// PayChannelsWithDefaults returns a state for every known channel, active and
// without a backup where the merchant has set nothing.
func PayChannelsWithDefaults(set []PayChannel) []PayChannel {
	out := make([]PayChannel, 0, len(Channels))
	for _, ch := range Channels {
		p := PayChannel{Channel: ch, Status: ChannelActive}
		for _, s := range set {
			if s.Channel == ch {
				p = s
			}
		}
		out = append(out, p)
	}
	return out
}

// ForChannel returns e as it should be told to the customer of a payment on
// channel while the merchant's channels are in the given states: when the
// channel is degraded or down, the notice says so and offers its backup
// (ChannelNotice, and BackupChannel becomes the backup); otherwise e is unchanged.
func (e CodeEntry) ForChannel(channel string, states []PayChannel) CodeEntry {
	for _, s := range states {
		if s.Channel != channel || !s.Troubled() {
			continue
		}
		name := Text{ZH: PayChannelLabel(channel, "zh-CN"), EN: PayChannelLabel(channel, "en")}
		var zh, en string
		if s.Status == ChannelDown {
			zh, en = name.ZH+"目前暂时无法使用", name.EN+" is unavailable right now"
		} else {
			zh, en = name.ZH+"目前不太稳定", name.EN+" is having trouble right now"
		}
		if s.Backup != "" {
			e.AltChannel = s.Backup
			zh += ",请改用" + PayChannelLabel(s.Backup, "zh-CN") + "完成支付"
			en += "; please pay with " + PayChannelLabel(s.Backup, "en") + " instead"
		} else {
			zh += ",请稍后再试"
			en += "; please try again a little later"
		}
		if len(en) > 0 {
			en = strings.ToUpper(en[:1]) + en[1:]
		}
		e.ChannelNotice = Text{ZH: zh, EN: en}
	}
	return e
}

// IncidentType is the kind of emergency an incident is; each has a runbook.
type IncidentType string

// Incident types.
const (
	IncidentChannelOutage  IncidentType = "channel_outage"
	IncidentFailureSpike   IncidentType = "failure_spike"
	IncidentPlatformOutage IncidentType = "platform_outage"
	IncidentFraudAttack    IncidentType = "fraud_attack"
)

// IncidentTypes lists the types in display order.
var IncidentTypes = []IncidentType{IncidentFailureSpike, IncidentChannelOutage, IncidentPlatformOutage, IncidentFraudAttack}

// Valid reports whether t is a known type.
func (t IncidentType) Valid() bool { return slices.Contains(IncidentTypes, t) }

var incidentTypeLabels = map[IncidentType]Text{
	IncidentChannelOutage:  {ZH: "支付渠道故障", EN: "Payment channel outage"},
	IncidentFailureSpike:   {ZH: "支付失败率骤升", EN: "Failure rate spike"},
	IncidentPlatformOutage: {ZH: "支付平台大面积异常", EN: "Platform-wide outage"},
	IncidentFraudAttack:    {ZH: "欺诈攻击 / 盗卡测试", EN: "Fraud attack / card testing"},
}

// Label names the type in lang.
func (t IncidentType) Label(lang string) string {
	if l, ok := incidentTypeLabels[t]; ok {
		return l.In(lang)
	}
	return string(t)
}

// defaultRunbooks are the checklists shipped for each incident type, after the
// platform guide's emergency plan: backup channels, contacts, a quick support
// response and a live line to the platform.
var defaultRunbooks = map[IncidentType][]Text{
	IncidentFailureSpike: {
		{ZH: "确认告警:查看失败率、集中的返回码和渠道", EN: "Confirm the alert: failure rate, the codes and channels it concentrates on"},
		{ZH: "联系欧乐支付技术支持,确认是否为平台侧问题", EN: "Call OulePay support and ask whether the platform is the cause"},
		{ZH: "将受影响渠道标记为“不稳定”或“不可用”,并设置备用渠道", EN: "Mark the affected channels degraded or down and set their backups"},
		{ZH: "向受影响客户批量发送通知,引导使用备用渠道", EN: "Send affected customers a notice pointing to the backup channel"},
		{ZH: "客服团队准备统一答复口径", EN: "Brief the support team with one answer for customers"},
		{ZH: "复核交易:确认是否有已扣款未成单的订单并安排退款", EN: "Review payments: find charged-but-not-completed orders and refund them"},
		{ZH: "恢复后将渠道改回“正常”,撰写复盘总结", EN: "When it recovers, set the channels back to active and write the review"},
	},
	IncidentChannelOutage: {
		{ZH: "确认故障渠道和开始时间", EN: "Confirm which channel is down and since when"},
		{ZH: "将该渠道标记为“不可用”,启用备用渠道", EN: "Mark the channel down and switch customers to its backup"},
		{ZH: "联系渠道方 / 欧乐支付,获取预计恢复时间", EN: "Contact the channel / OulePay for an expected recovery time"},
		{ZH: "向受影响客户发送通知,说明可改用的支付方式", EN: "Tell affected customers which payment method to use instead"},
		{ZH: "渠道恢复后改回“正常”并观察失败率", EN: "When it is back, set it active and watch the failure rate"},
		{ZH: "撰写复盘总结", EN: "Write the review"},
	},
	IncidentPlatformOutage: {
		{ZH: "启动应急小组,指定负责人", EN: "Assemble the emergency team and name a lead"},
		{ZH: "通过实时沟通窗口联系欧乐支付,确认影响范围", EN: "Reach OulePay on the live line and confirm the impact"},
		{ZH: "暂停自动重试和自动通知,避免重复扣款", EN: "Pause automatic retries and notices to avoid double charges"},
		{ZH: "在网站和 App 公告支付异常及备用支付方式", EN: "Post a notice on the site and app with the backup payment methods"},
		{ZH: "客服团队快速响应客户咨询", EN: "Support answers customer questions quickly"},
		{ZH: "恢复后对账:核对订单与平台数据,处理已扣款未成单", EN: "After recovery, reconcile orders with the platform and refund what was charged"},
		{ZH: "撰写复盘总结并更新预案", EN: "Write the review and update this plan"},
	},
	IncidentFraudAttack: {
		{ZH: "确认异常模式:同一卡 BIN 或客户短时间内大量尝试", EN: "Confirm the pattern: many attempts per card BIN or customer in minutes"},
		{ZH: "启用或收紧频率类风控规则(先回测)", EN: "Enable or tighten velocity risk rules (backtest first)"},
		{ZH: "通知欧乐支付风控团队", EN: "Tell OulePay's risk team"},
		{ZH: "检查被拦截的正常客户,必要时加入放行名单", EN: "Check honest customers who were blocked; allow-list them if needed"},
		{ZH: "撰写复盘总结", EN: "Write the review"},
	},
}

// DefaultRunbook returns the shipped checklist for t in lang.
func DefaultRunbook(t IncidentType, lang string) []string {
	var out []string
	for _, s := range defaultRunbooks[t] {
		out = append(out, s.In(lang))
	}
	return out
}

// Severity is how bad an incident is.
type Severity string

// Severities, worst first.
const (
	Sev1 Severity = "sev1"
	Sev2 Severity = "sev2"
	Sev3 Severity = "sev3"
)

// Severities lists the severities, worst first.
var Severities = []Severity{Sev1, Sev2, Sev3}

// Valid reports whether s is a known severity.
func (s Severity) Valid() bool { return slices.Contains(Severities, s) }

var severityLabels = map[Severity]Text{
	Sev1: {ZH: "一级(严重,大面积支付失败)", EN: "SEV1 (critical: payments failing widely)"},
	Sev2: {ZH: "二级(部分渠道或客户受影响)", EN: "SEV2 (some channels or customers affected)"},
	Sev3: {ZH: "三级(轻微)", EN: "SEV3 (minor)"},
}

// Label names the severity in lang.
func (s Severity) Label(lang string) string {
	if l, ok := severityLabels[s]; ok {
		return l.In(lang)
	}
	return string(s)
}

// Incident is a declared emergency (or a drill rehearsing one).
type Incident struct {
	ID         int64      `db:"id"`
	Title      string     `db:"title"`
	Type       string     `db:"incident_type"`
	Severity   string     `db:"severity"`
	Status     string     `db:"status"` // open, closed
	Channels   []string   `db:"-"`
	AlertID    *int64     `db:"alert_id"`
	Drill      bool       `db:"drill"`
	DeclaredBy string     `db:"declared_by"`
	DeclaredAt time.Time  `db:"declared_at"`
	ClosedBy   string     `db:"closed_by"`
	ClosedAt   *time.Time `db:"closed_at"`
	Summary    string     `db:"summary"`
	// Drill steps.
	BurstCode      string     `db:"burst_code"`
	BurstCount     int        `db:"burst_count"`
	BurstSeconds   int        `db:"burst_seconds"`
	BurstState     string     `db:"burst_state"`
	BurstSentAt    *time.Time `db:"burst_sent_at"`
	FirstFailureAt *time.Time `db:"first_failure_at"`
	AlertFiredAt   *time.Time `db:"alert_fired_at"`
	AlertAckedAt   *time.Time `db:"alert_acked_at"`
	AlertAckedBy   string     `db:"alert_acked_by"`
	// Checklist progress.
	StepsDone  int `db:"steps_done"`
	StepsTotal int `db:"steps_total"`
}

// Open reports whether the incident is still being handled.
func (i Incident) Open() bool { return i.Status == "open" }

// IncidentStep is one checklist item of an incident.
type IncidentStep struct {
	Position int        `db:"position"`
	Text     string     `db:"text"`
	DoneAt   *time.Time `db:"done_at"`
	DoneBy   string     `db:"done_by"`
}

// IncidentEvent is one entry of an incident's timeline.
type IncidentEvent struct {
	ID    int64     `db:"id"`
	At    time.Time `db:"at"`
	Actor string    `db:"actor"`
	Kind  string    `db:"kind"`
	Text  string    `db:"text"`
}

// DrillStep is one measured step of a drill: when it happened and how long after
// the drill started.
type DrillStep struct {
	Key   string // i18n key suffix: burst_sent, first_failure, alert_fired, alert_acked, closed
	At    *time.Time
	Took  time.Duration // since the drill started; 0 when not reached
	Actor string
}

// DrillSteps returns the drill's steps in order, with their times since it began.
func (i Incident) DrillSteps() []DrillStep {
	step := func(key string, at *time.Time, actor string) DrillStep {
		s := DrillStep{Key: key, At: at, Actor: actor}
		if at != nil {
			s.Took = at.Sub(i.DeclaredAt)
		}
		return s
	}
	return []DrillStep{
		step("burst_sent", i.BurstSentAt, ""),
		step("first_failure", i.FirstFailureAt, ""),
		step("alert_fired", i.AlertFiredAt, ""),
		step("alert_acked", i.AlertAckedAt, i.AlertAckedBy),
		step("closed", i.ClosedAt, i.ClosedBy),
	}
}

// EmergencyContact is someone to call in an emergency.
type EmergencyContact struct {
	ID    int64  `db:"id"`
	Role  string `db:"role"`
	Name  string `db:"name"`
	Phone string `db:"phone"`
	Email string `db:"email"`
}
