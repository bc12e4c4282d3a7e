package web

import (
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// scanLimiter limits the scans one client may make: a token bucket per client
// address (an IPv6 client by its /64), so that no client can turn scans into
// unbounded counter rows or database reads. A refused scan is answered 429 and not
// counted; every scan served is.
type scanLimiter struct {
	rate  float64 // tokens a second
	burst float64
	mu    sync.Mutex
	seen  map[netip.Prefix]*bucket
}

type bucket struct {
	tokens float64
	at     time.Time
}

// maxClients bounds the buckets kept: beyond it, the full ones are dropped (a client
// idle long enough to refill is the same as a new one).
const maxClients = 100_000

func newScanLimiter(rate float64, burst int) *scanLimiter {
	return &scanLimiter{rate: rate, burst: float64(burst), seen: map[netip.Prefix]*bucket{}}
}

// allow takes a token for client at now; false, with how long until the next one,
// when there is none.
func (l *scanLimiter) allow(client netip.Prefix, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.seen[client]
	if b == nil {
		if len(l.seen) >= maxClients {
			l.prune(now)
		}
		b = &bucket{tokens: l.burst, at: now}
		l.seen[client] = b
	}
	b.tokens = min(l.burst, b.tokens+now.Sub(b.at).Seconds()*l.rate)
	b.at = now
	if b.tokens < 1 {
		return false, time.Duration((1 - b.tokens) / l.rate * float64(time.Second))
	}
	b.tokens--
	return true, 0
}

func (l *scanLimiter) prune(now time.Time) {
	full := time.Duration(l.burst / l.rate * float64(time.Second))
	for k, b := range l.seen {
		if now.Sub(b.at) >= full {
			delete(l.seen, k)
		}
	}
	if len(l.seen) >= maxClients { // all busy: start afresh rather than grow
		clear(l.seen)
	}
}

// clientPrefix returns the address a client is limited by: the host of addr (as
// ClientIP or RemoteAddr give it), an IPv6 one cut to its /64.
func clientPrefix(addr string) netip.Prefix {
	if host, _, err := net.SplitHostPort(addr); err == nil {
		addr = host
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return netip.Prefix{}
	}
	ip = ip.Unmap()
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return p
}

// remoteAddr is the default ClientIP: the connection's peer.
func remoteAddr(r *http.Request) string { return r.RemoteAddr }
