package epcis

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/ganpin/ganpin/trace"
)

// nothing is a Resolver that knows no records.
type nothing struct{}

func (nothing) Site(ctx context.Context, id int64) (*trace.Site, error) {
	return nil, trace.NotFound("", "site", id)
}
func (nothing) SiteByGLN(ctx context.Context, gln string) (*trace.Site, error) {
	return &trace.Site{ID: 1, PartyID: 1, GLN: gln}, nil
}
func (nothing) Product(ctx context.Context, id int64) (*trace.Product, error) {
	return nil, trace.NotFound("", "product", id)
}
func (nothing) ProductByGTIN(ctx context.Context, gtin string) (*trace.Product, error) {
	return &trace.Product{ID: 1, GTIN: gtin, Unit: trace.Box, NetKg: 5}, nil
}
func (nothing) LotsByCode(ctx context.Context, keys []LotKey) ([]trace.Lot, error) { return nil, nil }
func (nothing) EventsByEPCISID(ctx context.Context, ids []string) (map[string]int64, error) {
	return nil, nil
}

// FuzzCapture feeds arbitrary documents to the EPCIS parser and converter: they
// either convert or come back with problems, never a panic, and a converted batch
// is one Ganpin can capture (a spec per event, each kept record with a hash ID).
func FuzzCapture(f *testing.F) {
	if b, err := os.ReadFile("testdata/hash_vectors.jsonld"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"@context":["` + Context + `"],"type":"EPCISDocument","schemaVersion":"2.0","creationDate":"2026-11-01T00:00:00Z",
		"epcisBody":{"eventList":[{"type":"ObjectEvent","action":"ADD","bizStep":"commissioning","eventTime":"2026-11-01T08:00:00+08:00",
		"eventTimeZoneOffset":"+08:00","readPoint":{"id":"https://id.gs1.org/414/6910000000013"},"bizLocation":{"id":"https://id.gs1.org/414/6910000000013"},
		"disposition":"active","quantityList":[{"epcClass":"https://id.gs1.org/01/06910000000020/10/A1","quantity":3}]}]}}`))
	f.Add([]byte(`{"type":"EPCISQueryDocument","epcisBody":{"queryResults":{"resultsBody":{"eventList":[1,"x",null,{}]}}}}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		c := &Converter{Mapper: &Mapper{Base: "https://t.example.cn"}, Resolver: nothing{}, Actor: trace.Actor{PartyID: 1}}
		b, ps, err := c.Convert(context.Background(), doc)
		if err != nil {
			t.Fatalf("a resolver that fails nothing made Convert fail: %v", err)
		}
		if ps == nil && (b == nil || len(b.Specs) != len(b.Index) || len(b.Specs) != len(b.Kept)) {
			t.Fatalf("a batch without problems is incomplete: %+v", b)
		}
		for _, k := range kept(b) {
			if _, ok := ParseHashID(k.Hash); !ok {
				t.Fatalf("kept record with hash %q", k.Hash)
			}
		}
		// Every event, whatever it holds, has a hash.
		d := json.NewDecoder(bytes.NewReader(doc))
		d.UseNumber()
		var v any
		if d.Decode(&v) == nil {
			if m, ok := v.(map[string]any); ok {
				HashID(m, ContextNamespaces(m["@context"]))
			}
		}
	})
}

func kept(b *Batch) []Record {
	if b == nil {
		return nil
	}
	return b.Kept
}
