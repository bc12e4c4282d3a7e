package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ganpin/ganpin/trace"
)

// A session is the API token that svc.Login returned, kept in an HttpOnly cookie and
// authenticated with svc.Authenticate on every request. Forms carry a CSRF token
// derived from it with HMAC, so that it needs no server-side state; cross-origin
// POSTs are refused before that by http.CrossOriginProtection.

const (
	sessionTTL = 12 * time.Hour
	csrfField  = "csrf"
	flashName  = "ganpin_flash"
)

type ctxKey int

const sessionKey ctxKey = iota

// sess is the signed-in user of a request.
type sess struct {
	token string
	actor trace.Actor
	party *trace.Party
	csrf  string
}

func sessionFrom(ctx context.Context) *sess {
	s, _ := ctx.Value(sessionKey).(*sess)
	return s
}

// cookieName is __Host- prefixed when cookies are Secure, binding it to this host.
func (s *server) cookieName() string {
	if s.secure {
		return "__Host-ganpin_session"
	}
	return "ganpin_session"
}

func (s *server) setSession(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Value: token, Path: "/", MaxAge: int(sessionTTL / time.Second),
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

func (s *server) clearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: s.cookieName(), Value: "", Path: "/", MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

// csrfToken derives a session's CSRF token; only the holder of the session token can.
func csrfToken(token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("ganpin console csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// session wraps a page for signed-in producers (see sessionFor).
func (s *server) session(h handlerFunc) http.Handler {
	return s.sessionFor(isProducer, errNotProducer, h)
}

// sessionFor wraps a page for signed-in users whom allow admits. In order:
//  1. the session cookie is authenticated (no or a stale cookie: to the login page);
//  2. the user must be allowed (else a 403 page; an inspector at the producers'
//     home page goes to the inspector console);
//  3. a POST must carry the session's CSRF token (else a 403 page).
func (s *server) sessionFor(allow func(trace.Actor) bool, denied *trace.Error, h handlerFunc) http.Handler {
	return s.handle(func(w http.ResponseWriter, r *http.Request) error {
		c, err := r.Cookie(s.cookieName())
		if err != nil || c.Value == "" {
			return s.toLogin(w, r)
		}
		a, err := s.svc.Authenticate(r.Context(), c.Value)
		if trace.KindOf(err) == trace.KindUnauthenticated {
			s.clearSession(w)
			return s.toLogin(w, r)
		} else if err != nil {
			return err
		}
		se := &sess{token: c.Value, actor: a, csrf: csrfToken(c.Value)}
		if !allow(a) {
			if isInspector(a) && r.URL.Path == "/console/" {
				http.Redirect(w, r, "/console/inspect/", http.StatusSeeOther)
				return nil
			}
			return denied
		}
		if se.party, err = s.svc.Party(r.Context(), a, a.PartyID); err != nil {
			return err
		}
		if r.Method == http.MethodPost {
			limit := int64(1 << 20)
			if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
				limit = 40 << 20 // photos
			}
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			if !hmac.Equal([]byte(r.PostFormValue(csrfField)), []byte(se.csrf)) {
				return errCSRF
			}
		}
		return h(w, r.WithContext(context.WithValue(r.Context(), sessionKey, se)))
	})
}

func isProducer(a trace.Actor) bool {
	return a.Has(trace.RoleProducerAdmin, trace.RoleProducerClerk)
}

func isInspector(a trace.Actor) bool { return a.Has(trace.RoleInspector) }

// home is where a user lands after login: inspectors in their console.
func home(a trace.Actor, next string) string {
	if isInspector(a) && !isProducer(a) && (next == "/console/" || !strings.HasPrefix(next, "/console/inspect/")) {
		return "/console/inspect/"
	}
	return next
}

// toLogin sends a visitor without a session to the login page, remembering where to return.
func (s *server) toLogin(w http.ResponseWriter, r *http.Request) error {
	target := "/console/login"
	if r.Method == http.MethodGet && r.URL.Path != "/console/" {
		target += "?next=" + url.QueryEscape(r.URL.RequestURI())
	}
	http.Redirect(w, r, target, http.StatusSeeOther)
	return nil
}

// localNext returns next when it is a console path of this site, else the home page.
func localNext(next string) string {
	if !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "/console/login") || strings.ContainsAny(next, "\\\r\n") {
		return "/console/"
	}
	return next
}

type loginData struct {
	Username string
	Next     string
	Err      *trace.Error
}

func (s *server) loginPage(w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(s.cookieName()); err == nil && c.Value != "" {
		if a, err := s.svc.Authenticate(r.Context(), c.Value); err == nil && (isProducer(a) || isInspector(a)) {
			http.Redirect(w, r, home(a, localNext(r.URL.Query().Get("next"))), http.StatusSeeOther)
			return nil
		}
	}
	return s.render(w, r, http.StatusOK, "login", "登录", loginData{Next: localNext(r.URL.Query().Get("next"))})
}

var errBadLogin = &trace.Error{Kind: trace.KindUnauthenticated, Code: "bad_login", Field: "password",
	ZH: "用户名或密码错误，请重新输入", EN: "wrong username or password"}

func (s *server) login(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	user := strings.TrimSpace(r.PostFormValue("username"))
	pass := r.PostFormValue("password")
	d := loginData{Username: user, Next: localNext(r.PostFormValue("next"))}
	if user == "" || pass == "" {
		d.Err = trace.Invalid("username", "required", "请输入用户名和密码", "enter your username and password")
		return s.render(w, r, http.StatusUnprocessableEntity, "login", "登录", d)
	}
	token, _, err := s.svc.Login(r.Context(), user, pass, "console")
	if trace.KindOf(err) == trace.KindUnauthenticated {
		d.Err = errBadLogin // the same whether or not the user exists
		return s.render(w, r, http.StatusUnauthorized, "login", "登录", d)
	} else if err != nil {
		return err
	}
	a, err := s.svc.Authenticate(r.Context(), token)
	if err != nil {
		return err
	}
	if !isProducer(a) && !isInspector(a) {
		return errNotProducer
	}
	s.setSession(w, token)
	http.Redirect(w, r, home(a, d.Next), http.StatusSeeOther)
	return nil
}

// logout revokes the session's token and forgets the cookie.
func (s *server) logout(w http.ResponseWriter, r *http.Request) error {
	if c, err := r.Cookie(s.cookieName()); err == nil {
		if err := s.svc.Logout(r.Context(), c.Value); err != nil {
			return err
		}
	}
	s.clearSession(w)
	http.Redirect(w, r, "/console/login", http.StatusSeeOther)
	return nil
}

// setFlash leaves a message for the next page the browser shows.
func (s *server) setFlash(w http.ResponseWriter, msg string) {
	http.SetCookie(w, &http.Cookie{Name: flashName, Value: url.QueryEscape(msg), Path: "/console/", MaxAge: 60,
		HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
}

// takeFlash returns and clears the flash message, if any.
func (s *server) takeFlash(w http.ResponseWriter, r *http.Request) string {
	c, err := r.Cookie(flashName)
	if err != nil {
		return ""
	}
	http.SetCookie(w, &http.Cookie{Name: flashName, Value: "", Path: "/console/", MaxAge: -1, HttpOnly: true, Secure: s.secure, SameSite: http.SameSiteLaxMode})
	msg, err := url.QueryUnescape(c.Value)
	if err != nil || len(msg) > 500 {
		return ""
	}
	return msg
}
