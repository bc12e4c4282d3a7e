// Package api is Ganpin's JSON API (/api/v1) and operational endpoints.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/internal/anchor"
	"github.com/ganpin/ganpin/internal/epcis"
	"github.com/ganpin/ganpin/trace"
)

// Config holds the API's dependencies.
type Config struct {
	Service *trace.Service
	// Ready reports whether the system of record answers (for /readyz).
	Ready func(context.Context) error
	// Registry receives the API's metrics; a new one when nil.
	Registry *prometheus.Registry
	// Receipt builds the receipt of a record (anchor.BuildReceipt).
	Receipt func(ctx context.Context, kind string, id int64, record []byte) (*anchor.Receipt, error)
	// Status says whether a record is anchored yet (anchor.RecordStatus).
	Status func(ctx context.Context, kind string, id int64) (anchor.Status, error)
	// LogKey is the log's public verifier key, served at /.well-known/ganpin/log-key.
	LogKey string
	// Certs issues and revokes certificates; Keys are the issuers' keys, published at
	// /.well-known/ganpin/issuer-keys.
	Certs *cert.Service
	Keys  *cert.Keys
	// Base is the public base URL the certificates' QR codes point at.
	Base string
	// Pages serves every path the API does not (the web pages).
	Pages http.Handler
	// Inspection serves the market regulator's sampling and recall; nil turns it off.
	Inspection *trace.Inspection
	// EPCIS serves the EPCIS 2.0 capture and query interface; nil turns it off.
	EPCIS *epcis.Service
}

// Server serves the API.
type Server struct {
	svc     *trace.Service
	ready   func(context.Context) error
	metrics *metrics
	receipt func(ctx context.Context, kind string, id int64, record []byte) (*anchor.Receipt, error)
	status  func(ctx context.Context, kind string, id int64) (anchor.Status, error)
	certs   *cert.Service
	keys    *cert.Keys
	base    string
	insp    *trace.Inspection
	epcis   *epcis.Service
}

// New returns the API handler.
func New(cfg Config) http.Handler {
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
		reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	}
	s := &Server{svc: cfg.Service, ready: cfg.Ready, metrics: newMetrics(reg), receipt: cfg.Receipt, status: cfg.Status,
		certs: cfg.Certs, keys: cfg.Keys, base: cfg.Base, insp: cfg.Inspection, epcis: cfg.EPCIS}

	r := chi.NewRouter()
	// Middleware, outermost first:
	r.Use(middleware.RequestID) // X-Request-Id for logs and support
	r.Use(s.metrics.instrument) // request counts and latencies by route
	r.Use(logRequests)          // one structured log line per request
	r.Use(middleware.Recoverer) // a panic becomes a 500, never a dead server
	notFound := handle(func(w http.ResponseWriter, r *http.Request) error {
		return &trace.Error{Kind: trace.KindNotFound, Code: "not_found", ZH: "页面不存在", EN: "no such resource"}
	})
	r.NotFound(notFound)
	if cfg.Pages != nil {
		r.NotFound(cfg.Pages.ServeHTTP)
	}
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		writeProblem(w, r, http.StatusMethodNotAllowed, &trace.Error{Code: "method_not_allowed", ZH: "不支持该请求方法", EN: "method not allowed"})
	})

	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	r.Get("/readyz", handle(s.readyz))
	r.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	r.Get("/.well-known/ganpin/log-key", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte(cfg.LogKey + "\n"))
	})
	r.Get("/.well-known/ganpin/issuer-keys", handle(s.issuerKeys))

	r.Route("/api/v1", func(r chi.Router) {
		r.Post("/tokens", handle(s.login))
		r.Group(func(r chi.Router) {
			r.Use(s.authenticate) // every route below needs a Bearer token
			r.Use(s.idempotency)  // Idempotency-Key on POST
			r.Get("/me", handle(s.me))
			r.Delete("/tokens/current", handle(s.logout))
			r.Get("/parties", handle(s.listParties))
			r.Post("/parties", handle(s.createParty))
			r.Get("/parties/{id}", handle(s.getParty))
			r.Post("/users", handle(s.createUser))
			r.Get("/sites", handle(s.listSites))
			r.Post("/sites", handle(s.createSite))
			r.Get("/sites/{id}", handle(s.getSite))
			r.Get("/products", handle(s.listProducts))
			r.Post("/products", handle(s.createProduct))
			r.Get("/products/{id}", handle(s.getProduct))
			r.Get("/lots", handle(s.listLots))
			r.Get("/lots/{id}", handle(s.getLot))
			r.Get("/lots/{id}/events", handle(s.lotEvents))
			r.Get("/lots/{id}/trace", handle(s.traceLot))
			r.Post("/events", handle(s.captureOne))
			r.Post("/events/batch", handle(s.captureBatch))
			r.Get("/events/{id}", handle(s.getEvent))
			r.Get("/events/{id}/receipt", handle(s.eventReceipt))
			r.Get("/certificates", handle(s.listCertificates))
			r.Post("/certificates", handle(s.issueCertificate))
			r.Post("/certificates/preview", handle(s.previewCertificate))
			r.Get("/certificates/{id}", handle(s.getCertificate))
			r.Post("/certificates/{id}/revoke", handle(s.revokeCertificate))
			r.Get("/certificates/{id}/receipt", handle(s.certificateReceipt))
			r.Get("/certificates/{id}/pdf", handle(s.certificatePDF))
			r.Post("/certificates/print", handle(s.printCertificates))
		})
		// Cold chain and orders (docs/coldchain.md); the consumer's journey is public.
		r.Get("/public/journey/{serial}", handle(s.publicJourney))
		r.Get("/public/journey/{serial}/{unit}", handle(s.publicJourney))
		r.Group(func(r chi.Router) {
			r.Use(s.authenticate)
			r.Use(s.idempotency)
			r.Get("/coldchain/profiles", handle(s.listProfiles))
			r.Get("/devices", handle(s.listDevices))
			r.Post("/devices", handle(s.registerDevice))
			r.Get("/devices/{id}", handle(s.getDevice))
			r.Get("/devices/{id}/assignments", handle(s.deviceAssignments))
			r.Get("/devices/{id}/readings", handle(s.deviceReadings))
			r.Post("/devices/{id}/readings", handle(s.ingest))
			r.Post("/assignments", handle(s.assign))
			r.Post("/assignments/{id}/end", handle(s.endAssignment))
			r.Get("/legs/{id}", handle(s.getLeg))
			r.Post("/legs/{id}/summary", handle(s.sealLeg))
			r.Get("/lots/{id}/journey", handle(s.lotJourney))
			r.Get("/channels", handle(s.listChannels))
			r.Post("/channels", handle(s.grantChannel))
			r.Post("/channels/{platform}/end", handle(s.endChannel))
			r.Get("/orders", handle(s.listOrders))
			r.Post("/orders", handle(s.linkOrder))
			r.Get("/orders/{id}", handle(s.getOrder))
			r.Get("/webhook", handle(s.getWebhook))
			r.Post("/webhook", handle(s.registerWebhook))
			r.Get("/webhook/deliveries", handle(s.listDeliveries))
		})
		// Inspection (docs/inspection.md); published verdicts are public.
		r.Get("/public/lots/{id}/sampling", handle(s.publishedVerdicts))
		r.Group(func(r chi.Router) {
			r.Use(s.authenticate)
			r.Use(s.idempotency)
			r.Get("/sampling/limits", handle(s.samplingLimits))
			r.Get("/sampling", handle(s.searchSampling))
			r.Post("/sampling", handle(s.recordSampling))
			r.Get("/sampling/overdue", handle(s.overdueSampling))
			r.Get("/sampling/audit", handle(s.inspectionAudit))
			r.Get("/sampling/export", handle(s.exportSampling))
			r.Get("/sampling/kde", handle(s.exportKDE))
			r.Get("/sampling/recall", handle(s.orchardRecall))
			r.Get("/sampling/{id}", handle(s.getSampling))
			r.Get("/sampling/{id}/photos/{n}", handle(s.samplingPhoto))
			r.Post("/sampling/{id}/report", handle(s.recordReport))
			r.Post("/sampling/{id}/retest", handle(s.recordAction(trace.ActionRetestRequest)))
			r.Post("/sampling/{id}/disposal", handle(s.recordAction(trace.ActionDisposal)))
			r.Post("/sampling/{id}/publish", handle(s.recordAction(trace.ActionPublication)))
			r.Get("/sampling/{id}/recall", handle(s.samplingRecall))
			r.Post("/sampling/{id}/recall", handle(s.enforceRecall))
		})
		// EPCIS 2.0 (docs/epcis.md): a lot's history as an EPCISDocument.
		if s.epcis != nil {
			r.Group(func(r chi.Router) {
				r.Use(s.authenticate)
				r.Get("/lots/{id}/epcis", handle(s.lotEPCIS))
			})
		}
		r.NotFound(notFound) // API paths never fall through to the pages
	})
	// EPCIS 2.0 capture and query interface after GS1's REST bindings (docs/epcis.md).
	if s.epcis != nil {
		r.Route("/epcis", func(r chi.Router) {
			r.Options("/capture", epcisOptions("OPTIONS, POST"))
			r.Options("/events", epcisOptions("OPTIONS, GET"))
			r.Group(func(r chi.Router) {
				r.Use(s.authenticate)
				r.Post("/capture", epcisHandle("epcisException:ValidationException", s.epcisCapture))
				r.Get("/capture/{id}", epcisHandle("epcisException:ValidationException", s.epcisJob))
				r.Get("/events", epcisHandle("epcisException:QueryParameterException", s.epcisEvents))
				r.Get("/events/{eventID}", epcisHandle("epcisException:QueryParameterException", s.epcisEvent))
			})
		})
	}
	return r
}

// handle adapts a handler that returns an error; the error is rendered as problem+json.
func handle(h func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			writeError(w, r, err)
		}
	}
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.ready(ctx); err != nil {
		slog.WarnContext(ctx, "not ready", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("database unavailable\n"))
		return nil
	}
	w.Write([]byte("ready\n"))
	return nil
}

type ctxKey int

const actorKey ctxKey = iota

func actorFrom(ctx context.Context) trace.Actor {
	a, _ := ctx.Value(actorKey).(trace.Actor)
	return a
}
