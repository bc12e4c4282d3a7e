package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/ganpin/ganpin/trace"
)

func writeJSON(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
	return nil
}

// decode reads and strictly decodes a request body.
func decode(w http.ResponseWriter, r *http.Request, limit int64, v any) error {
	b, err := readBody(w, r, limit)
	if err != nil {
		return err
	}
	return decodeJSON(b, v)
}

// create runs a write and answers 201 with view(result). When the request carries an
// Idempotency-Key, the same response is recorded in the write's transaction.
func create[T any](s *Server, w http.ResponseWriter, r *http.Request, view func(T) any, do func(context.Context, trace.Actor) (T, error)) error {
	// A write, once started, finishes even if the client goes away: it may share
	// its transaction with other writes.
	ctx := context.WithoutCancel(r.Context())
	claim, _ := ctx.Value(claimKey{}).(*trace.Idempotency)
	if claim != nil {
		claim.Render = func(v any) (int, []byte, error) {
			b, err := json.Marshal(view(v.(T)))
			return http.StatusCreated, b, err
		}
	}
	v, err := do(ctx, actorFrom(ctx))
	if claim != nil && err != nil {
		// A concurrent request with the same key may have won; answer with its response.
		if done, rerr := s.replay(w, r, claim); done || rerr != nil {
			return rerr
		}
	}
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, view(v))
}

func pathID(r *http.Request) (int64, error) {
	id, err := strconv.ParseInt(chi.URLParam(r, "id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, &trace.Error{Kind: trace.KindNotFound, Code: "not_found", ZH: "编号无效", EN: "invalid id"}
	}
	return id, nil
}

// pageOf reads the cursor and limit query parameters.
func pageOf(r *http.Request) (trace.Page, error) {
	var p trace.Page
	if c := r.URL.Query().Get("cursor"); c != "" {
		b, err := base64.RawURLEncoding.DecodeString(c)
		if err == nil {
			p.After, err = strconv.ParseInt(string(b), 10, 64)
		}
		if err != nil || p.After <= 0 {
			return p, trace.Invalid("cursor", "malformed_cursor", "分页游标无效", "invalid page cursor")
		}
	}
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			return p, trace.Invalid("limit", "invalid_limit", "limit应为1至1000", "limit is 1 to 1000")
		}
		p.Limit = n
	}
	if p.Limit == 0 {
		p.Limit = 100
	}
	return p, nil
}

// list answers a page of items; the next cursor is the last item's ID when the page is full.
func list[T, V any](w http.ResponseWriter, r *http.Request, view func(*T) V, id func(*T) int64, fetch func(context.Context, trace.Actor, trace.Page) ([]T, error)) error {
	p, err := pageOf(r)
	if err != nil {
		return err
	}
	items, err := fetch(r.Context(), actorFrom(r.Context()), p)
	if err != nil {
		return err
	}
	out := page[V]{Items: mapSlice(items, view)}
	if len(items) == p.Limit {
		out.NextCursor = base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(id(&items[len(items)-1]), 10)))
	}
	return writeJSON(w, http.StatusOK, out)
}

// get answers one record by the {id} path parameter.
func get[T, V any](w http.ResponseWriter, r *http.Request, view func(*T) V, fetch func(context.Context, trace.Actor, int64) (*T, error)) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	v, err := fetch(r.Context(), actorFrom(r.Context()), id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, view(v))
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) error {
	var req tokenRequest
	if err := decode(w, r, maxBody, &req); err != nil {
		return err
	}
	token, u, err := s.svc.Login(context.WithoutCancel(r.Context()), req.Username, req.Password, req.Name)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, tokenView{Token: token, User: viewUser(u)})
}

// logout revokes the token the request carries.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) error {
	token, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if err := s.svc.Logout(context.WithoutCancel(r.Context()), strings.TrimSpace(token)); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) error {
	a := actorFrom(r.Context())
	p, err := s.svc.Party(r.Context(), a, a.PartyID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"user": a.UserID, "roles": a.Roles, "party": viewParty(p)})
}

func (s *Server) createParty(w http.ResponseWriter, r *http.Request) error {
	var req partyRequest
	if err := decode(w, r, maxBody, &req); err != nil {
		return err
	}
	return create(s, w, r, func(p *trace.Party) any { return viewParty(p) }, func(ctx context.Context, a trace.Actor) (*trace.Party, error) {
		p := &trace.Party{Kind: req.Kind, Name: req.Name, USCC: req.USCC, County: req.County, Contact: req.Contact}
		return p, s.svc.CreateParty(ctx, a, p)
	})
}

func (s *Server) listParties(w http.ResponseWriter, r *http.Request) error {
	return list(w, r, viewParty, func(p *trace.Party) int64 { return p.ID }, s.svc.Parties)
}

func (s *Server) getParty(w http.ResponseWriter, r *http.Request) error {
	return get(w, r, viewParty, s.svc.Party)
}

func (s *Server) createUser(w http.ResponseWriter, r *http.Request) error {
	var req userRequest
	if err := decode(w, r, maxBody, &req); err != nil {
		return err
	}
	roles, err := trace.ParseRoles(req.Roles)
	if err != nil {
		return err
	}
	return create(s, w, r, func(u *trace.User) any { return viewUser(u) }, func(ctx context.Context, a trace.Actor) (*trace.User, error) {
		u := &trace.User{PartyID: req.Party, Username: req.Username, Name: req.Name, Roles: roles}
		return u, s.svc.CreateUser(ctx, a, u, req.Password)
	})
}

func (s *Server) createSite(w http.ResponseWriter, r *http.Request) error {
	var req siteRequest
	if err := decode(w, r, maxBody, &req); err != nil {
		return err
	}
	return create(s, w, r, func(v *trace.Site) any { return viewSite(v) }, func(ctx context.Context, a trace.Actor) (*trace.Site, error) {
		site := &trace.Site{PartyID: req.Party, Kind: req.Kind, Name: req.Name, County: req.County, Town: req.Town, AreaMu: req.AreaMu, Lat: req.Lat, Lon: req.Lon, GLN: req.GLN}
		return site, s.svc.CreateSite(ctx, a, site)
	})
}

func (s *Server) listSites(w http.ResponseWriter, r *http.Request) error {
	return list(w, r, viewSite, func(v *trace.Site) int64 { return v.ID }, s.svc.Sites)
}

func (s *Server) getSite(w http.ResponseWriter, r *http.Request) error {
	return get(w, r, viewSite, s.svc.Site)
}

func (s *Server) createProduct(w http.ResponseWriter, r *http.Request) error {
	var req productRequest
	if err := decode(w, r, maxBody, &req); err != nil {
		return err
	}
	return create(s, w, r, func(p *trace.Product) any { return viewProduct(p) }, func(ctx context.Context, a trace.Actor) (*trace.Product, error) {
		p := &trace.Product{PartyID: req.Party, Name: req.Name, Variety: req.Variety, GTIN: req.GTIN, Unit: req.Unit, NetKg: req.NetKg, ColdProfile: req.ColdProfile}
		return p, s.svc.CreateProduct(ctx, a, p)
	})
}

func (s *Server) listProducts(w http.ResponseWriter, r *http.Request) error {
	return list(w, r, viewProduct, func(p *trace.Product) int64 { return p.ID }, s.svc.Products)
}

func (s *Server) getProduct(w http.ResponseWriter, r *http.Request) error {
	return get(w, r, viewProduct, s.svc.Product)
}

func (s *Server) listLots(w http.ResponseWriter, r *http.Request) error {
	return list(w, r, viewLot, func(l *trace.Lot) int64 { return l.ID }, s.svc.Lots)
}

func (s *Server) getLot(w http.ResponseWriter, r *http.Request) error {
	return get(w, r, viewLot, s.svc.Lot)
}

func (s *Server) lotEvents(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	return list(w, r, viewEvent, func(e *trace.Event) int64 { return e.ID }, func(ctx context.Context, a trace.Actor, p trace.Page) ([]trace.Event, error) {
		return s.svc.LotEvents(ctx, a, id, p)
	})
}

func (s *Server) traceLot(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	d, ok := map[string]trace.Direction{"": trace.Both, "both": trace.Both, "backward": trace.Backward, "forward": trace.Forward}[r.URL.Query().Get("direction")]
	if !ok {
		return trace.Invalid("direction", "invalid_direction", "direction应为backward、forward或both", "direction is backward, forward or both")
	}
	g, err := s.svc.Trace(r.Context(), actorFrom(r.Context()), id, d)
	if err != nil {
		return err
	}
	orders, err := s.svc.TraceOrders(r.Context(), g)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, viewGraph(g, orders))
}

func (s *Server) captureOne(w http.ResponseWriter, r *http.Request) error {
	var spec trace.EventSpec
	if err := decode(w, r, maxBody, &spec); err != nil {
		return err
	}
	return create(s, w, r, func(evs []*trace.Event) any { return viewEvent(evs[0]) }, func(ctx context.Context, a trace.Actor) ([]*trace.Event, error) {
		return s.svc.Capture(ctx, a, []trace.EventSpec{spec})
	})
}

func (s *Server) captureBatch(w http.ResponseWriter, r *http.Request) error {
	var req batchRequest
	if err := decode(w, r, maxBatchBody, &req); err != nil {
		return err
	}
	return create(s, w, r, func(evs []*trace.Event) any {
		return page[eventRef]{Items: mapSlice(evs, func(e **trace.Event) eventRef { return refEvent(*e) })}
	}, func(ctx context.Context, a trace.Actor) ([]*trace.Event, error) {
		return s.svc.Capture(ctx, a, req.Events)
	})
}

// getEvent answers an event with where it stands in the log (已上链 / 待上链).
func (s *Server) getEvent(w http.ResponseWriter, r *http.Request) error {
	return get(w, r, func(e *trace.Event) eventView {
		v := viewEvent(e)
		if s.status != nil {
			if st, err := s.status(r.Context(), "event", e.ID); err == nil {
				v.Log = &st
			}
		}
		return v
	}, s.svc.Event)
}

// eventReceipt answers the receipt that proves an event is in the anchored log.
func (s *Server) eventReceipt(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	e, err := s.svc.Event(r.Context(), actorFrom(r.Context()), id)
	if err != nil {
		return err
	}
	return s.writeReceipt(w, r, "event", e.ID, e.Canonical)
}
