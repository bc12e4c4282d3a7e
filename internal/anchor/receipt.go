package anchor

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/transparency-dev/merkle/proof"

	"github.com/ganpin/ganpin/chaincode"
	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/tlog"
)

// Receipt proves that a record is in the log and that the log was anchored on the
// ledger: everything needed to verify it offline.
type Receipt struct {
	Format     string   `json:"format"` // ganpin-receipt/1
	Kind       string   `json:"kind"`   // the record's kind, e.g. event
	ID         int64    `json:"id"`
	Record     []byte   `json:"record"` // the record's canonical bytes (base64 in JSON)
	LeafIndex  uint64   `json:"leaf_index"`
	TreeSize   uint64   `json:"tree_size"`
	Inclusion  [][]byte `json:"inclusion_proof"`
	Checkpoint string   `json:"checkpoint"` // the signed checkpoint note
	LogKey     string   `json:"log_key"`    // the log's verifier key
	Ledger     struct {
		TxID  string `json:"tx_id"`
		Block uint64 `json:"block"`
	} `json:"ledger"`
	// A certificate's receipt also carries its issuer's signature and key and, once it
	// is revoked, the revocation's own receipt (its record alone while it waits to be
	// anchored).
	Signature  []byte   `json:"signature,omitempty"`
	IssuerKey  []byte   `json:"issuer_key,omitempty"`
	Revocation *Receipt `json:"revocation,omitempty"`
}

// ErrPending reports a record not yet covered by an anchored checkpoint (已记录，待上链).
var ErrPending = errors.New("recorded, waiting to be anchored on the ledger")

// BuildReceipt returns the receipt of a record against the latest anchored checkpoint.
func BuildReceipt(ctx context.Context, db sqldb.Conn, proofs *tlog.Prover, key *Key, kind string, id int64, record []byte) (*Receipt, error) {
	r := &Receipt{Format: "ganpin-receipt/1", Kind: kind, ID: id, Record: record, LogKey: key.Verifier}
	var idx int64
	if err := db.QueryRow(ctx, `SELECT idx FROM log_leaves WHERE kind = $1 AND record_id = $2`, kind, id).Scan(&idx); err != nil {
		if errors.Is(err, sqldb.ErrNoRows) {
			return nil, ErrPending
		}
		return nil, err
	}
	var size, block int64
	var note []byte
	err := db.QueryRow(ctx, `SELECT size, note, ledger_tx, COALESCE(ledger_block, 0) FROM checkpoints
		WHERE ledger_tx IS NOT NULL ORDER BY size DESC LIMIT 1`).Scan(&size, &note, &r.Ledger.TxID, &block)
	if errors.Is(err, sqldb.ErrNoRows) || (err == nil && size <= idx) {
		return nil, ErrPending
	} else if err != nil {
		return nil, err
	}
	r.LeafIndex, r.TreeSize, r.Checkpoint, r.Ledger.Block = uint64(idx), uint64(size), string(note), uint64(block)
	if r.Inclusion, err = proofs.Inclusion(ctx, db, r.LeafIndex, r.TreeSize); err != nil {
		return nil, err
	}
	return r, nil
}

// Step is one check of a verification.
type Step struct {
	Name string
	Err  error
}

// Verify checks a receipt step by step with the log's verifier key (the receipt's own
// when vkey is empty) and returns every step; the receipt is valid when none failed.
// A revoked certificate fails its last step, with the reason.
func Verify(raw []byte, vkey string) (*Receipt, []Step) {
	var r Receipt
	steps := []Step{{Name: "parse the receipt"}}
	if err := json.Unmarshal(raw, &r); err != nil || r.Format != "ganpin-receipt/1" {
		if err == nil {
			err = fmt.Errorf("unknown format %q", r.Format)
		}
		steps[0].Err = err
		return nil, steps
	}
	steps = append(steps, r.verify(vkey)...)
	if r.Kind == "certificate" && !failed(steps) {
		steps = append(steps, r.verifyCertificate(vkey)...)
	}
	return &r, steps
}

func failed(steps []Step) bool {
	for _, s := range steps {
		if s.Err != nil {
			return true
		}
	}
	return false
}

// verify checks the record's inclusion in the checkpointed, anchored tree.
func (r *Receipt) verify(vkey string) []Step {
	if vkey == "" {
		vkey = r.LogKey
	}
	var steps []Step
	cp, err := chaincode.OpenCheckpoint([]byte(r.Checkpoint), vkey)
	steps = append(steps, Step{Name: "checkpoint signed by the log key " + vkey, Err: err})
	if err != nil {
		return steps
	}
	if cp.Size != r.TreeSize {
		err = fmt.Errorf("the checkpoint covers %d leaves, the proof %d", cp.Size, r.TreeSize)
	}
	steps = append(steps, Step{Name: fmt.Sprintf("checkpoint of %s at size %d", cp.Origin, cp.Size), Err: err})
	if err != nil {
		return steps
	}
	leaf := tlog.Hasher.HashLeaf(r.Record)
	err = proof.VerifyInclusion(tlog.Hasher, r.LeafIndex, r.TreeSize, leaf, r.Inclusion, cp.Root)
	steps = append(steps, Step{Name: fmt.Sprintf("%s %d is leaf %d of the checkpointed tree", r.Kind, r.ID, r.LeafIndex), Err: err})
	if r.Ledger.TxID == "" {
		err = errors.New("no ledger transaction")
	}
	return append(steps, Step{Name: fmt.Sprintf("anchored in ledger transaction %s, block %d", r.Ledger.TxID, r.Ledger.Block), Err: err})
}

// verifyCertificate checks the issuer's signature and that no revocation is known.
func (r *Receipt) verifyCertificate(vkey string) []Step {
	var err error
	if len(r.IssuerKey) != ed25519.PublicKeySize || !ed25519.Verify(r.IssuerKey, r.Record, r.Signature) {
		err = errors.New("the signature does not match the certificate and the issuer's key")
	}
	steps := []Step{{Name: fmt.Sprintf("signed by the issuer's key %s", base64.StdEncoding.EncodeToString(r.IssuerKey)), Err: err}}
	if err != nil || r.Revocation == nil {
		return steps
	}
	rv := r.Revocation
	var rec struct {
		Certificate int64
		Reason      string
		Time        time.Time
	}
	if err := json.Unmarshal(rv.Record, &rec); err != nil || rv.Kind != "revocation" || rec.Certificate != r.ID {
		return append(steps, Step{Name: "read the revocation", Err: fmt.Errorf("not a revocation of certificate %d", r.ID)})
	}
	if rv.Checkpoint != "" {
		for _, s := range rv.verify(vkey) {
			s.Name = "revocation: " + s.Name
			steps = append(steps, s)
		}
	}
	return append(steps, Step{Name: "the certificate is in force",
		Err: fmt.Errorf("REVOKED (已撤销) on %s: %s", rec.Time.In(time.FixedZone("CST", 8*3600)).Format("2006-01-02 15:04"), rec.Reason)})
}

// Status says where a record stands in the log: its leaf index and whether an
// anchored checkpoint covers it yet.
type Status struct {
	Leaf     int64  `json:"leaf"`
	Anchored bool   `json:"anchored"`
	Label    string `json:"label"` // 已上链 or 待上链
}

// RecordStatus returns a record's status; ErrPending when it has no leaf.
func RecordStatus(ctx context.Context, db sqldb.Conn, kind string, id int64) (Status, error) {
	var st Status
	var anchored int64
	err := db.QueryRow(ctx, `SELECT l.idx, COALESCE((SELECT MAX(size) FROM checkpoints WHERE ledger_tx IS NOT NULL), 0)
		FROM log_leaves l WHERE l.kind = $1 AND l.record_id = $2`, kind, id).Scan(&st.Leaf, &anchored)
	if errors.Is(err, sqldb.ErrNoRows) {
		return st, ErrPending
	}
	st.Anchored = anchored > st.Leaf
	st.Label = "待上链"
	if st.Anchored {
		st.Label = "已上链"
	}
	return st, err
}
