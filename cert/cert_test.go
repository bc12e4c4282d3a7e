package cert

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ganpin/ganpin/trace"
)

var now = time.Date(2026, 11, 28, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

func sample() *Certificate {
	return &Certificate{Serial: "GP26000123", PartyID: 4, LotID: 12, Product: "赣南脐橙 5kg装", Quantity: 120, Unit: trace.Box,
		Origin: "江西省赣州市寻乌县澄江镇", Issued: now.Add(-time.Hour), Producer: "寻乌县澄江脐橙专业合作社", Contact: "0797-4000000",
		Template: Producer, Basis: QualityControl | SelfTested, Report: "ZJ-20261127-01"}
}

func TestValidate(t *testing.T) {
	upstream := Upstream{Issuer: "某家庭农场", Product: "脐橙", Quantity: 500, Unit: trace.Kg, IssuedOn: "2026-01-20", Legacy: true, Bases: []string{"自我承诺"}}
	cases := []struct {
		name        string
		edit        func(c *Certificate)
		code, field string
	}{
		{"valid", func(c *Certificate) {}, "", ""},
		{"zero quantity", func(c *Certificate) { c.Quantity = 0 }, "invalid_quantity", "quantity"},
		{"negative quantity", func(c *Certificate) { c.Quantity = -1 }, "invalid_quantity", "quantity"},
		{"unknown unit", func(c *Certificate) { c.Unit = "担" }, "unknown_unit", "unit"},
		{"future", func(c *Certificate) { c.Issued = now.Add(time.Hour) }, "invalid_issued", "issued"},
		{"no commitment", func(c *Certificate) { c.Template = "" }, "no_commitment", "template"},
		{"no basis", func(c *Certificate) { c.Basis = 0 }, "no_basis", "basis"},
		{"test without report", func(c *Certificate) { c.Report = "" }, "report_required", "report"},
		{"control only needs no report", func(c *Certificate) { c.Basis, c.Report = QualityControl, "" }, "", ""},
		{"too long for the layout", func(c *Certificate) { c.Product = strings.Repeat("橙", 41) }, "too_long", "product"},
		{"buyer without upstream", func(c *Certificate) { c.Template = Buyer }, "upstream_required", "upstream"},
		{"buyer with a legacy upstream", func(c *Certificate) { c.Template, c.Upstream = Buyer, []Upstream{upstream} }, "", ""},
		{"legacy basis on a current certificate", func(c *Certificate) {
			u := upstream
			u.Legacy = false
			c.Template, c.Upstream = Buyer, []Upstream{u}
		}, "unknown_basis", "upstream[0].bases"},
		{"producer with upstream", func(c *Certificate) { c.Upstream = []Upstream{upstream} }, "unexpected_upstream", "upstream"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := sample()
			tc.edit(c)
			err := c.Validate(now)
			var e *trace.Error
			if tc.code == "" {
				if err != nil {
					t.Fatalf("Validate = %v", err)
				}
				return
			}
			if !errors.As(err, &e) || e.Code != tc.code || e.Field != tc.field || e.ZH == "" {
				t.Fatalf("Validate = %v, want %s on %s", err, tc.code, tc.field)
			}
		})
	}
}

func TestCanonicalAndSignature(t *testing.T) {
	c := sample()
	a := c.Canonical()
	d := sample()
	d.Issued = d.Issued.UTC() // the same instant in another zone
	if string(a) != string(d.Canonical()) {
		t.Fatalf("canonical form depends on the time zone:\n%s\n%s", a, d.Canonical())
	}
	for _, want := range []string{`"record":"certificate"`, `"commitment":"` + ProducerText + `"`, `"serial":"GP26000123"`, `"issued":"2026-11-28T01:00:00Z"`} {
		if !strings.Contains(string(a), want) {
			t.Errorf("canonical form lacks %s: %s", want, a)
		}
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	sig := c.Sign(priv)
	if !c.Verify(pub, sig) {
		t.Fatal("own signature does not verify")
	}
	c.Quantity++
	if c.Verify(pub, sig) {
		t.Fatal("signature verifies after the quantity changed")
	}
	if c.Verify(pub[:10], sig) {
		t.Fatal("a short key verifies")
	}
}

func TestURL(t *testing.T) {
	for _, tc := range []struct {
		gtin, lot string
		unit      int
		want      string
	}{
		{"", "XW-1", 0, "https://t.example.cn/c/GP26000123"},
		{"", "XW-1", 42, "https://t.example.cn/c/GP26000123/000042"},
		{"06910000000015", "XW-1103-001-5K", 0, "https://t.example.cn/01/06910000000015/10/XW-1103-001-5K"},
		{"06910000000015", "XW-1103-001-5K", 42, "https://t.example.cn/01/06910000000015/10/XW-1103-001-5K/21/000042"},
		{"06910000000015", "XW-1103-001-5K", 1234567, "https://t.example.cn/01/06910000000015/10/XW-1103-001-5K/21/1234567"},
	} {
		c := sample()
		c.GTIN, c.LotCode = tc.gtin, tc.lot
		if got := c.URL("https://t.example.cn/", tc.unit); got != tc.want {
			t.Errorf("URL = %s, want %s", got, tc.want)
		}
	}
}
