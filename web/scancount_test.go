package web

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"hash/crc32"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ganpin/ganpin/cert"
)

// fakeTallies is a tally store whose writes can be made to fail or to wait.
type fakeTallies struct {
	mu     sync.Mutex
	rows   map[string]cert.ScanTally
	reads  int
	fail   bool
	during func() // called inside AddScans, before it stores
}

func (f *fakeTallies) ScanTallies(_ context.Context, codes []string) ([]cert.ScanTally, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	var out []cert.ScanTally
	for _, c := range codes {
		if t, ok := f.rows[c]; ok {
			out = append(out, t)
		}
	}
	return out, nil
}

func (f *fakeTallies) AddScans(_ context.Context, ts []cert.ScanTally) error {
	if f.during != nil {
		f.during()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return errors.New("database down")
	}
	for _, t := range ts {
		old, ok := f.rows[t.Code]
		if ok {
			t.Scans += old.Scans
			if old.First.Before(t.First) {
				t.First = old.First
			}
		}
		f.rows[t.Code] = t
	}
	return nil
}

func TestScanCounterCountsEveryScan(t *testing.T) {
	ctx := context.Background()
	f := &fakeTallies{rows: map[string]cert.ScanTally{"A": {Code: "A", Scans: 5, First: time.Unix(100, 0), Last: time.Unix(200, 0)}}}
	c := NewScanCounter(f, time.Hour)
	now := time.Unix(1000, 0)

	// 8 codes scanned 50 times each at once: the stored counts are read in batches,
	// and every scan is counted.
	var wg sync.WaitGroup
	codes := []string{"A", "B", "C", "D", "E", "F", "G", "H"}
	for i := range 400 {
		wg.Go(func() {
			if _, err := c.Scan(ctx, codes[i%len(codes)], now, ""); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if f.reads > len(codes) {
		t.Errorf("%d reads for %d codes", f.reads, len(codes))
	}
	if got, _ := c.Scan(ctx, "A", now, ""); got.Scans != 5+50+1 || !got.First.Equal(time.Unix(100, 0)) {
		t.Errorf("A: %+v, want 56 scans first at 100", got)
	}

	// A failed write keeps the scans; scans during a write are counted once.
	f.fail = true
	if err := c.Flush(ctx); err == nil {
		t.Fatal("Flush with the database down succeeded")
	}
	f.fail = false
	f.during = func() {
		f.during = nil
		if _, err := c.Scan(ctx, "B", now.Add(time.Second), ""); err != nil {
			t.Error(err)
		}
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	for code, want := range map[string]int64{"A": 56, "B": 51, "C": 50} {
		if got := f.rows[code].Scans; got != want {
			t.Errorf("stored %s: %d scans, want %d", code, got, want)
		}
	}
	if got, _ := c.Scan(ctx, "B", now.Add(2*time.Second), ""); got.Scans != 52 || !got.Last.Equal(now.Add(2*time.Second)) {
		t.Errorf("B after the writes: %+v", got)
	}

	// Regions are kept, a few at most, and written.
	for _, r := range []string{"310000", "310000", "440000"} {
		c.Scan(ctx, "R", now, r)
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := f.rows["R"]; got.Scans != 3 || strings.Join(got.Regions, ",") != "310000,440000" {
		t.Errorf("R: %+v", got)
	}
}

func TestScanLimiter(t *testing.T) {
	l := newScanLimiter(1, 3)
	now := time.Unix(0, 0)
	a, b := clientPrefix("203.0.113.7:5555"), clientPrefix("[2001:db8:1:2:aaaa::1]:443")
	if b != clientPrefix("2001:db8:1:2:bbbb::9") {
		t.Error("IPv6 clients of one /64 are limited apart")
	}
	for i := range 3 {
		if ok, _ := l.allow(a, now); !ok {
			t.Fatalf("scan %d refused", i+1)
		}
	}
	ok, wait := l.allow(a, now)
	if ok || wait <= 0 || wait > time.Second {
		t.Errorf("fourth scan: %v, wait %v", ok, wait)
	}
	if ok, _ := l.allow(b, now); !ok {
		t.Error("another client refused")
	}
	if ok, _ := l.allow(a, now.Add(1100*time.Millisecond)); !ok {
		t.Error("refused after refilling a token")
	}
	if clientPrefix("not an address") != (netip.Prefix{}) {
		t.Error("a malformed address has a prefix")
	}
}

func TestPageParts(t *testing.T) {
	page := []byte("<html><p>head " + strings.Repeat("静态内容 ", 3000) + slotMarker + "<p>middle" + slotMarker + "<p>tail</html>")
	p, err := splitPage(page)
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), 70_000) // more than one stored block
	for _, dyn := range [][][]byte{{[]byte("<b>1</b>"), nil}, {big, []byte("<i>2</i>")}} {
		want := string(page)
		want = strings.Replace(want, slotMarker, string(dyn[0]), 1)
		want = strings.Replace(want, slotMarker, string(dyn[1]), 1)
		plain, err := p.appendPlain(nil, dyn)
		if err != nil || string(plain) != want {
			t.Errorf("plain body differs: %v", err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(p.appendBody(nil, dyn)))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(zr) // checks the combined CRC and the length
		if err != nil || string(got) != want {
			t.Errorf("gzipped body: %v, %d bytes, want %d", err, len(got), len(want))
		}
	}
	for _, n := range []int{0, 1, 7, 1000, 65537} {
		a, b := bytes.Repeat([]byte("甲"), 11), bytes.Repeat([]byte{'z', 3}, n)
		s := newCRCShift(len(b))
		if got, want := s.apply(crc32.ChecksumIEEE(a))^crc32.ChecksumIEEE(b), crc32.ChecksumIEEE(append(a, b...)); got != want {
			t.Errorf("combined CRC over %d bytes: %08x, want %08x", len(b), got, want)
		}
	}
	if p.etag([][]byte{[]byte("1"), nil}) == p.etag([][]byte{[]byte("2"), nil}) {
		t.Error("one ETag for different pages")
	}
}

func TestNegotiation(t *testing.T) {
	for _, tc := range []struct {
		header, value string
		lang          string
		gzip, linkset bool
	}{
		{"Accept-Language", "", "zh", false, false},
		{"Accept-Language", "en-US,en;q=0.9", "en", false, false},
		{"Accept-Language", "zh-CN,zh;q=0.9,en;q=0.8", "zh", false, false},
		{"Accept-Language", "fr-FR,en;q=0.5,zh;q=0.4", "en", false, false},
		{"Accept-Language", "fr-FR", "zh", false, false},
		{"Accept-Encoding", "gzip, deflate, br", "zh", true, false},
		{"Accept-Encoding", "gzip;q=0, br", "zh", false, false},
		{"Accept-Encoding", "identity", "zh", false, false},
		{"Accept", "application/linkset+json", "zh", false, true},
		{"Accept", "text/html, application/linkset+json;q=0", "zh", false, false},
		{"Accept", "text/html,*/*;q=0.8", "zh", false, false},
	} {
		r, _ := http.NewRequest("GET", "/c/GP2600000001", nil)
		r.Header.Set(tc.header, tc.value)
		if got := langOf(r); got != tc.lang {
			t.Errorf("%s: %s: language %s, want %s", tc.header, tc.value, got, tc.lang)
		}
		if got := acceptsGzip(r); got != tc.gzip {
			t.Errorf("%s: %s: gzip %v", tc.header, tc.value, got)
		}
		if got := wantsLinkset(r); got != tc.linkset {
			t.Errorf("%s: %s: linkset %v", tc.header, tc.value, got)
		}
	}
}
