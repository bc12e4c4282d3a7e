package trace

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Sampling (抽检) by market-regulation inspectors, after 食品安全抽样检验管理办法
// (市场监管总局令第15号): a sampling record (抽样单) taken by at least two samplers,
// the lab's test report judged item by item against the residue limits, and the
// follow-up — re-test requests, investigation and disposal, publication. Every
// record is append-only and a leaf of the tamper-evident log.

// Stage is where in the chain a sample is taken (抽样环节).
type Stage string

// Stages.
const (
	StageProduction  Stage = "production"  // 生产
	StageCirculation Stage = "circulation" // 流通
	StageCatering    Stage = "catering"    // 餐饮
	StageOnline      Stage = "online"      // 网络
)

// TaskType is the kind of sampling task (任务类别).
type TaskType string

// Task types.
const (
	TaskSupervision TaskType = "supervision"     // 监督抽检
	TaskRisk        TaskType = "risk_monitoring" // 风险监测
	TaskEvaluation  TaskType = "evaluation"      // 评价性抽检
)

var stageZH = map[Stage]string{StageProduction: "生产", StageCirculation: "流通", StageCatering: "餐饮", StageOnline: "网络"}
var taskZH = map[TaskType]string{TaskSupervision: "监督抽检", TaskRisk: "风险监测", TaskEvaluation: "评价性抽检"}

// ZH names the stage in Chinese.
func (s Stage) ZH() string { return stageZH[s] }

// ZH names the task type in Chinese.
func (t TaskType) ZH() string { return taskZH[t] }

// Verdict is a judgement: 合格 or 不合格.
type Verdict string

// Verdicts.
const (
	Pass Verdict = "合格"
	Fail Verdict = "不合格"
)

// Place is where a sample was taken (抽样地点).
type Place struct {
	Name    string `json:"name"` // e.g. 赣州市南康区农产品批发市场 12号摊位, or an online shop
	Address string `json:"address,omitempty"`
	County  string `json:"county"` // GB/T 2260: decides whose jurisdiction the record is in
	URL     string `json:"url,omitempty"`
}

// Entity names a business as the record shows it: a registered party when known.
type Entity struct {
	Party   int64  `json:"party,omitempty"` // a party of Ganpin, when registered
	Name    string `json:"name"`
	USCC    string `json:"uscc,omitempty"`
	Address string `json:"address,omitempty"`
	Licence string `json:"licence,omitempty"` // 许可证号
	Legal   string `json:"legal,omitempty"`   // 法定代表人
	Phone   string `json:"phone,omitempty"`
}

// Sample describes what was taken.
type Sample struct {
	Name       string  `json:"name"`      // 样品名称
	Commodity  string  `json:"commodity"` // for the limits table, e.g. 橙 (the name when empty)
	Brand      string  `json:"brand,omitempty"`
	LotCode    string  `json:"lot_code,omitempty"`    // 批号 as printed
	ProducedOn string  `json:"produced_on,omitempty"` // 生产/采摘日期, YYYY-MM-DD
	Spec       string  `json:"spec,omitempty"`        // 规格, e.g. 5kg/箱
	Unit       Unit    `json:"unit"`
	Base       float64 `json:"base,omitempty"` // 抽样基数
	Quantity   float64 `json:"quantity"`       // 抽样数量
	Backup     float64 `json:"backup"`         // 备样数量
	Storage    string  `json:"storage,omitempty"`
	Standard   string  `json:"standard,omitempty"` // 执行标准, e.g. GB/T 21488-2008
}

// SamplingSpec is a sampling record as an inspector submits it.
type SamplingSpec struct {
	Number      string   `json:"number"`      // 抽样单编号
	TaskSource  string   `json:"task_source"` // 任务来源
	TaskType    TaskType `json:"task_type"`
	Stage       Stage    `json:"stage"`
	Place       Place    `json:"place"`
	Time        string   `json:"time"` // 抽样时间, RFC 3339 with offset
	Agency      string   `json:"agency"`
	Samplers    []string `json:"samplers"` // at least two
	Sampled     Entity   `json:"sampled"`  // 被抽样单位
	Producer    Entity   `json:"producer"` // 生产者 (may be the sampled party)
	Sample      Sample   `json:"sample"`
	Lot         int64    `json:"lot,omitempty"`         // the lot, when known
	Certificate string   `json:"certificate,omitempty"` // the 承诺达标合格证 serial on the sample, when any
	Note        string   `json:"note,omitempty"`
}

// PhotoRef is a photo as the record commits to it.
type PhotoRef struct {
	MIME   string `json:"mime"`
	Size   int    `json:"size"`
	SHA256 string `json:"sha256"`
}

// Photo limits.
const (
	MaxPhotos     = 8
	MaxPhotoBytes = 4 << 20
)

// PhotoType returns the media type of an image by its magic bytes: JPEG, PNG or
// WebP; "" for anything else.
func PhotoType(b []byte) string {
	switch {
	case len(b) >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF:
		return "image/jpeg"
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png"
	case len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return "image/webp"
	}
	return ""
}

// Sampling is a recorded sampling record, with the state its reports and actions
// give it (Verdict and the fields after it, derived, never part of its leaf).
type Sampling struct {
	ID        int64
	PartyID   int64 // the inspecting party
	UserID    int64
	Time      time.Time
	Recorded  time.Time
	Spec      SamplingSpec
	LotID     int64 // the lot, from Spec.Lot or the certificate
	Photos    []PhotoRef
	ReportDue time.Time
	Canonical []byte

	Verdict     Verdict   // the latest report's; "" until reported
	Reported    time.Time // when the latest report was recorded
	DisposalDue time.Time // set by a 不合格 report
	Closed      time.Time // disposal recorded
	Published   time.Time // verdict published for consumers
}

// Hash returns the SHA-256 of the record's canonical bytes.
func (s *Sampling) Hash() [32]byte { return sha256.Sum256(s.Canonical) }

type canonicalSampling struct {
	Record    string       `json:"record"`
	ID        int64        `json:"id"`
	Party     int64        `json:"party"`
	User      int64        `json:"user"`
	Recorded  string       `json:"recorded"`
	Lot       int64        `json:"lot,omitempty"`
	Photos    []PhotoRef   `json:"photos"`
	ReportDue string       `json:"report_due"`
	Sampling  SamplingSpec `json:"sampling"`
}

// Seal computes the record's canonical bytes; every field must be final.
func (s *Sampling) Seal() {
	b, err := json.Marshal(canonicalSampling{Record: "sampling", ID: s.ID, Party: s.PartyID, User: s.UserID,
		Recorded: micro(s.Recorded), Lot: s.LotID, Photos: s.Photos, ReportDue: micro(s.ReportDue), Sampling: s.Spec})
	if err != nil {
		panic(err) // plain values only
	}
	s.Canonical = b
}

// DecodeSampling rebuilds a sampling record from its canonical bytes.
func DecodeSampling(b []byte) (*Sampling, error) {
	var c canonicalSampling
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	s := &Sampling{ID: c.ID, PartyID: c.Party, UserID: c.User, LotID: c.Lot, Photos: c.Photos, Spec: c.Sampling, Canonical: b}
	var err error
	if s.Recorded, err = time.Parse(time.RFC3339Nano, c.Recorded); err != nil {
		return nil, err
	}
	if s.ReportDue, err = time.Parse(time.RFC3339Nano, c.ReportDue); err != nil {
		return nil, err
	}
	s.Time, err = time.Parse(time.RFC3339, c.Sampling.Time)
	return s, err
}

func micro(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// validate checks what a sampling record says on its own, at now.
func (sp *SamplingSpec) validate(now time.Time) (time.Time, error) {
	if err := checkNumber("number", sp.Number); err != nil {
		return time.Time{}, err
	}
	if taskZH[sp.TaskType] == "" {
		return time.Time{}, Invalid("task_type", "invalid_task_type", "任务类别应为监督抽检(supervision)、风险监测(risk_monitoring)或评价性抽检(evaluation)", "the task type is supervision, risk_monitoring or evaluation")
	}
	if stageZH[sp.Stage] == "" {
		return time.Time{}, Invalid("stage", "invalid_stage", "抽样环节应为生产(production)、流通(circulation)、餐饮(catering)或网络(online)", "the stage is production, circulation, catering or online")
	}
	t, err := time.Parse(time.RFC3339, sp.Time)
	if err != nil {
		return t, Invalid("time", "invalid_time", "抽样时间格式无效，应为RFC 3339并带时区，如2026-11-20T10:30:00+08:00", "invalid sampling time: use RFC 3339 with an offset, e.g. 2026-11-20T10:30:00+08:00")
	}
	if t.After(now.Add(5*time.Minute)) || t.Year() < 2000 {
		return t, Invalid("time", "time_out_of_range", "抽样时间不能晚于当前时间或早于2000年", "a sample is taken between 2000 and now")
	}
	if !ValidCountyCode(sp.Place.County) {
		return t, Invalid("place.county", "invalid_county", "抽样地点的行政区划代码无效（6位GB/T 2260代码）", "invalid county code of the sampling place (six-digit GB/T 2260 code)")
	}
	if len(sp.Samplers) < 2 {
		return t, Invalid("samplers", "too_few_samplers", "抽样人员不得少于2名", "a sample is taken by at least two samplers")
	}
	if len(sp.Samplers) > 10 {
		return t, Invalid("samplers", "too_many", "抽样人员最多10名", "at most 10 samplers")
	}
	for i, p := range sp.Samplers {
		if err := checkText(fmt.Sprintf("samplers[%d]", i), strings.TrimSpace(p), 1, 30); err != nil {
			return t, err
		}
		for _, q := range sp.Samplers[:i] {
			if strings.TrimSpace(q) == strings.TrimSpace(p) {
				return t, Invalid(fmt.Sprintf("samplers[%d]", i), "duplicate_sampler", "抽样人员重复：%s", "a sampler is named twice: %s", p)
			}
		}
	}
	for _, f := range []struct {
		field, v string
		min, max int
	}{
		{"task_source", sp.TaskSource, 1, 200}, {"place.name", sp.Place.Name, 1, 200}, {"place.address", sp.Place.Address, 0, 200},
		{"place.url", sp.Place.URL, 0, 500}, {"agency", sp.Agency, 1, 100}, {"note", sp.Note, 0, 1000},
		{"sample.name", sp.Sample.Name, 1, 100}, {"sample.commodity", sp.Sample.Commodity, 0, 50}, {"sample.brand", sp.Sample.Brand, 0, 50},
		{"sample.lot_code", sp.Sample.LotCode, 0, 50}, {"sample.spec", sp.Sample.Spec, 0, 50}, {"sample.storage", sp.Sample.Storage, 0, 50},
		{"sample.standard", sp.Sample.Standard, 0, 100}, {"certificate", sp.Certificate, 0, 20},
	} {
		if err := checkText(f.field, f.v, f.min, f.max); err != nil {
			return t, err
		}
	}
	if sp.Stage == StageOnline && sp.Place.URL == "" {
		return t, Invalid("place.url", "required", "网络抽样须填写网店或商品网址", "an online sample names the shop's or listing's URL")
	}
	for _, e := range []struct {
		field string
		e     *Entity
	}{{"sampled", &sp.Sampled}, {"producer", &sp.Producer}} {
		if err := e.e.validate(e.field); err != nil {
			return t, err
		}
	}
	sm := &sp.Sample
	if sm.ProducedOn != "" {
		d, err := time.ParseInLocation(time.DateOnly, sm.ProducedOn, t.Location())
		if err != nil || d.After(t) {
			return t, Invalid("sample.produced_on", "invalid_date", "生产/采摘日期应为YYYY-MM-DD且不晚于抽样日期", "the production or picking date is YYYY-MM-DD, not after the sampling")
		}
	}
	if !sm.Unit.Valid() {
		return t, unknownUnit("sample.unit", sm.Unit)
	}
	if err := checkQuantity("sample.quantity", sm.Quantity); err != nil {
		return t, err
	}
	if sm.Backup < 0 || sm.Backup > 1e9 || sm.Base < 0 || sm.Base > 1e9 {
		return t, Invalid("sample.backup", "invalid_quantity", "备样数量和抽样基数不能为负数", "the backup quantity and the base cannot be negative")
	}
	if sm.Backup == 0 {
		return t, Invalid("sample.backup", "required", "须留存备样（备样数量大于0）", "a sealed backup portion is kept: its quantity is greater than 0")
	}
	if sm.Base > 0 && sm.Quantity+sm.Backup > sm.Base*(1+1e-9) {
		return t, Invalid("sample.base", "exceeds_base", "抽样数量与备样数量之和超过抽样基数", "the sample and backup exceed the base they were taken from")
	}
	return t, nil
}

func (e *Entity) validate(field string) error {
	for _, f := range []struct {
		name, v  string
		min, max int
	}{{".name", e.Name, 1, 100}, {".address", e.Address, 0, 200}, {".licence", e.Licence, 0, 50}, {".legal", e.Legal, 0, 30}, {".phone", e.Phone, 0, 30}} {
		if err := checkText(field+f.name, f.v, f.min, f.max); err != nil {
			return err
		}
	}
	if e.USCC != "" && !ValidUSCC(e.USCC) {
		return Invalid(field+".uscc", "invalid_uscc", "统一社会信用代码无效（18位，校验位按GB 32100计算）", "invalid unified social credit code (18 characters with a GB 32100 check character)")
	}
	return nil
}

// checkNumber accepts record numbers such as NCP20263607000123 or GZ-2026-0012.
func checkNumber(field, n string) error {
	if n == "" || len(n) > 40 || strings.IndexFunc(n, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r == '-' || r == '_' || r == '.' || r == '/')
	}) >= 0 {
		return Invalid(field, "invalid_number", "编号须为1至40个字符（字母、数字、-、_、.、/）", "a number has 1 to 40 characters (letters, digits, - _ . /)")
	}
	return nil
}

// NotDetected is how a result reads when the item was not found (未检出).
const NotDetected = "未检出"

// ItemSpec is one test item as the lab reports it.
type ItemSpec struct {
	Item           string   `json:"item"`   // 检验项目
	Result         string   `json:"result"` // a value, or 未检出 (ND)
	Unit           string   `json:"unit"`
	Limit          *float64 `json:"limit,omitempty"`        // entered limit: required for items the table lacks
	LimitSource    string   `json:"limit_source,omitempty"` // where an entered limit comes from
	DetectionLimit float64  `json:"detection_limit"`        // 方法检出限, in Unit
	Method         string   `json:"method"`                 // 检验依据, e.g. GB 23200.113-2018
}

// ReportSpec is a lab's test report (检验报告) as the inspector enters it.
type ReportSpec struct {
	Number   string     `json:"number"` // 报告书编号
	Lab      string     `json:"lab"`
	Issued   string     `json:"issued"`             // report date, YYYY-MM-DD
	Standard string     `json:"standard,omitempty"` // 判定依据; the edition in force on the sampling day when empty
	Retest   bool       `json:"retest,omitempty"`   // the result of a re-test (复检)
	Items    []ItemSpec `json:"items"`
}

// ItemResult is a judged item.
type ItemResult struct {
	Item           string  `json:"item"`
	NotDetected    bool    `json:"not_detected,omitempty"`
	Value          float64 `json:"value"`
	Unit           string  `json:"unit"`
	Limit          float64 `json:"limit"`
	LimitSource    string  `json:"limit_source"`    // the table (standard, commodity) or the entered source
	LimitConfirmed bool    `json:"limit_confirmed"` // false for the table's 待核实 values
	DetectionLimit float64 `json:"detection_limit"`
	Basis          string  `json:"basis"`  // 判定依据
	Method         string  `json:"method"` // 检验依据
	Verdict        Verdict `json:"verdict"`
}

// Report is a recorded test report with its verdicts.
type Report struct {
	ID         int64
	SamplingID int64
	PartyID    int64
	UserID     int64
	Recorded   time.Time
	Number     string
	Lab        string
	Issued     string
	Retest     bool
	Standard   string
	Commodity  string
	Items      []ItemResult
	Verdict    Verdict
	Canonical  []byte
	LedgerTx   string // the verdict's ledger transaction; "" while 待上链
}

type canonicalReport struct {
	Record     string       `json:"record"`
	ID         int64        `json:"id"`
	Sampling   int64        `json:"sampling"`
	SamplingSH string       `json:"sampling_sha256"`
	Party      int64        `json:"party"`
	User       int64        `json:"user"`
	Recorded   string       `json:"recorded"`
	Number     string       `json:"number"`
	Lab        string       `json:"lab"`
	Issued     string       `json:"issued"`
	Retest     bool         `json:"retest,omitempty"`
	Standard   string       `json:"standard"`
	Commodity  string       `json:"commodity"`
	Items      []ItemResult `json:"items"`
	Verdict    Verdict      `json:"verdict"`
}

// seal computes the report's canonical bytes, bound to its sampling record's hash.
func (r *Report) seal(s *Sampling) {
	h := s.Hash()
	b, err := json.Marshal(canonicalReport{Record: "sampling_report", ID: r.ID, Sampling: r.SamplingID, SamplingSH: hex.EncodeToString(h[:]),
		Party: r.PartyID, User: r.UserID, Recorded: micro(r.Recorded), Number: r.Number, Lab: r.Lab, Issued: r.Issued, Retest: r.Retest,
		Standard: r.Standard, Commodity: r.Commodity, Items: r.Items, Verdict: r.Verdict})
	if err != nil {
		panic(err)
	}
	r.Canonical = b
}

// DecodeReport rebuilds a report from its canonical bytes.
func DecodeReport(b []byte) (*Report, error) {
	var c canonicalReport
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	rec, err := time.Parse(time.RFC3339Nano, c.Recorded)
	return &Report{ID: c.ID, SamplingID: c.Sampling, PartyID: c.Party, UserID: c.User, Recorded: rec, Number: c.Number, Lab: c.Lab,
		Issued: c.Issued, Retest: c.Retest, Standard: c.Standard, Commodity: c.Commodity, Items: c.Items, Verdict: c.Verdict, Canonical: b}, err
}

// judge checks a report against the limits table and returns its judged items and
// overall verdict. The table's standard is std; commodity comes from the sample.
func judge(spec *ReportSpec, std *Standard, commodity string) ([]ItemResult, Verdict, error) {
	if len(spec.Items) == 0 {
		return nil, "", Invalid("items", "required", "检验报告至少包含一个检验项目", "a report has at least one item")
	}
	if len(spec.Items) > 200 {
		return nil, "", Invalid("items", "too_many", "检验项目最多200项", "at most 200 items")
	}
	c, _ := std.Commodity(commodity)
	verdict := Pass
	out := make([]ItemResult, 0, len(spec.Items))
	seen := map[string]bool{}
	for i, it := range spec.Items {
		f := fmt.Sprintf("items[%d]", i)
		name := strings.TrimSpace(it.Item)
		if err := checkText(f+".item", name, 1, 50); err != nil {
			return nil, "", err
		}
		if err := checkText(f+".method", strings.TrimSpace(it.Method), 1, 100); err != nil {
			return nil, "", err
		}
		if err := checkText(f+".limit_source", it.LimitSource, 0, 200); err != nil {
			return nil, "", err
		}
		r := ItemResult{Item: name, Unit: strings.TrimSpace(it.Unit), DetectionLimit: it.DetectionLimit, Basis: std.Standard, Method: strings.TrimSpace(it.Method)}
		var tl *Limit
		if c != nil {
			if tl, _ = c.Limit(name); tl != nil {
				r.Item = tl.Item // aliases judged under the table's name
			}
		}
		if seen[r.Item] {
			return nil, "", Invalid(f+".item", "duplicate_item", "检验项目重复：%s", "the item %s appears twice", r.Item)
		}
		seen[r.Item] = true
		switch {
		case tl != nil && (it.Limit == nil || *it.Limit == tl.Limit):
			r.Limit, r.LimitConfirmed = tl.Limit, tl.Confirmed
			r.LimitSource = std.Standard + " " + c.Commodity
			if !tl.Confirmed {
				r.LimitSource += "（待核实）"
			}
			if r.Unit != tl.Unit {
				return nil, "", Invalid(f+".unit", "unit_mismatch", "%s的单位为%q，与限量单位%s不一致", "the unit %q of %s does not match the limit's unit %s", r.Unit, r.Item, tl.Unit)
			}
		case it.Limit == nil:
			return nil, "", Invalid(f+".limit", "unknown_item", "限量表（%s）中没有%s的限量，请填写限量及其来源", "the limits table (%s) has no limit for %s: enter the limit and its source", std.Standard, r.Item)
		default:
			if strings.TrimSpace(it.LimitSource) == "" {
				return nil, "", Invalid(f+".limit_source", "limit_source_required", "填写的限量须注明来源（标准、条款或公告）", "an entered limit names its source (standard, clause or notice)")
			}
			if !(*it.Limit >= 0) || *it.Limit > 1e6 {
				return nil, "", Invalid(f+".limit", "invalid_limit", "限量不能为负数", "a limit cannot be negative")
			}
			if tl != nil && r.Unit != tl.Unit {
				return nil, "", Invalid(f+".unit", "unit_mismatch", "%s的单位为%q，与限量单位%s不一致", "the unit %q of %s does not match the limit's unit %s", r.Unit, r.Item, tl.Unit)
			}
			r.Limit, r.LimitSource = *it.Limit, strings.TrimSpace(it.LimitSource)
		}
		if err := checkText(f+".unit", r.Unit, 1, 20); err != nil {
			return nil, "", err
		}
		if !(it.DetectionLimit >= 0) || math.IsInf(it.DetectionLimit, 0) {
			return nil, "", Invalid(f+".detection_limit", "invalid_detection_limit", "方法检出限不能为负数", "a detection limit cannot be negative")
		}
		res := strings.TrimSpace(it.Result)
		switch strings.ToUpper(res) {
		case NotDetected, "ND", "N.D.":
			r.NotDetected = true
			if it.DetectionLimit <= 0 {
				return nil, "", Invalid(f+".detection_limit", "detection_limit_required", "结果为未检出时须填写方法检出限", "a result of 未检出 needs the method's detection limit")
			}
			if it.DetectionLimit > r.Limit {
				return nil, "", Invalid(f+".detection_limit", "detection_limit_above_limit", "方法检出限%g高于限量%g，未检出不能判定合格", "the detection limit %g exceeds the limit %g: 未检出 cannot show compliance", it.DetectionLimit, r.Limit)
			}
		default:
			v, err := strconv.ParseFloat(res, 64)
			if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
				return nil, "", Invalid(f+".result", "invalid_result", "检验结果应为数值或“未检出”", "a result is a number or 未检出")
			}
			if v < 0 {
				return nil, "", Invalid(f+".result", "negative_result", "检验结果不能为负数", "a result cannot be negative")
			}
			r.Value = v
		}
		r.Verdict = Pass
		if !r.NotDetected && r.Value > r.Limit*(1+1e-9) {
			r.Verdict, verdict = Fail, Fail
		}
		out = append(out, r)
	}
	return out, verdict, nil
}

// ActionKind is a follow-up of a sampling record.
type ActionKind string

// Action kinds.
const (
	ActionRetestRequest ActionKind = "retest_request" // 复检申请
	ActionDisposal      ActionKind = "disposal"       // 核查处置
	ActionPublication   ActionKind = "publication"    // 结果公布
)

var actionZH = map[ActionKind]string{ActionRetestRequest: "复检申请", ActionDisposal: "核查处置", ActionPublication: "结果公布"}

// ZH names the action in Chinese.
func (k ActionKind) ZH() string { return actionZH[k] }

// ActionSpec is a follow-up as the inspector records it.
type ActionSpec struct {
	Kind     ActionKind `json:"kind"`
	Date     string     `json:"date"`               // YYYY-MM-DD: request received, disposal concluded, publication
	By       string     `json:"by,omitempty"`       // who requested or carried it out
	Measures []string   `json:"measures,omitempty"` // disposal: e.g. 封存, 停止销售, 召回, 销毁, 立案
	Note     string     `json:"note,omitempty"`
}

// Action is a recorded follow-up.
type Action struct {
	ID         int64
	SamplingID int64
	PartyID    int64
	UserID     int64
	Recorded   time.Time
	Spec       ActionSpec
	Late       bool // a re-test requested after its 7 working days
	Canonical  []byte
}

type canonicalAction struct {
	Record   string     `json:"record"`
	ID       int64      `json:"id"`
	Sampling int64      `json:"sampling"`
	Party    int64      `json:"party"`
	User     int64      `json:"user"`
	Recorded string     `json:"recorded"`
	Late     bool       `json:"late,omitempty"`
	Action   ActionSpec `json:"action"`
}

func (a *Action) seal() {
	b, err := json.Marshal(canonicalAction{Record: "sampling_action", ID: a.ID, Sampling: a.SamplingID, Party: a.PartyID, User: a.UserID,
		Recorded: micro(a.Recorded), Late: a.Late, Action: a.Spec})
	if err != nil {
		panic(err)
	}
	a.Canonical = b
}

// DecodeAction rebuilds an action from its canonical bytes.
func DecodeAction(b []byte) (*Action, error) {
	var c canonicalAction
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, err
	}
	rec, err := time.Parse(time.RFC3339Nano, c.Recorded)
	return &Action{ID: c.ID, SamplingID: c.Sampling, PartyID: c.Party, UserID: c.User, Recorded: rec, Late: c.Late, Spec: c.Action, Canonical: b}, err
}

// Deadlines [domain brief, 食品安全抽样检验管理办法]: the lab reports within 20 working
// days of the sampling; a re-test is requested within 7 working days of receiving the
// report; investigation and disposal of a 不合格 result conclude within 90 days.
const (
	ReportWorkingDays = 20
	RetestWorkingDays = 7
	DisposalDays      = 90
)

// AddWorkingDays returns the end of the n-th working day (Monday to Friday, in China's
// time zone) after t. Public holidays and their make-up working days are not known
// to Ganpin, so a deadline may fall a few days early around them.
func AddWorkingDays(t time.Time, n int) time.Time {
	d := t.In(cst)
	day := time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, cst)
	for n > 0 {
		day = day.AddDate(0, 0, 1)
		if wd := day.Weekday(); wd != time.Saturday && wd != time.Sunday {
			n--
		}
	}
	return day.AddDate(0, 0, 1).Add(-time.Microsecond)
}

// NonCompliance marks a lot non-compliant by a sampling record's 不合格 verdict.
type NonCompliance struct {
	LotID      int64
	SamplingID int64
	Number     string
	Time       time.Time
}

// Marking is the record of the lots a 不合格 verdict marked non-compliant: the
// sample's lot and every lot made from it when the verdict was recorded.
type Marking struct {
	ReportID   int64   `json:"report"`
	SamplingID int64   `json:"sampling"`
	Number     string  `json:"number"`
	Lots       []int64 `json:"lots"`
	Time       time.Time
	Canonical  []byte
}

func (m *Marking) seal() {
	b, err := json.Marshal(struct {
		Record   string  `json:"record"`
		Report   int64   `json:"report"`
		Sampling int64   `json:"sampling"`
		Number   string  `json:"number"`
		Lots     []int64 `json:"lots"`
		Time     string  `json:"time"`
	}{"noncompliance", m.ReportID, m.SamplingID, m.Number, m.Lots, micro(m.Time)})
	if err != nil {
		panic(err)
	}
	m.Canonical = b
}
