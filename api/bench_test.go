package api_test

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/testdb"
)

// benchEnv runs the API in this process on each engine.
func benchEach(b *testing.B, fn func(b *testing.B, e *env)) {
	b.Run("sqlite", func(b *testing.B) { fn(b, newEnv(&testing.T{}, testdb.SQLite(b))) })
	b.Run("postgres", func(b *testing.B) {
		var db sqldb.DB = testdb.Postgres(b)
		fn(b, newEnv(&testing.T{}, db))
	})
}

var benchClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxConnsPerHost: 256}}

func post(b *testing.B, url, token, body string) {
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	res, err := benchClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	msg, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 201 {
		b.Fatalf("%d %s", res.StatusCode, msg)
	}
}

var seq atomic.Int64

// BenchmarkCaptureSingle posts one harvest per request from parallel clients.
func BenchmarkCaptureSingle(b *testing.B) {
	benchEach(b, func(b *testing.B, e *env) {
		at := time.Now().Add(-time.Hour)
		b.SetParallelism(16)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				post(b, e.url+"/api/v1/events", e.coop, e.harvest(fmt.Sprintf("S%d", seq.Add(1)), 100, at))
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
	})
}

// BenchmarkCaptureBatch posts batches of 1,000 harvests from parallel clients.
func BenchmarkCaptureBatch(b *testing.B) {
	const size = 1000
	benchEach(b, func(b *testing.B, e *env) {
		at := time.Now().Add(-time.Hour)
		b.SetParallelism(2)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			var buf bytes.Buffer
			for pb.Next() {
				buf.Reset()
				buf.WriteString(`{"events":[`)
				for i := range size {
					if i > 0 {
						buf.WriteByte(',')
					}
					buf.WriteString(e.harvest(fmt.Sprintf("B%d", seq.Add(1)), 100, at))
				}
				buf.WriteString(`]}`)
				post(b, e.url+"/api/v1/events/batch", e.coop, buf.String())
			}
		})
		b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "events/s")
	})
}
