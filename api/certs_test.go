package api_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/testdb"
)

func (e *env) count(table string) int {
	var n int
	e.db.QueryRow(context.Background(), `SELECT COUNT(*) FROM `+table).Scan(&n)
	return n
}

func TestCertificatesHTTP(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		e := newEnv(t, db)
		h := e.do("POST", "/api/v1/events", e.coop, []byte(e.harvest("XW-1", 800, time.Now().In(cst).AddDate(0, 0, -1))))
		if h.status != 201 {
			t.Fatalf("harvest: %d %s", h.status, h.body)
		}
		lot := int64(h.json(t)["lots"].([]any)[0].(map[string]any)["lot"].(float64))
		req := func(kg float64, bases string) []byte {
			return fmt.Appendf(nil, `{"lot":%d,"quantity":%g,"template":"producer","bases":[%s],"report":"ZJ-01","contact":"0797-4000000"}`, lot, kg, bases)
		}
		for _, c := range []struct {
			name, token string
			body        []byte
			status      int
			code        string
		}{
			{"unknown basis", e.coop, req(100, `"vibes"`), 422, "unknown_basis"},
			{"no basis", e.coop, req(100, ``), 422, "no_basis"},
			{"above the lot", e.coop, req(801, `"self_tested"`), 422, "exceeds_remaining"},
			{"another party's lot", e.other, req(100, `"self_tested"`), 403, "forbidden"},
			{"unknown field", e.coop, []byte(`{"lot":1,"quantity":1,"colour":"orange"}`), 400, "unknown_field"},
		} {
			for _, path := range []string{"/api/v1/certificates", "/api/v1/certificates/preview"} {
				r := e.do("POST", path, c.token, c.body)
				if r.status != c.status || r.json(t)["code"] != c.code || r.header.Get("Content-Type") != "application/problem+json" {
					t.Fatalf("%s %s: %d %s, want %d %s", c.name, path, r.status, r.body, c.status, c.code)
				}
			}
		}
		if n := e.count("certificates"); n != 0 {
			t.Fatalf("refusals stored %d certificates", n)
		}
		if r := e.do("POST", "/api/v1/certificates/preview", e.coop, req(800, `"quality_control","self_tested"`)); r.status != 200 || r.json(t)["serial"] != nil {
			t.Fatalf("preview: %d %s", r.status, r.body)
		}

		// Issued once, whatever the retries.
		first := e.do("POST", "/api/v1/certificates", e.coop, req(800, `"quality_control","self_tested"`), "Idempotency-Key", "cert-1")
		again := e.do("POST", "/api/v1/certificates", e.coop, req(800, `"quality_control","self_tested"`), "Idempotency-Key", "cert-1")
		if first.status != 201 || again.status != 201 || string(first.body) != string(again.body) || e.count("certificates") != 1 {
			t.Fatalf("issue and retry: %d %s / %d %s", first.status, first.body, again.status, again.body)
		}
		var c struct {
			ID         int64
			Serial     string
			Status     string
			StatusZH   string `json:"status_zh"`
			URL        string
			Bases      []string
			Commitment string
			Signature  []byte
			PublicKey  []byte `json:"public_key"`
			Revocation *struct{ Reason string }
			Party      int64
		}
		json.Unmarshal(first.body, &c)
		if c.Status != "valid" || c.StatusZH != "有效" || c.URL != "https://t.example.cn/c/"+c.Serial || len(c.Bases) != 2 || c.Commitment == "" {
			t.Fatalf("certificate view: %s", first.body)
		}
		if r := e.do("POST", "/api/v1/certificates", e.coop, req(10, `"quality_control"`)); r.status != 409 || r.json(t)["code"] != "already_certified" {
			t.Fatalf("a second certificate for the lot: %d %s", r.status, r.body)
		}

		// The signature verifies with the key published for the party.
		var keys struct {
			Keys []struct {
				Party     int64
				PublicKey string `json:"public_key"`
			}
		}
		json.Unmarshal(e.do("GET", "/.well-known/ganpin/issuer-keys", "", nil).body, &keys)
		var pub []byte
		for _, k := range keys.Keys {
			if k.Party == c.Party {
				pub, _ = base64.StdEncoding.DecodeString(k.PublicKey)
			}
		}
		var stored struct{ Canonical []byte }
		db.QueryRow(context.Background(), `SELECT body FROM certificates WHERE id = $1`, c.ID).Scan(&stored.Canonical)
		if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, stored.Canonical, c.Signature) || string(pub) != string(c.PublicKey) {
			t.Fatalf("the signature does not verify with the published key (%d keys)", len(keys.Keys))
		}

		path := fmt.Sprintf("/api/v1/certificates/%d", c.ID)
		for q, status := range map[string]int{"": 200, "?layout=sheet-3x8&copies=30": 200, "?layout=poster": 422, "?copies=0": 422, "?copies=1001": 422, "?units=1-5": 422, "?units=x": 422} {
			r := e.do("GET", path+"/pdf"+q, e.coop, nil)
			if r.status != status || (status == 200 && (!strings.HasPrefix(string(r.body), "%PDF-") || r.header.Get("Content-Type") != "application/pdf")) {
				t.Fatalf("pdf%s: %d %.60s", q, r.status, r.body)
			}
		}
		if r := e.do("GET", path+"/pdf", e.other, nil); r.status != 404 {
			t.Fatalf("another party prints the certificate: %d", r.status)
		}
		batch := fmt.Appendf(nil, `{"certificates":[%d],"layout":"sheet-2x5","copies":10}`, c.ID)
		if r := e.do("POST", "/api/v1/certificates/print", e.coop, batch); r.status != 200 || !strings.HasPrefix(string(r.body), "%PDF-") {
			t.Fatalf("batch print: %d %.80s", r.status, r.body)
		}
		if r := e.do("POST", "/api/v1/certificates/print", e.coop, fmt.Appendf(nil, `{"certificates":[%d, 99999]}`, c.ID)); r.status != 422 || r.json(t)["field"] != "certificates[1]" {
			t.Fatalf("batch print with an unknown certificate: %d %s", r.status, r.body)
		}
		if r := e.do("GET", path, e.other, nil); r.status != 404 {
			t.Fatalf("another party reads the certificate: %d", r.status)
		}
		if r := e.do("POST", path+"/revoke", e.other, []byte(`{"reason":"x"}`)); r.status != 404 {
			t.Fatalf("another party revokes: %d %s", r.status, r.body)
		}
		if r := e.do("POST", path+"/revoke", e.coop, []byte(`{"reason":""}`)); r.status != 422 || e.count("revocations") != 0 {
			t.Fatalf("a revocation without a reason: %d %s", r.status, r.body)
		}
		if r := e.do("POST", path+"/revoke", e.coop, []byte(`{"reason":"数量填错"}`)); r.status != 201 {
			t.Fatalf("revoke: %d %s", r.status, r.body)
		}
		if r := e.do("GET", path+"/pdf", e.coop, nil); r.status != 409 || r.json(t)["code"] != "revoked" {
			t.Fatalf("printing a revoked certificate: %d %s", r.status, r.body)
		}
		json.Unmarshal(e.do("GET", path, e.coop, nil).body, &c)
		if c.Status != "revoked" || c.StatusZH != "已撤销" || c.Revocation == nil || c.Revocation.Reason != "数量填错" {
			t.Fatalf("after revocation: %+v", c)
		}
		var l struct{ Items []struct{ Serial string } }
		json.Unmarshal(e.do("GET", fmt.Sprintf("/api/v1/certificates?lot=%d", lot), e.coop, nil).body, &l)
		if len(l.Items) != 1 || l.Items[0].Serial != c.Serial {
			t.Fatalf("list by lot: %+v", l)
		}
		if r := e.do("GET", "/api/v1/certificates?lot=x", e.coop, nil); r.status != 422 {
			t.Fatalf("list with a bad lot: %d", r.status)
		}
		if r := e.do("GET", "/api/v1/certificates/nope", e.coop, nil); r.status != 404 || r.header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("bad id: %d %s", r.status, r.body)
		}
		if r := e.do("DELETE", "/api/v1/tokens/current", e.other, nil); r.status != 204 {
			t.Fatalf("logout: %d %s", r.status, r.body)
		}
		if r := e.do("GET", "/api/v1/me", e.other, nil); r.status != 401 {
			t.Fatalf("a revoked token: %d %s", r.status, r.body)
		}
		if r := e.do("GET", "/api/v1/no-such-thing", e.coop, nil); r.status != 404 || r.header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("unknown API path: %d %s", r.status, r.body)
		}
	})
}
