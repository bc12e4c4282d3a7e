package chaincode

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
)

// Chaincode event names, one per kind of write; the payloads are sorted-key JSON.
const (
	EventCheckpointAnchored     = "CheckpointAnchored"
	EventCertificatesRegistered = "CertificatesRegistered"
	EventCertificateRevoked     = "CertificateRevoked"
	EventSamplingRecorded       = "SamplingRecorded"
)

// SmartContract is the Fabric chaincode of the contract: each transaction function
// runs the rules over the peer's world state, for the MSP of the submitting identity.
type SmartContract struct {
	contractapi.Contract
}

// Certificate is a certificate registration as the transaction functions return it.
// It has the fields of CertRegistration; the revocation fields are optional in the
// contract metadata, as they are omitted until the certificate is revoked.
type Certificate struct {
	Serial  string `json:"serial"`
	Hash    string `json:"hash"`
	Issuer  string `json:"issuer"`
	MSP     string `json:"msp"`
	Revoked bool   `json:"revoked,omitempty" metadata:",optional"`
	Reason  string `json:"reason,omitempty" metadata:",optional"`
	By      string `json:"revoked_by,omitempty" metadata:",optional"`
	TxID    string `json:"tx_id"`
}

// CertificateVersion is one committed version of a certificate registration.
type CertificateVersion struct {
	TxID        string       `json:"tx_id"`
	Timestamp   time.Time    `json:"timestamp"` // the transaction's timestamp
	Certificate *Certificate `json:"certificate"`
}

// CheckpointVersion is one committed version of a log's latest anchored checkpoint.
type CheckpointVersion struct {
	TxID      string    `json:"tx_id"`
	Timestamp time.Time `json:"timestamp"` // the transaction's timestamp
	Anchor    *Anchor   `json:"anchor"`
}

// GetEvaluateTransactions names the read-only transaction functions.
func (s *SmartContract) GetEvaluateTransactions() []string {
	return []string{"GetCheckpoint", "LatestCheckpoint", "GetCertificate", "GetCertificateHistory", "GetCheckpointHistory"}
}

// Configure names the regulator's MSP; the calling MSP becomes the operator. Once only.
func (s *SmartContract) Configure(ctx contractapi.TransactionContextInterface, regulatorMSP string) error {
	c, err := contract(ctx)
	if err != nil {
		return err
	}
	return c.Configure(regulatorMSP)
}

// RegisterLogKey registers a log's note verifier key; the operator only.
func (s *SmartContract) RegisterLogKey(ctx contractapi.TransactionContextInterface, vkey string) error {
	c, err := contract(ctx)
	if err != nil {
		return err
	}
	return c.RegisterLogKey(vkey)
}

// AnchorCheckpoint anchors a signed checkpoint note. consistencyProofJSON is a JSON
// array of base64 hashes proving the checkpoint extends the last anchored one; it
// may be empty for a log's first checkpoint.
func (s *SmartContract) AnchorCheckpoint(ctx contractapi.TransactionContextInterface, signedNote string, consistencyProofJSON string) (*Anchor, error) {
	c, err := contract(ctx)
	if err != nil {
		return nil, err
	}
	var proof [][]byte
	if strings.TrimSpace(consistencyProofJSON) != "" {
		if err := json.Unmarshal([]byte(consistencyProofJSON), &proof); err != nil {
			return nil, refuse("bad_proof", "the consistency proof is not a JSON array of base64 hashes: %v", err)
		}
	}
	a, err := c.AnchorCheckpoint([]byte(signedNote), proof)
	if err != nil {
		return nil, err
	}
	return a, setEvent(ctx, EventCheckpointAnchored, a)
}

// GetCheckpoint returns the anchored checkpoint of a log at a size.
func (s *SmartContract) GetCheckpoint(ctx contractapi.TransactionContextInterface, origin string, size uint64) (*Anchor, error) {
	c, err := contract(ctx)
	if err != nil {
		return nil, err
	}
	return c.GetCheckpoint(origin, size)
}

// LatestCheckpoint returns the last anchored checkpoint of a log.
func (s *SmartContract) LatestCheckpoint(ctx contractapi.TransactionContextInterface, origin string) (*Anchor, error) {
	c, err := contract(ctx)
	if err != nil {
		return nil, err
	}
	return c.LatestCheckpoint(origin)
}

// RegisterCertificates registers a JSON array of certificate registrations.
func (s *SmartContract) RegisterCertificates(ctx contractapi.TransactionContextInterface, batchJSON string) error {
	c, err := contract(ctx)
	if err != nil {
		return err
	}
	var batch []CertRegistration
	if err := json.Unmarshal([]byte(batchJSON), &batch); err != nil {
		return refuse("bad_certificate", "the batch is not a JSON array of certificates: %v", err)
	}
	if err := c.RegisterCertificates(batch); err != nil {
		return err
	}
	serials := make([]string, len(batch))
	for i, r := range batch { // sorted by serial by the rules
		serials[i] = r.Serial
	}
	return setEvent(ctx, EventCertificatesRegistered, map[string]any{"msp": c.Caller, "serials": serials, "tx_id": c.TxID})
}

// RevokeCertificate revokes a certificate with a reason, by the organisation that
// registered it or the regulator.
func (s *SmartContract) RevokeCertificate(ctx contractapi.TransactionContextInterface, serial, reason string) (*Certificate, error) {
	c, err := contract(ctx)
	if err != nil {
		return nil, err
	}
	r, err := c.RevokeCertificate(serial, reason)
	if err != nil {
		return nil, err
	}
	return (*Certificate)(r), setEvent(ctx, EventCertificateRevoked, r)
}

// GetCertificate returns a certificate's registration.
func (s *SmartContract) GetCertificate(ctx contractapi.TransactionContextInterface, serial string) (*Certificate, error) {
	c, err := contract(ctx)
	if err != nil {
		return nil, err
	}
	r, err := c.GetCertificate(serial)
	if err != nil {
		return nil, err
	}
	return (*Certificate)(r), nil
}

// RecordSampling records a sampling verdict given as JSON; the regulator only.
func (s *SmartContract) RecordSampling(ctx contractapi.TransactionContextInterface, samplingJSON string) error {
	c, err := contract(ctx)
	if err != nil {
		return err
	}
	var sm Sampling
	if err := json.Unmarshal([]byte(samplingJSON), &sm); err != nil {
		return refuse("bad_sampling", "the sampling record is not JSON: %v", err)
	}
	if err := c.RecordSampling(sm); err != nil {
		return err
	}
	sm.TxID = c.TxID
	return setEvent(ctx, EventSamplingRecorded, sm)
}

// GetCertificateHistory returns every committed version of a certificate's
// registration, newest first.
func (s *SmartContract) GetCertificateHistory(ctx contractapi.TransactionContextInterface, serial string) ([]CertificateVersion, error) {
	versions := []CertificateVersion{}
	err := history(ctx, "cert/"+serial, func(txID string, ts time.Time, value []byte) error {
		var r Certificate
		if err := json.Unmarshal(value, &r); err != nil {
			return err
		}
		versions = append(versions, CertificateVersion{TxID: txID, Timestamp: ts, Certificate: &r})
		return nil
	})
	return versions, err
}

// GetCheckpointHistory returns every checkpoint anchored for a log, newest first.
func (s *SmartContract) GetCheckpointHistory(ctx contractapi.TransactionContextInterface, origin string) ([]CheckpointVersion, error) {
	versions := []CheckpointVersion{}
	err := history(ctx, "latest/"+origin, func(txID string, ts time.Time, value []byte) error {
		var a Anchor
		if err := json.Unmarshal(value, &a); err != nil {
			return err
		}
		versions = append(versions, CheckpointVersion{TxID: txID, Timestamp: ts, Anchor: &a})
		return nil
	})
	return versions, err
}

// contract returns the rules for the transaction: the stub's state, the submitting
// identity's MSP and the transaction ID.
func contract(ctx contractapi.TransactionContextInterface) (*Contract, error) {
	msp, err := ctx.GetClientIdentity().GetMSPID()
	if err != nil {
		return nil, fmt.Errorf("client identity: %w", err)
	}
	stub := ctx.GetStub()
	return &Contract{State: stubState{stub}, Caller: msp, TxID: stub.GetTxID()}, nil
}

// stubState is the world state of a Fabric transaction.
type stubState struct {
	stub shim.ChaincodeStubInterface
}

func (s stubState) Get(key string) ([]byte, error) {
	b, err := s.stub.GetState(key)
	if err != nil {
		return nil, fmt.Errorf("get state %s: %w", key, err)
	}
	return b, nil
}

func (s stubState) Put(key string, value []byte) error {
	if err := s.stub.PutState(key, value); err != nil {
		return fmt.Errorf("put state %s: %w", key, err)
	}
	return nil
}

// setEvent sets the transaction's chaincode event with v as sorted-key JSON.
func setEvent(ctx contractapi.TransactionContextInterface, name string, v any) error {
	payload, err := SortedJSON(v)
	if err != nil {
		return fmt.Errorf("event %s: %w", name, err)
	}
	if err := ctx.GetStub().SetEvent(name, payload); err != nil {
		return fmt.Errorf("event %s: %w", name, err)
	}
	return nil
}

// history calls each for every version of a key, newest first; deletions, which
// the rules never make, are skipped.
func history(ctx contractapi.TransactionContextInterface, key string, each func(txID string, ts time.Time, value []byte) error) error {
	it, err := ctx.GetStub().GetHistoryForKey(key)
	if err != nil {
		return fmt.Errorf("history of %s: %w", key, err)
	}
	defer it.Close()
	for it.HasNext() {
		m, err := it.Next()
		if err != nil {
			return fmt.Errorf("history of %s: %w", key, err)
		}
		if m.GetIsDelete() {
			continue
		}
		if err := each(m.GetTxId(), m.GetTimestamp().AsTime().UTC(), m.GetValue()); err != nil {
			return fmt.Errorf("history of %s at %s: %w", key, m.GetTxId(), err)
		}
	}
	return nil
}
