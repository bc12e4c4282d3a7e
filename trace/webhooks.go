package trace

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"slices"
	"time"

	"golang.org/x/crypto/nacl/box"
)

// Webhooks tell platforms when a lot they sold is recalled. Each platform has one
// endpoint and an HMAC-SHA256 secret, shown once when the endpoint is registered.
// The secret must stay usable for signing, so it cannot be hashed: it is sealed
// (NaCl anonymous box) to the delivery worker's public key, which the worker
// publishes in the database; only the worker, holding the private key in the data
// directory, can open it. A copy of the database alone reveals no secret.

// Webhook is a platform's endpoint.
type Webhook struct {
	PartyID int64
	URL     string
	Sealed  []byte // the secret, sealed to the worker's key
	Created time.Time
}

// Delivery is one webhook message in the outbox.
type Delivery struct {
	ID          int64
	PartyID     int64
	Ref         string // what it announces, unique per party: a platform hears of a recall once
	Event       string // e.g. lot_recalled
	Body        []byte
	Created     time.Time
	Attempts    int
	NextAttempt time.Time
	Delivered   time.Time // zero until a 2xx answer
	Failed      time.Time // zero unless given up
	LastStatus  int
	LastError   string
}

// State names where a delivery stands: pending, delivered or failed.
func (d *Delivery) State() string {
	switch {
	case !d.Delivered.IsZero():
		return "delivered"
	case !d.Failed.IsZero():
		return "failed"
	}
	return "pending"
}

// WebhookSecret is a registered endpoint with its secret, shown only this once.
type WebhookSecret struct {
	Webhook *Webhook
	Secret  string
}

// RegisterWebhook sets the actor's platform's endpoint, replacing any earlier one,
// and returns it with its new secret: the only time the secret is shown.
func (s *Service) RegisterWebhook(ctx context.Context, a Actor, rawURL string) (*WebhookSecret, error) {
	if err := a.mustHave(RolePlatform); err != nil {
		return nil, err
	}
	if err := checkWebhookURL(rawURL); err != nil {
		return nil, err
	}
	cs, err := s.cold()
	if err != nil {
		return nil, err
	}
	key, err := cs.WebhookKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("webhook delivery is not running (no worker key): %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("webhook worker key: %d bytes", len(key))
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	secret := "whsec_" + base64.RawURLEncoding.EncodeToString(raw)
	sealed, err := box.SealAnonymous(nil, []byte(secret), (*[32]byte)(key), rand.Reader)
	if err != nil {
		return nil, err
	}
	out := &WebhookSecret{&Webhook{PartyID: a.PartyID, URL: rawURL, Sealed: sealed, Created: s.now()}, secret}
	err = s.coldWrite(ctx, func() any { return out }, func(tx ColdChainTx) error { return tx.SaveWebhook(ctx, out.Webhook) })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// checkWebhookURL accepts https URLs, and http ones on loopback addresses only.
func checkWebhookURL(raw string) error {
	u, err := url.Parse(raw)
	bad := Invalid("url", "invalid_url", "回调地址须为https网址（仅本机地址可用http）", "the endpoint is an https URL (http only on loopback addresses)")
	if err != nil || len(raw) > 500 || u.Host == "" || u.User != nil || u.Fragment != "" {
		return bad
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			return nil
		}
	}
	return bad
}

// Webhook returns the actor's platform's endpoint.
func (s *Service) Webhook(ctx context.Context, a Actor) (*Webhook, error) {
	if err := a.mustHave(RolePlatform); err != nil {
		return nil, err
	}
	cs, err := s.cold()
	if err != nil {
		return nil, err
	}
	return cs.Webhook(ctx, a.PartyID)
}

// Deliveries lists the webhook messages to the actor's platform, newest first.
func (s *Service) Deliveries(ctx context.Context, a Actor, p Page) ([]Delivery, error) {
	if err := a.mustHave(RolePlatform); err != nil {
		return nil, err
	}
	cs, err := s.cold()
	if err != nil {
		return nil, err
	}
	return cs.Deliveries(ctx, a.PartyID, p)
}

// RecallNotice announces that lots are recalled, for every lot made from them too.
type RecallNotice struct {
	Ref    string // unique per recall, e.g. "recall:42"; announcing it again adds nothing
	Lots   []int64
	Reason string
	Time   time.Time
}

// RecalledLot is a lot as a recall message names it.
type RecalledLot struct {
	ID   int64  `json:"id"`
	Code string `json:"code"`
}

// RecalledOrder is an order a recall reaches, with the recalled lots it took.
type RecalledOrder struct {
	Number string  `json:"number"`
	Lots   []int64 `json:"lots"`
}

// RecallMessage is the body of a lot_recalled webhook.
type RecallMessage struct {
	Event  string          `json:"event"` // lot_recalled
	Ref    string          `json:"ref"`
	Time   time.Time       `json:"time"`
	Reason string          `json:"reason"`
	Lots   []RecalledLot   `json:"lots"`
	Orders []RecalledOrder `json:"orders"`
}

// NotifyRecall queues a lot_recalled webhook for every platform with orders for the
// recalled lots or any lot made from them, and returns how many it queued. An
// inspector or admin may announce any recall; a producer admin one of its own
// party's lots only. The recall itself (inspection, issue 7) calls this.
func (s *Service) NotifyRecall(ctx context.Context, a Actor, r RecallNotice) (int, error) {
	if err := checkText("ref", r.Ref, 1, 100); err != nil {
		return 0, err
	}
	if err := checkText("reason", r.Reason, 1, 500); err != nil {
		return 0, err
	}
	if len(r.Lots) == 0 || len(r.Lots) > 1000 {
		return 0, Invalid("lots", "required", "需要1至1000个批次", "1 to 1000 lots are required")
	}
	if r.Time.IsZero() {
		r.Time = s.now()
	}
	if !a.ReadsAll() && !a.Has(RoleProducerAdmin) {
		return 0, Forbidden("", "只有监管人员或货主可以发起召回", "only inspectors and the lots' owner may recall")
	}
	cs, err := s.cold()
	if err != nil {
		return 0, err
	}
	// The recalled lots and every lot made from them.
	lots := map[int64]*Lot{}
	for i, id := range r.Lots {
		g, err := cs.Graph(ctx, id, Forward)
		if err != nil {
			return 0, withField(err, fmt.Sprintf("lots[%d]", i))
		}
		for j := range g.Lots {
			l := &g.Lots[j]
			if l.ID == id && !a.ReadsAll() && l.OwnerID != a.PartyID {
				return 0, Forbidden(fmt.Sprintf("lots[%d]", i), "只能召回本主体的批次", "you may recall only your own party's lots")
			}
			lots[l.ID] = l
		}
	}
	ids := make([]int64, 0, len(lots))
	for id := range lots {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	msgs := map[int64]*RecallMessage{}
	for _, id := range ids {
		for p := (Page{Limit: 1000}); ; {
			os, err := cs.Orders(ctx, OrderFilter{LotID: id}, p)
			if err != nil {
				return 0, err
			}
			for _, o := range os {
				m := msgs[o.PartyID]
				if m == nil {
					m = &RecallMessage{Event: "lot_recalled", Ref: r.Ref, Time: r.Time, Reason: r.Reason}
					msgs[o.PartyID] = m
				}
				if !slices.ContainsFunc(m.Lots, func(x RecalledLot) bool { return x.ID == id }) {
					m.Lots = append(m.Lots, RecalledLot{ID: id, Code: lots[id].Code})
				}
				k := slices.IndexFunc(m.Orders, func(x RecalledOrder) bool { return x.Number == o.Spec.Number })
				if k < 0 {
					m.Orders = append(m.Orders, RecalledOrder{Number: o.Spec.Number})
					k = len(m.Orders) - 1
				}
				if !slices.Contains(m.Orders[k].Lots, id) {
					m.Orders[k].Lots = append(m.Orders[k].Lots, id)
				}
			}
			if len(os) < p.Limit {
				break
			}
			p.After = os[len(os)-1].ID
		}
	}
	var ds []Delivery
	now := s.now()
	for party, m := range msgs {
		body, err := json.Marshal(m)
		if err != nil {
			return 0, err
		}
		ds = append(ds, Delivery{PartyID: party, Ref: r.Ref, Event: m.Event, Body: body, Created: now, NextAttempt: now})
	}
	slices.SortFunc(ds, func(x, y Delivery) int { return int(x.PartyID - y.PartyID) })
	n := 0
	if len(ds) == 0 {
		return 0, nil
	}
	err = s.coldWrite(ctx, func() any { return n }, func(tx ColdChainTx) error {
		var err error
		n, err = tx.EnqueueDeliveries(ctx, ds)
		return err
	})
	return n, err
}
