package web

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/internal/anchor"
	"github.com/ganpin/ganpin/trace"
)

// The consumer scan pages (消费者扫码页): the GS1 Digital Link resolver behind the QR
// codes printed on certificates and unit labels, and the short links printed under
// them. Public, without login: they show what the certificate prints and, for the
// lot it covers, nothing that names a person.
//
//	/01/{gtin}                        the product
//	/01/{gtin}/10/{lot}               the certificate of a lot
//	/01/{gtin}/10/{lot}/21/{serial}   one unit (box) of it
//	/c/{serial}, /c/{serial}/{unit}   the same by certificate serial

// ScanStore is what the scan pages read; internal/store implements it. Missing
// records are KindNotFound *trace.Error.
type ScanStore interface {
	CertificateBySerial(ctx context.Context, serial string) (*cert.Issued, error)
	CertificateByLot(ctx context.Context, gtin, lotCode string) (*cert.Issued, error)
	ProductByGTIN(ctx context.Context, gtin string) (*trace.Product, error)
	Product(ctx context.Context, id int64) (*trace.Product, error)
	Party(ctx context.Context, id int64) (*trace.Party, error)
}

// ReceiptFunc returns the receipt of a logged record; anchor.ErrPending while no
// anchored checkpoint covers it.
type ReceiptFunc func(ctx context.Context, kind string, id int64, record []byte) (*anchor.Receipt, error)

// defaultValidity is how long a certificate shows as valid (有效) before it shows as
// expired (已过期). The rule sets no expiry; the certificate travels with one
// production batch, and 赣南脐橙 picked from November sells from cold storage into
// spring, so half a year covers a batch's sale. Set Config.CertValidity to change it.
const defaultValidity = 180 * 24 * time.Hour

// Errors of the scan pages.
var (
	errScanOff     = &trace.Error{Kind: trace.KindNotFound, Code: "scan_off", ZH: "本服务未启用扫码查询", EN: "scanning is not enabled on this server"}
	errUnknownCode = &trace.Error{Kind: trace.KindNotFound, Code: "unknown_code", ZH: "未找到该编码，谨防假冒", EN: "this code is unknown: beware of counterfeits"}
	errScanMethod  = &trace.Error{Kind: trace.KindInvalid, Code: "method_not_allowed", ZH: "不支持该请求方法", EN: "method not allowed"}
)

func malformed(field, zh, en string) error {
	return &trace.Error{Kind: trace.KindInvalid, Code: "malformed_" + field, Field: field, ZH: zh, EN: en}
}

// scanKey is what a scanned link names, checked for form only.
type scanKey struct {
	GTIN   string // GTIN-14; "" on a short link
	Lot    string // AI 10; "" for the product alone
	Serial string // certificate serial, on a short link
	Unit   string // AI 21 or the short link's unit serial; "" for the certificate
}

// ai82 reports whether s is 1 to max characters of the GS1 AI encodable character
// set 82 (GS1 General Specifications, figure 7.11-1), the set of AI 10 and AI 21.
func ai82(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case strings.IndexByte(`!"%&'()*+,-./:;<=>?_`, c) >= 0:
		default:
			return false
		}
	}
	return true
}

// parseScan reads and checks the link of a scan request, by the route it matched.
func parseScan(r *http.Request) (scanKey, error) {
	var k scanKey
	if r.Pattern == "/01/" || r.Pattern == "/c/" {
		return k, malformed("link", "链接格式有误（应为 /01/{GTIN}/10/{批号}[/21/{序列号}] 或 /c/{合格证编号}[/{单品序号}]）",
			"malformed link (use /01/{GTIN}/10/{lot}[/21/{serial}] or /c/{certificate serial}[/{unit serial}])")
	}
	if strings.HasPrefix(r.Pattern, "/01/") {
		gtin, ok := trace.NormalizeGTIN(r.PathValue("gtin"))
		if !ok {
			return k, malformed("gtin", "GTIN无效（8、12、13或14位数字，校验位须正确）", "invalid GTIN (8, 12, 13 or 14 digits with a correct check digit)")
		}
		k.GTIN, k.Lot, k.Unit = gtin, r.PathValue("lot"), r.PathValue("serial")
		if strings.Contains(r.Pattern, "{lot}") && !ai82(k.Lot, 20) {
			return k, malformed("lot", "批号无效（AI 10：1至20个GS1字符）", "invalid batch/lot (AI 10: 1 to 20 GS1 characters)")
		}
		if strings.Contains(r.Pattern, "{serial}") && !ai82(k.Unit, 20) {
			return k, malformed("serial", "序列号无效（AI 21：1至20个GS1字符）", "invalid serial (AI 21: 1 to 20 GS1 characters)")
		}
		return k, nil
	}
	k.Serial, k.Unit = r.PathValue("serial"), r.PathValue("unit")
	if !ai82(k.Serial, 20) {
		return k, malformed("serial", "合格证编号无效", "invalid certificate serial")
	}
	if strings.Contains(r.Pattern, "{unit}") && !ai82(k.Unit, 20) {
		return k, malformed("unit", "单品序号无效", "invalid unit serial")
	}
	return k, nil
}

// unitOf returns the unit number of a unit serial as cert.UnitSerial prints it, and
// false when the certificate has no such unit.
func unitOf(c *cert.Issued, unit string) (int, bool) {
	n, err := strconv.Atoi(unit)
	return n, err == nil && n >= 1 && n <= c.Units && cert.UnitSerial(n) == unit
}

// scanHandler serves a scan link: OPTIONS is the CORS preflight; GET and HEAD the page.
func (s *server) scanHandler(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Vary", "Accept, Accept-Language")
	switch r.Method {
	case http.MethodOptions:
		h.Set("Allow", "GET, HEAD, OPTIONS")
		h.Set("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Accept, Accept-Language, If-None-Match")
		h.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodGet, http.MethodHead:
	default:
		h.Set("Allow", "GET, HEAD, OPTIONS")
		s.scanError(w, r, langOf(r), errScanMethod, http.StatusMethodNotAllowed)
		return
	}
	lang := langOf(r)
	if err := s.scan(w, r, lang); err != nil {
		s.scanError(w, r, lang, err, 0)
	}
}

func (s *server) scan(w http.ResponseWriter, r *http.Request, lang string) error {
	if s.scanStore == nil {
		return errScanOff
	}
	k, err := parseScan(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	var c *cert.Issued
	switch {
	case k.Serial != "":
		c, err = s.scanStore.CertificateBySerial(ctx, k.Serial)
	case k.Lot != "":
		c, err = s.scanStore.CertificateByLot(ctx, k.GTIN, k.Lot)
	default:
		return s.productPage(w, r, lang, k.GTIN)
	}
	if trace.KindOf(err) == trace.KindNotFound {
		return errUnknownCode
	} else if err != nil {
		return err
	}
	unit := 0
	if k.Unit != "" {
		n, ok := unitOf(c, k.Unit)
		if !ok {
			return errUnknownCode
		}
		unit = n
	}
	v, err := s.certScanView(ctx, c, unit)
	if err != nil {
		return err
	}
	return s.renderScan(w, r, http.StatusOK, lang, "scan-cert", v.Title(lang), v)
}

// productPage shows the product a GTIN names, without a lot.
func (s *server) productPage(w http.ResponseWriter, r *http.Request, lang, gtin string) error {
	p, err := s.scanStore.ProductByGTIN(r.Context(), gtin)
	if trace.KindOf(err) == trace.KindNotFound {
		return errUnknownCode
	} else if err != nil {
		return err
	}
	owner, err := s.scanStore.Party(r.Context(), p.PartyID)
	if err != nil {
		return err
	}
	return s.renderScan(w, r, http.StatusOK, lang, "scan-product", p.Name, productView{Product: p, Owner: owner.Name})
}

type productView struct {
	*trace.Product
	Owner string
}

// Certificate statuses as the scan page shows them.
const (
	statusValid   = "valid"
	statusRevoked = "revoked"
	statusExpired = "expired"
)

// certScan is the certificate page of a scan.
type certScan struct {
	certView
	Status     string // valid, revoked or expired
	Expires    time.Time
	UnitSerial string // the unit serial scanned, "" for the certificate
	Ledger     ledgerView
}

// Title is the page title.
func (v *certScan) Title(lang string) string {
	if lang == "en" {
		return "Certificate " + v.Serial
	}
	return "承诺达标合格证 " + v.Serial
}

// ledgerView is the certificate's place in the log and on the ledger.
type ledgerView struct {
	Known      bool // false when no receipt source is configured or it failed
	Anchored   bool
	Checkpoint uint64 // tree size of the anchored checkpoint covering it
	Leaf       uint64
	TxID       string
	Block      uint64
}

func (s *server) certScanView(ctx context.Context, c *cert.Issued, unit int) (*certScan, error) {
	v := &certScan{certView: s.certView(c), Expires: c.Issued.Add(s.validity), Status: statusValid}
	switch {
	case c.Revocation != nil:
		v.Status = statusRevoked
	case s.now().After(v.Expires):
		v.Status = statusExpired
	}
	if unit > 0 {
		v.UnitSerial = cert.UnitSerial(unit)
		v.URL, v.Short = c.URL(s.base, unit), c.ShortURL(s.base, unit)
	}
	v.Ledger = s.ledger(ctx, "certificate", c.ID, c.Canonical)
	return v, nil
}

// ledger returns a record's ledger status; a failing receipt source leaves it unknown
// rather than failing the page.
func (s *server) ledger(ctx context.Context, kind string, id int64, record []byte) ledgerView {
	if s.receipt == nil {
		return ledgerView{}
	}
	rc, err := s.receipt(ctx, kind, id, record)
	switch {
	case errors.Is(err, anchor.ErrPending):
		return ledgerView{Known: true}
	case err != nil:
		slog.WarnContext(ctx, "scan: ledger status", "kind", kind, "id", id, "err", err)
		return ledgerView{}
	}
	return ledgerView{Known: true, Anchored: true, Checkpoint: rc.TreeSize, Leaf: rc.LeafIndex, TxID: rc.Ledger.TxID, Block: rc.Ledger.Block}
}

// langOf returns the page language: ?lang=en|zh, else the first of English or
// Chinese in Accept-Language by quality, else Chinese.
func langOf(r *http.Request) string {
	switch r.URL.Query().Get("lang") {
	case "en":
		return "en"
	case "zh":
		return "zh"
	}
	best, bestQ := "zh", 0.0
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		tag = strings.ToLower(strings.TrimSpace(tag))
		q := 1.0
		if v, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if f, err := strconv.ParseFloat(v, 64); err == nil {
				q = f
			}
		}
		var l string
		switch {
		case tag == "zh" || strings.HasPrefix(tag, "zh-"):
			l = "zh"
		case tag == "en" || strings.HasPrefix(tag, "en-"):
			l = "en"
		default:
			continue
		}
		if q > bestQ {
			best, bestQ = l, q
		}
	}
	return best
}

// The scan pages' templates and stylesheet. The stylesheet is inlined, allowed by
// its hash in the page's Content-Security-Policy: a phone on weak 4G makes one
// request per page.
var (
	//go:embed templates/scan/*.html
	scanTemplateFS embed.FS
	//go:embed static/scan.css
	scanCSS string
	//go:embed static/icon.svg
	scanIcon string
)

var scanCSP = func() string {
	h := sha256.Sum256([]byte(scanCSS))
	return "default-src 'none'; style-src 'sha256-" + base64.StdEncoding.EncodeToString(h[:]) + "'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
}()

// scanView is what every scan template gets.
type scanView struct {
	Lang   string
	Title  string
	Path   string // the request path, for the language toggle
	CSS    template.CSS
	Icon   template.HTML
	T      map[string]string // the page's words in its language
	Status int
	Data   any
}

var scanPages = template.Must(template.New("scan").Funcs(funcs).Funcs(template.FuncMap{
	"short": func(s string, n int) string {
		if len(s) <= n {
			return s
		}
		return s[:n] + "…"
	},
	"unitname": func(lang string, u trace.Unit) string {
		if lang == "en" {
			return cmp.Or(unitEN[u], string(u))
		}
		return cmp.Or(u.ZH(), string(u))
	},
	"basisname": func(lang, label string) string {
		if lang == "en" {
			return cmp.Or(basisEN[label], label)
		}
		return label
	},
	"commitmentEN": func(t cert.Template) string { return commitmentEN[t] },
}).ParseFS(scanTemplateFS, "templates/scan/*.html"))

// renderScan executes a scan template into a buffer and writes it.
func (s *server) renderScan(w http.ResponseWriter, r *http.Request, status int, lang, name, title string, data any) error {
	v := scanView{Lang: lang, Title: title, Path: r.URL.Path, CSS: template.CSS(scanCSS), Icon: template.HTML(scanIcon), T: words[lang], Status: status, Data: data}
	var buf bytes.Buffer
	if err := scanPages.ExecuteTemplate(&buf, name, v); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", scanCSP)
	h.Set("Referrer-Policy", "no-referrer")
	if lang == "en" {
		h.Set("Content-Language", "en")
	} else {
		h.Set("Content-Language", "zh-CN")
	}
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		if _, err := w.Write(buf.Bytes()); err != nil {
			slog.DebugContext(r.Context(), "scan write", "err", err)
		}
	}
	return nil
}

// scanError renders an error as a scan page: 400 for a malformed link, 404 for an
// unknown code; internal errors are logged and shown as a generic message.
func (s *server) scanError(w http.ResponseWriter, r *http.Request, lang string, err error, status int) {
	var e *trace.Error
	if !errors.As(err, &e) {
		slog.ErrorContext(r.Context(), "scan failed", "path", r.URL.Path, "err", err)
		e = errInternal
	}
	if status == 0 {
		status = statusOf(e)
	}
	if e.Kind == trace.KindNotFound || e.Kind == trace.KindInvalid {
		w.Header().Set("Cache-Control", "no-store")
	}
	if rerr := s.renderScan(w, r, status, lang, "scan-error", e.ZH, errorData{Status: status, Err: e}); rerr != nil {
		slog.ErrorContext(r.Context(), "scan error page failed", "err", rerr)
		http.Error(w, e.ZH+" / "+e.EN, status)
	}
}

// resolverDescription answers /.well-known/gs1resolver: what this resolver serves,
// in the form of GS1's conformant resolver description.
func (s *server) resolverDescription(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Cache-Control", "public, max-age=86400")
	root := s.base
	if root == "" {
		root = "http://" + r.Host
	}
	json.NewEncoder(w).Encode(map[string]any{
		"name":                        "赣品溯源 Ganpin",
		"resolverRoot":                root,
		"supportedPrimaryKeys":        []string{"01"},
		"supportedLinkType":           []map[string]string{{"namespace": "https://gs1.org/voc/", "prefix": "gs1:"}},
		"linkTypeDefaultCanBeLinkset": true,
	})
}
