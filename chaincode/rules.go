package chaincode

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
)

// State is the world state the rules read and write: Fabric's chaincode stub, or
// the embedded ledger's store. Get returns nil for a missing key.
type State interface {
	Get(key string) ([]byte, error)
	Put(key string, value []byte) error
}

// Error is a refusal by the contract, with the reason.
type Error struct {
	Code   string
	Reason string
}

func (e *Error) Error() string { return e.Code + ": " + e.Reason }

func refuse(code, format string, args ...any) error {
	return &Error{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// Config names the organisations the contract trusts, by MSP ID.
type Config struct {
	Operator  string `json:"operator"`  // runs the Ganpin log: anchors checkpoints, registers certificates
	Regulator string `json:"regulator"` // 市场监管局: records sampling, revokes any certificate
}

// Anchor is an anchored checkpoint.
type Anchor struct {
	Origin string `json:"origin"`
	Size   uint64 `json:"size"`
	Root   string `json:"root"` // hex
	Note   string `json:"note"` // the signed checkpoint note
	TxID   string `json:"tx_id"`
}

// CertRegistration binds a certificate serial to the hash of its canonical form.
type CertRegistration struct {
	Serial  string `json:"serial"`
	Hash    string `json:"hash"`   // hex SHA-256 of the certificate's canonical bytes
	Issuer  string `json:"issuer"` // the issuing party, by its 统一社会信用代码
	MSP     string `json:"msp"`    // the organisation that registered it and may revoke it
	Revoked bool   `json:"revoked,omitempty"`
	Reason  string `json:"reason,omitempty"`
	By      string `json:"revoked_by,omitempty"`
	TxID    string `json:"tx_id"`
}

// Sampling is a sampling verdict recorded by the regulator.
type Sampling struct {
	Number  string `json:"number"`  // 抽样单编号
	Hash    string `json:"hash"`    // hex SHA-256 of the sampling record's canonical bytes
	Verdict string `json:"verdict"` // 合格 or 不合格
	Lot     string `json:"lot,omitempty"`
	TxID    string `json:"tx_id"`
}

// Contract runs the rules for a caller, identified by its MSP ID, in a transaction.
type Contract struct {
	State  State
	Caller string // MSP ID of the submitting identity
	TxID   string
}

func (c *Contract) get(key string, v any) (bool, error) {
	b, err := c.State.Get(key)
	if err != nil || b == nil {
		return false, err
	}
	return true, json.Unmarshal(b, v)
}

// put stores v as JSON with sorted keys, so every peer writes the same bytes.
func (c *Contract) put(key string, v any) error {
	b, err := SortedJSON(v)
	if err != nil {
		return err
	}
	return c.State.Put(key, b)
}

// SortedJSON marshals v with the keys of every object in sorted order.
func SortedJSON(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var generic any
	if err := dec.Decode(&generic); err != nil {
		return nil, err
	}
	return json.Marshal(generic) // maps marshal with sorted keys
}

// Configure sets the trusted organisations once; the caller becomes the operator.
func (c *Contract) Configure(regulator string) error {
	var cfg Config
	if ok, err := c.get("config", &cfg); err != nil || ok {
		if ok {
			return refuse("configured", "the contract is already configured (operator %s)", cfg.Operator)
		}
		return err
	}
	if regulator == "" || regulator == c.Caller {
		return refuse("bad_config", "the regulator MSP must be named and differ from the operator")
	}
	return c.put("config", Config{Operator: c.Caller, Regulator: regulator})
}

func (c *Contract) config() (Config, error) {
	var cfg Config
	ok, err := c.get("config", &cfg)
	if err == nil && !ok {
		err = refuse("not_configured", "the contract is not configured")
	}
	return cfg, err
}

func (c *Contract) must(msp, action string) error {
	if c.Caller != msp {
		return refuse("forbidden", "%s may not %s", c.Caller, action)
	}
	return nil
}

// RegisterLogKey registers the note verifier key of a log (its name is the log's origin).
// A registered origin's key never changes.
func (c *Contract) RegisterLogKey(vkey string) error {
	cfg, err := c.config()
	if err != nil {
		return err
	}
	if err := c.must(cfg.Operator, "register log keys"); err != nil {
		return err
	}
	name, _, ok := strings.Cut(vkey, "+")
	if !ok || name == "" {
		return refuse("bad_key", "a verifier key is name+hash+key")
	}
	if _, err := note.NewVerifier(vkey); err != nil {
		return refuse("bad_key", "%v", err)
	}
	var old string
	if ok, err := c.get("logkey/"+name, &old); err != nil {
		return err
	} else if ok {
		if old == vkey {
			return nil
		}
		return refuse("key_exists", "log %s already has a different key", name)
	}
	return c.put("logkey/"+name, vkey)
}

// AnchorCheckpoint accepts a signed checkpoint of a registered log when it extends
// the last anchored one: signed by the log's key, larger, and consistent with it by
// the given proof (hashes from the RFC 6962 consistency proof).
func (c *Contract) AnchorCheckpoint(signed []byte, consistency [][]byte) (*Anchor, error) {
	cfg, err := c.config()
	if err != nil {
		return nil, err
	}
	if err := c.must(cfg.Operator, "anchor checkpoints"); err != nil {
		return nil, err
	}
	name, _, _ := strings.Cut(string(signed), "\n")
	var vkey string
	if ok, err := c.get("logkey/"+name, &vkey); err != nil {
		return nil, err
	} else if !ok {
		return nil, refuse("unknown_log", "no key is registered for log %q", name)
	}
	cp, err := OpenCheckpoint(signed, vkey)
	if err != nil {
		return nil, refuse("bad_signature", "%v", err)
	}
	var last Anchor
	ok, err := c.get("latest/"+cp.Origin, &last)
	if err != nil {
		return nil, err
	}
	if ok {
		lastRoot, _ := hex.DecodeString(last.Root)
		switch {
		case cp.Size < last.Size:
			return nil, refuse("shrinking", "size %d is smaller than the anchored %d", cp.Size, last.Size)
		case cp.Size == last.Size && bytes.Equal(cp.Root, lastRoot):
			return nil, refuse("replayed", "checkpoint %d is already anchored", cp.Size)
		case cp.Size == last.Size:
			return nil, refuse("forked", "a different root for the anchored size %d", cp.Size)
		}
		if err := proof.VerifyConsistency(rfc6962.DefaultHasher, last.Size, cp.Size, consistency, lastRoot, cp.Root); err != nil {
			return nil, refuse("inconsistent", "no valid consistency proof from size %d: %v", last.Size, err)
		}
	} else if cp.Size == 0 {
		return nil, refuse("empty", "an empty log has nothing to anchor")
	}
	a := &Anchor{Origin: cp.Origin, Size: cp.Size, Root: hex.EncodeToString(cp.Root), Note: string(signed), TxID: c.TxID}
	if err := c.put(fmt.Sprintf("checkpoint/%s/%020d", cp.Origin, cp.Size), a); err != nil {
		return nil, err
	}
	return a, c.put("latest/"+cp.Origin, a)
}

// GetCheckpoint returns the anchored checkpoint of a log at a size.
func (c *Contract) GetCheckpoint(origin string, size uint64) (*Anchor, error) {
	var a Anchor
	ok, err := c.get(fmt.Sprintf("checkpoint/%s/%020d", origin, size), &a)
	if err == nil && !ok {
		err = refuse("not_found", "no checkpoint of %s at size %d", origin, size)
	}
	return &a, err
}

// LatestCheckpoint returns the last anchored checkpoint of a log.
func (c *Contract) LatestCheckpoint(origin string) (*Anchor, error) {
	var a Anchor
	ok, err := c.get("latest/"+origin, &a)
	if err == nil && !ok {
		err = refuse("not_found", "nothing of %s is anchored", origin)
	}
	return &a, err
}

// RegisterCertificates registers a batch of certificates; a serial is registered once.
func (c *Contract) RegisterCertificates(batch []CertRegistration) error {
	cfg, err := c.config()
	if err != nil {
		return err
	}
	if err := c.must(cfg.Operator, "register certificates"); err != nil {
		return err
	}
	sort.Slice(batch, func(i, j int) bool { return batch[i].Serial < batch[j].Serial })
	for i, r := range batch {
		if r.Serial == "" || r.Issuer == "" || len(r.Hash) != 64 {
			return refuse("bad_certificate", "certificate %d needs a serial, an issuer and a hex SHA-256", i)
		}
		if _, err := hex.DecodeString(r.Hash); err != nil {
			return refuse("bad_certificate", "certificate %s: hash is not hex", r.Serial)
		}
		if i > 0 && batch[i-1].Serial == r.Serial {
			return refuse("duplicate", "certificate %s appears twice", r.Serial)
		}
		var old CertRegistration
		if ok, err := c.get("cert/"+r.Serial, &old); err != nil {
			return err
		} else if ok {
			return refuse("duplicate", "certificate %s is already registered", r.Serial)
		}
		r.MSP, r.TxID, r.Revoked, r.Reason, r.By = c.Caller, c.TxID, false, "", ""
		if err := c.put("cert/"+r.Serial, r); err != nil {
			return err
		}
	}
	return nil
}

// RevokeCertificate revokes a certificate, by the organisation that registered it
// or the regulator.
func (c *Contract) RevokeCertificate(serial, reason string) (*CertRegistration, error) {
	cfg, err := c.config()
	if err != nil {
		return nil, err
	}
	var r CertRegistration
	if ok, err := c.get("cert/"+serial, &r); err != nil {
		return nil, err
	} else if !ok {
		return nil, refuse("not_found", "certificate %s is not registered", serial)
	}
	if c.Caller != r.MSP && c.Caller != cfg.Regulator {
		return nil, refuse("forbidden", "%s may not revoke certificate %s", c.Caller, serial)
	}
	if reason == "" {
		return nil, refuse("no_reason", "a revocation needs a reason")
	}
	if r.Revoked {
		return nil, refuse("revoked", "certificate %s is already revoked", serial)
	}
	r.Revoked, r.Reason, r.By, r.TxID = true, reason, c.Caller, c.TxID
	return &r, c.put("cert/"+serial, r)
}

// GetCertificate returns a certificate's registration.
func (c *Contract) GetCertificate(serial string) (*CertRegistration, error) {
	var r CertRegistration
	ok, err := c.get("cert/"+serial, &r)
	if err == nil && !ok {
		err = refuse("not_found", "certificate %s is not registered", serial)
	}
	return &r, err
}

// RecordSampling records a sampling verdict; the regulator only, once per number.
func (c *Contract) RecordSampling(s Sampling) error {
	cfg, err := c.config()
	if err != nil {
		return err
	}
	if err := c.must(cfg.Regulator, "record sampling results"); err != nil {
		return err
	}
	if s.Number == "" || len(s.Hash) != 64 || (s.Verdict != "合格" && s.Verdict != "不合格") {
		return refuse("bad_sampling", "a sampling record needs a number, a hex SHA-256 and the verdict 合格 or 不合格")
	}
	var old Sampling
	if ok, err := c.get("sampling/"+s.Number, &old); err != nil {
		return err
	} else if ok {
		return refuse("duplicate", "sampling %s is already recorded", s.Number)
	}
	s.TxID = c.TxID
	return c.put("sampling/"+s.Number, s)
}
