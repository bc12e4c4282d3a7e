package epcis_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dlclark/regexp2"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/ganpin/ganpin/internal/epcis"
	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/store"
	"github.com/ganpin/ganpin/trace"
)

const base = "https://trace.example.cn"

var admin = trace.Actor{UserID: 1, Roles: []trace.Role{trace.RoleAdmin}}

// standards returns GS1's EPCIS 2.0 artefacts' folder, ../shared/standards/epcis
// beside the repository; tests that need it skip without it, and fail under CI=true.
func standards(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
	std := filepath.Join(dir, "..", "shared", "standards", "epcis")
	if _, err := os.Stat(filepath.Join(std, "EPCIS-JSON-Schema.json")); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("GS1's EPCIS artefacts are missing at %s; CI must have them", std)
		}
		t.Skipf("GS1's EPCIS 2.0 JSON schema is not at %s (../shared/standards/epcis beside the repository): skipping", std)
	}
	return std
}

var (
	schemaOnce sync.Once
	schema     *jsonschema.Schema
	schemaErr  error
)

// ecma is an ECMAScript regular expression: GS1's schema uses lookahead, which Go's
// regexp lacks.
type ecma struct{ re *regexp2.Regexp }

func (e ecma) MatchString(s string) bool { ok, err := e.re.MatchString(s); return ok && err == nil }
func (e ecma) String() string            { return e.re.String() }

// validate checks a document against GS1's EPCIS 2.0 JSON schema, formats included.
func validate(t *testing.T, doc map[string]any) {
	t.Helper()
	dir := standards(t)
	schemaOnce.Do(func() {
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		c.UseRegexpEngine(func(s string) (jsonschema.Regexp, error) {
			re, err := regexp2.Compile(s, regexp2.ECMAScript)
			return ecma{re}, err
		})
		schema, schemaErr = c.Compile(filepath.Join(dir, "EPCIS-JSON-Schema.json"))
	})
	if schemaErr != nil {
		t.Fatal(schemaErr)
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(v); err != nil {
		t.Fatalf("the document does not validate against GS1's EPCIS 2.0 JSON schema: %v", err)
	}
}

// instance is a running Ganpin: its store, provenance service and EPCIS interface.
type instance struct {
	db    sqldb.DB
	st    *store.Store
	svc   *trace.Service
	epcis *epcis.Service
}

func newInstance(t testing.TB, db sqldb.DB) *instance {
	t.Helper()
	st, err := store.New(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	svc := trace.NewService(st, nil)
	return &instance{db: db, st: st, svc: svc, epcis: epcis.New(svc, st, base, nil)}
}

// capture submits a document as a and runs the job.
func (in *instance) capture(t testing.TB, a trace.Actor, doc []byte) *epcis.Job {
	t.Helper()
	ctx := context.Background()
	j, err := in.epcis.Submit(ctx, a, doc)
	if err != nil {
		t.Fatal(err)
	}
	if err := in.epcis.RunPending(ctx); err != nil {
		t.Fatal(err)
	}
	j, err = in.epcis.Job(ctx, a, j.ID)
	if err != nil {
		t.Fatal(err)
	}
	if j.Finished.IsZero() {
		t.Fatal("the job has not run")
	}
	return j
}

func (in *instance) count(t testing.TB, table string) int {
	t.Helper()
	var n int
	if err := in.db.QueryRow(context.Background(), `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// copyMasterData gives to a fresh instance the parties, sites and products of
// another, with the same IDs (Ganpin URIs of sites and products name their IDs).
func copyMasterData(t *testing.T, from, to *instance) {
	t.Helper()
	ctx := context.Background()
	all := func(fetch func(trace.Page) (int, int64, error)) {
		for p := (trace.Page{Limit: 1000}); ; {
			n, last, err := fetch(p)
			if err != nil {
				t.Fatal(err)
			}
			if n < p.Limit {
				return
			}
			p.After = last
		}
	}
	var parties []trace.Party
	all(func(p trace.Page) (int, int64, error) {
		ps, err := from.svc.Parties(ctx, admin, p)
		parties = append(parties, ps...)
		return len(ps), lastID(ps, func(x trace.Party) int64 { return x.ID }), err
	})
	var sites []trace.Site
	all(func(p trace.Page) (int, int64, error) {
		ss, err := from.svc.Sites(ctx, admin, p)
		sites = append(sites, ss...)
		return len(ss), lastID(ss, func(x trace.Site) int64 { return x.ID }), err
	})
	var products []trace.Product
	all(func(p trace.Page) (int, int64, error) {
		ps, err := from.svc.Products(ctx, admin, p)
		products = append(products, ps...)
		return len(ps), lastID(ps, func(x trace.Product) int64 { return x.ID }), err
	})
	slices.SortFunc(parties, func(a, b trace.Party) int { return int(a.ID - b.ID) })
	slices.SortFunc(sites, func(a, b trace.Site) int { return int(a.ID - b.ID) })
	slices.SortFunc(products, func(a, b trace.Product) int { return int(a.ID - b.ID) })
	for _, p := range parties {
		id := p.ID
		if err := to.svc.CreateParty(ctx, admin, &p); err != nil || p.ID != id {
			t.Fatalf("party %d copied as %d: %v", id, p.ID, err)
		}
	}
	for _, s := range sites {
		id := s.ID
		if err := to.svc.CreateSite(ctx, admin, &s); err != nil || s.ID != id {
			t.Fatalf("site %d copied as %d: %v", id, s.ID, err)
		}
	}
	for _, p := range products {
		id := p.ID
		if err := to.svc.CreateProduct(ctx, admin, &p); err != nil || p.ID != id {
			t.Fatalf("product %d copied as %d: %v", id, p.ID, err)
		}
	}
}

func lastID[T any](xs []T, id func(T) int64) int64 {
	if len(xs) == 0 {
		return 0
	}
	return id(xs[len(xs)-1])
}

// producer returns an actor of a party that may capture every kind of event.
func producer(party int64) trace.Actor {
	return trace.Actor{UserID: 1, PartyID: party, Roles: []trace.Role{trace.RoleProducerAdmin}}
}

// eventsOf returns a document's events.
func eventsOf(doc map[string]any) []any {
	body := doc["epcisBody"].(map[string]any)
	if l, ok := body["eventList"].([]any); ok {
		return l
	}
	return body["queryResults"].(map[string]any)["resultsBody"].(map[string]any)["eventList"].([]any)
}

// document returns the JSON of an EPCISDocument of events.
func document(t testing.TB, events []any) []byte {
	t.Helper()
	b, err := json.Marshal(epcis.Document(events, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// roundTrip returns a JSON value through encoding and decoding, as a client sees it.
func roundTrip(t testing.TB, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// fmtSscan reads the ID at the end of a Ganpin site URI.
func fmtSscan(uri string, id *int64) (int, error) {
	return fmt.Sscanf(uri, base+"/epcis/id/site/%d", id)
}
