package epcis_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/ganpin/ganpin/internal/demo"
	"github.com/ganpin/ganpin/internal/epcis"
	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/testdb"
	"github.com/ganpin/ganpin/trace"
)

// The demo's example lot, exported as EPCIS 2.0, validates against GS1's schema;
// captured into a fresh instance (by each party its own events) and exported
// again, it gives the same events with the same canonical hashes.
func TestDemoLotRoundTrip(t *testing.T) {
	standards(t)
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		ctx := context.Background()
		a := newInstance(t, db)
		res, err := demo.Load(ctx, a.svc)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := demo.ColdChain(ctx, a.svc, res.ExampleLot, ""); err != nil {
			t.Fatal(err)
		}
		doc, err := a.epcis.LotDocument(ctx, admin, res.ExampleLot)
		if err != nil {
			t.Fatal(err)
		}
		validate(t, doc)
		events := eventsOf(doc)
		types := map[string]bool{}
		for _, e := range events {
			types[e.(map[string]any)["bizStep"].(string)] = true
		}
		for _, step := range []string{"ganpin:BizStep-treating", "commissioning", "inspecting", "packing", "shipping", "receiving", "storing", "sensor_reporting"} {
			if !types[step] {
				t.Errorf("the example lot's document has no %s event", step)
			}
		}
		// The reefer to Shanghai stopped: its leg's sensor report raises the alarm.
		if !strings.Contains(fmt.Sprint(events), "ALARM_CONDITION") {
			t.Error("no sensor report of the example lot's legs has an alarm")
		}

		b := newInstance(t, testdbLike(t, db))
		copyMasterData(t, a, b)
		// Each party captures its own events, in the document's order.
		var run []any
		party := int64(0)
		flush := func() {
			if len(run) == 0 {
				return
			}
			j := b.capture(t, producer(party), document(t, run))
			if !j.Success {
				js, _ := json.MarshalIndent(j.Errors, "", "  ")
				t.Fatalf("capture into the fresh instance failed: %s", js)
			}
			run = nil
		}
		for _, e := range events {
			site := siteOf(t, a, e.(map[string]any))
			if site.PartyID != party {
				flush()
				party = site.PartyID
			}
			run = append(run, e)
		}
		flush()

		lot, err := a.svc.Lot(ctx, admin, res.ExampleLot)
		if err != nil {
			t.Fatal(err)
		}
		again, err := b.st.LotsByCode(ctx, []epcis.LotKey{{Product: lot.ProductID, Code: lot.Code}})
		if err != nil || len(again) != 1 {
			t.Fatalf("the example lot in the fresh instance: %v, %v", again, err)
		}
		doc2, err := b.epcis.LotDocument(ctx, admin, again[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		validate(t, doc2)
		got, want := comparable(t, eventsOf(doc2)), comparable(t, events)
		if len(got) != len(want) {
			t.Fatalf("the round trip gives %d events, want %d", len(got), len(want))
		}
		for i := range want {
			if !reflect.DeepEqual(got[i], want[i]) {
				g, _ := json.MarshalIndent(got[i], "", "  ")
				w, _ := json.MarshalIndent(want[i], "", "  ")
				t.Fatalf("event %d after the round trip:\n%s\nwant\n%s", i, g, w)
			}
			gh, wh := epcis.Hash(eventsOf(doc2)[i].(map[string]any)), epcis.Hash(events[i].(map[string]any))
			if gh != wh || got[i]["eventID"] != wh {
				t.Fatalf("event %d: hash %s, eventID %v; want %s", i, gh, got[i]["eventID"], wh)
			}
		}
	})
}

// testdbLike returns a fresh database of the same engine as db.
func testdbLike(t *testing.T, db sqldb.DB) sqldb.DB {
	if db.Dialect() == sqldb.Postgres {
		return testdb.Postgres(t)
	}
	return testdb.SQLite(t)
}

// siteOf returns the site an exported event happened at.
func siteOf(t *testing.T, in *instance, ev map[string]any) *trace.Site {
	t.Helper()
	uri := ev["readPoint"].(map[string]any)["id"].(string)
	var id int64
	if _, err := fmtSscan(uri, &id); err != nil {
		t.Fatalf("read point %s: %v", uri, err)
	}
	s, err := in.st.Site(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// comparable returns events as a client reads them, without the times only the
// recording instance knows (recordTime, an error declaration's declarationTime).
func comparable(t *testing.T, events []any) []map[string]any {
	out := make([]map[string]any, len(events))
	for i, e := range events {
		m := roundTrip(t, e).(map[string]any)
		delete(m, "recordTime")
		if ed, ok := m["errorDeclaration"].(map[string]any); ok {
			delete(ed, "declarationTime")
		}
		out[i] = m
	}
	return out
}

// The query interface pages through a large result with nextPageToken, each
// event once, and every page is a valid EPCISQueryDocument.
func TestQueryPages(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		ctx := context.Background()
		in := newInstance(t, db)
		if _, err := demo.Load(ctx, in.svc); err != nil {
			t.Fatal(err)
		}
		total := in.count(t, "events")
		var shipping int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM events WHERE type = 'shipping'`).Scan(&shipping); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			params url.Values
			want   int
		}{
			{url.Values{"perPage": {"97"}}, total},
			{url.Values{"perPage": {"50"}, "EQ_bizStep": {"shipping"}, "orderBy": {"eventTime"}, "orderDirection": {"DESC"}}, shipping},
		} {
			seen := map[string]bool{}
			pages := 0
			for q := c.params; ; pages++ {
				page, err := in.epcis.Query(ctx, admin, q)
				if err != nil {
					t.Fatal(err)
				}
				if pages < 2 {
					validate(t, roundTrip(t, page.Document).(map[string]any))
				}
				for _, e := range eventsOf(page.Document) {
					id := e.(map[string]any)["eventID"].(string)
					if seen[id] {
						t.Fatalf("%v: event %s on two pages", c.params, id)
					}
					seen[id] = true
				}
				if page.Next == "" {
					break
				}
				q = url.Values{}
				for k, v := range c.params {
					q[k] = v
				}
				q.Set("nextPageToken", page.Next)
			}
			if len(seen) != c.want || pages < 3 {
				t.Fatalf("%v: %d events on %d pages, want %d on several", c.params, len(seen), pages+1, c.want)
			}
		}
	})
}
