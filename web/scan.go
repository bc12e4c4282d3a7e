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
	"math"
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
	Graph(ctx context.Context, lotID int64, d trace.Direction) (*trace.Graph, error)
	Orders(ctx context.Context, f trace.OrderFilter, p trace.Page) ([]trace.Order, error)
	DeviceIDs(ctx context.Context, serials []string) (map[string]int64, error)
	Readings(ctx context.Context, deviceID int64, from, to time.Time) ([]trace.Reading, error)
	// NonCompliant returns the marks of lots whose latest sampling verdict is 不合格.
	NonCompliant(ctx context.Context, lotIDs []int64) ([]trace.NonCompliance, error)
	// ScanChanges returns the certificates revoked and the lots marked non-compliant
	// from since on, and the tree size of the latest anchored checkpoint.
	ScanChanges(ctx context.Context, since time.Time) (certs, lots []int64, anchored int64, err error)
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
		if k.Lot == "" && k.Unit != "" { // a well-formed link, but every label printed here names its lot
			return k, errUnknownCode
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

// scanHandler serves a scan link: OPTIONS is the CORS preflight; GET and HEAD the
// page, or its link set for Accept: application/linkset+json.
func (s *server) scanHandler(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "ETag, Link, Content-Language")
	h.Set("Vary", "Accept, Accept-Encoding, Accept-Language")
	lang := langOf(r)
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
		s.scanError(w, r, lang, errScanMethod, http.StatusMethodNotAllowed)
		return
	}
	if err := s.scan(w, r, lang); err != nil {
		s.scanError(w, r, lang, err, 0)
	}
}

// errTooMany refuses a client's scan beyond its rate; it is not counted.
var errTooMany = &trace.Error{Kind: trace.KindInvalid, Code: "too_many_scans", ZH: "查询过于频繁，请稍后再试", EN: "too many scans from your network; try again shortly"}

func (s *server) scan(w http.ResponseWriter, r *http.Request, lang string) error {
	if s.scanStore == nil {
		return errScanOff
	}
	k, err := parseScan(r)
	if err != nil {
		return err
	}
	now := s.now()
	if ok, wait := s.limiter.allow(clientPrefix(s.clientIP(r)), now); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		return errTooMany
	}
	ctx := r.Context()
	if k.GTIN != "" && k.Lot == "" {
		return s.productPage(w, r, lang, k.GTIN)
	}
	st, err := s.certState(ctx, k)
	if err != nil {
		return err
	}
	if st.cert == nil {
		return errUnknownCode
	}
	c := st.cert
	if k.Unit != "" {
		if _, ok := unitOf(c, k.Unit); !ok {
			return errUnknownCode
		}
	}
	if wantsLinkset(r) {
		return s.writeLinkset(w, r, st, k.Unit)
	}
	slot := scanSlot{T: words[lang], Unit: k.Unit, Units: c.Units}
	if r.Method == http.MethodGet && s.counter != nil {
		code := c.Serial
		if k.Unit != "" {
			code += "/" + k.Unit
		}
		region := ""
		if s.region != nil {
			region = s.region(r)
		}
		if slot.Tally, err = s.counter.Scan(ctx, code, now, region); err != nil {
			return err
		}
		slot.Counted = true
		slot.Warn = unusual(c, st.journey, slot.Tally, k.Unit != "")
	}
	orders, err := s.ordersOf(ctx, st.journey, c, k.Unit)
	if err != nil {
		return err
	}
	parts, err := s.page(st, lang)
	if err != nil {
		return err
	}
	dyn := [][]byte{appendTop(nil, &slot), appendOrders(nil, slot.T, orders)}
	h := w.Header()
	s.pageHeaders(h, lang)
	h.Set("Cache-Control", "no-cache") // each scan reaches the server, to be counted
	h.Set("Link", "<"+c.URL(s.base, 0)+">; rel=\"canonical\", <"+r.URL.EscapedPath()+">; rel=\"linkset\"; type=\"application/linkset+json\"")
	etag := parts.etag(dyn)
	h.Set("ETag", etag)
	if matches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	buf := bodies.Get().(*[]byte)
	defer bodies.Put(buf)
	var body []byte
	if acceptsGzip(r) {
		body = parts.appendBody((*buf)[:0], dyn)
		h.Set("Content-Encoding", "gzip")
	} else if body, err = parts.appendPlain((*buf)[:0], dyn); err != nil {
		return err
	}
	*buf = body
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		if _, err := w.Write(body); err != nil {
			slog.DebugContext(ctx, "scan write", "err", err)
		}
	}
	return nil
}

// scanSlot is what the per-scan parts of a page show.
type scanSlot struct {
	T       map[string]string
	Unit    string // the unit serial scanned, "" for the certificate's own code
	Units   int
	Counted bool
	Tally   cert.ScanTally
	Warn    string // why the scans look unusual: "many" or "regions"; "" when they do not
}

// Unusual scan patterns. A unit label belongs to one box: a few scans by its buyer
// are normal, more than unitScanLimit, or scans from two regions, are not. A
// certificate's own code is printed for the whole lot: scans beyond
// lotScanFactor times its boxes (5 kg each when certified by mass) are unusual.
const (
	unitScanLimit = 10
	lotScanFactor = 3
	lotScanMin    = 100
	boxKg         = 5
)

// unusual says why a code's tally looks like copied labels, or "".
func unusual(c *cert.Issued, j *journey, t cert.ScanTally, unit bool) string {
	if unit {
		switch {
		case len(t.Regions) > 1:
			return "regions"
		case t.Scans > unitScanLimit:
			return "many"
		}
		return ""
	}
	boxes := c.Quantity
	if m := c.Unit.Mass(); m > 0 {
		boxes = c.Quantity * m / boxKg
	} else if j.Product != nil && c.Unit != j.Product.Unit {
		boxes = j.Product.Kg(c.Quantity, c.Unit) / boxKg
	}
	if float64(t.Scans) > max(lotScanMin, lotScanFactor*boxes) {
		return "many"
	}
	return ""
}

// pageHeaders sets the headers every scan page has.
func (s *server) pageHeaders(h http.Header, lang string) {
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", scanCSP)
	h.Set("Referrer-Policy", "no-referrer")
	if lang == "en" {
		h.Set("Content-Language", "en")
	} else {
		h.Set("Content-Language", "zh-CN")
	}
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
	w.Header().Set("Cache-Control", "public, max-age=300")
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

// certScan is a certificate's scan page without its per-scan parts.
type certScan struct {
	certView
	Status    string // valid, revoked or expired
	Expires   time.Time
	Ledger    ledgerView
	Journey   *journey
	Recall    []trace.NonCompliance
	Link      string // the lot's Digital Link
	ShortPath string // the certificate's short path, /c/{serial}
}

func certTitle(c *cert.Issued, lang string) string {
	if lang == "en" {
		return "Certificate " + c.Serial
	}
	return "承诺达标合格证 " + c.Serial
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

func (s *server) certScanPage(st *certState) *certScan {
	c := st.cert
	return &certScan{certView: s.certView(c), Status: st.status, Expires: c.Issued.Add(s.validity), Ledger: st.ledger,
		Journey: st.journey, Recall: st.recall, Link: c.URL(s.base, 0), ShortPath: c.ShortURL("", 0)}
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
	Link   string // the page's canonical address
	CSS    template.CSS
	Icon   template.HTML
	T      map[string]string // the page's words in its language
	Status int
	Data   any
}

func (s *server) scanView(lang, link, title string, data any) scanView {
	return scanView{Lang: lang, Title: title, Link: link, CSS: template.CSS(scanCSS), Icon: template.HTML(scanIcon), T: words[lang], Data: data}
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
	"join":         strings.Join,
	"num":          func(v float64) string { return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64) },
	"slot":         func() template.HTML { return slotMarker },
	"verdict": func(lang string, v trace.Verdict) string {
		if v == trace.Fail {
			return words[lang]["verdict_fail"]
		}
		return words[lang]["verdict_pass"]
	},
	"legstatus": func(lang string, st trace.LegStatus) string {
		return cmp.Or(words[lang]["leg_"+string(st)], string(st))
	},
	"legclass": func(st trace.LegStatus) string {
		switch st {
		case trace.LegOK:
			return "good"
		case trace.LegAlarm:
			return "bad"
		case trace.LegNoData:
			return ""
		}
		return "wait"
	},
	"dur": duration,
}).ParseFS(scanTemplateFS, "templates/scan/*.html"))

// renderScan executes a scan template into a buffer and writes it.
func (s *server) renderScan(w http.ResponseWriter, r *http.Request, status int, lang, name, title string, data any) error {
	v := s.scanView(lang, "", title, data)
	v.Status = status
	var buf bytes.Buffer
	if err := scanPages.ExecuteTemplate(&buf, name, v); err != nil {
		return err
	}
	h := w.Header()
	s.pageHeaders(h, lang)
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
	if e == errTooMany {
		status = http.StatusTooManyRequests
	}
	w.Header().Set("Cache-Control", "no-store")
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

// duration formats a duration in days, hours and minutes, coarsely.
func duration(lang string, d time.Duration) string {
	d = d.Round(time.Minute)
	days, hours, mins := int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour), int(d%time.Hour/time.Minute)
	u := [3]string{"天", "小时", "分钟"}
	sep := ""
	if lang == "en" {
		u, sep = [3]string{" d", " h", " min"}, " "
	}
	var parts []string
	switch {
	case days > 0:
		parts = append(parts, strconv.Itoa(days)+u[0])
		if hours > 0 {
			parts = append(parts, strconv.Itoa(hours)+u[1])
		}
	case hours > 0:
		parts = append(parts, strconv.Itoa(hours)+u[1])
		if mins > 0 {
			parts = append(parts, strconv.Itoa(mins)+u[2])
		}
	default:
		parts = append(parts, strconv.Itoa(mins)+u[2])
	}
	return strings.Join(parts, sep)
}
