package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ganpin/ganpin/api"
	"github.com/ganpin/ganpin/internal/epcis"
	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/store"
	"github.com/ganpin/ganpin/internal/testdb"
	"github.com/ganpin/ganpin/trace"
)

// The EPCIS interface over HTTP, as GS1's REST bindings describe it: asynchronous
// capture with a job link, published limits, GS1 exceptions, paged queries.
func TestEPCISOverHTTP(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		st, err := store.New(ctx, db)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		svc := trace.NewService(st, nil)
		es := epcis.New(svc, st, "https://t.example.cn", nil)
		go es.Run(ctx)
		srv := httptest.NewServer(api.New(api.Config{Service: svc, Ready: func(context.Context) error { return nil }, EPCIS: es}))
		defer srv.Close()
		e := &env{t: t, db: db, url: srv.URL}

		root := trace.Actor{Roles: []trace.Role{trace.RoleAdmin}}
		party := func(name, uscc17, user string) (int64, string) {
			c, _ := trace.USCCCheck(uscc17)
			p := &trace.Party{Kind: trace.Cooperative, Name: name, USCC: uscc17 + string(c), County: "360734"}
			if err := svc.CreateParty(ctx, root, p); err != nil {
				t.Fatal(err)
			}
			u := &trace.User{PartyID: p.ID, Username: user, Roles: []trace.Role{trace.RoleProducerAdmin}}
			if err := svc.CreateUser(ctx, root, u, "a long password"); err != nil {
				t.Fatal(err)
			}
			tok, _, err := svc.Login(ctx, user, "a long password", "")
			if err != nil {
				t.Fatal(err)
			}
			return p.ID, tok
		}
		coopID, coop := party("寻乌合作社", "93360734MA35XW001", "coop")
		_, other := party("安远合作社", "93360726MA35AY001", "other")
		orchard := &trace.Site{Kind: trace.Orchard, Name: "1号地块", County: "360734", AreaMu: 10, Lat: 24.9, Lon: 115.6, GLN: "6910000000013"}
		if err := svc.CreateSite(ctx, trace.Actor{PartyID: coopID, Roles: []trace.Role{trace.RoleProducerAdmin}}, orchard); err != nil {
			t.Fatal(err)
		}
		fruit := &trace.Product{Name: "赣南脐橙", GTIN: "6910000000020", Unit: trace.Box, NetKg: 5}
		if err := svc.CreateProduct(ctx, trace.Actor{PartyID: coopID, Roles: []trace.Role{trace.RoleProducerAdmin}}, fruit); err != nil {
			t.Fatal(err)
		}
		harvest := func(code string, minutes int) map[string]any {
			return map[string]any{"type": "ObjectEvent", "action": "ADD", "bizStep": "commissioning", "disposition": "active",
				"eventTime": time.Now().Add(-time.Duration(minutes) * time.Minute).Truncate(time.Second).Format(time.RFC3339), "eventTimeZoneOffset": "+08:00",
				"readPoint": map[string]any{"id": "https://id.gs1.org/414/6910000000013"}, "bizLocation": map[string]any{"id": "urn:epc:id:sgln:6910000.00001.0"},
				"quantityList": []any{map[string]any{"epcClass": epcis.LotClassURI(fruit.GTIN, code), "quantity": 40}}}
		}
		doc := func(evs ...any) []byte {
			b, _ := json.Marshal(epcis.Document(evs, time.Now()))
			return b
		}
		// job submits a document and waits for its outcome.
		job := func(body []byte) map[string]any {
			t.Helper()
			r := e.do("POST", "/epcis/capture", coop, body)
			loc := r.header.Get("Location")
			if r.status != http.StatusAccepted || !strings.HasPrefix(loc, "/epcis/capture/") {
				t.Fatalf("capture: %d %s, Location %q", r.status, r.body, loc)
			}
			for i := 0; ; i++ {
				j := e.do("GET", loc, coop, nil).json(t)
				if j["running"] == false {
					return j
				}
				if i > 200 {
					t.Fatalf("job %s still running", loc)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}

		// Discovery publishes the limits.
		r := e.do("OPTIONS", "/epcis/capture", "", nil)
		if r.status != http.StatusNoContent || r.header.Get("GS1-EPCIS-Capture-Limit") != fmt.Sprint(epcis.MaxEvents) ||
			r.header.Get("GS1-EPCIS-Capture-File-Size-Limit") != fmt.Sprint(epcis.MaxDocument) || r.header.Get("GS1-EPCIS-Version") != "2.0.0" {
			t.Fatalf("OPTIONS /epcis/capture: %d %v", r.status, r.header)
		}

		var events []any
		for i := range 5 {
			events = append(events, harvest(fmt.Sprintf("L%d", i), 60-i))
		}
		j := job(doc(events...))
		if j["success"] != true || len(j["events"].([]any)) != 5 || j["captureErrorBehaviour"] != "rollback" {
			t.Fatalf("job: %v", j)
		}
		// A document with one bad event fails whole, naming the event.
		j = job(doc(harvest("L9", 10), map[string]any{"type": "AggregationEvent", "action": "ADD", "eventTime": time.Now().Format(time.RFC3339), "eventTimeZoneOffset": "+08:00"}))
		errs := j["errors"].([]any)
		if j["success"] != false || len(errs) == 0 || errs[0].(map[string]any)["pointer"] != "/epcisBody/eventList/1/type" {
			t.Fatalf("bad job: %v", j)
		}
		if n := e.events(); n != 5 {
			t.Fatalf("%d events stored, want 5", n)
		}
		// Another party cannot see the job.
		if r := e.do("GET", "/epcis/capture/1", other, nil); r.status != http.StatusNotFound || !strings.Contains(string(r.body), "NoSuchResourceException") {
			t.Fatalf("another party's job: %d %s", r.status, r.body)
		}
		// Limits and media types.
		if r := e.do("POST", "/epcis/capture", coop, make([]byte, epcis.MaxDocument+1)); r.status != http.StatusRequestEntityTooLarge || !strings.Contains(string(r.body), "CaptureLimitExceededException") {
			t.Fatalf("oversized: %d %s", r.status, r.body)
		}
		if r := e.do("POST", "/epcis/capture", coop, doc(), "Content-Type", "text/plain"); r.status != http.StatusUnsupportedMediaType {
			t.Fatalf("text/plain: %d %s", r.status, r.body)
		}
		if r := e.do("POST", "/epcis/capture", "", doc()); r.status != http.StatusUnauthorized {
			t.Fatalf("no token: %d", r.status)
		}

		// Queries page with Link: rel="next".
		seen := 0
		for next := "/epcis/events?perPage=2&EQ_bizStep=commissioning"; next != ""; {
			r := e.do("GET", next, coop, nil)
			if r.status != http.StatusOK || r.header.Get("GS1-EPCIS-Version") != "2.0.0" {
				t.Fatalf("query: %d %s", r.status, r.body)
			}
			var d map[string]any
			json.Unmarshal(r.body, &d)
			seen += len(d["epcisBody"].(map[string]any)["queryResults"].(map[string]any)["resultsBody"].(map[string]any)["eventList"].([]any))
			next = ""
			if l := r.header.Get("Link"); l != "" {
				next = strings.TrimSuffix(strings.TrimPrefix(l, "<"), `>; rel="next"`)
			}
		}
		if seen != 5 {
			t.Fatalf("paged through %d events, want 5", seen)
		}
		if r := e.do("GET", "/epcis/events", other, nil); r.status != http.StatusOK || strings.Contains(string(r.body), "commissioning") {
			t.Fatalf("a stranger's query sees the cooperative's events: %s", r.body)
		}
		if r := e.do("GET", "/epcis/events?EQ_quantity=3", coop, nil); r.status != http.StatusBadRequest || !strings.Contains(string(r.body), "QueryParameterException") {
			t.Fatalf("unsupported parameter: %d %s", r.status, r.body)
		}

		// A unit-level Digital Link, as printed on a box, matches the events of its lot;
		// a lot's class is no instance EPC.
		unit := url.QueryEscape("https://t.example.cn/01/" + fruit.GTIN + "/10/L3/21/000007")
		r = e.do("GET", "/epcis/events?MATCH_epc="+unit, coop, nil)
		if r.status != http.StatusOK || bytes.Count(r.body, []byte(`"commissioning"`)) != 1 || !bytes.Contains(r.body, []byte("/10/L3")) {
			t.Fatalf("MATCH_epc by unit: %d %s", r.status, r.body)
		}
		if r := e.do("GET", "/epcis/events?MATCH_epc="+url.QueryEscape(epcis.LotClassURI(fruit.GTIN, "L3")), coop, nil); r.status != http.StatusBadRequest {
			t.Fatalf("MATCH_epc by class: %d %s", r.status, r.body)
		}

		// One event by its hash ID, linked to its Ganpin record and receipt.
		id := epcis.Hash(roundTripJSON(t, events[0]))
		r = e.do("GET", "/epcis/events/"+url.PathEscape(id), coop, nil)
		if r.status != http.StatusOK || !strings.Contains(strings.Join(r.header.Values("Link"), ","), "/api/v1/events/") || !bytes.Contains(r.body, []byte(id)) {
			t.Fatalf("event by ID: %d %v %s", r.status, r.header, r.body)
		}
		// A lot's full document.
		lots, _ := st.LotsByCode(ctx, []epcis.LotKey{{Product: fruit.ID, Code: "L0"}})
		r = e.do("GET", fmt.Sprintf("/api/v1/lots/%d/epcis", lots[0].ID), coop, nil)
		if r.status != http.StatusOK || !bytes.Contains(r.body, []byte(`"EPCISDocument"`)) || !bytes.Contains(r.body, []byte(id)) {
			t.Fatalf("lot document: %d %s", r.status, r.body)
		}
		if r := e.do("GET", fmt.Sprintf("/api/v1/lots/%d/epcis", lots[0].ID), other, nil); r.status != http.StatusNotFound {
			t.Fatalf("a stranger's lot document: %d", r.status)
		}
	})
}

// roundTripJSON returns v as JSON decodes it.
func roundTripJSON(t *testing.T, v any) map[string]any {
	t.Helper()
	b, _ := json.Marshal(v)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
