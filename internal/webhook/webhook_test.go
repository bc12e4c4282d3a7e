package webhook_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/store"
	"github.com/ganpin/ganpin/internal/testdb"
	"github.com/ganpin/ganpin/internal/webhook"
	"github.com/ganpin/ganpin/trace"
)

var now = time.Date(2026, 11, 25, 10, 0, 0, 0, time.FixedZone("CST", 8*3600))

// sold sets up a cooperative's lot sold by two platforms and returns the service,
// the inspector, the lot and the platforms.
func sold(t *testing.T, db sqldb.DB) (svc *trace.Service, insp trace.Actor, lot int64, platforms []trace.Actor) {
	t.Helper()
	ctx := context.Background()
	st, err := store.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	svc = trace.NewService(st, func() time.Time { return now })
	admin := trace.Actor{UserID: 1, Roles: []trace.Role{trace.RoleAdmin}}
	party := func(kind trace.PartyKind, uscc17 string, role trace.Role) trace.Actor {
		c, _ := trace.USCCCheck(uscc17)
		p := &trace.Party{Kind: kind, Name: "主体" + uscc17[12:16], USCC: uscc17 + string(c), County: "360734"}
		if err := svc.CreateParty(ctx, admin, p); err != nil {
			t.Fatal(err)
		}
		return trace.Actor{UserID: p.ID, PartyID: p.ID, Roles: []trace.Role{role}}
	}
	coop := party(trace.Cooperative, "93360734MA35XW001", trace.RoleProducerAdmin)
	platforms = []trace.Actor{party(trace.Platform, "91360702MA35GNYP1", trace.RolePlatform), party(trace.Platform, "91360702MA35QTHR1", trace.RolePlatform)}
	orchard := &trace.Site{Kind: trace.Orchard, Name: "1号地块", County: "360734", AreaMu: 50, Lat: 24.95, Lon: 115.65}
	fruit := &trace.Product{Name: "赣南脐橙", Unit: trace.Kg}
	if err := svc.CreateSite(ctx, coop, orchard); err != nil {
		t.Fatal(err)
	}
	if err := svc.CreateProduct(ctx, coop, fruit); err != nil {
		t.Fatal(err)
	}
	evs, err := svc.Capture(ctx, coop, []trace.EventSpec{{Type: trace.Harvest, Time: now.Add(-48 * time.Hour).Format(time.RFC3339), Site: orchard.ID,
		Harvest: &trace.HarvestSpec{Lot: trace.NewLotSpec{Code: "XW-001", Product: fruit.ID, Quantity: 1000, Unit: trace.Kg}}}})
	if err != nil {
		t.Fatal(err)
	}
	lot = evs[0].Lots[0].Lot
	for i, p := range platforms {
		if _, err := svc.GrantChannel(ctx, coop, p.PartyID); err != nil {
			t.Fatal(err)
		}
		_, err := svc.LinkOrder(ctx, p, trace.OrderSpec{Number: "ORDER-" + string(rune('A'+i)), Channel: "小程序", Time: now.Add(-time.Hour).Format(time.RFC3339),
			Destination: trace.Destination{Province: "310000", City: "310100"}, Items: []trace.OrderItem{{Lot: lot, Quantity: 5}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	return svc, trace.Actor{UserID: 99, Roles: []trace.Role{trace.RoleInspector}}, lot, platforms
}

func TestDeliverWithRetries(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		ctx := context.Background()
		svc, insp, lot, platforms := sold(t, db)
		dir := t.TempDir()
		key, err := webhook.LoadKey(dir)
		if err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(filepath.Join(dir, "webhook.key")); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("key file: %v %v", fi, err)
		}
		if again, err := webhook.LoadKey(dir); err != nil || *again.Public != *key.Public {
			t.Fatalf("reloaded key differs: %v", err)
		}
		clock := now
		w := webhook.New(webhook.Config{DB: db, Key: key, Now: func() time.Time { return clock }, MaxAttempts: 3})

		if _, err := svc.RegisterWebhook(ctx, platforms[0], "http://127.0.0.1:1/hook"); err == nil {
			t.Fatal("registered a webhook before the worker published its key")
		}
		if err := w.Publish(ctx); err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		var got []*http.Request
		var bodies [][]byte
		status := http.StatusServiceUnavailable
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			defer mu.Unlock()
			got, bodies = append(got, r), append(bodies, b)
			rw.WriteHeader(status)
		}))
		defer srv.Close()
		requests := func() ([]*http.Request, [][]byte) { mu.Lock(); defer mu.Unlock(); return got, bodies }
		first := func() []*http.Request { rs, _ := requests(); return rs }
		for _, bad := range []string{"ftp://x", "http://example.com/hook", "https://user:pw@example.com/", "not a url"} {
			if _, err := svc.RegisterWebhook(ctx, platforms[0], bad); trace.KindOf(err) != trace.KindInvalid {
				t.Errorf("endpoint %q: %v", bad, err)
			}
		}
		reg, err := svc.RegisterWebhook(ctx, platforms[0], srv.URL+"/ganpin")
		if err != nil || len(reg.Secret) < 40 {
			t.Fatalf("register = %+v, %v", reg, err)
		}
		var stored []byte
		db.QueryRow(ctx, `SELECT sealed FROM webhooks`).Scan(&stored)
		if len(stored) == 0 || string(stored) == reg.Secret {
			t.Fatal("the secret is stored as it is")
		}

		if n, err := svc.NotifyRecall(ctx, insp, trace.RecallNotice{Ref: "recall:7", Lots: []int64{lot}, Reason: "抽检不合格"}); err != nil || n != 2 {
			t.Fatalf("recall queued %d, %v", n, err)
		}
		// The endpoint is down; the other platform has none.
		if n, err := w.RunOnce(ctx); err != nil || n != 0 {
			t.Fatalf("first run sent %d, %v", n, err)
		}
		ds, _ := svc.Deliveries(ctx, platforms[0], trace.Page{Limit: 5})
		if len(ds) != 1 || ds[0].Attempts != 1 || ds[0].LastStatus != 503 || !ds[0].NextAttempt.Equal(now.Add(10*time.Second)) || ds[0].State() != "pending" {
			t.Fatalf("after a 503: %+v", ds)
		}
		if n, _ := w.RunOnce(ctx); n != 0 || len(first()) != 1 {
			t.Fatalf("retried before its backoff: sent %d, %d requests", n, len(first()))
		}
		clock = clock.Add(10 * time.Second)
		mu.Lock()
		status = http.StatusNoContent
		mu.Unlock()
		if n, err := w.RunOnce(ctx); err != nil || n != 1 {
			t.Fatalf("second attempt sent %d, %v", n, err)
		}
		rs, bs := requests()
		r, body := rs[1], bs[1]
		if err := webhook.Verify(reg.Secret, r.Header.Get("X-Ganpin-Signature"), body, clock, 5*time.Minute); err != nil {
			t.Fatalf("signature: %v (header %q)", err, r.Header.Get("X-Ganpin-Signature"))
		}
		if err := webhook.Verify("whsec_wrong", r.Header.Get("X-Ganpin-Signature"), body, clock, 5*time.Minute); err == nil {
			t.Fatal("a wrong secret verifies")
		}
		if err := webhook.Verify(reg.Secret, r.Header.Get("X-Ganpin-Signature"), body, clock.Add(time.Hour), 5*time.Minute); err == nil {
			t.Fatal("a stale signature verifies")
		}
		var m trace.RecallMessage
		if err := json.Unmarshal(body, &m); err != nil || m.Event != "lot_recalled" || r.Header.Get("X-Ganpin-Event") != "lot_recalled" || len(m.Orders) != 1 || m.Orders[0].Number != "ORDER-A" {
			t.Fatalf("message %s, %v", body, err)
		}
		ds, _ = svc.Deliveries(ctx, platforms[0], trace.Page{Limit: 5})
		if ds[0].State() != "delivered" || ds[0].Attempts != 2 {
			t.Fatalf("after delivery: %+v", ds[0])
		}
		// Without an endpoint, the other platform's message fails after MaxAttempts.
		for range 3 {
			clock = clock.Add(time.Hour)
			w.RunOnce(ctx)
		}
		ds, _ = svc.Deliveries(ctx, platforms[1], trace.Page{Limit: 5})
		if len(ds) != 1 || ds[0].State() != "failed" || ds[0].Attempts != 3 || ds[0].LastError == "" {
			t.Fatalf("undeliverable: %+v", ds)
		}
		if rs, _ := requests(); len(rs) != 2 {
			t.Fatalf("%d requests, want 2", len(rs))
		}
	})
}

func TestBackoff(t *testing.T) {
	w := webhook.New(webhook.Config{Backoff: 10 * time.Second, MaxBackoff: time.Hour})
	for failed, want := range map[int]time.Duration{1: 10 * time.Second, 2: 20 * time.Second, 3: 40 * time.Second, 9: 2560 * time.Second, 10: time.Hour, 30: time.Hour} {
		if got := w.Backoff(failed); got != want {
			t.Errorf("backoff after %d failures = %v, want %v", failed, got, want)
		}
	}
}

func TestReplacedKey(t *testing.T) {
	db := testdb.SQLite(t)
	ctx := context.Background()
	svc, insp, lot, platforms := sold(t, db)
	k1, _ := webhook.LoadKey(t.TempDir())
	k2, _ := webhook.LoadKey(t.TempDir())
	w1 := webhook.New(webhook.Config{DB: db, Key: k1, Now: func() time.Time { return now }})
	if err := w1.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	if _, err := svc.RegisterWebhook(ctx, platforms[0], srv.URL); err != nil {
		t.Fatal(err)
	}
	svc.NotifyRecall(ctx, insp, trace.RecallNotice{Ref: "recall:1", Lots: []int64{lot}, Reason: "召回"})
	w2 := webhook.New(webhook.Config{DB: db, Key: k2, Now: func() time.Time { return now }})
	if err := w2.Publish(ctx); err != nil {
		t.Fatal(err)
	}
	w2.RunOnce(ctx)
	ds, _ := svc.Deliveries(ctx, platforms[0], trace.Page{Limit: 5})
	if len(ds) != 1 || ds[0].State() != "pending" || ds[0].Attempts != 1 || ds[0].LastError == "" {
		t.Fatalf("a secret sealed to another key: %+v", ds)
	}
}
