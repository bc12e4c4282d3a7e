package chaincode_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-protos-go-apiv2/ledger/queryresult"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/ganpin/ganpin/chaincode"
	"github.com/ganpin/ganpin/chaincode/internal/fakes"
)

const (
	operator  = "GanpinMSP"
	regulator = "SAMRMSP"
	stranger  = "FarmMSP"
	origin    = "ganpin.example/log"
)

// ledger is an in-memory world state driven through the generated fakes. Like a
// peer, a transaction reads committed state only, and its writes and event are
// committed only when the transaction function succeeds.
type ledger struct {
	t       *testing.T
	n       int
	state   map[string][]byte
	history map[string][]*queryresult.KeyModification // newest first
	events  []event
}

type event struct {
	name    string
	payload string
}

type transaction struct {
	id     string
	stub   *fakes.ChaincodeStub
	ctx    *fakes.TransactionContext
	writes map[string][]byte
}

func newLedger(t *testing.T) *ledger {
	return &ledger{t: t, state: map[string][]byte{}, history: map[string][]*queryresult.KeyModification{}}
}

// begin starts a transaction submitted by an identity of the MSP.
func (l *ledger) begin(mspID string) *transaction {
	l.n++
	tx := &transaction{id: fmt.Sprintf("tx%03d", l.n), stub: &fakes.ChaincodeStub{}, ctx: &fakes.TransactionContext{}, writes: map[string][]byte{}}
	tx.stub.GetTxIDReturns(tx.id)
	tx.stub.GetStateStub = func(key string) ([]byte, error) { return l.state[key], nil }
	tx.stub.PutStateStub = func(key string, value []byte) error {
		tx.writes[key] = value
		return nil
	}
	tx.stub.GetHistoryForKeyStub = func(key string) (shim.HistoryQueryIteratorInterface, error) {
		return historyIterator(l.history[key]), nil
	}
	id := &fakes.ClientIdentity{}
	id.GetMSPIDReturns(mspID, nil)
	tx.ctx.GetStubReturns(tx.stub)
	tx.ctx.GetClientIdentityReturns(id)
	return tx
}

// commit applies the transaction's writes and records its event.
func (l *ledger) commit(tx *transaction) {
	ts := timestamppb.New(time.Unix(1_700_000_000+int64(l.n), 0))
	for key, value := range tx.writes {
		mod := &queryresult.KeyModification{TxId: tx.id, Value: value, Timestamp: ts}
		l.history[key] = append([]*queryresult.KeyModification{mod}, l.history[key]...)
		l.state[key] = value
	}
	if n := tx.stub.SetEventCallCount(); n > 0 {
		name, payload := tx.stub.SetEventArgsForCall(n - 1)
		l.events = append(l.events, event{name, string(payload)})
	}
}

// run runs fn as a transaction of the MSP and commits it when fn succeeds.
func (l *ledger) run(mspID string, fn func(contractapi.TransactionContextInterface) error) error {
	tx := l.begin(mspID)
	err := fn(tx.ctx)
	if err == nil {
		l.commit(tx)
	}
	return err
}

func (l *ledger) lastEvent() event {
	l.t.Helper()
	if len(l.events) == 0 {
		l.t.Fatal("no chaincode event was emitted")
	}
	return l.events[len(l.events)-1]
}

func historyIterator(mods []*queryresult.KeyModification) *fakes.HistoryQueryIterator {
	it := &fakes.HistoryQueryIterator{}
	i := 0
	it.HasNextStub = func() bool { return i < len(mods) }
	it.NextStub = func() (*queryresult.KeyModification, error) {
		i++
		return mods[i-1], nil
	}
	return it
}

// tree is a small in-memory RFC 6962 Merkle tree that keeps every node, to compute
// roots and consistency proofs at any past size.
type tree struct {
	rng   *compact.Range
	nodes map[compact.NodeID][]byte
	roots map[uint64][]byte
}

func newTree(t *testing.T, label string, size uint64) *tree {
	t.Helper()
	rf := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	tr := &tree{rng: rf.NewEmptyRange(0), nodes: map[compact.NodeID][]byte{}, roots: map[uint64][]byte{}}
	visit := func(id compact.NodeID, hash []byte) { tr.nodes[id] = hash }
	for i := uint64(0); i < size; i++ {
		leaf := rfc6962.DefaultHasher.HashLeaf([]byte(fmt.Sprintf("%s event %d", label, i)))
		if err := tr.rng.Append(leaf, visit); err != nil {
			t.Fatal(err)
		}
		root, err := tr.rng.GetRootHash(nil)
		if err != nil {
			t.Fatal(err)
		}
		tr.roots[i+1] = root
	}
	return tr
}

// consistency returns the RFC 6962 consistency proof from size1 to size2.
func (tr *tree) consistency(t *testing.T, size1, size2 uint64) [][]byte {
	t.Helper()
	nodes, err := proof.Consistency(size1, size2)
	if err != nil {
		t.Fatal(err)
	}
	hashes := make([][]byte, len(nodes.IDs))
	for i, id := range nodes.IDs {
		if hashes[i] = tr.nodes[id]; hashes[i] == nil {
			t.Fatalf("tree has no node %+v", id)
		}
	}
	p, err := nodes.Rehash(hashes, rfc6962.DefaultHasher.HashChildren)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// logKey is a log's note signing key.
type logKey struct {
	signer note.Signer
	vkey   string
}

func newLogKey(t *testing.T, name string) logKey {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, name)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return logKey{signer: signer, vkey: vkey}
}

func (k logKey) sign(t *testing.T, name string, size uint64, root []byte) string {
	t.Helper()
	signed, err := chaincode.SignCheckpoint(chaincode.Checkpoint{Origin: name, Size: size, Root: root}, k.signer)
	if err != nil {
		t.Fatal(err)
	}
	return string(signed)
}

func proofJSON(t *testing.T, p [][]byte) string {
	t.Helper()
	b, err := json.Marshal(p) // a JSON array of base64 strings
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// wantRefusal checks that err is the contract's refusal with the code.
func wantRefusal(t *testing.T, err error, code string) {
	t.Helper()
	var refusal *chaincode.Error
	if !errors.As(err, &refusal) {
		t.Fatalf("got error %v, want a %s refusal", err, code)
	}
	if refusal.Code != code {
		t.Fatalf("got refusal %v, want code %s", refusal, code)
	}
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// configured returns a ledger configured by the operator, with the log's key registered.
func configured(t *testing.T, key logKey) (*ledger, *chaincode.SmartContract) {
	t.Helper()
	l, sc := newLedger(t), &chaincode.SmartContract{}
	ok(t, l.run(operator, func(ctx contractapi.TransactionContextInterface) error { return sc.Configure(ctx, regulator) }))
	ok(t, l.run(operator, func(ctx contractapi.TransactionContextInterface) error { return sc.RegisterLogKey(ctx, key.vkey) }))
	return l, sc
}

func TestConfigureOnce(t *testing.T) {
	l, sc := newLedger(t), &chaincode.SmartContract{}
	configure := func(mspID, regulatorMSP string) error {
		return l.run(mspID, func(ctx contractapi.TransactionContextInterface) error { return sc.Configure(ctx, regulatorMSP) })
	}
	wantRefusal(t, configure(operator, operator), "bad_config")
	wantRefusal(t, configure(operator, ""), "bad_config")
	ok(t, configure(operator, regulator))
	if got, want := string(l.state["config"]), `{"operator":"GanpinMSP","regulator":"SAMRMSP"}`; got != want {
		t.Fatalf("config = %s, want %s", got, want)
	}
	wantRefusal(t, configure(operator, regulator), "configured")
	wantRefusal(t, configure(stranger, regulator), "configured")
}

func TestRegisterLogKey(t *testing.T) {
	key := newLogKey(t, origin)
	l, sc := configured(t, key)
	register := func(mspID, vkey string) error {
		return l.run(mspID, func(ctx contractapi.TransactionContextInterface) error { return sc.RegisterLogKey(ctx, vkey) })
	}
	ok(t, register(operator, key.vkey)) // the same key again is accepted
	wantRefusal(t, register(operator, newLogKey(t, origin).vkey), "key_exists")
	wantRefusal(t, register(regulator, newLogKey(t, "other.example/log").vkey), "forbidden")
	wantRefusal(t, register(operator, "not a key"), "bad_key")
	if got := string(l.state["logkey/"+origin]); got != `"`+key.vkey+`"` {
		t.Fatalf("registered key = %s", got)
	}
}

func TestAnchorCheckpoint(t *testing.T) {
	key := newLogKey(t, origin)
	l, sc := configured(t, key)
	tr := newTree(t, "ganpin", 12)
	anchor := func(mspID, signed string, proofJSON string) (*chaincode.Anchor, error) {
		var a *chaincode.Anchor
		err := l.run(mspID, func(ctx contractapi.TransactionContextInterface) (err error) {
			a, err = sc.AnchorCheckpoint(ctx, signed, proofJSON)
			return err
		})
		return a, err
	}

	first := key.sign(t, origin, 3, tr.roots[3])
	a, err := anchor(operator, first, "")
	ok(t, err)
	if a.Origin != origin || a.Size != 3 || a.Root != hex.EncodeToString(tr.roots[3]) || a.Note != first || a.TxID != "tx003" {
		t.Fatalf("first anchor = %+v", a)
	}
	ev := l.lastEvent()
	want, _ := chaincode.SortedJSON(a)
	if ev.name != chaincode.EventCheckpointAnchored || ev.payload != string(want) || !strings.HasPrefix(ev.payload, `{"note":`) {
		t.Fatalf("event = %s %s", ev.name, ev.payload)
	}

	second := key.sign(t, origin, 8, tr.roots[8])
	a, err = anchor(operator, second, proofJSON(t, tr.consistency(t, 3, 8)))
	ok(t, err)
	if a.Size != 8 || a.Root != hex.EncodeToString(tr.roots[8]) {
		t.Fatalf("second anchor = %+v", a)
	}
	events := len(l.events)

	forged := newLogKey(t, origin) // same name, another key
	fork := newTree(t, "fork", 12)
	for _, c := range []struct {
		name, msp, signed, proof, code string
	}{
		{"forged signature", operator, forged.sign(t, origin, 12, tr.roots[12]), proofJSON(t, tr.consistency(t, 8, 12)), "bad_signature"},
		{"unsigned", operator, chaincode.Checkpoint{Origin: origin, Size: 12, Root: tr.roots[12]}.Body(), proofJSON(t, tr.consistency(t, 8, 12)), "bad_signature"},
		{"smaller size", operator, key.sign(t, origin, 5, tr.roots[5]), "", "shrinking"},
		{"replay", operator, second, "", "replayed"},
		{"fork at the anchored size", operator, key.sign(t, origin, 8, fork.roots[8]), "", "forked"},
		{"inconsistent proof", operator, key.sign(t, origin, 12, fork.roots[12]), proofJSON(t, fork.consistency(t, 8, 12)), "inconsistent"},
		{"proof from the wrong size", operator, key.sign(t, origin, 12, tr.roots[12]), proofJSON(t, tr.consistency(t, 3, 12)), "inconsistent"},
		{"malformed proof", operator, key.sign(t, origin, 12, tr.roots[12]), `["not base64"]`, "bad_proof"},
		{"unknown log", operator, newLogKey(t, "other.example/log").sign(t, "other.example/log", 12, tr.roots[12]), "", "unknown_log"},
		{"wrong MSP", regulator, key.sign(t, origin, 12, tr.roots[12]), proofJSON(t, tr.consistency(t, 8, 12)), "forbidden"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := anchor(c.msp, c.signed, c.proof)
			wantRefusal(t, err, c.code)
		})
	}
	if len(l.events) != events {
		t.Fatalf("refused transactions emitted events: %v", l.events[events:])
	}

	var latest, atThree *chaincode.Anchor
	ok(t, l.run(stranger, func(ctx contractapi.TransactionContextInterface) (err error) {
		if latest, err = sc.LatestCheckpoint(ctx, origin); err != nil {
			return err
		}
		atThree, err = sc.GetCheckpoint(ctx, origin, 3)
		return err
	}))
	if latest.Size != 8 || latest.Note != second || atThree.Note != first {
		t.Fatalf("latest = %+v, at size 3 = %+v", latest, atThree)
	}
	err = l.run(stranger, func(ctx contractapi.TransactionContextInterface) error {
		_, err := sc.GetCheckpoint(ctx, origin, 5)
		return err
	})
	wantRefusal(t, err, "not_found")

	// The history of the latest checkpoint lists both anchors, newest first.
	var versions []chaincode.CheckpointVersion
	ok(t, l.run(stranger, func(ctx contractapi.TransactionContextInterface) (err error) {
		versions, err = sc.GetCheckpointHistory(ctx, origin)
		return err
	}))
	if len(versions) != 2 || versions[0].Anchor.Size != 8 || versions[1].Anchor.Size != 3 || versions[1].TxID != "tx003" || versions[1].Timestamp.IsZero() {
		t.Fatalf("checkpoint history = %+v", versions)
	}
}

func TestCertificates(t *testing.T) {
	l, sc := configured(t, newLogKey(t, origin))
	hash := strings.Repeat("ab", 32)
	batch := fmt.Sprintf(`[{"serial":"B-2","hash":%q,"issuer":"91330000MA2XXXXXX1"},{"serial":"A-1","hash":%q,"issuer":"91330000MA2XXXXXX1"}]`, hash, hash)
	registerAs := func(mspID, batch string) error {
		return l.run(mspID, func(ctx contractapi.TransactionContextInterface) error { return sc.RegisterCertificates(ctx, batch) })
	}
	revokeAs := func(mspID, serial, reason string) (*chaincode.Certificate, error) {
		var c *chaincode.Certificate
		err := l.run(mspID, func(ctx contractapi.TransactionContextInterface) (err error) {
			c, err = sc.RevokeCertificate(ctx, serial, reason)
			return err
		})
		return c, err
	}
	get := func(serial string) *chaincode.Certificate {
		t.Helper()
		var c *chaincode.Certificate
		ok(t, l.run(stranger, func(ctx contractapi.TransactionContextInterface) (err error) {
			c, err = sc.GetCertificate(ctx, serial)
			return err
		}))
		return c
	}

	wantRefusal(t, registerAs(stranger, batch), "forbidden")
	wantRefusal(t, registerAs(regulator, batch), "forbidden")
	wantRefusal(t, registerAs(operator, `{"serial":"A-1"}`), "bad_certificate")
	ok(t, registerAs(operator, batch))
	ev := l.lastEvent()
	if ev.name != chaincode.EventCertificatesRegistered || ev.payload != `{"msp":"GanpinMSP","serials":["A-1","B-2"],"tx_id":"tx006"}` {
		t.Fatalf("event = %s %s", ev.name, ev.payload)
	}
	wantRefusal(t, registerAs(operator, batch), "duplicate")
	if c := get("A-1"); c.MSP != operator || c.TxID != "tx006" || c.Hash != hash || c.Revoked {
		t.Fatalf("A-1 = %+v", c)
	}

	_, err := revokeAs(stranger, "A-1", "伪造")
	wantRefusal(t, err, "forbidden")
	_, err = revokeAs(operator, "A-1", "")
	wantRefusal(t, err, "no_reason")
	_, err = revokeAs(operator, "C-3", "伪造")
	wantRefusal(t, err, "not_found")

	c, err := revokeAs(operator, "A-1", "issued in error") // by the registering MSP
	ok(t, err)
	if !c.Revoked || c.By != operator || c.Reason != "issued in error" {
		t.Fatalf("revoked A-1 = %+v", c)
	}
	ev = l.lastEvent()
	if ev.name != chaincode.EventCertificateRevoked || !strings.HasPrefix(ev.payload, `{"hash":`) || !strings.Contains(ev.payload, `"revoked_by":"GanpinMSP"`) {
		t.Fatalf("event = %s %s", ev.name, ev.payload)
	}
	c, err = revokeAs(regulator, "B-2", "抽检不合格") // by the regulator
	ok(t, err)
	if c.By != regulator || c.MSP != operator {
		t.Fatalf("revoked B-2 = %+v", c)
	}
	_, err = revokeAs(regulator, "A-1", "again")
	wantRefusal(t, err, "revoked")
	if c := get("B-2"); !c.Revoked || c.Reason != "抽检不合格" {
		t.Fatalf("B-2 = %+v", c)
	}

	var versions []chaincode.CertificateVersion
	ok(t, l.run(stranger, func(ctx contractapi.TransactionContextInterface) (err error) {
		versions, err = sc.GetCertificateHistory(ctx, "A-1")
		return err
	}))
	if len(versions) != 2 || !versions[0].Certificate.Revoked || versions[1].Certificate.Revoked || versions[1].TxID != "tx006" {
		t.Fatalf("A-1 history = %+v", versions)
	}
}

func TestRecordSampling(t *testing.T) {
	l, sc := configured(t, newLogKey(t, origin))
	sampling := fmt.Sprintf(`{"number":"SC-2024-001","hash":%q,"verdict":"不合格","lot":"L-7"}`, strings.Repeat("cd", 32))
	record := func(mspID, s string) error {
		return l.run(mspID, func(ctx contractapi.TransactionContextInterface) error { return sc.RecordSampling(ctx, s) })
	}
	wantRefusal(t, record(operator, sampling), "forbidden")
	wantRefusal(t, record(stranger, sampling), "forbidden")
	wantRefusal(t, record(regulator, `{"number":"SC-2024-002","verdict":"合格"}`), "bad_sampling")
	wantRefusal(t, record(regulator, `not json`), "bad_sampling")
	ok(t, record(regulator, sampling))
	ev := l.lastEvent()
	want := fmt.Sprintf(`{"hash":%q,"lot":"L-7","number":"SC-2024-001","tx_id":"tx007","verdict":"不合格"}`, strings.Repeat("cd", 32))
	if ev.name != chaincode.EventSamplingRecorded || ev.payload != want {
		t.Fatalf("event = %s %s", ev.name, ev.payload)
	}
	wantRefusal(t, record(regulator, sampling), "duplicate")
}

// TestContractAPI runs transactions through contractapi's chaincode, as a peer does:
// the contract metadata must accept the functions and validate their results, and
// the client identity comes from the proposal's creator certificate.
func TestContractAPI(t *testing.T) {
	cc, err := contractapi.NewChaincode(&chaincode.SmartContract{})
	ok(t, err)
	l := newLedger(t)
	invoke := func(mspID, fn string, args ...string) (int32, string) {
		tx := l.begin(mspID)
		tx.stub.GetCreatorReturns(creator(t, mspID), nil)
		tx.stub.GetFunctionAndParametersReturns(fn, args)
		resp := cc.Invoke(tx.stub)
		if resp.Status == shim.OK {
			l.commit(tx)
			return resp.Status, string(resp.Payload)
		}
		return resp.Status, resp.Message
	}
	mustInvoke := func(mspID, fn string, args ...string) string {
		t.Helper()
		status, out := invoke(mspID, fn, args...)
		if status != shim.OK {
			t.Fatalf("%s: %d %s", fn, status, out)
		}
		return out
	}

	key := newLogKey(t, origin)
	tr := newTree(t, "ganpin", 4)
	mustInvoke(operator, "Configure", regulator)
	mustInvoke(operator, "RegisterLogKey", key.vkey)
	out := mustInvoke(operator, "AnchorCheckpoint", key.sign(t, origin, 4, tr.roots[4]), "[]")
	var a chaincode.Anchor
	ok(t, json.Unmarshal([]byte(out), &a))
	if a.Size != 4 || a.Origin != origin {
		t.Fatalf("anchor = %s", out)
	}
	if got := mustInvoke(stranger, "GetCheckpoint", origin, "4"); got != out {
		t.Fatalf("GetCheckpoint = %s, want %s", got, out)
	}

	hash := strings.Repeat("0f", 32)
	mustInvoke(operator, "RegisterCertificates", fmt.Sprintf(`[{"serial":"A-1","hash":%q,"issuer":"9133"}]`, hash))
	// An unrevoked certificate omits the revocation fields; the metadata must allow it.
	out = mustInvoke(stranger, "GetCertificate", "A-1")
	if out != fmt.Sprintf(`{"serial":"A-1","hash":%q,"issuer":"9133","msp":"GanpinMSP","tx_id":"tx005"}`, hash) {
		t.Fatalf("GetCertificate = %s", out)
	}
	mustInvoke(regulator, "RevokeCertificate", "A-1", "抽检不合格")
	if out := mustInvoke(stranger, "GetCertificateHistory", "A-1"); !strings.HasPrefix(out, `[{"tx_id":"tx007"`) {
		t.Fatalf("GetCertificateHistory = %s", out)
	}

	status, msg := invoke(stranger, "RecordSampling", fmt.Sprintf(`{"number":"S-1","hash":%q,"verdict":"合格"}`, hash))
	if status != shim.ERROR || msg != "forbidden: FarmMSP may not record sampling results" {
		t.Fatalf("RecordSampling by a stranger = %d %s", status, msg)
	}
}

// creator returns a serialized identity of the MSP with a fresh self-signed certificate.
func creator(t *testing.T, mspID string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ok(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "user@" + mspID},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	ok(t, err)
	b, err := proto.Marshal(&msp.SerializedIdentity{Mspid: mspID, IdBytes: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})})
	ok(t, err)
	return b
}
