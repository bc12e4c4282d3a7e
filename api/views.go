package api

import (
	"encoding/hex"
	"time"

	"github.com/ganpin/ganpin/internal/anchor"
	"github.com/ganpin/ganpin/trace"
)

// Response and request types: the API's wire format, kept apart from domain types.

type partyView struct {
	ID         int64     `json:"id"`
	Kind       string    `json:"kind"`
	Name       string    `json:"name"`
	USCC       string    `json:"uscc"`
	County     string    `json:"county"`
	CountyName string    `json:"county_name,omitempty"`
	Contact    string    `json:"contact"`
	Created    time.Time `json:"created"`
}

func viewParty(p *trace.Party) partyView {
	return partyView{p.ID, string(p.Kind), p.Name, p.USCC, p.County, trace.CountyName(p.County), p.Contact, p.Created}
}

type partyRequest struct {
	Kind    trace.PartyKind `json:"kind"`
	Name    string          `json:"name"`
	USCC    string          `json:"uscc"`
	County  string          `json:"county"`
	Contact string          `json:"contact"`
}

type userRequest struct {
	Party    int64  `json:"party"`
	Username string `json:"username"`
	Name     string `json:"name"`
	Roles    string `json:"roles"` // comma-separated
	Password string `json:"password"`
}

type userView struct {
	ID       int64    `json:"id"`
	Party    int64    `json:"party"`
	Username string   `json:"username"`
	Name     string   `json:"name"`
	Roles    []string `json:"roles"`
}

func viewUser(u *trace.User) userView {
	rs := make([]string, len(u.Roles))
	for i, r := range u.Roles {
		rs[i] = string(r)
	}
	return userView{u.ID, u.PartyID, u.Username, u.Name, rs}
}

type siteView struct {
	ID         int64     `json:"id"`
	Party      int64     `json:"party"`
	Kind       string    `json:"kind"`
	Name       string    `json:"name"`
	County     string    `json:"county"`
	CountyName string    `json:"county_name,omitempty"`
	Town       string    `json:"town,omitempty"`
	AreaMu     float64   `json:"area_mu,omitempty"`
	Lat        float64   `json:"lat,omitempty"`
	Lon        float64   `json:"lon,omitempty"`
	GLN        string    `json:"gln,omitempty"`
	Created    time.Time `json:"created"`
}

func viewSite(s *trace.Site) siteView {
	return siteView{s.ID, s.PartyID, string(s.Kind), s.Name, s.County, trace.CountyName(s.County), s.Town, s.AreaMu, s.Lat, s.Lon, s.GLN, s.Created}
}

type siteRequest struct {
	Party  int64          `json:"party,omitempty"`
	Kind   trace.SiteKind `json:"kind"`
	Name   string         `json:"name"`
	County string         `json:"county"`
	Town   string         `json:"town,omitempty"`
	AreaMu float64        `json:"area_mu,omitempty"`
	Lat    float64        `json:"lat,omitempty"`
	Lon    float64        `json:"lon,omitempty"`
	GLN    string         `json:"gln,omitempty"`
}

type productView struct {
	ID          int64     `json:"id"`
	Party       int64     `json:"party"`
	Name        string    `json:"name"`
	Variety     string    `json:"variety,omitempty"`
	GTIN        string    `json:"gtin,omitempty"`
	Unit        string    `json:"unit"`
	NetKg       float64   `json:"net_kg,omitempty"`
	ColdProfile string    `json:"cold_profile,omitempty"`
	Created     time.Time `json:"created"`
}

func viewProduct(p *trace.Product) productView {
	return productView{p.ID, p.PartyID, p.Name, p.Variety, p.GTIN, string(p.Unit), p.NetKg, p.ColdProfile, p.Created}
}

type productRequest struct {
	Party       int64      `json:"party,omitempty"`
	Name        string     `json:"name"`
	Variety     string     `json:"variety,omitempty"`
	GTIN        string     `json:"gtin,omitempty"`
	Unit        trace.Unit `json:"unit"`
	NetKg       float64    `json:"net_kg,omitempty"`
	ColdProfile string     `json:"cold_profile,omitempty"`
}

type lotView struct {
	ID          int64     `json:"id"`
	Code        string    `json:"code"`
	Owner       int64     `json:"owner"`
	Holder      int64     `json:"holder"`
	Product     int64     `json:"product"`
	Quantity    float64   `json:"quantity"`
	Remaining   float64   `json:"remaining"`
	Unit        string    `json:"unit"`
	Grade       string    `json:"grade,omitempty"`
	Site        int64     `json:"site"`
	Event       int64     `json:"event"`
	InTransitTo int64     `json:"in_transit_to,omitempty"`
	Created     time.Time `json:"created"`
}

func viewLot(l *trace.Lot) lotView {
	return lotView{l.ID, l.Code, l.OwnerID, l.HolderID, l.ProductID, l.Quantity, l.Remaining, string(l.Unit), l.Grade, l.SiteID, l.EventID, l.InTransit, l.Created}
}

// eventView is the event as submitted plus what the system recorded about it.
type eventView struct {
	ID          int64            `json:"id"`
	Party       int64            `json:"party"`
	Recorded    time.Time        `json:"recorded"`
	BizStep     string           `json:"biz_step"`
	Disposition string           `json:"disposition,omitempty"`
	Lots        []trace.EventLot `json:"lots"`
	SHA256      string           `json:"sha256"`
	Log         *anchor.Status   `json:"log,omitempty"` // single reads only
	trace.EventSpec
}

func viewEvent(e *trace.Event) eventView {
	lots := e.Lots
	if lots == nil {
		lots = []trace.EventLot{}
	}
	return eventView{ID: e.ID, Party: e.PartyID, Recorded: e.Recorded, BizStep: e.Spec.Type.BizStep(), Disposition: e.Disposition,
		Lots: lots, SHA256: hex.EncodeToString(e.Hash[:]), EventSpec: e.Spec}
}

// eventRef is what a batch capture returns per event: enough to address the event
// and the lots it created, without echoing the whole batch back.
type eventRef struct {
	ID     int64            `json:"id"`
	Lots   []trace.EventLot `json:"lots"`
	SHA256 string           `json:"sha256"`
}

func refEvent(e *trace.Event) eventRef {
	return eventRef{e.ID, e.Lots, hex.EncodeToString(e.Hash[:])}
}

type graphView struct {
	Root   int64            `json:"root"`
	Lots   []lotView        `json:"lots"`
	Sites  []siteView       `json:"sites"`
	Edges  []trace.Edge     `json:"edges"`
	Events []eventView      `json:"events"`
	Orders []trace.LotOrder `json:"orders"` // masked: date and destination city only
}

func viewGraph(g *trace.Graph, orders []trace.LotOrder) graphView {
	v := graphView{Root: g.Root, Lots: mapSlice(g.Lots, viewLot), Sites: mapSlice(g.Sites, viewSite), Edges: g.Edges, Events: mapSlice(g.Events, viewEvent), Orders: orders}
	if v.Edges == nil {
		v.Edges = []trace.Edge{}
	}
	if v.Orders == nil {
		v.Orders = []trace.LotOrder{}
	}
	return v
}

// page is a list with the cursor of the next page ("" on the last).
type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

func mapSlice[T, V any](in []T, f func(*T) V) []V {
	out := make([]V, len(in))
	for i := range in {
		out[i] = f(&in[i])
	}
	return out
}

type tokenRequest struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Name     string `json:"name,omitempty"`
}

type tokenView struct {
	Token string   `json:"token"`
	User  userView `json:"user"`
}

type batchRequest struct {
	Events []trace.EventSpec `json:"events"`
}
