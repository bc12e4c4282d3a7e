package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ganpin/ganpin/internal/testdb"
)

// BenchmarkCaptureHTTP loads `ganpin serve`, running as a separate process, with
// harvest events over HTTP from parallel clients in this process: one event per
// request, and batches of 1,000 per request.
func BenchmarkCaptureHTTP(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		for _, size := range []int{1, 1000} {
			b.Run(fmt.Sprintf("%s/batch=%d", engine, size), func(b *testing.B) {
				args := []string{"--data", b.TempDir()}
				if engine == "postgres" {
					args = append(args, "--database-url", testdb.PostgresSchemaURL(b))
				}
				p := start(b, args...)
				orchard, fruit := demoOrchard(b, p)
				clients := 32
				if size > 1 {
					clients = 4
				}
				benchCapture(b, p, orchard, fruit, size, clients)
			})
		}
	}
}

var benchClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}

func benchCapture(b *testing.B, p *proc, orchard, fruit int64, size, clients int) {
	var seq atomic.Int64
	at := time.Now().Add(-time.Hour).Format(time.RFC3339)
	harvest := func(buf *bytes.Buffer) {
		fmt.Fprintf(buf, `{"type":"harvest","time":%q,"site":%d,"harvest":{"lot":{"code":"L%d","product":%d,"quantity":100,"unit":"kg"}}}`,
			at, orchard, seq.Add(1), fruit)
	}
	var mu sync.Mutex
	var lat []time.Duration
	b.SetParallelism((clients + 1) / 2)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var buf bytes.Buffer
		var mine []time.Duration
		for pb.Next() {
			buf.Reset()
			path := "/api/v1/events"
			if size == 1 {
				harvest(&buf)
			} else {
				path = "/api/v1/events/batch"
				buf.WriteString(`{"events":[`)
				for i := range size {
					if i > 0 {
						buf.WriteByte(',')
					}
					harvest(&buf)
				}
				buf.WriteString(`]}`)
			}
			req, _ := http.NewRequest("POST", p.base+path, &buf)
			req.Header.Set("Authorization", "Bearer "+p.token)
			t0 := time.Now()
			res, err := benchClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			mine = append(mine, time.Since(t0))
			if res.StatusCode != 201 {
				b.Fatalf("%d %s", res.StatusCode, body)
			}
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// demoOrchard returns an orchard of the demo cooperative and its bulk fruit product.
func demoOrchard(t testing.TB, p *proc) (orchard, fruit int64) {
	var sites, products struct {
		Items []struct {
			ID   int64  `json:"id"`
			Kind string `json:"kind"`
			Unit string `json:"unit"`
		} `json:"items"`
	}
	p.get(t, "/api/v1/sites?limit=1000", &sites)
	p.get(t, "/api/v1/products", &products)
	for _, s := range sites.Items {
		if s.Kind == "orchard" {
			orchard = s.ID
		}
	}
	for _, pr := range products.Items {
		if pr.Unit == "kg" {
			fruit = pr.ID
		}
	}
	return orchard, fruit
}

// BenchmarkCaptureToAnchor measures how long a captured event waits until a
// checkpoint covering it is anchored on the embedded ledger (the server anchors
// every two seconds by default), by polling the event's receipt.
func BenchmarkCaptureToAnchor(b *testing.B) {
	p := start(b, "--data", b.TempDir())
	orchard, fruit := demoOrchard(b, p)
	var lat []time.Duration
	at := time.Now().Add(-time.Hour).Format(time.RFC3339)
	for i := 0; b.Loop(); i++ {
		body := fmt.Sprintf(`{"type":"harvest","time":%q,"site":%d,"harvest":{"lot":{"code":"A%d","product":%d,"quantity":100,"unit":"kg"}}}`, at, orchard, i, fruit)
		req, _ := http.NewRequest("POST", p.base+"/api/v1/events", bytes.NewBufferString(body))
		req.Header.Set("Authorization", "Bearer "+p.token)
		res, err := benchClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var ev struct{ ID int64 }
		json.NewDecoder(res.Body).Decode(&ev)
		res.Body.Close()
		t0 := time.Now()
		for {
			req, _ := http.NewRequest("GET", fmt.Sprintf("%s/api/v1/events/%d/receipt", p.base, ev.ID), nil)
			req.Header.Set("Authorization", "Bearer "+p.token)
			res, err := benchClient.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		lat = append(lat, time.Since(t0))
		time.Sleep(time.Duration(i%7) * 100 * time.Millisecond) // spread captures over the anchoring cycle
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Milliseconds()), "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Milliseconds()), "p99-ms")
}
