package telemetry_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/telemetry"
	"github.com/ganpin/ganpin/internal/testdb"
	"github.com/ganpin/ganpin/trace"
)

// BenchmarkMQTTIngest publishes readings to the local broker at QoS 1 — one
// reading per message as a logger sends them, or ten per message as a gateway
// that buffers its loggers' minute readings does — for 100 loggers over 10
// connections with 4 publishers each, and waits until every reading is stored;
// it reports readings/s end to end (publish → broker → subscriber → database →
// acknowledgement) and the publishers' own rate.
func BenchmarkMQTTIngest(b *testing.B) {
	broker := brokerURL(b)
	for _, engine := range []string{"postgres", "sqlite"} {
		for _, perMsg := range []int{1, 10} {
			b.Run(fmt.Sprintf("%s/%d-per-message", engine, perMsg), func(b *testing.B) { mqttIngest(b, broker, engine, perMsg) })
		}
	}
}

func mqttIngest(b *testing.B, broker, engine string, perMsg int) {
	var db sqldb.DB
	if engine == "postgres" {
		db = testdb.Postgres(b)
	} else {
		db = testdb.SQLite(b)
	}
	ctx := context.Background()
	svc, cold, _, _ := shipment(b, db)
	const loggers, perRound, pubConns, publishers, conns = 100, 20000, 10, 40, 16
	serials := make([]string, loggers)
	for i := range serials {
		serials[i] = randomID(fmt.Sprintf("B%03d-", i))
		if err := svc.RegisterDevice(ctx, cold, &trace.Device{Serial: serials[i]}); err != nil {
			b.Fatal(err)
		}
	}
	subscribe(b, broker, svc, conns)
	pubs := make([]*autopaho.ConnectionManager, pubConns)
	for i := range pubs {
		pubs[i] = publisher(b, broker)
	}
	base := time.Now().Add(-60 * 24 * time.Hour).Truncate(time.Second)
	stored := func() int {
		var n int
		db.QueryRow(ctx, `SELECT COUNT(*) FROM readings`).Scan(&n)
		return n
	}
	// message k of a round carries readings k·perMsg … of logger k mod loggers.
	payload := func(first int) []byte {
		var rs []string
		for n := first; n < first+perMsg; n++ {
			rs = append(rs, `{"time":"`+base.Add(time.Duration(n/loggers/perMsg*perMsg+n%perMsg)*time.Second).Format(time.RFC3339)+
				`","temperature":`+strconv.FormatFloat(6+float64(n%7)/5, 'f', 1, 64)+`,"humidity":90}`)
		}
		if perMsg == 1 {
			return []byte(rs[0])
		}
		return []byte(`{"readings":[` + strings.Join(rs, ",") + `]}`)
	}
	sent := 0
	var publishing time.Duration
	b.ResetTimer()
	for b.Loop() {
		var wg sync.WaitGroup
		t0 := time.Now()
		for p := range publishers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for k := p; k < perRound/perMsg; k += publishers {
					first := sent + k*perMsg
					topic := telemetry.TopicPrefix + serials[(first/perMsg)%loggers]
					if _, err := pubs[p%pubConns].Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: payload(first)}); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		publishing += time.Since(t0)
		sent += perRound
		deadline := time.Now().Add(time.Minute)
		for stored() < sent {
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d readings stored after a minute", stored(), sent)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	b.ReportMetric(float64(sent)/b.Elapsed().Seconds(), "readings/s")
	b.ReportMetric(float64(sent)/publishing.Seconds(), "published/s")
}
