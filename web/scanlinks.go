package web

import (
	"encoding/json"
	"errors"
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ganpin/ganpin/internal/anchor"
	"github.com/ganpin/ganpin/trace"
)

// The link set of a scanned code (RFC 9264, GS1 Digital Link's linkset): what a
// machine asks for with Accept: application/linkset+json or ?linkType=linkset.

// GS1 link types (https://ref.gs1.org/voc/).
const gs1voc = "https://gs1.org/voc/"

// link is a target of the link set.
type link struct {
	Href     string   `json:"href"`
	Title    string   `json:"title,omitempty"`
	Type     string   `json:"type,omitempty"`
	Hreflang []string `json:"hreflang,omitempty"`
}

// wantsLinkset reports whether the request asks for the link set.
func wantsLinkset(r *http.Request) bool {
	if lt := r.URL.Query().Get("linkType"); lt == "linkset" || lt == "all" {
		return true
	}
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		mt, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(mt), "application/linkset+json") {
			continue
		}
		for _, p := range strings.Split(params, ";") {
			if k, v, _ := strings.Cut(strings.TrimSpace(p), "="); k == "q" {
				if q, err := strconv.ParseFloat(v, 64); err == nil && q == 0 {
					return false
				}
			}
		}
		return true
	}
	return false
}

// writeLinkset answers the link set of a certificate's code (unit: a unit serial or "").
func (s *server) writeLinkset(w http.ResponseWriter, r *http.Request, st *certState, unit string) error {
	c := st.cert
	n := 0
	if unit != "" {
		n, _ = unitOf(c, unit)
	}
	page := c.URL(s.base, n)
	langs := []string{"zh-CN", "en"}
	status := words["zh"][st.status] + " " + words["en"][st.status]
	recall := "未召回 not recalled"
	if len(st.recall) > 0 {
		recall = "已召回 recalled"
	}
	journey := s.base + "/api/v1/public/journey/" + c.Serial
	if unit != "" {
		journey += "/" + unit
	}
	set := map[string]any{
		"anchor":                     page,
		gs1voc + "defaultLink":       []link{{Href: page, Title: "承诺达标合格证与追溯 certificate and traceability", Type: "text/html", Hreflang: langs}},
		gs1voc + "certificationInfo": []link{{Href: page + "#certificate", Title: "承诺达标合格证 " + c.Serial + " " + status, Type: "text/html", Hreflang: langs}},
		gs1voc + "traceability": []link{{Href: page + "#journey", Title: "从果园到订单 from orchard to order", Type: "text/html", Hreflang: langs},
			{Href: journey, Title: "冷链与订单 cold chain and orders", Type: "application/json"}},
		gs1voc + "recallStatus": []link{{Href: page + "#recall", Title: recall, Type: "text/html", Hreflang: langs}},
	}
	if c.GTIN != "" {
		set[gs1voc+"pip"] = []link{{Href: s.base + "/01/" + c.GTIN, Title: "产品信息 product information", Type: "text/html", Hreflang: langs}}
	}
	b, err := json.Marshal(map[string]any{"linkset": []any{set}})
	if err != nil {
		return err
	}
	h := fnv.New64a()
	h.Write(b)
	etag := `"` + strconv.FormatUint(h.Sum64(), 36) + `"`
	hd := w.Header()
	hd.Set("Content-Type", "application/linkset+json")
	hd.Set("Cache-Control", "public, max-age=60")
	hd.Set("ETag", etag)
	if matches(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	hd.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(b)
	}
	return nil
}

// scanReceipt answers a certificate's receipt, as the API gives it to the issuer:
// proof of its place in the log and on the ledger, with the issuer's signature and
// key and, once revoked, the revocation's record (with its own receipt once anchored).
func (s *server) scanReceipt(w http.ResponseWriter, r *http.Request) {
	lang := langOf(r)
	w.Header().Set("Access-Control-Allow-Origin", "*")
	if err := s.writeReceipt(w, r); err != nil {
		s.scanError(w, r, lang, err, 0)
	}
}

var errNoReceipt = &trace.Error{Kind: trace.KindNotFound, Code: "pending_anchor", ZH: "该合格证已记录，尚未上链，请稍后再试", EN: "recorded, not anchored on the ledger yet; try again shortly"}

func (s *server) writeReceipt(w http.ResponseWriter, r *http.Request) error {
	if s.scanStore == nil || s.receipt == nil {
		return errScanOff
	}
	serial := r.PathValue("serial")
	if !ai82(serial, 20) {
		return malformed("serial", "合格证编号无效", "invalid certificate serial")
	}
	if ok, wait := s.limiter.allow(clientPrefix(s.clientIP(r)), s.now()); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		return errTooMany
	}
	ctx := r.Context()
	c, err := s.scanStore.CertificateBySerial(ctx, serial)
	if trace.KindOf(err) == trace.KindNotFound {
		return errUnknownCode
	} else if err != nil {
		return err
	}
	rc, err := s.receipt(ctx, "certificate", c.ID, c.Canonical)
	if errors.Is(err, anchor.ErrPending) {
		return errNoReceipt
	} else if err != nil {
		return err
	}
	rc.Signature = c.Signature
	if s.keys != nil {
		rc.IssuerKey = s.keys.Public(c.PartyID)
	}
	if c.Revocation != nil {
		record := c.Revocation.Canonical()
		rev, err := s.receipt(ctx, "revocation", c.ID, record)
		if errors.Is(err, anchor.ErrPending) {
			rev, err = &anchor.Receipt{Format: "ganpin-receipt/1", Kind: "revocation", ID: c.ID, Record: record}, nil
		}
		if err != nil {
			return err
		}
		rc.Revocation = rev
	}
	b, err := json.Marshal(rc)
	if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Disposition", `attachment; filename="`+c.Serial+`-receipt.json"`)
	h.Set("Cache-Control", "public, max-age=60")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
	return nil
}
