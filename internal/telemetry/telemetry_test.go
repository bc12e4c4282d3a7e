package telemetry_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/store"
	"github.com/ganpin/ganpin/internal/telemetry"
	"github.com/ganpin/ganpin/internal/testdb"
	"github.com/ganpin/ganpin/trace"
)

// brokerURL returns the local Mosquitto's URL (GANPIN_TEST_MQTT_URL, by default
// mqtt://127.0.0.1:1883), skipping when it is not running — failing under CI=true.
func brokerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("GANPIN_TEST_MQTT_URL")
	if u == "" {
		u = "mqtt://127.0.0.1:1883"
	}
	pu, _ := url.Parse(u)
	c, err := net.DialTimeout("tcp", pu.Host, time.Second)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("no MQTT broker at %s: CI must start mosquitto", u)
		}
		t.Skipf("MQTT tests skipped: no broker at %s (start mosquitto or set GANPIN_TEST_MQTT_URL)", u)
	}
	c.Close()
	return u
}

func randomID(prefix string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// publisher connects a plain MQTT client, as a logger would.
func publisher(t testing.TB, broker string) *autopaho.ConnectionManager {
	t.Helper()
	u, _ := url.Parse(broker)
	ctx, cancel := context.WithCancel(context.Background())
	cm, err := autopaho.NewConnection(ctx, autopaho.ClientConfig{ServerUrls: []*url.URL{u}, KeepAlive: 30,
		CleanStartOnInitialConnection: true, ClientConfig: paho.ClientConfig{ClientID: randomID("logger-")}})
	if err != nil {
		t.Fatal(err)
	}
	actx, acancel := context.WithTimeout(ctx, 5*time.Second)
	defer acancel()
	if err := cm.AwaitConnection(actx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); <-cm.Done() })
	return cm
}

// subscribe runs a subscriber for svc over conns connections (0: the default)
// until the test ends.
func subscribe(t testing.TB, broker string, svc *trace.Service, conns int) {
	t.Helper()
	sub, err := telemetry.New(telemetry.Config{BrokerURL: broker, ClientID: randomID("ganpin-test-"), Service: svc, Session: 5 * time.Second, Group: randomID("test"), Conns: conns})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); sub.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	select {
	case <-sub.Subscribed():
	case <-time.After(10 * time.Second):
		t.Fatal("the subscriber did not subscribe")
	}
}

func publish(t testing.TB, cm *autopaho.ConnectionManager, serial string, v any) {
	t.Helper()
	b, ok := v.([]byte)
	if !ok {
		b, _ = json.Marshal(v)
	}
	if _, err := cm.Publish(context.Background(), &paho.Publish{Topic: telemetry.TopicPrefix + serial, QoS: 1, Payload: b}); err != nil {
		t.Fatal(err)
	}
}

type reading struct {
	Time        string  `json:"time"`
	Temperature float64 `json:"temperature"`
	Humidity    float64 `json:"humidity,omitempty"`
}

// TestVerdictFollowsMQTT publishes readings to the local broker and watches a
// leg's verdict change: no data, then in range, then an alarm.
func TestVerdictFollowsMQTT(t *testing.T) {
	broker := brokerURL(t)
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		ctx := context.Background()
		svc, cold, leg, serial := shipment(t, db)
		subscribe(t, broker, svc, 0)
		pub := publisher(t, broker)
		verdict := func() trace.LegVerdict {
			t.Helper()
			l, err := svc.Leg(ctx, cold, leg)
			if err != nil {
				t.Fatal(err)
			}
			return l.Verdict
		}
		await := func(what string, ok func(trace.LegVerdict) bool) trace.LegVerdict {
			t.Helper()
			deadline := time.Now().Add(10 * time.Second)
			for {
				v := verdict()
				if ok(v) {
					return v
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: verdict stays %+v", what, v)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		if v := verdict(); v.Status != trace.LegNoData {
			t.Fatalf("before any message: %+v", v)
		}
		start := time.Now().Add(-2 * time.Hour).Truncate(time.Minute)
		// 110 minutes of readings a minute apart, in batches of ten, some sent twice.
		for b := 0; b < 11; b++ {
			var rs []reading
			for i := b * 10; i < b*10+10; i++ {
				rs = append(rs, reading{start.Add(time.Duration(i) * time.Minute).Format(time.RFC3339), 6 + float64(i%4)/4, 90})
			}
			publish(t, pub, serial, map[string]any{"readings": rs})
			if b%5 == 0 {
				publish(t, pub, serial, map[string]any{"readings": rs})
			}
		}
		// Messages that can never be stored do not hold the others up.
		publish(t, pub, serial, []byte(`{"time":"yesterday"}`))
		publish(t, pub, "NO-SUCH-LOGGER", reading{start.Format(time.RFC3339), 6, 0})
		v := await("in range", func(v trace.LegVerdict) bool { return v.Readings == 110 })
		if v.Status != trace.LegOK || v.Temp.Max != 6.75 {
			t.Fatalf("in range: %+v", v)
		}
		// The doors stay open at a hot depot: one reading at a time.
		for i := 0; i < 5; i++ {
			publish(t, pub, serial, reading{start.Add(time.Duration(110+i) * time.Minute).Format(time.RFC3339), 13.5 + float64(i)/10, 88})
		}
		v = await("an alarm", func(v trace.LegVerdict) bool { return v.Status == trace.LegAlarm && v.Readings == 115 })
		if len(v.Excursions) != 1 || v.Excursions[0].Extreme != 13.9 || v.Excursions[0].Device != serial {
			t.Fatalf("alarm: %+v", v)
		}
	})
}

// shipment records a shipment in transit with the carrier's logger assigned to it.
func shipment(t testing.TB, db sqldb.DB) (svc *trace.Service, cold trace.Actor, leg int64, serial string) {
	t.Helper()
	ctx := context.Background()
	st, err := store.New(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(st.Close)
	svc = trace.NewService(st, nil)
	admin := trace.Actor{Roles: []trace.Role{trace.RoleAdmin}}
	party := func(kind trace.PartyKind, uscc17 string, role trace.Role) trace.Actor {
		c, _ := trace.USCCCheck(uscc17)
		p := &trace.Party{Kind: kind, Name: "主体" + uscc17[12:16], USCC: uscc17 + string(c), County: "360734"}
		if err := svc.CreateParty(ctx, admin, p); err != nil {
			t.Fatal(err)
		}
		return trace.Actor{UserID: p.ID, PartyID: p.ID, Roles: []trace.Role{role}}
	}
	coop := party(trace.Cooperative, "93360734MA35XW001", trace.RoleProducerAdmin)
	cold = party(trace.Logistics, "91360702MA35LL001", trace.RoleLogistics)
	orchard := &trace.Site{Kind: trace.Orchard, Name: "1号地块", County: "360734", AreaMu: 50, Lat: 24.95, Lon: 115.65}
	store := &trace.Site{Kind: trace.ColdStore, Name: "冷库", County: "360702"}
	fruit := &trace.Product{Name: "赣南脐橙", Unit: trace.Kg, ColdProfile: "navel_orange"}
	for _, err := range []error{svc.CreateSite(ctx, coop, orchard), svc.CreateSite(ctx, cold, store), svc.CreateProduct(ctx, coop, fruit)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	evs, err := svc.Capture(ctx, coop, []trace.EventSpec{{Type: trace.Harvest, Time: time.Now().Add(-4 * time.Hour).Format(time.RFC3339), Site: orchard.ID,
		Harvest: &trace.HarvestSpec{Lot: trace.NewLotSpec{Code: "XW-1", Product: fruit.ID, Quantity: 1000, Unit: trace.Kg}}}})
	if err != nil {
		t.Fatal(err)
	}
	shipped := time.Now().Add(-2 * time.Hour).Truncate(time.Minute)
	evs, err = svc.Capture(ctx, coop, []trace.EventSpec{{Type: trace.Shipping, Time: shipped.Format(time.RFC3339), Site: orchard.ID,
		Shipping: &trace.ShippingSpec{Lots: []int64{evs[0].Lots[0].Lot}, To: store.ID}}})
	if err != nil {
		t.Fatal(err)
	}
	serial = randomID("TT18-")
	d := &trace.Device{Serial: serial}
	if err := svc.RegisterDevice(ctx, cold, d); err != nil {
		t.Fatal(err)
	}
	if err := svc.Assign(ctx, cold, &trace.Assignment{DeviceID: d.ID, Shipment: evs[0].ID, From: shipped}); err != nil {
		t.Fatal(err)
	}
	return svc, cold, evs[0].ID, serial
}

func TestParsePayload(t *testing.T) {
	for _, c := range []struct {
		in string
		n  int
		ok bool
	}{
		{`{"time":"2026-11-20T08:00:00+08:00","temperature":6.1}`, 1, true},
		{`{"readings":[{"time":"2026-11-20T08:00:00+08:00","temperature":6.1,"humidity":90},{"time":"2026-11-20T08:01:00+08:00","temperature":6.2}]}`, 2, true},
		{`{"time":"2026-11-20T08:00:00+08:00","temperature":6.1,"readings":[]}`, 0, false},
		{`{"time":"2026-11-20T08:00:00+08:00","temp":6.1}`, 0, false},
		{`{"time":"2026-11-20T08:00:00+08:00"}`, 0, false},
		{`{"time":"2026-11-20T08:00:00+08:00","temperature":6.1} {}`, 0, false},
		{`[]`, 0, false},
	} {
		rs, err := telemetry.ParsePayload([]byte(c.in))
		if (err == nil) != c.ok || len(rs) != c.n {
			t.Errorf("ParsePayload(%s) = %d readings, %v", c.in, len(rs), err)
		}
	}
}

func FuzzParsePayload(f *testing.F) {
	f.Add([]byte(`{"time":"2026-11-20T08:00:00+08:00","temperature":6.1,"humidity":90}`))
	f.Add([]byte(`{"readings":[{"time":"2026-11-20T08:00:00Z","temperature":-41}]}`))
	f.Add([]byte(`{"readings":null}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		rs, err := telemetry.ParsePayload(b)
		if err == nil && len(rs) == 0 && fmt.Sprint(rs) != "[]" {
			t.Fatalf("no error and no readings from %s", b)
		}
		for _, r := range rs {
			if r.Time.IsZero() {
				t.Fatalf("a reading without a time from %s", b)
			}
		}
	})
}
