package anchor

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ganpin/ganpin/chaincode"
	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/tlog"
)

// Ledger is where checkpoints are anchored: the embedded ledger or Fabric.
type Ledger interface {
	// AnchorCheckpoint submits a signed checkpoint with a consistency proof from the
	// last anchored one.
	AnchorCheckpoint(ctx context.Context, signed []byte, proof [][]byte) (*chaincode.Anchor, chaincode.Receipt, error)
	LatestCheckpoint(ctx context.Context, origin string) (*chaincode.Anchor, error)
	RegisterCertificates(ctx context.Context, batch []chaincode.CertRegistration) (chaincode.Receipt, error)
	RevokeCertificate(ctx context.Context, serial, reason string) (*chaincode.CertRegistration, chaincode.Receipt, error)
	GetCertificate(ctx context.Context, serial string) (*chaincode.CertRegistration, error)
	// RecordSampling records a sampling verdict; the contract takes it from the regulator only.
	RecordSampling(ctx context.Context, s chaincode.Sampling) (chaincode.Receipt, error)
}

// Anchorer signs checkpoints of the log and anchors them, and registers certificates
// and their revocations, through outboxes (rows without their ledger transaction): a
// ledger outage delays anchoring, never capture or issuance.
type Anchorer struct {
	db     sqldb.DB
	key    *Key
	ledger Ledger
	every  time.Duration
	lag    prometheus.Gauge
	lagSec prometheus.Gauge
	proofs tlog.Prover
	// regulator records sampling verdicts: the ledger itself unless UseRegulator set one.
	regulator Regulator
}

// New returns an anchorer that anchors every interval; its metrics go to reg.
func New(db sqldb.DB, key *Key, ledger Ledger, every time.Duration, reg prometheus.Registerer) *Anchorer {
	a := &Anchorer{db: db, key: key, ledger: ledger, every: every,
		lag:    prometheus.NewGauge(prometheus.GaugeOpts{Name: "ganpin_anchor_lag_leaves", Help: "Log leaves not yet covered by an anchored checkpoint."}),
		lagSec: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ganpin_anchor_lag_seconds", Help: "Age of the oldest checkpoint waiting to be anchored."}),
	}
	if reg != nil {
		reg.MustRegister(a.lag, a.lagSec)
	}
	a.regulator = ledger
	return a
}

// Run anchors until ctx ends, backing off up to a minute while the ledger fails.
func (a *Anchorer) Run(ctx context.Context) {
	wait := a.every
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		if err := a.Once(ctx); err != nil {
			wait = min(2*wait, time.Minute)
			slog.Warn("anchoring failed; will retry", "err", err, "retry_in", wait)
			continue
		}
		wait = a.every
	}
}

// Once anchors a checkpoint of the current tree if it grew since the last anchor, then
// registers waiting certificates, revocations and sampling verdicts.
func (a *Anchorer) Once(ctx context.Context) error {
	if err := a.checkpoint(ctx); err != nil {
		return err
	}
	if err := a.registerCertificates(ctx); err != nil {
		return err
	}
	if err := a.revoke(ctx); err != nil {
		return err
	}
	return a.recordSamplings(ctx)
}

func (a *Anchorer) checkpoint(ctx context.Context) error {
	tree, err := tlog.Current(ctx, a.db)
	if err != nil {
		return err
	}
	var anchored int64
	if err := a.db.QueryRow(ctx, `SELECT COALESCE(MAX(size), 0) FROM checkpoints WHERE ledger_tx IS NOT NULL`).Scan(&anchored); err != nil {
		return err
	}
	a.lag.Set(float64(tree.Size - uint64(anchored)))
	if tree.Size == uint64(anchored) {
		a.lagSec.Set(0)
		return nil
	}
	cp := chaincode.Checkpoint{Origin: a.key.Signer.Name(), Size: tree.Size, Root: tree.Root}
	signed, err := SignCheckpoint(a.key, cp)
	if err != nil {
		return err
	}
	if _, err := a.db.Exec(ctx, `INSERT INTO checkpoints (size, root, note, created) VALUES ($1, $2, $3, $4) ON CONFLICT (size) DO NOTHING`,
		int64(cp.Size), cp.Root, signed, time.Now().UnixMicro()); err != nil {
		return err
	}
	var oldest int64
	a.db.QueryRow(ctx, `SELECT COALESCE(MIN(created), 0) FROM checkpoints WHERE ledger_tx IS NULL`).Scan(&oldest)
	if oldest > 0 {
		a.lagSec.Set(time.Since(time.UnixMicro(oldest)).Seconds())
	}
	var proof [][]byte
	if anchored > 0 {
		if proof, err = a.proofs.Consistency(ctx, a.db, uint64(anchored), tree.Size); err != nil {
			return err
		}
	}
	_, rc, err := a.ledger.AnchorCheckpoint(ctx, signed, proof)
	var refusal *chaincode.Error
	if errors.As(err, &refusal) && refusal.Code == "replayed" {
		// Anchored before, but the outbox was not updated (a crash in between).
		latest, lerr := a.ledger.LatestCheckpoint(ctx, cp.Origin)
		if lerr != nil || latest.Size != cp.Size {
			return err
		}
		rc, err = chaincode.Receipt{TxID: latest.TxID}, nil
	}
	if err != nil {
		return err
	}
	_, err = a.db.Exec(ctx, `UPDATE checkpoints SET ledger_tx = $2, ledger_block = $3, anchored = $4 WHERE size = $1`,
		int64(cp.Size), rc.TxID, int64(rc.Block), time.Now().UnixMicro())
	if err == nil {
		a.lag.Set(0)
		a.lagSec.Set(0)
	}
	return err
}

// SignCheckpoint signs a checkpoint with the node key.
func SignCheckpoint(k *Key, cp chaincode.Checkpoint) ([]byte, error) {
	return chaincode.SignCheckpoint(cp, k.Signer)
}
