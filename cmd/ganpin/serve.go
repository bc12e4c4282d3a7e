package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ganpin/ganpin/api"
	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/cert/pdf"
	"github.com/ganpin/ganpin/internal/anchor"
	"github.com/ganpin/ganpin/internal/config"
	"github.com/ganpin/ganpin/internal/demo"
	"github.com/ganpin/ganpin/internal/epcis"
	"github.com/ganpin/ganpin/internal/ledger/embedded"
	"github.com/ganpin/ganpin/internal/ledger/fabric"
	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/store"
	"github.com/ganpin/ganpin/internal/telemetry"
	"github.com/ganpin/ganpin/internal/tlog"
	"github.com/ganpin/ganpin/internal/webhook"
	"github.com/ganpin/ganpin/trace"
	"github.com/ganpin/ganpin/web"
)

func serve(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, _, err := config.Load("serve", args, getenv, stderr)
	if err != nil {
		return err
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel})))

	db, st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	defer st.Close()
	svc := trace.NewService(st, nil)
	keys, err := cert.LoadKeys(cfg.DataDir)
	if err != nil {
		return err
	}
	certs := cert.NewService(cert.Config{Store: st, Keys: keys, Missing: pdf.Missing})
	insp, err := trace.NewInspection(trace.InspectionConfig{Service: svc, Revoke: func(ctx context.Context, a trace.Actor, serial, reason string) error {
		c, err := certs.BySerial(ctx, serial)
		if err == nil {
			_, err = certs.Revoke(ctx, a, c.ID, reason)
		}
		return err
	}})
	if err != nil {
		return err
	}

	// Recall webhooks: signed, retried deliveries from an outbox.
	whKey, err := webhook.LoadKey(cfg.DataDir)
	if err != nil {
		return err
	}
	hooks := webhook.New(webhook.Config{DB: db, Key: whKey})
	if err := hooks.Publish(ctx); err != nil {
		return err
	}
	hookCtx, stopHooks := context.WithCancel(context.Background())
	hooked := make(chan struct{})
	go func() { defer close(hooked); hooks.Run(hookCtx) }()
	defer func() { stopHooks(); <-hooked }()
	// Cold-chain loggers over MQTT.
	if m := cfg.MQTT; m.URL != "" {
		sub, err := telemetry.New(telemetry.Config{BrokerURL: m.URL, ClientID: m.ClientID, Username: m.Username, Password: m.Password, Conns: m.Conns, Service: svc})
		if err != nil {
			return err
		}
		subCtx, stopSub := context.WithCancel(context.Background())
		subscribed := make(chan struct{})
		go func() { defer close(subscribed); sub.Run(subCtx) }()
		defer func() { stopSub(); <-subscribed }()
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	base := "http://" + ln.Addr().String()
	if cfg.Demo {
		if err := loadDemo(ctx, svc, certs, insp, cfg, cfg.PublicURL(base), stdout); err != nil {
			ln.Close()
			return err
		}
	}
	key, err := anchor.LoadKey(cfg.DataDir, cfg.LogOrigin)
	if err != nil {
		ln.Close()
		return err
	}
	ledger, closeLedger, err := openLedger(ctx, cfg, key)
	if err != nil {
		ln.Close()
		return err
	}
	defer closeLedger()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	anchorer := anchor.New(db, key, ledger, cfg.AnchorEvery, reg)
	anchorCtx, stopAnchoring := context.WithCancel(context.Background())
	anchored := make(chan struct{})
	go func() { defer close(anchored); anchorer.Run(anchorCtx) }()
	defer func() { stopAnchoring(); <-anchored }()

	// EPCIS 2.0 capture jobs run in the background, one worker per deployment.
	es := epcis.New(svc, st, cfg.PublicURL(base), nil)
	epcisCtx, stopEPCIS := context.WithCancel(context.Background())
	epcisDone := make(chan struct{})
	go func() { defer close(epcisDone); es.Run(epcisCtx) }()
	defer func() { stopEPCIS(); <-epcisDone }()

	// Scans of printed codes are counted in memory and written once a second.
	counter := web.NewScanCounter(st, time.Second)
	countCtx, stopCounting := context.WithCancel(context.Background())
	counted := make(chan struct{})
	go func() { defer close(counted); counter.Run(countCtx) }()
	defer func() { stopCounting(); <-counted }()

	var proofs tlog.Prover
	receipt := func(ctx context.Context, kind string, id int64, record []byte) (*anchor.Receipt, error) {
		return anchor.BuildReceipt(ctx, db, &proofs, key, kind, id, record)
	}
	srv := &http.Server{
		Handler: api.New(api.Config{
			Service:  svc,
			Ready:    func(ctx context.Context) error { _, err := sqldb.Version(ctx, db); return err },
			Registry: reg,
			Receipt:  receipt,
			Status: func(ctx context.Context, kind string, id int64) (anchor.Status, error) {
				return anchor.RecordStatus(ctx, db, kind, id)
			},
			LogKey:     key.Verifier,
			Certs:      certs,
			Keys:       keys,
			Base:       cfg.PublicURL(base),
			Inspection: insp,
			EPCIS:      es,
			Pages: web.New(web.Config{Service: svc, Certs: certs, Base: cfg.PublicURL(base), Secure: strings.HasPrefix(cfg.BaseURL, "https://"),
				Scan: st, Counter: counter, Receipt: receipt, Keys: keys, Inspection: insp}),
		}),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	slog.Info("listening on " + base)
	fmt.Fprintf(stdout, "listening on %s\n", base)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	slog.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// openLedger connects to the configured Fabric network, or opens the embedded ledger.
func openLedger(ctx context.Context, cfg config.Config, key *anchor.Key) (anchor.Ledger, func(), error) {
	if f := cfg.Fabric; f.Peer != "" {
		c, err := fabric.Dial(fabric.Config{PeerEndpoint: f.Peer, TLSCACertPath: f.TLSCA, ServerNameOverride: f.ServerName,
			MSPID: f.MSP, CertPath: f.Cert, KeyPath: f.Key, Channel: f.Channel, Chaincode: f.Chaincode})
		if err != nil {
			return nil, nil, err
		}
		// The log's key must be known to the contract; registering it again is a no-op,
		// and an unreachable network only delays anchoring.
		if _, err := c.RegisterLogKey(ctx, key.Verifier); err != nil {
			slog.Warn("cannot register the log key on Fabric yet", "err", err)
		}
		slog.Info("anchoring on Fabric", "peer", f.Peer, "channel", f.Channel, "chaincode", f.Chaincode)
		return c, func() { c.Close() }, nil
	}
	l, err := embedded.Open(filepath.Join(cfg.DataDir, "ledger.jsonl"), key.Signer, key.Verifier)
	return l, func() {}, err
}

// openStore opens the configured database and its store. The embedded database
// belongs to this process and is brought up to date; a shared PostgreSQL is
// migrated deliberately, with `ganpin migrate`.
func openStore(ctx context.Context, cfg config.Config) (sqldb.DB, *store.Store, error) {
	db, err := store.Open(ctx, cfg.DatabaseURL, cfg.DataDir)
	if err != nil {
		return nil, nil, err
	}
	if db.Dialect() == sqldb.SQLite {
		if _, _, err := sqldb.Migrate(ctx, db); err != nil {
			db.Close()
			return nil, nil, err
		}
	}
	st, err := store.New(ctx, db)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, st, nil
}

// loadDemo loads the demo into an empty database and prints how to try it.
func loadDemo(ctx context.Context, svc *trace.Service, certs *cert.Service, insp *trace.Inspection, cfg config.Config, base string, out io.Writer) error {
	exists, err := demo.Exists(ctx, svc)
	if err != nil {
		return err
	}
	var res *demo.Result
	if !exists {
		start := time.Now()
		if res, err = demo.Load(ctx, svc); err != nil {
			return err
		}
		cs, err := demo.Certify(ctx, svc, certs, res.ExampleLot)
		if err != nil {
			return err
		}
		cc, err := demo.ColdChain(ctx, svc, res.ExampleLot, cs.Units)
		if err != nil {
			return err
		}
		sa, err := demo.Sample(ctx, svc, insp, 0)
		if err != nil {
			return err
		}
		slog.Info("demo loaded", "events", res.Events, "certificates", cs.Issued, "readings", cc.Readings, "orders", cc.Orders,
			"samples", sa.Records, "took", time.Since(start).Round(time.Millisecond))
	}
	token, _, err := svc.Login(ctx, "xunwu", demo.Password, "demo")
	if err != nil {
		return fmt.Errorf("demo login (is this a demo database?): %w", err)
	}
	a, err := svc.Authenticate(ctx, token)
	if err != nil {
		return err
	}
	// The example: xunwu's certificate with unit-level labels, shipped to Shanghai.
	cs, err := certs.Certificates(ctx, a, cert.Filter{}, trace.Page{Limit: 1000})
	if err != nil {
		return err
	}
	i := slices.IndexFunc(cs, func(c cert.Issued) bool { return c.Units > 0 })
	if i < 0 {
		return errors.New("demo: no certificate with unit-level labels")
	}
	c := cs[i]
	from := "--data " + cfg.DataDir
	if cfg.DatabaseURL != "" {
		from = `--database-url "$GANPIN_DATABASE_URL"`
	}
	fmt.Fprintf(out, `
赣品溯源 Ganpin — demo
  console:  %s/console/   (producers xunwu, anyuan, xinfeng (+ -clerk), password %s;
            inspectors log in as inspector and land on /console/inspect/;
            the 赣南优品 platform's API account is youpin, the cold-chain operator's coldchain)
  scan:     %s
  a box:    %s
  print:    go run ./cmd/ganpin certificate print %s --serial %s --layout a6 --out cert.pdf

  API token for xunwu: %s
  curl -H 'Authorization: Bearer %s' %s/api/v1/certificates/%d
  curl -H 'Authorization: Bearer %s' '%s/api/v1/lots/%d/trace?direction=backward'
`, base, demo.Password, c.URL(base, 0), c.URL(base, 1), from, c.Serial, token, token, base, c.ID, token, base, c.LotID)
	return nil
}
