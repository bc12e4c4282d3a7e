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
		"footer":   "赣品溯源 · 信息由承诺主体记录，经防篡改日志与区块链存证",
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
		"footer":   "Ganpin · recorded by the committing producer, sealed in a tamper-evident log anchored on a ledger",
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
