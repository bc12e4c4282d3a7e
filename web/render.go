package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ganpin/ganpin/trace"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// cst is the console's time zone: Asia/Shanghai, UTC+8 all year round.
var cst = time.FixedZone("CST", 8*3600)

// pages holds one template set per page, each the layout plus the page's own file.
type pages struct {
	byName map[string]*template.Template
}

// view is what every page template gets.
type view struct {
	Title   string
	Session *sess
	Party   *trace.Party
	CSRF    string
	Flash   string
	Nav     string
	CSS     string // stylesheet path with its content hash
	Icon    string
	Certs   bool // the certificate pages are on
	Inspect bool // the signed-in user is an inspector: the inspector console's navigation
	Refresh int  // seconds after which the page reloads itself (a running export); 0 never
	Data    any
}

var funcs = template.FuncMap{
	"unit": func(u trace.Unit) string {
		if z := u.ZH(); z != "" {
			return z
		}
		return string(u)
	},
	"qty":      fmtQty,
	"datetime": func(t time.Time) string { return t.In(cst).Format("2006-01-02 15:04") },
	"date":     func(t time.Time) string { return t.In(cst).Format("2006-01-02") },
	"isodate":  func(t time.Time) string { return t.In(cst).Format(time.RFC3339) },
	"qr":       qrSVG,
}

func loadPages() *pages {
	p := &pages{byName: map[string]*template.Template{}}
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/parts.html"))
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" || name == "parts" {
			continue
		}
		p.byName[name] = template.Must(template.Must(base.Clone()).ParseFS(templateFS, n))
	}
	return p
}

// render executes a page into a buffer and writes it with status; nothing is
// written when the template fails.
func (s *server) render(w http.ResponseWriter, r *http.Request, status int, name, title string, data any) error {
	t, ok := s.pages.byName[name]
	if !ok {
		return errors.New("web: no template " + name)
	}
	v := view{Title: title, CSS: cssPath, Icon: iconPath, Data: data, Nav: name, Certs: s.certs != nil}
	if rf, ok := data.(interface{ RefreshSeconds() int }); ok {
		v.Refresh = rf.RefreshSeconds()
	}
	if se := sessionFrom(r.Context()); se != nil {
		v.Session, v.Party, v.CSRF = se, se.party, se.csrf
		v.Inspect = isInspector(se.actor) && !isProducer(se.actor)
		v.Flash = s.takeFlash(w, r)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", v); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Language", "zh-CN")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, err := w.Write(buf.Bytes())
	if err != nil {
		slog.DebugContext(r.Context(), "console write", "err", err)
	}
	return nil
}

// Errors of the console itself, in the one vocabulary.
var (
	errPageNotFound = &trace.Error{Kind: trace.KindNotFound, Code: "not_found", ZH: "页面不存在", EN: "page not found"}
	errNotProducer  = &trace.Error{Kind: trace.KindForbidden, Code: "not_producer", ZH: "生产者控制台仅供生产主体（合作社、家庭农场、农业企业）的管理员和记录员使用。您的账号没有生产者角色。", EN: "the producer console is for producer admins and clerks; your account has no producer role"}
	errCSRF         = &trace.Error{Kind: trace.KindForbidden, Code: "csrf", ZH: "表单已失效或来源不明，请返回刷新页面后重新提交", EN: "the form has expired or did not come from this site; reload the page and submit again"}
	errCrossOrigin  = &trace.Error{Kind: trace.KindForbidden, Code: "cross_origin", ZH: "拒绝来自其他网站的提交", EN: "cross-origin request refused"}
	errInternal     = &trace.Error{Kind: trace.KindInternal, Code: "internal", ZH: "服务器内部错误，请稍后重试", EN: "internal server error; try again later"}
)

// statusOf maps the error vocabulary to HTTP statuses, as the API does.
func statusOf(e *trace.Error) int {
	switch e.Kind {
	case trace.KindInvalid:
		if strings.HasPrefix(e.Code, "malformed_") {
			return http.StatusBadRequest
		}
		return http.StatusUnprocessableEntity
	case trace.KindUnauthenticated:
		return http.StatusUnauthorized
	case trace.KindForbidden:
		return http.StatusForbidden
	case trace.KindNotFound:
		if e.Field != "" { // a reference in the form, not the page addressed
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

type errorData struct {
	Status int
	Err    *trace.Error
}

// renderError is the one place an error becomes a page: its status from the error's
// kind, its message in Chinese with the English detail. Internal errors are logged
// and shown as a generic message.
func (s *server) renderError(w http.ResponseWriter, r *http.Request, err error) {
	var e *trace.Error
	if !errors.As(err, &e) {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			e = &trace.Error{Kind: trace.KindTooLarge, Code: "too_large", ZH: "提交的内容过大", EN: "request too large"}
		} else {
			slog.ErrorContext(r.Context(), "console request failed", "method", r.Method, "path", r.URL.Path, "err", err)
			e = errInternal
		}
	}
	status := statusOf(e)
	if e.Kind == trace.KindUnauthenticated {
		s.clearSession(w)
	}
	if rerr := s.render(w, r, status, "error", e.ZH, errorData{Status: status, Err: e}); rerr != nil {
		slog.ErrorContext(r.Context(), "console error page failed", "err", rerr)
		http.Error(w, e.ZH+" / "+e.EN, status)
	}
}

// fmtQty formats a quantity without trailing zeros.
func fmtQty(q float64) string { return strconv.FormatFloat(q, 'f', -1, 64) }

// Static files: the stylesheet and the icon, addressed by content hash so that they
// can be cached for good.
var cssPath, iconPath = staticPath("style.css"), staticPath("icon.svg")

func staticPath(name string) string {
	b, err := staticFS.ReadFile("static/" + name)
	if err != nil {
		panic(err)
	}
	h := sha256.Sum256(b)
	return "/console/static/" + name + "?v=" + hex.EncodeToString(h[:6])
}

func staticHandler() http.Handler {
	fsrv := http.StripPrefix("/console/", http.FileServerFS(staticFS))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(w, r)
			return
		}
		if r.URL.Query().Get("v") != "" {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		}
		fsrv.ServeHTTP(w, r)
	})
}
