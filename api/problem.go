package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/ganpin/ganpin/trace"
)

// problem is an RFC 9457 problem detail, with the message in both languages and the
// field at fault.
type problem struct {
	Type     string `json:"type"`
	Title    string `json:"title"`
	Status   int    `json:"status"`
	Detail   string `json:"detail"`
	DetailZH string `json:"detail_zh"`
	DetailEN string `json:"detail_en"`
	Code     string `json:"code"`
	Field    string `json:"field,omitempty"`
	Instance string `json:"instance,omitempty"`
}

// statusOf maps the error vocabulary to HTTP statuses: the one place this happens.
func statusOf(e *trace.Error) int {
	switch e.Kind {
	case trace.KindInvalid:
		if strings.HasPrefix(e.Code, "malformed_") || e.Code == "unknown_field" || e.Code == "wrong_type" || e.Code == "empty_body" {
			return http.StatusBadRequest
		}
		return http.StatusUnprocessableEntity
	case trace.KindUnauthenticated:
		return http.StatusUnauthorized
	case trace.KindForbidden:
		return http.StatusForbidden
	case trace.KindNotFound:
		if e.Field != "" { // a reference in the request body, not the resource addressed
			return http.StatusUnprocessableEntity
		}
		return http.StatusNotFound
	case trace.KindConflict:
		return http.StatusConflict
	case trace.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusInternalServerError
}

var internalError = &trace.Error{Kind: trace.KindInternal, Code: "internal", ZH: "服务器内部错误，请稍后重试", EN: "internal server error; try again later"}

// writeError renders err as problem+json; internal errors are logged, not shown.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *trace.Error
	if !errors.As(err, &e) {
		slog.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = internalError
	}
	writeProblem(w, r, statusOf(e), e)
}

// writeProblem renders e as problem+json with the given status.
func writeProblem(w http.ResponseWriter, r *http.Request, status int, e *trace.Error) {
	p := problem{
		Type: "tag:ganpin.cn,2026:problem/" + e.Code, Title: http.StatusText(status), Status: status,
		Detail: e.ZH, DetailZH: e.ZH, DetailEN: e.EN, Code: e.Code, Field: e.Field, Instance: r.URL.Path,
	}
	if prefersEnglish(r) {
		p.Detail = e.EN
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ganpin"`)
	}
	b, _ := json.Marshal(p)
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Content-Language", "zh-CN, en")
	w.WriteHeader(status)
	w.Write(b)
}

// prefersEnglish reports whether the client's first language preference is English.
func prefersEnglish(r *http.Request) bool {
	al := strings.ToLower(strings.TrimSpace(r.Header.Get("Accept-Language")))
	return strings.HasPrefix(al, "en")
}
