package embedded_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"golang.org/x/mod/sumdb/note"

	"github.com/ganpin/ganpin/chaincode"
	"github.com/ganpin/ganpin/internal/ledger/embedded"
	"github.com/ganpin/ganpin/internal/ledger/fabric"
	"github.com/ganpin/ganpin/internal/tlog"
)

// tree is an in-memory log for building checkpoints and proofs.
type tree struct{ leaves [][]byte }

func (t *tree) add(n int) {
	for range n {
		t.leaves = append(t.leaves, tlog.Hasher.HashLeaf([]byte{byte(len(t.leaves)), byte(len(t.leaves) >> 8)}))
	}
}

func (t *tree) root(size uint64) []byte {
	r := (&compact.RangeFactory{Hash: tlog.Hasher.HashChildren}).NewEmptyRange(0)
	for _, h := range t.leaves[:size] {
		r.Append(h, nil)
	}
	root, _ := r.GetRootHash(nil)
	return root
}

// node returns the hash of a perfect subtree.
func (t *tree) node(id compact.NodeID) []byte {
	if id.Level == 0 {
		return t.leaves[id.Index]
	}
	return tlog.Hasher.HashChildren(t.node(compact.NewNodeID(id.Level-1, 2*id.Index)), t.node(compact.NewNodeID(id.Level-1, 2*id.Index+1)))
}

func (t *tree) consistency(a, b uint64) [][]byte {
	nodes, _ := proof.Consistency(a, b)
	hashes := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		hashes[i] = t.node(id)
	}
	p, _ := nodes.Rehash(hashes, tlog.Hasher.HashChildren)
	return p
}

func TestEmbeddedLedger(t *testing.T) {
	ctx := context.Background()
	skey, vkey, _ := note.GenerateKey(rand.Reader, "test.example/log")
	signer, _ := note.NewSigner(skey)
	path := filepath.Join(t.TempDir(), "ledger.jsonl")
	l, err := embedded.Open(path, signer, vkey)
	if err != nil {
		t.Fatal(err)
	}
	var tr tree
	tr.add(10)
	sign := func(size uint64) []byte {
		b, _ := chaincode.SignCheckpoint(chaincode.Checkpoint{Origin: "test.example/log", Size: size, Root: tr.root(size)}, signer)
		return b
	}
	if _, _, err := l.AnchorCheckpoint(ctx, sign(10), nil); err != nil {
		t.Fatal(err)
	}
	height := l.Height()
	tr.add(7)
	// Refusals leave no block.
	for name, c := range map[string]struct {
		note  []byte
		proof [][]byte
		code  string
	}{
		"replay":      {sign(10), nil, "replayed"},
		"shrinking":   {sign(9), nil, "shrinking"},
		"no proof":    {sign(17), nil, "inconsistent"},
		"wrong proof": {sign(17), tr.consistency(9, 17), "inconsistent"},
		"unsigned":    {[]byte(chaincode.Checkpoint{Origin: "test.example/log", Size: 17, Root: tr.root(17)}.Body()), tr.consistency(10, 17), "bad_signature"},
		"unknown log": {[]byte("other.example/log\n17\n"), nil, "unknown_log"},
	} {
		_, _, err := l.AnchorCheckpoint(ctx, c.note, c.proof)
		var re *chaincode.Error
		if !errorsAs(err, &re) || re.Code != c.code {
			t.Errorf("%s: %v, want %s", name, err, c.code)
		}
	}
	if l.Height() != height {
		t.Fatalf("refused transactions added blocks: %d → %d", height, l.Height())
	}
	_, rc, err := l.AnchorCheckpoint(ctx, sign(17), tr.consistency(10, 17))
	if err != nil || rc.TxID == "" || rc.Block != height {
		t.Fatalf("anchor 17: %+v %v", rc, err)
	}
	tx := rc.TxID
	// Reopening replays the chain to the same state.
	l2, err := embedded.Open(path, signer, vkey)
	if err != nil {
		t.Fatal(err)
	}
	a, err := l2.LatestCheckpoint(ctx, "test.example/log")
	if err != nil || a.Size != 17 || a.TxID != tx {
		t.Fatalf("after reopening: %+v %v", a, err)
	}
	// An edited block breaks the chain.
	raw, _ := os.ReadFile(path)
	os.WriteFile(path, bytes.Replace(raw, []byte(`"caller":"GanpinMSP"`), []byte(`"caller":"RegulatorMSP"`), 1), 0o600)
	if _, err := embedded.Open(path, signer, vkey); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Fatalf("opening an edited ledger: %v", err)
	}
}

func errorsAs(err error, target **chaincode.Error) bool {
	e, ok := err.(*chaincode.Error)
	if ok {
		*target = e
	}
	return ok
}

// The embedded ledger serves wherever the Fabric client does.
var _ fabric.Ledger = (*embedded.Ledger)(nil)
