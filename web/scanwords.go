package web

import (
	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/trace"
)

// words are the scan pages' fixed texts in Chinese (zh, the default) and English
// (en). Records stay in the language they were written in.
var words = map[string]map[string]string{
	"zh": {
		"brand": "赣品溯源", "tagline": "农产品追溯与承诺达标合格证", "other_lang": "English", "other_lang_code": "en",
		"cert_title": "承诺达标合格证", "serial": "编号", "product": "产品名称", "quantity": "数量", "origin": "产地",
		"issued": "开具时间", "producer": "承诺主体", "contact": "联系方式", "lot": "批次号", "basis": "承诺依据",
		"report": "检测报告编号", "upstream": "已收取的上游合格证", "ticked": "已勾选：", "unticked": "未勾选：",
		"valid": "有效", "revoked": "已撤销", "expired": "已过期",
		"valid_note": "该合格证由承诺主体开具并签名，真实有效。", "revoked_note": "该合格证已被撤销。购买或食用前，请先向商家核实。",
		"revoked_at": "撤销时间", "revoked_by_regulator": "（市场监管部门撤销）", "reason": "原因",
		"expired_note": "该合格证开具已超过半年，所附批次应已售完；如仍在销售，请向商家核实。", "valid_until": "有效期至",
		"unit": "单品序号", "unit_of": "共", "units": "件",
		"ledger": "区块链存证", "anchored": "已上链", "pending": "待上链", "pending_note": "已记录，正在上链，通常数秒内完成。",
		"ledger_unknown": "上链状态暂时无法查询", "checkpoint": "检查点", "leaf": "日志序号", "tx": "交易", "block": "区块",
		"anchored_note": "合格证内容已写入防篡改日志，其检查点已记录在区块链上。",
		"product_note":  "请扫描包装上带批次号的二维码，查看该批次的合格证和追溯信息。", "gtin": "商品条码 GTIN", "variety": "品种",
		"owner":   "品牌所有者",
		"err_400": "二维码链接有误", "err_404": "未找到", "err_405": "不支持的请求", "err_500": "出错了", "err_429": "查询过于频繁",
		"err_help": "请核对包装上的二维码或编号；如有疑问，请向商家或当地市场监管部门（12315）反映。",
		"recalled": "召回", "recall_note": "该批次或其原料批次经官方抽检不合格，已被召回。请勿食用，可联系商家退货。", "sampling_no": "抽样单",
		"grade": "等级", "orchard": "产地果园", "harvested": "采收日期",
		"sampling": "官方抽检", "no_sampling": "暂无已公布的官方抽检结果。", "verdict_pass": "合格", "verdict_fail": "不合格",
		"journey": "从果园到您手中", "step_orchard": "果园管理", "step_harvest": "采收", "step_test": "自检", "step_packing": "分选包装",
		"step_storage": "冷库贮存", "step_transport": "冷链运输", "step_order": "订单",
		"sprays": "施用农药", "sprays_n": "次", "all_phi_ok": "采收时均已过安全间隔期", "some_phi_bad": "有农药未过安全间隔期即采收", "phi": "安全间隔期", "days": "天", "to_harvest": "距采收", "phi_ok": "已过安全间隔期", "phi_bad": "未过安全间隔期",
		"passed": "合格", "failed": "不合格", "since": "自", "so_far": "至今", "until": "至", "took": "历时",
		"excursions": "超出推荐温度", "alarms": "告警", "out_of_range": "累计", "gaps": "数据中断",
		"chart": "运输与贮存温度", "chart_desc": "温度曲线：", "band": "推荐温度", "alarm_limits": "告警线", "excursion": "超出推荐温度", "gap": "无数据",
		"readings": "条温度记录", "lowest": "最低", "highest": "最高", "warm": "偏高", "cold": "偏低",
		"profile_tbc": "温度标准待与官方文本核实", "receipt": "下载上链回执", "receipt_note": "可用 ganpin verify 离线验证",
		"ship_to": "发往", "anti_fake": "防伪查询", "first_scan": "这是此码的首次查询。", "scanned": "此码已被查询", "times": "次",
		"comma": "，", "semi": "；", "stop": "。", "colon": "：", "lp": "（", "rp": "）", "first_at": "首次查询于", "warn_unit": "此单品码查询次数异常。正品单品码通常只被查询几次，若您是首次扫码，请警惕仿冒，并向商家核实。",
		"warn_lot":     "此批次码查询次数远超该批次的箱数，可能被复制使用，请核对包装并向商家核实。",
		"warn_regions": "此单品码曾在相距很远的地区被查询，可能被复制使用，请向商家核实。",
		"leg_ok":       "温度合格", "leg_warning": "偏离推荐温度", "leg_alarm": "温度告警", "leg_incomplete": "数据不完整", "leg_no_data": "无温度数据",
		"footer": "赣品溯源 · 信息由承诺主体记录，经防篡改日志与区块链存证",
	},
	"en": {
		"brand": "Ganpin", "tagline": "Produce traceability and compliance certificates", "other_lang": "中文", "other_lang_code": "zh",
		"cert_title": "Commitment compliance certificate (承诺达标合格证)", "serial": "No.", "product": "Product", "quantity": "Quantity", "origin": "Origin",
		"issued": "Issued", "producer": "Committed by", "contact": "Contact", "lot": "Lot", "basis": "Basis of the commitment",
		"report": "Test report", "upstream": "Upstream certificates collected", "ticked": "ticked: ", "unticked": "not ticked: ",
		"valid": "Valid", "revoked": "Revoked", "expired": "Expired",
		"valid_note": "Issued and signed by the committing producer; this certificate is genuine and in force.", "revoked_note": "This certificate has been revoked: do not buy or eat the product before checking with the seller.",
		"revoked_at": "Revoked on", "revoked_by_regulator": " (by the market regulator)", "reason": "Reason",
		"expired_note": "Issued more than six months ago: its lot should have sold out. Check with the seller if it is still on sale.", "valid_until": "Valid until",
		"unit": "Unit serial", "unit_of": "of", "units": "units",
		"ledger": "Ledger record", "anchored": "Anchored", "pending": "Pending", "pending_note": "Recorded; being anchored on the ledger, usually within seconds.",
		"ledger_unknown": "The ledger status is unavailable right now", "checkpoint": "Checkpoint", "leaf": "Log entry", "tx": "Transaction", "block": "Block",
		"anchored_note": "The certificate is in the tamper-evident log, whose checkpoint is recorded on the ledger.",
		"product_note":  "Scan the QR code with a lot number on the package to see that lot's certificate and history.", "gtin": "GTIN", "variety": "Variety",
		"owner":   "Brand owner",
		"err_400": "Malformed link", "err_404": "Not found", "err_405": "Not supported", "err_500": "Something went wrong", "err_429": "Too many requests",
		"err_help": "Check the QR code or number on the package; if in doubt, report it to the seller or the local market regulator (12315).",
		"recalled": "Recalled", "recall_note": "Official sampling found this lot or a lot it was made from non-compliant; it has been recalled. Do not eat it; the seller takes it back.", "sampling_no": "Sampling record",
		"grade": "Grade", "orchard": "Orchards", "harvested": "Harvested",
		"sampling": "Official sampling", "no_sampling": "No published official sampling result yet.", "verdict_pass": "Compliant", "verdict_fail": "Non-compliant",
		"journey": "From the orchard to you", "step_orchard": "Orchard care", "step_harvest": "Harvest", "step_test": "Self-test", "step_packing": "Grading and packing",
		"step_storage": "Cold storage", "step_transport": "Cold-chain transport", "step_order": "Order",
		"sprays": "Pesticide applications:", "sprays_n": "", "all_phi_ok": "every pre-harvest interval respected", "some_phi_bad": "harvested inside a pre-harvest interval", "phi": "Pre-harvest interval", "days": "days", "to_harvest": "harvested after", "phi_ok": "interval respected", "phi_bad": "interval NOT respected",
		"passed": "passed", "failed": "failed", "since": "since", "so_far": "so far", "until": "until", "took": "took",
		"excursions": "excursions", "alarms": "alarms", "out_of_range": "out of range for", "gaps": "data gaps",
		"chart": "Temperature in transport and storage", "chart_desc": "Temperature curve:", "band": "recommended", "alarm_limits": "alarm limits", "excursion": "excursion", "gap": "no data",
		"readings": "readings", "lowest": "lowest", "highest": "highest", "warm": "too warm", "cold": "too cold",
		"profile_tbc": "limits to be confirmed against the official text", "receipt": "Download the ledger receipt", "receipt_note": "verify it offline with ganpin verify",
		"ship_to": "shipped to", "anti_fake": "Authenticity check", "first_scan": "This is the first time this code is checked.", "scanned": "This code has been checked", "times": "times",
		"comma": ", ", "semi": "; ", "stop": ". ", "colon": ": ", "lp": " (", "rp": ")", "first_at": "first on", "warn_unit": "Unusually many checks of this box's code. A genuine unit code is checked only a few times: if this is your first scan, beware of copies and ask the seller.",
		"warn_lot":     "This lot's code has been checked far more often than the lot has boxes: it may have been copied. Check the package and ask the seller.",
		"warn_regions": "This box's code has been checked in regions far apart: it may have been copied. Ask the seller.",
		"leg_ok":       "in range", "leg_warning": "outside the recommended range", "leg_alarm": "temperature alarm", "leg_incomplete": "incomplete data", "leg_no_data": "no readings",
		"footer": "Ganpin · recorded by the committing producer, sealed in a tamper-evident log anchored on a ledger",
	},
}

// commitmentEN glosses the commitment texts in English; the Chinese text is the one
// that binds.
var commitmentEN = map[cert.Template]string{
	cert.Producer: "I commit that the edible produce I grow and sell: used no banned pesticides, veterinary drugs or other compounds; residues of the conventional pesticides and veterinary drugs used do not exceed the limits.",
	cert.Buyer:    "The certificates or other quality and safety proofs of this lot were collected and kept as required; no preservatives, antiseptics or additives were used against the rules.",
}

// basisEN names the bases in English, keyed by their printed labels.
var basisEN = map[string]string{
	"质量安全控制符合要求": "quality and safety controls meet the requirements",
	"自行检测合格":     "self-tested, passed",
	"委托检测合格":     "tested by a commissioned laboratory, passed",
}

// unitEN names the units in English.
var unitEN = map[trace.Unit]string{trace.Kg: "kg", trace.Tonne: "t", trace.Jin: "jin (500 g)", trace.Box: "boxes", trace.Piece: "pieces"}
