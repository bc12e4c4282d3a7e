package api

import (
	"bytes"
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/cert/pdf"
	"github.com/ganpin/ganpin/internal/anchor"
	"github.com/ganpin/ganpin/trace"
)

type certRequest struct {
	Lot      int64           `json:"lot"`
	Quantity float64         `json:"quantity"`
	Unit     trace.Unit      `json:"unit,omitempty"`
	Contact  string          `json:"contact,omitempty"`
	Template cert.Template   `json:"template"`
	Bases    []string        `json:"bases"` // quality_control, self_tested, entrusted_test
	Report   string          `json:"report,omitempty"`
	Upstream []cert.Upstream `json:"upstream,omitempty"`
	Units    int             `json:"units,omitempty"`
}

func (req *certRequest) domain() (cert.Request, error) {
	b, err := cert.ParseBasis(req.Bases)
	return cert.Request{Lot: req.Lot, Quantity: req.Quantity, Unit: req.Unit, Contact: req.Contact, Template: req.Template,
		Basis: b, Report: req.Report, Upstream: req.Upstream, Units: req.Units}, err
}

type revocationView struct {
	Reason    string    `json:"reason"`
	Time      time.Time `json:"time"`
	Party     int64     `json:"party"`
	Regulator bool      `json:"regulator"`
	LedgerTx  string    `json:"ledger_tx,omitempty"`
}

type certView struct {
	ID         int64           `json:"id,omitempty"`
	Serial     string          `json:"serial,omitempty"`
	Status     string          `json:"status"`
	StatusZH   string          `json:"status_zh"`
	Party      int64           `json:"party"`
	Lot        int64           `json:"lot"`
	LotCode    string          `json:"lot_code"`
	GTIN       string          `json:"gtin,omitempty"`
	Units      int             `json:"units,omitempty"`
	Product    string          `json:"product"`
	Quantity   float64         `json:"quantity"`
	Unit       trace.Unit      `json:"unit"`
	UnitZH     string          `json:"unit_zh"`
	Origin     string          `json:"origin"`
	Issued     time.Time       `json:"issued"`
	Producer   string          `json:"producer"`
	Contact    string          `json:"contact,omitempty"`
	Template   cert.Template   `json:"template"`
	Commitment string          `json:"commitment"`
	Bases      []string        `json:"bases"`
	Report     string          `json:"report,omitempty"`
	Upstream   []cert.Upstream `json:"upstream,omitempty"`
	URL        string          `json:"url,omitempty"`
	Signature  []byte          `json:"signature,omitempty"`
	PublicKey  []byte          `json:"public_key,omitempty"`
	Revocation *revocationView `json:"revocation,omitempty"`
	LedgerTx   string          `json:"ledger_tx,omitempty"` // registration on the ledger; empty while 待上链
	Log        *anchor.Status  `json:"log,omitempty"`
}

func (s *Server) viewCert(ctx context.Context, c *cert.Issued) certView {
	v := certView{ID: c.ID, Serial: c.Serial, Status: c.Status(), StatusZH: c.StatusZH(), Party: c.PartyID, Lot: c.LotID,
		LotCode: c.LotCode, GTIN: c.GTIN, Units: c.Units, Product: c.Product, Quantity: c.Quantity, Unit: c.Unit, UnitZH: c.Unit.ZH(),
		Origin: c.Origin, Issued: c.Issued, Producer: c.Producer, Contact: c.Contact, Template: c.Template, Commitment: c.Template.Text(),
		Bases: c.Basis.Keys(), Report: c.Report, Upstream: c.Upstream, Signature: c.Signature, LedgerTx: c.LedgerTx}
	if c.Serial != "" {
		v.URL = c.URL(s.base, 0)
		if s.keys != nil {
			v.PublicKey = []byte(s.keys.Public(c.PartyID))
		}
		if s.status != nil {
			if st, err := s.status(ctx, "certificate", c.ID); err == nil {
				v.Log = &st
			}
		}
	}
	if r := c.Revocation; r != nil {
		v.Revocation = &revocationView{r.Reason, r.Time, r.PartyID, r.Regulator, r.LedgerTx}
	}
	return v
}

func (s *Server) issueCertificate(w http.ResponseWriter, r *http.Request) error {
	var req certRequest
	if err := decode(w, r, maxBody, &req); err != nil {
		return err
	}
	cr, err := req.domain()
	if err != nil {
		return err
	}
	return create(s, w, r, func(c *cert.Issued) any { return s.viewCert(context.Background(), c) }, func(ctx context.Context, a trace.Actor) (*cert.Issued, error) {
		return s.certs.Issue(ctx, a, cr)
	})
}

func (s *Server) previewCertificate(w http.ResponseWriter, r *http.Request) error {
	var req certRequest
	if err := decode(w, r, maxBody, &req); err != nil {
		return err
	}
	cr, err := req.domain()
	if err != nil {
		return err
	}
	c, err := s.certs.Preview(r.Context(), actorFrom(r.Context()), cr)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s.viewCert(r.Context(), c))
}

func (s *Server) listCertificates(w http.ResponseWriter, r *http.Request) error {
	var f cert.Filter
	if l := r.URL.Query().Get("lot"); l != "" {
		id, err := strconv.ParseInt(l, 10, 64)
		if err != nil || id <= 0 {
			return trace.Invalid("lot", "invalid_lot", "批次编号无效", "invalid lot id")
		}
		f.LotID = id
	}
	return list(w, r, func(c *cert.Issued) certView { return s.viewCert(r.Context(), c) }, func(c *cert.Issued) int64 { return c.ID },
		func(ctx context.Context, a trace.Actor, p trace.Page) ([]cert.Issued, error) {
			return s.certs.Certificates(ctx, a, f, p)
		})
}

func (s *Server) getCertificate(w http.ResponseWriter, r *http.Request) error {
	return get(w, r, func(c *cert.Issued) certView { return s.viewCert(r.Context(), c) }, s.certs.Certificate)
}

func (s *Server) revokeCertificate(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	var req struct {
		Reason string `json:"reason"`
	}
	if err := decode(w, r, maxBody, &req); err != nil {
		return err
	}
	return create(s, w, r, func(c *cert.Issued) any { return s.viewCert(context.Background(), c) }, func(ctx context.Context, a trace.Actor) (*cert.Issued, error) {
		return s.certs.Revoke(ctx, a, id, req.Reason)
	})
}

// certificateReceipt answers the receipt that proves a certificate is in the anchored
// log, with its issuer's signature and, when revoked, the revocation's receipt.
func (s *Server) certificateReceipt(w http.ResponseWriter, r *http.Request) error {
	id, err := pathID(r)
	if err != nil {
		return err
	}
	c, err := s.certs.Certificate(r.Context(), actorFrom(r.Context()), id)
	if err != nil {
		return err
	}
	rc, err := s.buildReceipt(r.Context(), "certificate", c.ID, c.Canonical)
	if err != nil {
		return err
	}
	rc.Signature, rc.IssuerKey = c.Signature, s.keys.Public(c.PartyID)
	if c.Revocation != nil {
		record := c.Revocation.Canonical()
		rev, err := s.buildReceipt(r.Context(), "revocation", c.ID, record)
		if trace.KindOf(err) == trace.KindConflict { // recorded, not yet anchored: the record alone
			rev, err = &anchor.Receipt{Format: "ganpin-receipt/1", Kind: "revocation", ID: c.ID, Record: record}, nil
		}
		if err != nil {
			return err
		}
		rc.Revocation = rev
	}
	return writeJSON(w, http.StatusOK, rc)
}

func (s *Server) writeReceipt(w http.ResponseWriter, r *http.Request, kind string, id int64, record []byte) error {
	rc, err := s.buildReceipt(r.Context(), kind, id, record)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, rc)
}

// buildReceipt returns a record's receipt; a conflict while it waits to be anchored.
func (s *Server) buildReceipt(ctx context.Context, kind string, id int64, record []byte) (*anchor.Receipt, error) {
	if s.receipt == nil {
		return nil, &trace.Error{Kind: trace.KindNotFound, Code: "not_found", ZH: "本服务未配置上链回执", EN: "receipts are not served here"}
	}
	rc, err := s.receipt(ctx, kind, id, record)
	if errors.Is(err, anchor.ErrPending) {
		return nil, trace.Conflict("", "pending_anchor", "已记录，待上链：该记录尚未被已上链的检查点覆盖，请稍后再试", "recorded, waiting to be anchored on the ledger; try again shortly")
	}
	return rc, err
}

// issuerKeys publishes the issuing parties' public keys, which verify certificate signatures.
func (s *Server) issuerKeys(w http.ResponseWriter, r *http.Request) error {
	type key struct {
		Party     int64             `json:"party"`
		Name      string            `json:"name"`
		USCC      string            `json:"uscc"`
		Algorithm string            `json:"alg"`
		PublicKey ed25519.PublicKey `json:"public_key"` // base64
	}
	var keys []key
	var after int64
	for {
		ps, err := s.svc.Parties(r.Context(), trace.Actor{}, trace.Page{After: after, Limit: 1000})
		if err != nil {
			return err
		}
		for _, p := range ps {
			if p.Kind == trace.Cooperative || p.Kind == trace.FamilyFarm || p.Kind == trace.Enterprise {
				keys = append(keys, key{p.ID, p.Name, p.USCC, "Ed25519", s.keys.Public(p.ID)})
			}
		}
		if len(ps) < 1000 {
			break
		}
		after = ps[len(ps)-1].ID
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	return writeJSON(w, http.StatusOK, map[string]any{"keys": keys})
}

// printSelection reads what to print from the query: layout, and copies or units=FROM-TO.
func printSelection(r *http.Request) (pdf.Layout, pdf.Selection, error) {
	q := r.URL.Query()
	layout, err := pdf.ParseLayout(cmp.Or(q.Get("layout"), "a6"))
	if err != nil {
		return "", pdf.Selection{}, err
	}
	var sel pdf.Selection
	if c := q.Get("copies"); c != "" {
		if sel.Copies, err = strconv.Atoi(c); err != nil || sel.Copies < 1 {
			return "", sel, trace.Invalid("copies", "invalid_copies", "份数应为1至%d", "copies are 1 to %d", pdf.MaxCopies)
		}
	}
	if u := q.Get("units"); u != "" {
		a, b, ok := strings.Cut(u, "-")
		from, err1 := strconv.Atoi(a)
		to, err2 := strconv.Atoi(b)
		if !ok || err1 != nil || err2 != nil || sel.Copies != 0 {
			return "", sel, trace.Invalid("units", "invalid_units", "单品码范围格式应为起-止，如1-240，且不与份数同用", "units are FROM-TO, e.g. 1-240, without copies")
		}
		sel.From, sel.To = from, to
	}
	return layout, sel, nil
}

// certificatePDF prints one certificate: copies of it, or its unit-level labels.
func (s *Server) certificatePDF(w http.ResponseWriter, r *http.Request) error {
	layout, sel, err := printSelection(r)
	if err != nil {
		return err
	}
	id, err := pathID(r)
	if err != nil {
		return err
	}
	c, err := s.certs.Certificate(r.Context(), actorFrom(r.Context()), id)
	if err != nil {
		return err
	}
	labels, err := pdf.Labels(c, s.base, sel)
	if err != nil {
		return err
	}
	return writePDF(w, layout, labels, c.Serial+"-"+string(layout))
}

// printCertificates prints several certificates on one document, e.g. a sheet of labels.
func (s *Server) printCertificates(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		Certificates []int64 `json:"certificates"`
		Layout       string  `json:"layout"`
		Copies       int     `json:"copies,omitempty"`
	}
	if err := decode(w, r, maxBody, &req); err != nil {
		return err
	}
	layout, err := pdf.ParseLayout(cmp.Or(req.Layout, "sheet-2x5"))
	if err != nil {
		return err
	}
	if len(req.Certificates) == 0 || len(req.Certificates) > 1000 {
		return trace.Invalid("certificates", "required", "请选择1至1000张合格证", "choose 1 to 1000 certificates")
	}
	var labels []pdf.Label
	for i, id := range req.Certificates {
		c, err := s.certs.Certificate(r.Context(), actorFrom(r.Context()), id)
		if err == nil {
			var ls []pdf.Label
			ls, err = pdf.Labels(c, s.base, pdf.Selection{Copies: req.Copies})
			labels = append(labels, ls...)
		}
		if err != nil {
			return withPrefix(err, fmt.Sprintf("certificates[%d]", i))
		}
		if len(labels) > pdf.MaxLabels {
			return trace.Invalid("copies", "too_many_labels", "一次最多打印%d张标签", "at most %d labels at a time", pdf.MaxLabels)
		}
	}
	return writePDF(w, layout, labels, "certificates-"+string(layout))
}

func writePDF(w http.ResponseWriter, layout pdf.Layout, labels []pdf.Label, name string) error {
	var buf bytes.Buffer
	if err := pdf.Render(&buf, layout, labels); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`.pdf"`)
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	_, err := w.Write(buf.Bytes())
	return err
}

// withPrefix names the request element an error is about.
func withPrefix(err error, field string) error {
	var e *trace.Error
	if !errors.As(err, &e) {
		return err
	}
	c := *e
	c.Field = strings.TrimSuffix(field+"."+e.Field, ".")
	if c.Kind == trace.KindNotFound {
		c.Field = field
	}
	return &c
}
