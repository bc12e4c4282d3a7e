package web

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/trace"
)

// The scan pages are served from a cache of certificate states, so that a scan
// costs no database read but its counter's. A state has two ages: its status (the
// certificate with its revocation, the recall marks, the ledger badge: what must show
// soon) is read again after statusTTL, its journey (the lot graph, the cold chain,
// sampling and orders) after journeyTTL. A code that names nothing is cached as such
// for statusTTL. Every process keeps its own cache; a replica serves scans alike.

// Cache defaults.
const (
	defaultStatusTTL  = 30 * time.Second
	defaultJourneyTTL = 5 * time.Minute
	defaultEntries    = 20_000
)

type scanCache struct {
	mu  sync.RWMutex
	m   map[scanKey]*certEntry
	max int
}

// certEntry is one code's cached state; mu is held while it is read anew, so that
// concurrent scans of a stale code wait for one read rather than each making it.
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
		if len(c.m) >= c.max {
			for old := range c.m { // map order is random: a random victim
				delete(c.m, old)
				break
			}
		}
		e = &certEntry{}
		c.m[k] = e
	}
	return e
}

// certState returns the fresh state of the certificate a code names, reading what
// is stale.
func (s *server) certState(ctx context.Context, k scanKey) (*certState, error) {
	e := s.cache.entry(k)
	now := s.now()
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
	return st, nil
}

func (s *server) fresh(st *certState, now time.Time) bool {
	return now.Sub(st.statusAt) < s.statusTTL && (st.cert == nil || now.Sub(st.journeyAt) < s.journeyTTL)
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
	st.ledger = s.ledger(ctx, "certificate", c.ID, c.Canonical)
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
