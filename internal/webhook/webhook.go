// Package webhook delivers the webhook outbox (recall notices to platforms):
// HMAC-SHA256-signed POSTs, retried with exponential backoff until the platform
// answers 2xx or the attempts run out. The platforms' secrets are sealed to the
// worker's X25519 key (see trace/webhooks.go); only the worker opens them.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/curve25519"
	"golang.org/x/crypto/nacl/box"

	"github.com/ganpin/ganpin/internal/sqldb"
)

// Key is the worker's key pair, kept in the data directory (webhook.key, mode 0600).
// Every server delivering from one database needs the same file.
type Key struct {
	Public, Private *[32]byte
}

// LoadKey reads dataDir/webhook.key, creating it on first use.
func LoadKey(dataDir string) (*Key, error) {
	path := filepath.Join(dataDir, "webhook.key")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		pub, priv, err := box.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, err
		}
		if _, err := fmt.Fprintln(f, hex.EncodeToString(priv[:])); err != nil {
			f.Close()
			return nil, err
		}
		return &Key{pub, priv}, f.Close()
	} else if err != nil {
		return nil, err
	}
	raw, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(raw) != 32 {
		return nil, fmt.Errorf("webhook key %s: want 32 bytes in hex", path)
	}
	pub, err := curve25519.X25519(raw, curve25519.Basepoint)
	if err != nil {
		return nil, fmt.Errorf("webhook key %s: %w", path, err)
	}
	return &Key{(*[32]byte)(pub), (*[32]byte)(raw)}, nil
}

// Sign returns the X-Ganpin-Signature header of a body sent at t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<unix seconds>.<body>")>".
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts + "."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks a signature header against the body, as a receiving platform
// does; signatures older than tolerance are refused, against replays.
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || sig == "" {
		return errors.New("webhook: malformed signature header")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return errors.New("webhook: signature timestamp outside the tolerance")
	}
	want := Sign(secret, time.Unix(sec, 0), body)
	if !hmac.Equal([]byte(want), []byte("t="+ts+",v1="+sig)) {
		return errors.New("webhook: signature mismatch")
	}
	return nil
}

// Config configures a Worker; zero fields take the defaults.
type Config struct {
	DB          sqldb.DB
	Key         *Key
	Client      *http.Client     // 10 s timeout by default
	Poll        time.Duration    // how often to look for due deliveries; 1 s
	Backoff     time.Duration    // the first retry's delay, doubled each attempt; 10 s
	MaxBackoff  time.Duration    // 1 h
	MaxAttempts int              // then the delivery is marked failed; 20 (about a day)
	Now         func() time.Time // time.Now
}

// Worker delivers the outbox.
type Worker struct {
	cfg Config
}

// New returns a worker.
func New(cfg Config) *Worker {
	if cfg.Client == nil {
		cfg.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = 10 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = time.Hour
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Worker{cfg: cfg}
}

// Publish writes the worker's public key into the database, where the service
// seals new secrets to it. Secrets sealed to an earlier key can no longer be
// opened: their platforms must register again.
func (w *Worker) Publish(ctx context.Context) error {
	var old []byte
	err := w.cfg.DB.QueryRow(ctx, `SELECT public_key FROM webhook_key WHERE id = 1`).Scan(&old)
	if err == nil && bytes.Equal(old, w.cfg.Key.Public[:]) {
		return nil
	} else if err != nil && !errors.Is(err, sqldb.ErrNoRows) {
		return err
	}
	if old != nil {
		slog.Warn("webhook key replaced: platforms registered under the old key must register their webhooks again")
	}
	_, err = w.cfg.DB.Exec(ctx, `INSERT INTO webhook_key (id, public_key) VALUES (1, $1)
		ON CONFLICT (id) DO UPDATE SET public_key = excluded.public_key`, w.cfg.Key.Public[:])
	return err
}

// Run publishes the key and delivers until ctx is done.
func (w *Worker) Run(ctx context.Context) error {
	if err := w.Publish(ctx); err != nil {
		return err
	}
	t := time.NewTicker(w.cfg.Poll)
	defer t.Stop()
	for {
		if _, err := w.RunOnce(ctx); err != nil && ctx.Err() == nil {
			slog.Warn("webhook deliveries", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

type due struct {
	id, party   int64
	event       string
	body        []byte
	attempts    int
	next        int64
	url         string
	sealed      []byte
	hasEndpoint bool
}

// lease is how long a claimed delivery is kept from other workers while it is sent.
const lease = 5 * time.Minute

// RunOnce sends the deliveries that are due and returns how many it delivered.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	now := w.cfg.Now()
	rows, err := w.cfg.DB.Query(ctx, `SELECT d.id, d.party_id, d.event, d.body, d.attempts, d.next_attempt,
		COALESCE(h.url, ''), COALESCE(h.sealed, d.body), h.party_id IS NOT NULL
		FROM webhook_deliveries d LEFT JOIN webhooks h ON h.party_id = d.party_id
		WHERE d.delivered IS NULL AND d.failed IS NULL AND d.next_attempt <= $1 ORDER BY d.next_attempt, d.id LIMIT 100`, now.UnixMicro())
	if err != nil {
		return 0, err
	}
	var ds []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.id, &d.party, &d.event, &d.body, &d.attempts, &d.next, &d.url, &d.sealed, &d.hasEndpoint); err != nil {
			rows.Close()
			return 0, err
		}
		ds = append(ds, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	sent := 0
	for _, d := range ds {
		// Claim it: another worker that read the same row finds next_attempt moved.
		n, err := w.cfg.DB.Exec(ctx, `UPDATE webhook_deliveries SET next_attempt = $3 WHERE id = $1 AND next_attempt = $2`,
			d.id, d.next, now.Add(lease).UnixMicro())
		if err != nil {
			return sent, err
		}
		if n == 0 {
			continue
		}
		status, err := w.send(ctx, &d, now)
		if err == nil {
			sent++
			_, err = w.cfg.DB.Exec(ctx, `UPDATE webhook_deliveries SET delivered = $2, attempts = attempts + 1, last_status = $3, last_error = NULL WHERE id = $1`,
				d.id, w.cfg.Now().UnixMicro(), status)
			if err != nil {
				return sent, err
			}
			continue
		}
		if err := w.retry(ctx, &d, status, err); err != nil {
			return sent, err
		}
	}
	return sent, nil
}

// send posts one delivery, signed; an error for anything but a 2xx answer.
func (w *Worker) send(ctx context.Context, d *due, now time.Time) (int, error) {
	if !d.hasEndpoint {
		return 0, errors.New("the platform has no webhook endpoint registered")
	}
	secret, ok := box.OpenAnonymous(nil, d.sealed, w.cfg.Key.Public, w.cfg.Key.Private)
	if !ok {
		return 0, errors.New("cannot open the endpoint's secret (was the worker key replaced?): the platform must register its webhook again")
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url, bytes.NewReader(d.body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Ganpin-Webhook/1")
	req.Header.Set("X-Ganpin-Event", d.event)
	req.Header.Set("X-Ganpin-Delivery", strconv.FormatInt(d.id, 10))
	req.Header.Set("X-Ganpin-Signature", Sign(string(secret), now, d.body))
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("the endpoint answered %s", resp.Status)
	}
	return resp.StatusCode, nil
}

// retry schedules the next attempt after Backoff·2^(attempts−1), at most
// MaxBackoff, or gives up after MaxAttempts.
func (w *Worker) retry(ctx context.Context, d *due, status int, cause error) error {
	attempts := d.attempts + 1
	now := w.cfg.Now()
	msg := cause.Error()
	if len(msg) > 500 {
		msg = msg[:500]
	}
	var st any
	if status != 0 {
		st = status
	}
	if attempts >= w.cfg.MaxAttempts {
		slog.Warn("webhook delivery failed for good", "delivery", d.id, "party", d.party, "attempts", attempts, "err", msg)
		_, err := w.cfg.DB.Exec(ctx, `UPDATE webhook_deliveries SET attempts = $2, failed = $3, last_status = $4, last_error = $5 WHERE id = $1`,
			d.id, attempts, now.UnixMicro(), st, msg)
		return err
	}
	_, err := w.cfg.DB.Exec(ctx, `UPDATE webhook_deliveries SET attempts = $2, next_attempt = $3, last_status = $4, last_error = $5 WHERE id = $1`,
		d.id, attempts, now.Add(w.Backoff(attempts)).UnixMicro(), st, msg)
	return err
}

// Backoff returns the delay before the attempt after the given number of failed ones.
func (w *Worker) Backoff(failed int) time.Duration {
	d := w.cfg.Backoff
	for i := 1; i < failed && d < w.cfg.MaxBackoff; i++ {
		d *= 2
	}
	return min(d, w.cfg.MaxBackoff)
}
