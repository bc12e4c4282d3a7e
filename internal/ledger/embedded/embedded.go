// Package embedded is the ledger Ganpin runs by default: the contract's rules
// (package chaincode) executed in-process, each transaction a block hash-chained to
// the previous one and signed by the node key, appended to a file. The state is
// rebuilt by replaying the blocks, which also checks their chain and signatures.
package embedded

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"

	"golang.org/x/mod/sumdb/note"

	"github.com/ganpin/ganpin/chaincode"
)

// MSP IDs of the embedded ledger's organisations.
const (
	OperatorMSP  = "GanpinMSP"
	RegulatorMSP = "RegulatorMSP"
)

// Block is one transaction on the embedded ledger.
type Block struct {
	Number   uint64          `json:"number"`
	Prev     string          `json:"prev"` // hex SHA-256 of the previous block's body, "" for the first
	TxID     string          `json:"tx_id"`
	Caller   string          `json:"caller"`
	Function string          `json:"function"`
	Args     json.RawMessage `json:"args"`
	Sig      string          `json:"sig,omitempty"` // signed note of the body's hash
}

// Ledger is an embedded ledger.
type Ledger struct {
	mu     sync.Mutex
	path   string
	signer note.Signer
	vkey   string
	state  map[string][]byte
	height uint64
	prev   string
}

// Open opens (or creates) the ledger file at path, replaying and checking its blocks.
// vkey verifies the blocks' signatures; signer signs new ones.
func Open(path string, signer note.Signer, vkey string) (*Ledger, error) {
	l := &Ledger{path: path, signer: signer, vkey: vkey, state: map[string][]byte{}}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return l, l.init()
	} else if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var b Block
		if err := json.Unmarshal(sc.Bytes(), &b); err != nil {
			return nil, fmt.Errorf("ledger %s block %d: %w", path, l.height, err)
		}
		if err := l.check(&b); err != nil {
			return nil, fmt.Errorf("ledger %s block %d: %w", path, b.Number, err)
		}
		_, writes, err := l.execute(&b)
		if err != nil {
			return nil, fmt.Errorf("ledger %s block %d: replay: %w", path, b.Number, err)
		}
		l.apply(&b, writes)
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if l.height == 0 {
		return l, l.init()
	}
	return l, nil
}

// init configures the contract and registers the node's log key.
func (l *Ledger) init() error {
	if _, _, err := l.submit(OperatorMSP, "Configure", RegulatorMSP); err != nil {
		return err
	}
	_, _, err := l.submit(OperatorMSP, "RegisterLogKey", l.vkey)
	return err
}

// body is what a block's hash and signature cover.
func body(b *Block) []byte {
	c := *b
	c.Sig = ""
	out, _ := json.Marshal(c)
	return out
}

func hash(b *Block) string {
	h := sha256.Sum256(body(b))
	return hex.EncodeToString(h[:])
}

func (l *Ledger) check(b *Block) error {
	if b.Number != l.height || b.Prev != l.prev {
		return errors.New("breaks the hash chain")
	}
	v, err := note.NewVerifier(l.vkey)
	if err != nil {
		return err
	}
	n, err := note.Open([]byte(b.Sig), note.VerifierList(v))
	if err != nil || n.Text != hash(b)+"\n" {
		return errors.New("bad signature")
	}
	return nil
}

func (l *Ledger) apply(b *Block, writes map[string][]byte) {
	for k, v := range writes {
		l.state[k] = v
	}
	l.height = b.Number + 1
	l.prev = hash(b)
}

// overlay is a transaction's view of the state: reads fall through, writes are kept
// until the block is appended.
type overlay struct {
	base   map[string][]byte
	writes map[string][]byte
}

func (o *overlay) Get(key string) ([]byte, error) {
	if v, ok := o.writes[key]; ok {
		return v, nil
	}
	return o.base[key], nil
}

func (o *overlay) Put(key string, value []byte) error {
	o.writes[key] = value
	return nil
}

// execute runs a block's function on the state and returns its result and writes.
func (l *Ledger) execute(b *Block) (any, map[string][]byte, error) {
	o := &overlay{base: l.state, writes: map[string][]byte{}}
	c := &chaincode.Contract{State: o, Caller: b.Caller, TxID: b.TxID}
	var args []json.RawMessage
	if err := json.Unmarshal(b.Args, &args); err != nil {
		return nil, nil, err
	}
	str := func(i int) string {
		var s string
		if i < len(args) {
			json.Unmarshal(args[i], &s)
		}
		return s
	}
	var res any
	var err error
	switch b.Function {
	case "Configure":
		err = c.Configure(str(0))
	case "RegisterLogKey":
		err = c.RegisterLogKey(str(0))
	case "AnchorCheckpoint":
		var proof [][]byte
		if len(args) > 1 {
			err = json.Unmarshal(args[1], &proof)
		}
		if err == nil {
			res, err = c.AnchorCheckpoint([]byte(str(0)), proof)
		}
	case "RegisterCertificates":
		var batch []chaincode.CertRegistration
		if err = json.Unmarshal(args[0], &batch); err == nil {
			err = c.RegisterCertificates(batch)
		}
	case "RevokeCertificate":
		res, err = c.RevokeCertificate(str(0), str(1))
	case "RecordSampling":
		var s chaincode.Sampling
		if err = json.Unmarshal(args[0], &s); err == nil {
			err = c.RecordSampling(s)
		}
	default:
		err = fmt.Errorf("unknown function %q", b.Function)
	}
	return res, o.writes, err
}

// submit runs a transaction and, when the contract accepts it, appends its block.
func (l *Ledger) submit(caller, fn string, args ...any) (any, chaincode.Receipt, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	raw, err := json.Marshal(args)
	if err != nil {
		return nil, chaincode.Receipt{}, err
	}
	b := &Block{Number: l.height, Prev: l.prev, Caller: caller, Function: fn, Args: raw}
	txh := sha256.Sum256(append([]byte(fmt.Sprintf("%d\n%s\n", b.Number, b.Prev)), raw...))
	b.TxID = hex.EncodeToString(txh[:])
	// A refused transaction leaves no block and no trace in the state.
	res, writes, err := l.execute(b)
	if err != nil {
		return nil, chaincode.Receipt{}, err
	}
	sig, err := note.Sign(&note.Note{Text: hash(b) + "\n"}, l.signer)
	if err != nil {
		return nil, chaincode.Receipt{}, err
	}
	b.Sig = string(sig)
	line, err := json.Marshal(b)
	if err != nil {
		return nil, chaincode.Receipt{}, err
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, chaincode.Receipt{}, err
	}
	if _, err := f.Write(append(line, '\n')); err != nil {
		f.Close()
		return nil, chaincode.Receipt{}, err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return nil, chaincode.Receipt{}, err
	}
	if err := f.Close(); err != nil {
		return nil, chaincode.Receipt{}, err
	}
	l.apply(b, writes)
	return res, chaincode.Receipt{TxID: b.TxID, Block: b.Number}, nil
}

// AnchorCheckpoint anchors a signed checkpoint with a consistency proof from the
// last anchored one.
func (l *Ledger) AnchorCheckpoint(ctx context.Context, signed []byte, proof [][]byte) (*chaincode.Anchor, chaincode.Receipt, error) {
	res, rc, err := l.submit(OperatorMSP, "AnchorCheckpoint", string(signed), proof)
	if err != nil {
		return nil, rc, err
	}
	return res.(*chaincode.Anchor), rc, nil
}

// RegisterCertificates registers a batch of certificates.
func (l *Ledger) RegisterCertificates(ctx context.Context, batch []chaincode.CertRegistration) (chaincode.Receipt, error) {
	_, rc, err := l.submit(OperatorMSP, "RegisterCertificates", batch)
	return rc, err
}

// RevokeCertificate revokes a certificate; the operator stands for the issuing party.
func (l *Ledger) RevokeCertificate(ctx context.Context, serial, reason string) (*chaincode.CertRegistration, chaincode.Receipt, error) {
	res, rc, err := l.submit(OperatorMSP, "RevokeCertificate", serial, reason)
	if err != nil {
		return nil, rc, err
	}
	return res.(*chaincode.CertRegistration), rc, nil
}

// RecordSampling records a sampling verdict as the regulator.
func (l *Ledger) RecordSampling(ctx context.Context, s chaincode.Sampling) (chaincode.Receipt, error) {
	_, rc, err := l.submit(RegulatorMSP, "RecordSampling", s)
	return rc, err
}

// GetCertificate returns a certificate's registration.
func (l *Ledger) GetCertificate(ctx context.Context, serial string) (*chaincode.CertRegistration, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return (&chaincode.Contract{State: &overlay{base: l.state, writes: map[string][]byte{}}}).GetCertificate(serial)
}

// LatestCheckpoint returns the last checkpoint anchored for a log.
func (l *Ledger) LatestCheckpoint(ctx context.Context, origin string) (*chaincode.Anchor, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return (&chaincode.Contract{State: &overlay{base: l.state, writes: map[string][]byte{}}}).LatestCheckpoint(origin)
}

// Height returns the number of blocks.
func (l *Ledger) Height() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.height
}
