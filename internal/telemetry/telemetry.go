// Package telemetry subscribes to cold-chain loggers over MQTT (eclipse/paho.golang,
// autopaho): each logger publishes its readings on ganpin/telemetry/{serial}, and
// the broker authenticates it (an ACL lets a logger publish only on its own topic).
// Messages are acknowledged (QoS 1) only once their readings are durable, so a
// crash loses nothing the broker has not redelivered; readings are idempotent, so
// redelivery stores nothing twice.
package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/autopaho"
	"github.com/eclipse/paho.golang/paho"

	"github.com/ganpin/ganpin/trace"
)

// TopicPrefix is where loggers publish: TopicPrefix + serial.
const TopicPrefix = "ganpin/telemetry/"

// Ingester stores readings from a trusted transport (trace.Service).
type Ingester interface {
	IngestTelemetry(ctx context.Context, batch []trace.Telemetry) (*trace.IngestReport, error)
}

var _ Ingester = (*trace.Service)(nil)

// Config configures a Subscriber; zero fields take the defaults.
type Config struct {
	BrokerURL string // e.g. mqtt://127.0.0.1:1883, mqtts://broker:8883, ws://…
	// ClientID names the connections (ClientID-1 …), stable across restarts so
	// that the broker keeps their sessions; ganpin-{hostname}.
	ClientID string
	Username string
	Password string
	Service  Ingester
	// Conns is how many connections share the subscription ($share/Group/…): a
	// broker keeps only so many unacknowledged messages in flight per connection
	// (Mosquitto: 20), and messages are acknowledged once stored; 4.
	Conns int
	// Group is the shared subscription's group; Ganpin servers in one group
	// share the loggers' messages; ganpin.
	Group    string
	MaxBatch int // readings per write; 5000
	// Session is how long the broker keeps undelivered messages while Ganpin is
	// away; 1 h.
	Session time.Duration
}

// Subscriber receives telemetry and stores it in batches.
type Subscriber struct {
	cfg        Config
	url        *url.URL
	subscribed chan struct{}
	pending    sync.WaitGroup // connections not yet subscribed
}

type message struct {
	serial   string
	readings []trace.Reading
	ack      func()
}

// New checks the configuration and returns a subscriber; Run connects.
func New(cfg Config) (*Subscriber, error) {
	u, err := url.Parse(cfg.BrokerURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("telemetry: broker url %q: use mqtt://host:1883, mqtts://… or ws://…", cfg.BrokerURL)
	}
	if cfg.Service == nil {
		return nil, errors.New("telemetry: no service to store readings")
	}
	if cfg.ClientID == "" {
		host, _ := os.Hostname()
		cfg.ClientID = "ganpin-" + host
	}
	if cfg.Conns <= 0 {
		cfg.Conns = 4
	}
	if cfg.Group == "" {
		cfg.Group = "ganpin"
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 5000
	}
	if cfg.Session <= 0 {
		cfg.Session = time.Hour
	}
	s := &Subscriber{cfg: cfg, url: u, subscribed: make(chan struct{})}
	s.pending.Add(cfg.Conns)
	go func() { s.pending.Wait(); close(s.subscribed) }()
	return s, nil
}

// Subscribed is closed once every connection has subscribed.
func (s *Subscriber) Subscribed() <-chan struct{} { return s.subscribed }

// Run connects (reconnecting as needed) and stores what arrives until ctx is done.
func (s *Subscriber) Run(ctx context.Context) error {
	var done []<-chan struct{}
	var wg sync.WaitGroup
	for i := range s.cfg.Conns {
		inbox := make(chan message, s.cfg.MaxBatch)
		cm, err := s.connect(ctx, fmt.Sprintf("%s-%d", s.cfg.ClientID, i+1), inbox)
		if err != nil {
			return err
		}
		done = append(done, cm.Done())
		wg.Add(1)
		go func() { defer wg.Done(); s.store(ctx, inbox) }()
	}
	wg.Wait()
	for _, d := range done {
		<-d
	}
	return nil
}

// connect opens one connection of the shared subscription, feeding inbox.
func (s *Subscriber) connect(ctx context.Context, clientID string, inbox chan<- message) (*autopaho.ConnectionManager, error) {
	var once sync.Once
	topic := "$share/" + s.cfg.Group + "/" + TopicPrefix + "+"
	return autopaho.NewConnection(ctx, autopaho.ClientConfig{
		ServerUrls:            []*url.URL{s.url},
		KeepAlive:             30,
		SessionExpiryInterval: uint32(s.cfg.Session / time.Second),
		ConnectUsername:       s.cfg.Username,
		ConnectPassword:       []byte(s.cfg.Password),
		OnConnectionUp: func(cm *autopaho.ConnectionManager, _ *paho.Connack) {
			// Subscribing on every connection re-establishes the subscription after a drop.
			go func() {
				if _, err := cm.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: topic, QoS: 1}}}); err != nil {
					if ctx.Err() == nil {
						slog.Error("telemetry: subscribe failed", "client", clientID, "err", err)
					}
					return
				}
				once.Do(s.pending.Done)
			}()
			slog.Debug("telemetry: connected", "broker", s.url.Redacted(), "client", clientID)
		},
		OnConnectError: func(err error) {
			slog.Warn("telemetry: cannot connect to the broker", "broker", s.url.Redacted(), "err", err)
		},
		ClientConfig: paho.ClientConfig{
			ClientID:                   clientID,
			EnableManualAcknowledgment: true,
			OnPublishReceived: []func(paho.PublishReceived) (bool, error){func(pr paho.PublishReceived) (bool, error) {
				return receive(pr, inbox)
			}},
		},
	})
}

// receive parses a message and hands it to its connection's batcher; a message
// that can never be stored is logged and acknowledged, so that it does not come
// back forever.
func receive(pr paho.PublishReceived, inbox chan<- message) (bool, error) {
	p := pr.Packet
	ack := func() {
		if err := pr.Client.Ack(p); err != nil {
			slog.Warn("telemetry: ack failed", "err", err)
		}
	}
	serial, ok := strings.CutPrefix(p.Topic, TopicPrefix)
	if !ok || serial == "" || strings.Contains(serial, "/") {
		slog.Warn("telemetry: message on an unexpected topic dropped", "topic", p.Topic)
		ack()
		return true, nil
	}
	rs, err := ParsePayload(p.Payload)
	if err != nil {
		slog.Warn("telemetry: malformed message dropped", "device", serial, "err", err)
		ack()
		return true, nil
	}
	inbox <- message{serial, rs, ack}
	return true, nil
}

// store writes what arrives until ctx is done: each write takes every message
// waiting, up to MaxBatch readings, so batches grow with the load and a lone
// message waits for nothing. Unacknowledged messages come back when the session
// resumes.
func (s *Subscriber) store(ctx context.Context, inbox <-chan message) {
	var batch []message
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-inbox:
			batch = append(batch[:0], m)
			n := len(m.readings)
		drain:
			for n < s.cfg.MaxBatch {
				select {
				case m := <-inbox:
					batch, n = append(batch, m), n+len(m.readings)
				default:
					break drain
				}
			}
			s.flush(ctx, batch)
		}
	}
}

// flush stores a batch and acknowledges its messages. When the batch is refused
// (an unknown device, a bad reading), each message is stored on its own and the
// refused ones are logged; when the database fails, it is retried.
func (s *Subscriber) flush(ctx context.Context, batch []message) {
	if len(batch) == 0 {
		return
	}
	ts := make([]trace.Telemetry, len(batch))
	for i, m := range batch {
		ts[i] = trace.Telemetry{Serial: m.serial, Readings: m.readings}
	}
	err := s.ingest(ctx, ts)
	if err == nil {
		for _, m := range batch {
			m.ack()
		}
		return
	}
	if trace.KindOf(err) == trace.KindInternal {
		return // ctx is done: the broker redelivers
	}
	for i, m := range batch {
		if err := s.ingest(ctx, ts[i:i+1]); err != nil && trace.KindOf(err) != trace.KindInternal {
			slog.Warn("telemetry: readings refused", "device", m.serial, "err", err)
		} else if err != nil {
			return
		}
		m.ack()
	}
}

// ingest stores readings, retrying with backoff while the database fails.
func (s *Subscriber) ingest(ctx context.Context, ts []trace.Telemetry) error {
	wait := 100 * time.Millisecond
	for {
		_, err := s.cfg.Service.IngestTelemetry(context.WithoutCancel(ctx), ts)
		if err == nil || trace.KindOf(err) != trace.KindInternal {
			return err
		}
		slog.Error("telemetry: cannot store readings; retrying", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return err
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// ParsePayload reads a message: one reading {"time","temperature","humidity"?} or
// a batch {"readings":[…]}, strictly (unknown fields refused).
func ParsePayload(b []byte) ([]trace.Reading, error) {
	var in struct {
		trace.ReadingInput
		Readings []trace.ReadingInput `json:"readings"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("telemetry: data after the JSON value")
	}
	switch {
	case in.Readings != nil && in.Time == "" && in.Temperature == nil && in.Humidity == nil:
		return trace.ReadingsFromInput(in.Readings)
	case in.Readings == nil:
		return trace.ReadingsFromInput([]trace.ReadingInput{in.ReadingInput})
	}
	return nil, errors.New("telemetry: send one reading or a readings batch, not both")
}
