package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/ganpin/ganpin/internal/epcis"
	"github.com/ganpin/ganpin/trace"
)

// EPCIS 2.0 capture and query interface, after GS1's REST bindings (docs/epcis.md).

// epcisHeaders are sent with every EPCIS response: the versions spoken, Ganpin's
// extension namespace and the capture limits.
func epcisHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("GS1-EPCIS-Version", "2.0.0")
	h.Set("GS1-CBV-Version", "2.0.0")
	h.Set("GS1-EPCIS-Min", "2.0.0")
	h.Set("GS1-EPCIS-Max", "2.0.0")
	h.Set("GS1-Extensions", "ganpin="+epcis.NS)
	h.Set("GS1-EPCIS-Capture-Limit", strconv.Itoa(epcis.MaxEvents))
	h.Set("GS1-EPCIS-Capture-File-Size-Limit", strconv.Itoa(epcis.MaxDocument))
	h.Set("GS1-Capture-Error-Behaviour", "rollback")
}

// epcisHandle adapts an EPCIS handler: its errors are rendered as GS1's exceptions;
// badRequest names the exception of a 400.
func epcisHandle(badRequest string, h func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		epcisHeaders(w)
		if err := h(w, r); err != nil {
			var e *trace.Error
			if !errors.As(err, &e) {
				slog.ErrorContext(r.Context(), "request failed", "method", r.Method, "path", r.URL.Path, "err", err)
				e = internalError
			}
			status := statusOf(e)
			switch {
			case e.Code == "unsupported_media_type":
				status = http.StatusUnsupportedMediaType
			case status == http.StatusUnprocessableEntity:
				status = http.StatusBadRequest // GS1 answers every invalid parameter with 400
			}
			p := problem{Title: http.StatusText(status), Status: status, Detail: e.ZH, DetailZH: e.ZH, DetailEN: e.EN,
				Code: e.Code, Field: e.Field, Instance: r.URL.Path}
			p.Type = map[int]string{http.StatusBadRequest: badRequest,
				http.StatusUnauthorized: "epcisException:SecurityException", http.StatusForbidden: "epcisException:SecurityException",
				http.StatusNotFound: "epcisException:NoSuchResourceException", http.StatusRequestEntityTooLarge: "epcisException:CaptureLimitExceededException",
				http.StatusUnsupportedMediaType: "epcisException:ValidationException"}[status]
			if p.Type == "" {
				p.Type = "epcisException:ImplementationException"
			}
			if prefersEnglish(r) {
				p.Detail = e.EN
			}
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="ganpin"`)
			}
			b, _ := json.Marshal(p)
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(status)
			w.Write(b)
		}
	}
}

// epcisOptions answers discovery: the methods a resource takes, with the EPCIS headers.
func epcisOptions(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		epcisHeaders(w)
		w.Header().Set("Allow", allow)
		w.WriteHeader(http.StatusNoContent)
	}
}

// capture accepts an EPCISDocument as a capture job: 202 with the job's location.
func (s *Server) epcisCapture(w http.ResponseWriter, r *http.Request) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" && mt != "application/ld+json" {
			return &trace.Error{Kind: trace.KindInvalid, Code: "unsupported_media_type", ZH: "请以application/json或application/ld+json提交EPCIS文档",
				EN: "send the EPCIS document as application/json or application/ld+json"}
		}
	}
	if b := r.Header.Get("GS1-Capture-Error-Behaviour"); b != "" && b != "rollback" {
		return trace.Invalid("GS1-Capture-Error-Behaviour", "unsupported_error_behaviour", "Ganpin整份文档全部记录或全部拒绝（rollback）",
			"Ganpin captures a document whole or not at all (rollback)")
	}
	doc, err := readBody(w, r, epcis.MaxDocument)
	if err != nil {
		return err
	}
	j, err := s.epcis.Submit(r.Context(), actorFrom(r.Context()), doc)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/epcis/capture/"+strconv.FormatInt(j.ID, 10))
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// captureJobView is GS1's CaptureJob.
type captureJobView struct {
	CaptureID     string          `json:"captureID"`
	CreatedAt     time.Time       `json:"createdAt"`
	FinishedAt    *time.Time      `json:"finishedAt,omitempty"`
	Running       bool            `json:"running"`
	Success       bool            `json:"success"`
	ErrorBehavior string          `json:"captureErrorBehaviour"`
	Errors        []epcis.Problem `json:"errors"`
	Events        []int64         `json:"events,omitempty"` // the Ganpin events captured (/api/v1/events/{id})
}

func (s *Server) epcisJob(w http.ResponseWriter, r *http.Request) error {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil {
		return trace.NotFound("", "capture job", chi.URLParam(r, "id"))
	}
	j, err := s.epcis.Job(r.Context(), actorFrom(r.Context()), id)
	if err != nil {
		return err
	}
	v := captureJobView{CaptureID: strconv.FormatInt(j.ID, 10), CreatedAt: j.Created, Running: j.Finished.IsZero(),
		Success: j.Finished.IsZero() || j.Success, ErrorBehavior: "rollback", Errors: j.Errors, Events: j.Events}
	if v.Errors == nil {
		v.Errors = []epcis.Problem{}
	}
	if !j.Finished.IsZero() {
		v.FinishedAt = &j.Finished
	}
	return writeJSON(w, http.StatusOK, v)
}

// epcisEvents answers a SimpleEventQuery given as URL parameters, a page at a time;
// the Link header names the next page.
func (s *Server) epcisEvents(w http.ResponseWriter, r *http.Request) error {
	page, err := s.epcis.Query(r.Context(), actorFrom(r.Context()), r.URL.Query())
	if err != nil {
		return err
	}
	if page.Next != "" {
		q := r.URL.Query()
		q.Set("nextPageToken", page.Next)
		w.Header().Set("Link", "<"+r.URL.Path+"?"+q.Encode()+`>; rel="next"`)
	}
	return writeJSON(w, http.StatusOK, page.Document)
}

// epcisEvent answers the event stored under an EPCIS event ID, with links to its
// Ganpin record and the receipt that proves it is in the log.
func (s *Server) epcisEvent(w http.ResponseWriter, r *http.Request) error {
	id, err := url.PathUnescape(chi.URLParam(r, "eventID"))
	if err != nil {
		return trace.NotFound("", "event", chi.URLParam(r, "eventID"))
	}
	doc, ids, err := s.epcis.Event(r.Context(), actorFrom(r.Context()), id)
	if err != nil {
		return err
	}
	for _, e := range ids {
		p := "/api/v1/events/" + strconv.FormatInt(e, 10)
		w.Header().Add("Link", "<"+p+`>; rel="describedby"`)
		w.Header().Add("Link", "<"+p+`/receipt>; rel="https://ganpin.cn/rel/receipt"`)
	}
	return writeJSON(w, http.StatusOK, doc)
}

// lotEPCIS answers a lot's full history as an EPCISDocument.
func (s *Server) lotEPCIS(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	doc, err := s.epcis.LotDocument(r.Context(), actorFrom(r.Context()), id)
	if err != nil {
		return err
	}
	epcisHeaders(w)
	return writeJSON(w, http.StatusOK, doc)
}
