package web

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/trace"
)

// The scan pages are served from a cache of certificate states, so that a scan
// costs no database read but its counter's. A state has two ages: its status (the
// certificate with its revocation, the recall marks, the ledger badge) and its
// journey (the lot graph, the cold chain, sampling and orders). Every sweepEvery a
// scan has the cache ask the database what was revoked or marked non-compliant
// since the last sweep, and whether the ledger has anchored more of the log; the
// states concerned (and, after anchoring, those whose badge said 待上链) are read
// again at their next scan: a revocation, a recall or an anchoring shows within
// seconds. Besides, a status is read again after statusTTL (unknownTTL for a code
// that named nothing: its certificate may be issued since), a journey after
// journeyTTL. Every process keeps its own cache; a replica serves scans alike.

// Cache defaults.
const (
	defaultStatusTTL  = 10 * time.Minute
	defaultJourneyTTL = 15 * time.Minute
	defaultEntries    = 20_000
	unknownTTL        = 30 * time.Second
	sweepEvery        = 5 * time.Second
	sweepOverlap      = time.Minute // rows committed late with an earlier time are still seen
)

type scanCache struct {
	mu  sync.RWMutex
	m   map[scanKey]*certEntry // a certificate's Digital Link and short link share an entry
	max int

	swept    atomic.Int64 // µs: the start of the last sweep
	anchored atomic.Int64 // the tree size anchored at the last sweep
	sweeping atomic.Bool
}

// certEntry is a certificate's cached state; mu is held while it is read anew, so
// that concurrent scans of a stale code wait for one read rather than each making it.
type certEntry struct {
	mu    sync.Mutex
	state atomic.Pointer[certState]
}

// certState is what the pages of a certificate show, read at statusAt and journeyAt.
type certState struct {
	cert      *cert.Issued // nil: the code names no certificate
	journey   *journey
	status    string
	recall    []trace.NonCompliance
	ledger    ledgerView
	statusAt  time.Time
	journeyAt time.Time
	invalid   atomic.Bool                  // a sweep saw it revoked, recalled or anchored since statusAt
	pages     [2]atomic.Pointer[pageParts] // zh, en; rendered on first use
}

func newScanCache(max int) *scanCache {
	return &scanCache{m: map[scanKey]*certEntry{}, max: max}
}

// entry returns the entry of a code (its unit left out), adding it, and dropping an
// arbitrary one when the cache is full.
func (c *scanCache) entry(k scanKey) *certEntry {
	k.Unit = ""
	c.mu.RLock()
	e := c.m[k]
	c.mu.RUnlock()
	if e != nil {
		return e
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e = c.m[k]; e == nil {
		c.evict()
		e = &certEntry{}
		c.m[k] = e
	}
	return e
}

// evict drops an arbitrary key when the cache is full; c.mu is held.
func (c *scanCache) evict() {
	if len(c.m) < c.max {
		return
	}
	for old := range c.m { // map order is random: a random victim
		delete(c.m, old)
		return
	}
}

// share files e, which read the certificate with serial through key k, under the
// serial too, or moves k to the entry the serial has already: one state a certificate.
func (c *scanCache) share(k scanKey, e *certEntry, serial string) {
	sk := scanKey{Serial: serial}
	if k == sk {
		return
	}
	k.Unit = ""
	c.mu.Lock()
	defer c.mu.Unlock()
	if other := c.m[sk]; other != nil && other != e {
		c.m[k] = other
		return
	}
	c.evict()
	c.m[sk] = e
}

// certState returns the fresh state of the certificate a code names, reading what
// is stale.
func (s *server) certState(ctx context.Context, k scanKey) (*certState, error) {
	now := s.now()
	s.maybeSweep(now)
	e := s.cache.entry(k)
	if st := e.state.Load(); st != nil && s.fresh(st, now) {
		return st, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	old := e.state.Load()
	if old != nil && s.fresh(old, now) {
		return old, nil
	}
	st, err := s.readState(ctx, k, old, now)
	if err != nil {
		return nil, err
	}
	e.state.Store(st)
	if st.cert != nil && (old == nil || old.cert == nil) {
		s.cache.share(k, e, st.cert.Serial)
	}
	return st, nil
}

func (s *server) fresh(st *certState, now time.Time) bool {
	ttl := s.statusTTL
	if st.cert == nil {
		ttl = min(ttl, unknownTTL)
	}
	return !st.invalid.Load() && now.Sub(st.statusAt) < ttl && (st.cert == nil || now.Sub(st.journeyAt) < s.journeyTTL)
}

// readState reads a code's state: all of it, or only the status when old's journey
// is fresh.
func (s *server) readState(ctx context.Context, k scanKey, old *certState, now time.Time) (*certState, error) {
	st := &certState{statusAt: now, journeyAt: now}
	var c *cert.Issued
	var err error
	switch {
	case old != nil && old.cert != nil && now.Sub(old.journeyAt) < s.journeyTTL:
		c, err = s.scanStore.CertificateBySerial(ctx, old.cert.Serial)
		st.journey, st.journeyAt = old.journey, old.journeyAt
	case k.Serial != "":
		c, err = s.scanStore.CertificateBySerial(ctx, k.Serial)
	default:
		c, err = s.scanStore.CertificateByLot(ctx, k.GTIN, k.Lot)
	}
	if trace.KindOf(err) == trace.KindNotFound {
		return st, nil
	} else if err != nil {
		return nil, err
	}
	st.cert = c
	if st.journey == nil {
		if st.journey, err = s.buildJourney(ctx, c); err != nil {
			return nil, err
		}
	}
	if st.recall, err = s.scanStore.NonCompliant(ctx, st.journey.lots); err != nil {
		return nil, err
	}
	if old != nil && old.ledger.Anchored { // anchored stays anchored
		st.ledger = old.ledger
	} else {
		st.ledger = s.ledger(ctx, "certificate", c.ID, c.Canonical)
	}
	switch {
	case c.Revocation != nil:
		st.status = statusRevoked
	case now.After(c.Issued.Add(s.validity)):
		st.status = statusExpired
	default:
		st.status = statusValid
	}
	return st, nil
}

// maybeSweep starts a sweep when the last one is sweepEvery old and none runs.
func (s *server) maybeSweep(now time.Time) {
	if now.Sub(time.UnixMicro(s.cache.swept.Load())) < sweepEvery || !s.cache.sweeping.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer s.cache.sweeping.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), sweepEvery)
		defer cancel()
		if err := s.sweep(ctx, now); err != nil {
			slog.Warn("scan: cache sweep", "err", err)
		}
	}()
}

// sweep invalidates the states of the certificates revoked and the lots marked
// non-compliant since the last sweep and, when the ledger anchored more, the states
// still showing 待上链.
func (s *server) sweep(ctx context.Context, now time.Time) error {
	since := time.UnixMicro(s.cache.swept.Load()).Add(-sweepOverlap)
	certs, lots, anchored, err := s.scanStore.ScanChanges(ctx, since)
	if err != nil {
		return err
	}
	s.cache.swept.Store(now.UnixMicro())
	grew := anchored > s.cache.anchored.Swap(anchored)
	if len(certs) == 0 && len(lots) == 0 && !grew {
		return nil
	}
	slices.Sort(certs)
	slices.Sort(lots)
	s.cache.mu.RLock()
	defer s.cache.mu.RUnlock()
	for _, e := range s.cache.m {
		st := e.state.Load()
		if st == nil || st.cert == nil {
			continue
		}
		_, revoked := slices.BinarySearch(certs, st.cert.ID)
		pending := grew && st.ledger.Known && !st.ledger.Anchored
		if revoked || pending || slices.ContainsFunc(st.journey.lots, func(l int64) bool { _, ok := slices.BinarySearch(lots, l); return ok }) {
			st.invalid.Store(true)
		}
	}
	return nil
}

// page returns the state's page in a language, rendering it on first use.
func (s *server) page(st *certState, lang string) (*pageParts, error) {
	i := 0
	if lang == "en" {
		i = 1
	}
	if p := st.pages[i].Load(); p != nil {
		return p, nil
	}
	var buf bytes.Buffer
	if err := scanPages.ExecuteTemplate(&buf, "scan-cert", s.scanView(lang, st.cert.URL(s.base, 0), certTitle(st.cert, lang), s.certScanPage(st))); err != nil {
		return nil, err
	}
	p, err := splitPage(buf.Bytes())
	if err != nil {
		return nil, err
	}
	st.pages[i].Store(p)
	return p, nil
}
