package web

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/ganpin/ganpin/cert"
)

// ScanTallyStore keeps the scan counters; internal/store implements it.
type ScanTallyStore interface {
	// ScanTallies returns the stored tallies of codes (none for a code never scanned).
	ScanTallies(ctx context.Context, codes []string) ([]cert.ScanTally, error)
	// AddScans adds tallies' scans to their codes, keeping the earliest first and the
	// latest last scan and replacing the regions by the tallies'.
	AddScans(ctx context.Context, ts []cert.ScanTally) error
}

// ScanCounter counts every scan of every printed code without a write per scan:
// scans are added up in memory and written in one batch per interval (Run), so the
// database sees at most one row write per code scanned in an interval, however
// often it was scanned. Stored counts are read in batches too: the scans that need a
// code's count within loadWindow share one query. Counts shown are exact on one
// server; with several, each reads the others' scans once its copy is older than
// knownTTL.
type ScanCounter struct {
	store ScanTallyStore
	every time.Duration

	mu    sync.Mutex
	known map[string]*tally
	batch *loadBatch // collecting codes to read, nil when none is
}

// tally is a code's stored count as last read or written, and the scans since.
type tally struct {
	stored      cert.ScanTally
	read        time.Time // when stored was read
	pending     int64     // scans not written yet, from first to last
	first, last time.Time
	flushing    int64 // scans being written, from fFirst to fLast
	fFirst      time.Time
	fLast       time.Time
	regions     []string // stored and new
	newRgn      bool     // a region was added since the last write
	fRgn        bool     // the write under way adds regions
}

// total returns the tally with the scans not yet written.
func (t *tally) total() cert.ScanTally {
	out := t.stored
	out.Scans += t.pending + t.flushing
	for _, f := range []time.Time{t.first, t.fFirst} {
		if !f.IsZero() && (out.First.IsZero() || f.Before(out.First)) {
			out.First = f
		}
	}
	out.Last = maxTime(out.Last, maxTime(t.last, t.fLast))
	out.Regions = t.regions
	return out
}

func (t *tally) dirty() bool { return t.pending > 0 || t.flushing > 0 || t.newRgn || t.fRgn }

// Batching and memory bounds.
const (
	loadWindow  = time.Millisecond // how long the first scan of a batch waits for others
	loadMax     = 256              // codes read in one query
	knownTTL    = time.Minute      // a clean count is read again after this
	maxKnown    = 200_000          // clean counts kept beyond this are dropped at a flush
	defaultEvry = 2 * time.Second
)

// NewScanCounter returns a counter over store that writes every interval (2 s when 0)
// once Run runs.
func NewScanCounter(store ScanTallyStore, every time.Duration) *ScanCounter {
	if every <= 0 {
		every = defaultEvry
	}
	return &ScanCounter{store: store, every: every, known: map[string]*tally{}}
}

// loadBatch is a set of codes read in one query.
type loadBatch struct {
	codes []string
	full  chan struct{} // closed when loadMax codes joined
	done  chan struct{} // closed when read
	res   map[string]cert.ScanTally
	err   error
}

// Scan counts one scan of code at now from region ("" when unknown) and returns the
// code's tally with it.
func (c *ScanCounter) Scan(ctx context.Context, code string, now time.Time, region string) (cert.ScanTally, error) {
	c.mu.Lock()
	t := c.known[code]
	if t == nil || (!t.dirty() && now.Sub(t.read) > knownTTL) {
		c.mu.Unlock()
		stored, err := c.load(ctx, code)
		if err != nil {
			return cert.ScanTally{}, err
		}
		c.mu.Lock()
		if t = c.known[code]; t == nil || !t.dirty() {
			t = &tally{stored: stored, read: now, regions: stored.Regions}
			c.known[code] = t
		}
	}
	defer c.mu.Unlock()
	t.pending++
	if t.first.IsZero() {
		t.first = now
	}
	t.last = now
	if region != "" && !slices.Contains(t.regions, region) && len(t.regions) < cert.MaxScanRegions {
		t.regions = append(slices.Clip(t.regions), region)
		t.newRgn = true
	}
	return t.total(), nil
}

// load reads code's stored tally, in a batch with the codes other scans need now.
func (c *ScanCounter) load(ctx context.Context, code string) (cert.ScanTally, error) {
	c.mu.Lock()
	b, lead := c.batch, false
	if b == nil {
		b = &loadBatch{full: make(chan struct{}), done: make(chan struct{})}
		c.batch, lead = b, true
	}
	b.codes = append(b.codes, code)
	if len(b.codes) == loadMax {
		c.batch = nil
		close(b.full)
	}
	c.mu.Unlock()
	if lead {
		select {
		case <-b.full:
		case <-time.After(loadWindow):
			c.mu.Lock()
			if c.batch == b {
				c.batch = nil
			}
			c.mu.Unlock()
		}
		// The batch is closed to newcomers now; read it on a context of its own, so
		// that the leader's client going away does not fail the others.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		ts, err := c.store.ScanTallies(rctx, b.codes)
		cancel()
		b.res, b.err = map[string]cert.ScanTally{}, err
		for _, t := range ts {
			b.res[t.Code] = t
		}
		close(b.done)
	}
	select {
	case <-b.done:
	case <-ctx.Done():
		return cert.ScanTally{}, ctx.Err()
	}
	if b.err != nil {
		return cert.ScanTally{}, b.err
	}
	t, ok := b.res[code]
	if !ok {
		t = cert.ScanTally{Code: code}
	}
	return t, nil
}

// Run writes the counts every interval until ctx ends, then once more.
func (c *ScanCounter) Run(ctx context.Context) {
	tk := time.NewTicker(c.every)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := c.Flush(fctx); err != nil {
				slog.Error("scan counts not written at shutdown", "err", err)
			}
			return
		case <-tk.C:
			if err := c.Flush(ctx); err != nil {
				slog.Warn("scan counts not written; will retry", "err", err)
			}
		}
	}
}

// Flush writes the scans counted since the last write. When the write fails they
// stay counted and go with the next one.
func (c *ScanCounter) Flush(ctx context.Context) error {
	c.mu.Lock()
	var batch []cert.ScanTally
	var ts []*tally
	for code, t := range c.known {
		if t.pending == 0 && !t.newRgn {
			continue
		}
		t.flushing, t.fFirst, t.fLast, t.fRgn = t.pending, t.first, t.last, t.newRgn
		t.pending, t.first, t.last, t.newRgn = 0, time.Time{}, time.Time{}, false
		batch = append(batch, cert.ScanTally{Code: code, Scans: t.flushing, First: t.fFirst, Last: t.fLast, Regions: t.regions})
		ts = append(ts, t)
	}
	c.mu.Unlock()
	var err error
	if len(batch) > 0 {
		err = c.store.AddScans(ctx, batch)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range ts {
		if err != nil { // counted still: they go with the next write
			t.pending += t.flushing
			if t.first.IsZero() || (!t.fFirst.IsZero() && t.fFirst.Before(t.first)) {
				t.first = t.fFirst
			}
			t.last = maxTime(t.last, t.fLast)
			t.newRgn = t.newRgn || t.fRgn
		} else {
			t.stored.Scans += t.flushing
			if t.stored.First.IsZero() || t.fFirst.Before(t.stored.First) {
				t.stored.First = t.fFirst
			}
			t.stored.Last = maxTime(t.stored.Last, t.fLast)
			t.stored.Regions = t.regions
		}
		t.flushing, t.fFirst, t.fLast, t.fRgn = 0, time.Time{}, time.Time{}, false
	}
	if len(c.known) > maxKnown {
		for code, t := range c.known {
			if !t.dirty() {
				delete(c.known, code)
			}
			if len(c.known) <= maxKnown/2 {
				break
			}
		}
	}
	return err
}
