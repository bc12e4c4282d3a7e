package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ganpin/ganpin/trace"
)

type metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ganpin_http_requests_total", Help: "HTTP requests by route, method and status."}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ganpin_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.duration)
	return m
}

func (m *metrics) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		route := chi.RouteContext(r.Context()).RoutePattern()
		if route == "" {
			route = "unmatched"
		}
		m.requests.WithLabelValues(route, r.Method, strconv.Itoa(ww.Status())).Inc()
		m.duration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

func logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		level := slog.LevelDebug
		if ww.Status() >= 500 {
			level = slog.LevelError
		}
		slog.Log(r.Context(), level, "http", "method", r.Method, "path", r.URL.Path, "status", ww.Status(),
			"bytes", ww.BytesWritten(), "duration", time.Since(start), "request_id", middleware.GetReqID(r.Context()))
	})
}

// authenticate resolves the Bearer token into the actor every service call acts for.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request) error {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || token == "" {
			return trace.ErrUnauthenticated
		}
		a, err := s.svc.Authenticate(r.Context(), strings.TrimSpace(token))
		if err != nil {
			return err
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), actorKey, a)))
		return nil
	})
}

// idempotency answers a POST whose Idempotency-Key was seen before from the recorded
// response, and otherwise lets the write record its response in its own transaction.
func (s *Server) idempotency(next http.Handler) http.Handler {
	return handle(func(w http.ResponseWriter, r *http.Request) error {
		key := r.Header.Get("Idempotency-Key")
		if r.Method != http.MethodPost || key == "" {
			next.ServeHTTP(w, r)
			return nil
		}
		if len(key) > 200 {
			return trace.Invalid("Idempotency-Key", "invalid_idempotency_key", "幂等键不能超过200个字符", "an idempotency key has at most 200 characters")
		}
		body, err := readBody(w, r, maxBatchBody)
		if err != nil {
			return err
		}
		h := sha256.New()
		h.Write([]byte(r.Method + " " + r.URL.RequestURI() + "\n"))
		h.Write(body)
		claim := &trace.Idempotency{Principal: "user:" + strconv.FormatInt(actorFrom(r.Context()).UserID, 10), Key: key, RequestHash: h.Sum(nil)}
		if done, err := s.replay(w, r, claim); done || err != nil {
			return err
		}
		r.Body = readCloser{bytes.NewReader(body)}
		ctx := trace.WithIdempotency(r.Context(), claim)
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, claimKey{}, claim)))
		return nil
	})
}

type claimKey struct{}

type readCloser struct{ *bytes.Reader }

func (readCloser) Close() error { return nil }

// replay writes the response recorded under the claim's key, if there is one.
func (s *Server) replay(w http.ResponseWriter, r *http.Request, c *trace.Idempotency) (bool, error) {
	rep, ok, err := s.svc.Replay(r.Context(), c.Principal, c.Key)
	if err != nil || !ok {
		return false, err
	}
	if !bytes.Equal(rep.RequestHash, c.RequestHash) {
		return true, trace.Invalid("Idempotency-Key", "idempotency_key_reused", "该幂等键已用于另一个请求", "this idempotency key was used for a different request")
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Idempotent-Replayed", "true")
	w.WriteHeader(rep.Status)
	w.Write(rep.Body)
	return true, nil
}
