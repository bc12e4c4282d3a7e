// Package web is the producer console (生产者控制台): server-rendered pages with which
// a cooperative's clerk records orchard work, harvests, packing, storage and shipping
// on a phone or a PC. Every rule lives in trace.Service; the console only turns forms
// into service calls and service errors into pages. Chinese first, no JavaScript.
package web

import (
	"cmp"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/internal/export"
	"github.com/ganpin/ganpin/trace"
)

// Config holds the console's dependencies.
type Config struct {
	Service *trace.Service
	Certs   *cert.Service // certificates; without it the certificate pages say they are off
	Base    string        // public base URL for QR codes and links, e.g. http://127.0.0.1:8080
	Secure  bool          // set the Secure flag on cookies (served over https)

	// The consumer scan pages (scan*.go); without Scan they say scanning is off.
	Scan         ScanStore
	Counter      *ScanCounter               // counts scans; none counted or shown when nil
	Receipt      ReceiptFunc                // the certificates' ledger status and receipts; none shown when nil
	Keys         *cert.Keys                 // the issuers' public keys, put in receipts
	ClientIP     func(*http.Request) string // the client's address behind a proxy; RemoteAddr when nil
	Region       func(*http.Request) string // a coarse region of the client ("" unknown); none when nil
	CertValidity time.Duration              // how long a certificate shows as valid; 180 days when 0
	ScanRate     float64                    // scans a second one client may make, in bursts of ScanBurst; 1 when 0
	ScanBurst    int                        // 60 when 0
	StatusTTL    time.Duration              // how stale a page's certificate status may be besides the sweeps (scancache.go); 10 min when 0
	JourneyTTL   time.Duration              // how stale its journey may be; 15 min when 0
	CacheEntries int                        // certificates whose pages are cached; 20,000 when 0
	Now          func() time.Time           // time.Now when nil

	// Inspection serves the inspector console (/console/inspect/) and the published
	// sampling verdicts on the scan pages; nil turns both off.
	Inspection *trace.Inspection
}

// server serves the console.
type server struct {
	svc    *trace.Service
	certs  *cert.Service
	base   string
	secure bool
	pages  *pages
	origin *http.CrossOriginProtection

	scanStore  ScanStore
	counter    *ScanCounter
	receipt    ReceiptFunc
	keys       *cert.Keys
	clientIP   func(*http.Request) string
	region     func(*http.Request) string
	limiter    *scanLimiter
	cache      *scanCache
	validity   time.Duration
	statusTTL  time.Duration
	journeyTTL time.Duration
	now        func() time.Time

	insp *trace.Inspection
	jobs *export.Jobs // the inspectors' background exports
}

// New returns the console handler: it serves /console/... and redirects / to /console/.
func New(cfg Config) http.Handler {
	s := &server{svc: cfg.Service, certs: cfg.Certs, base: strings.TrimRight(cfg.Base, "/"), secure: cfg.Secure, pages: loadPages(),
		scanStore: cfg.Scan, counter: cfg.Counter, receipt: cfg.Receipt, keys: cfg.Keys, clientIP: cfg.ClientIP, region: cfg.Region,
		limiter: newScanLimiter(cmp.Or(cfg.ScanRate, 1), cmp.Or(cfg.ScanBurst, 60)), cache: newScanCache(cmp.Or(cfg.CacheEntries, defaultEntries)),
		validity: cmp.Or(cfg.CertValidity, defaultValidity), statusTTL: cmp.Or(cfg.StatusTTL, defaultStatusTTL),
		journeyTTL: cmp.Or(cfg.JourneyTTL, defaultJourneyTTL), now: cfg.Now,
		insp: cfg.Inspection, jobs: export.NewJobs(time.Hour)}
	if s.now == nil {
		s.now = time.Now
	}
	if s.clientIP == nil {
		s.clientIP = remoteAddr
	}
	s.origin = http.NewCrossOriginProtection()
	s.origin.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.renderError(w, r, errCrossOrigin)
	}))

	mux := http.NewServeMux()
	// Public pages.
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /console", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/", http.StatusSeeOther)
	})
	mux.Handle("GET /console/static/", staticHandler())
	mux.Handle("GET /favicon.ico", http.RedirectHandler(iconPath, http.StatusMovedPermanently))
	mux.Handle("GET /console/login", s.handle(s.loginPage))
	mux.Handle("POST /console/login", s.handle(s.login))

	// Pages for a signed-in producer (s.session: cookie → actor, role check, CSRF on POST).
	mux.Handle("POST /console/logout", s.session(s.logout))
	mux.Handle("GET /console/{$}", s.session(s.home))
	mux.Handle("GET /console/lots", s.session(s.lots))
	mux.Handle("GET /console/lots/{id}", s.session(s.lot))
	mux.Handle("GET /console/events/{id}", s.session(s.event))
	mux.Handle("GET /console/record/{kind}", s.session(s.recordForm))
	mux.Handle("POST /console/record/{kind}", s.session(s.record))
	mux.Handle("GET /console/lots/{id}/certify", s.session(s.certifyForm))
	mux.Handle("POST /console/lots/{id}/certify", s.session(s.certify)) // preview, edit, issue
	mux.Handle("GET /console/certs", s.session(s.certList))
	mux.Handle("GET /console/certs/print", s.session(s.printMany)) // several certificates, one PDF
	mux.Handle("GET /console/certs/{id}", s.session(s.certPage))
	mux.Handle("GET /console/certs/{id}/pdf", s.session(s.certPDF))
	mux.Handle("GET /console/certs/{id}/revoke", s.session(s.revokeForm))
	mux.Handle("POST /console/certs/{id}/revoke", s.session(s.revoke))

	// Consumer scan (Digital Link resolver): public, no login; each route answers GET,
	// HEAD and OPTIONS (CORS) and refuses other methods with 405. Other paths under
	// /01/ and /c/ are malformed links (400).
	for _, p := range []string{"/01/{gtin}", "/01/{gtin}/10/{lot}", "/01/{gtin}/10/{lot}/21/{serial}", "/01/{gtin}/21/{serial}", "/c/{serial}", "/c/{serial}/{unit}", "/01/", "/c/"} {
		mux.HandleFunc(p, s.scanHandler)
	}
	mux.HandleFunc("GET /c/{serial}/receipt", s.scanReceipt) // the certificate's ledger receipt, for ganpin verify
	mux.HandleFunc("GET /.well-known/gs1resolver", s.resolverDescription)

	// Inspection: pages for signed-in inspectors (s.inspect: as s.session, for the inspector role).
	mux.Handle("GET /console/inspect/{$}", s.inspect(s.inspectHome))
	mux.Handle("GET /console/inspect/new", s.inspect(s.inspectNewPage))
	mux.Handle("POST /console/inspect/new", s.inspect(s.inspectCreate))
	mux.Handle("GET /console/inspect/overdue", s.inspect(s.inspectOverdue))
	mux.Handle("GET /console/inspect/audit", s.inspect(s.inspectAudit))
	mux.Handle("GET /console/inspect/export", s.inspect(s.inspectExport))
	mux.Handle("GET /console/exports/{job}", s.inspect(s.inspectJob))
	mux.Handle("GET /console/exports/{job}/file", s.inspect(s.inspectJobFile))
	mux.Handle("GET /console/inspect/{id}", s.inspect(s.inspectRecord))
	mux.Handle("GET /console/inspect/{id}/photos/{n}", s.inspect(s.inspectPhoto))
	mux.Handle("GET /console/inspect/{id}/report", s.inspect(s.inspectReportPage))
	mux.Handle("POST /console/inspect/{id}/report", s.inspect(s.inspectReport))
	mux.Handle("POST /console/inspect/{id}/action", s.inspect(s.inspectAction))
	mux.Handle("GET /console/inspect/{id}/recall", s.inspect(s.inspectRecall))
	mux.Handle("POST /console/inspect/{id}/recall", s.inspect(s.inspectRecall)) // revoke and notify again

	mux.Handle("/", s.handle(func(w http.ResponseWriter, r *http.Request) error { return errPageNotFound }))

	// Middleware, outermost first:
	var h http.Handler = mux
	h = s.origin.Handler(h) // refuse cross-origin POSTs (Sec-Fetch-Site / Origin), login included
	h = securityHeaders(h)  // CSP without scripts, no framing, no sniffing
	h = recoverPanics(h)    // a panic becomes a 500 page, never a dead server
	return h
}

// handlerFunc is a console handler: it writes a page or returns an error for renderError.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// handle adapts a handlerFunc; its error is rendered as a page.
func (s *server) handle(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			s.renderError(w, r, err)
		}
	})
}

func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("X-Frame-Options", "DENY")
		h.ServeHTTP(w, r)
	})
}

func recoverPanics(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				slog.ErrorContext(r.Context(), "console panic", "method", r.Method, "path", r.URL.Path, "panic", v)
				http.Error(w, "服务器内部错误 internal server error", http.StatusInternalServerError)
			}
		}()
		h.ServeHTTP(w, r)
	})
}
