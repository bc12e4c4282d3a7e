// Package fabric is Ganpin's client of the Hyperledger Fabric ledger. It runs the
// contract's transactions (package chaincode) through a peer's Fabric Gateway with
// the fabric-gateway client API, over one shared gRPC connection with TLS, signing
// as an X.509 identity of the operator's or the regulator's organisation.
package fabric

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"time"

	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/hash"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"

	"github.com/ganpin/ganpin/chaincode"
)

// Ledger is what Ganpin asks of the ledger that runs the contract rules: Fabric,
// through a Client, or an embedded ledger. A refusal by the rules is returned as an
// error that errors.As matches with *chaincode.Error.
type Ledger interface {
	// AnchorCheckpoint anchors a signed checkpoint note with the consistency proof
	// (RFC 6962 hashes) from the last anchored checkpoint of its log.
	AnchorCheckpoint(ctx context.Context, signedNote []byte, proof [][]byte) (*chaincode.Anchor, chaincode.Receipt, error)
	// LatestCheckpoint returns the last anchored checkpoint of a log.
	LatestCheckpoint(ctx context.Context, origin string) (*chaincode.Anchor, error)
	// RegisterCertificates registers a batch of certificates.
	RegisterCertificates(ctx context.Context, batch []chaincode.CertRegistration) (chaincode.Receipt, error)
	// RevokeCertificate revokes a certificate with a reason.
	RevokeCertificate(ctx context.Context, serial, reason string) (*chaincode.CertRegistration, chaincode.Receipt, error)
	// RecordSampling records a sampling verdict.
	RecordSampling(ctx context.Context, s chaincode.Sampling) (chaincode.Receipt, error)
	// GetCertificate returns a certificate's registration.
	GetCertificate(ctx context.Context, serial string) (*chaincode.CertRegistration, error)
}

// Config is how to reach the peer's gateway and who to sign as.
type Config struct {
	PeerEndpoint       string // host:port of the peer's gateway service
	TLSCACertPath      string // PEM CA certificates for the peer's TLS certificate
	ServerNameOverride string // TLS server name, when it differs from the endpoint's host
	MSPID              string // MSP of the signing identity
	CertPath           string // PEM X.509 certificate of the signing identity
	KeyPath            string // PEM private key (ECDSA) of the signing identity
	Channel            string
	Chaincode          string

	// Per-phase timeouts; zero means the default.
	EvaluateTimeout     time.Duration // a query (default 5 s)
	EndorseTimeout      time.Duration // collecting endorsements (default 15 s)
	SubmitTimeout       time.Duration // handing the transaction to the orderer (default 5 s)
	CommitStatusTimeout time.Duration // waiting for the transaction's commit (default 1 min)
}

// Client runs the contract's transactions on a Fabric network. It is safe for
// concurrent use; all calls share one gRPC connection.
type Client struct {
	cfg      Config
	conn     *grpc.ClientConn
	gateway  *client.Gateway
	contract *client.Contract
}

var _ Ledger = (*Client)(nil)

// Dial sets up a client for the peer in cfg. The connection is made lazily, on the
// first call.
func Dial(cfg Config) (*Client, error) {
	setDefault(&cfg.EvaluateTimeout, 5*time.Second)
	setDefault(&cfg.EndorseTimeout, 15*time.Second)
	setDefault(&cfg.SubmitTimeout, 5*time.Second)
	setDefault(&cfg.CommitStatusTimeout, time.Minute)
	if cfg.PeerEndpoint == "" || cfg.MSPID == "" || cfg.Channel == "" || cfg.Chaincode == "" {
		return nil, errors.New("fabric: the peer endpoint, MSP ID, channel and chaincode are required")
	}
	id, sign, err := loadIdentity(cfg)
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(cfg.TLSCACertPath)
	if err != nil {
		return nil, fmt.Errorf("fabric: tls CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("fabric: tls CA %s: no PEM certificate", cfg.TLSCACertPath)
	}
	conn, err := grpc.NewClient(cfg.PeerEndpoint, grpc.WithTransportCredentials(credentials.NewClientTLSFromCert(pool, cfg.ServerNameOverride)))
	if err != nil {
		return nil, fmt.Errorf("fabric: connection to %s: %w", cfg.PeerEndpoint, err)
	}
	gw, err := client.Connect(id, client.WithSign(sign), client.WithHash(hash.SHA256), client.WithClientConnection(conn))
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("fabric: gateway: %w", err)
	}
	return &Client{cfg: cfg, conn: conn, gateway: gw, contract: gw.GetNetwork(cfg.Channel).GetContract(cfg.Chaincode)}, nil
}

func setDefault(d *time.Duration, def time.Duration) {
	if *d <= 0 {
		*d = def
	}
}

func loadIdentity(cfg Config) (*identity.X509Identity, identity.Sign, error) {
	certPEM, err := os.ReadFile(cfg.CertPath)
	if err != nil {
		return nil, nil, fmt.Errorf("fabric: identity certificate: %w", err)
	}
	cert, err := identity.CertificateFromPEM(certPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("fabric: identity certificate %s: %w", cfg.CertPath, err)
	}
	id, err := identity.NewX509Identity(cfg.MSPID, cert)
	if err != nil {
		return nil, nil, fmt.Errorf("fabric: identity: %w", err)
	}
	keyPEM, err := os.ReadFile(cfg.KeyPath)
	if err != nil {
		return nil, nil, fmt.Errorf("fabric: identity key: %w", err)
	}
	key, err := identity.PrivateKeyFromPEM(keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("fabric: identity key %s: %w", cfg.KeyPath, err)
	}
	sign, err := identity.NewPrivateKeySign(key)
	if err != nil {
		return nil, nil, fmt.Errorf("fabric: identity key %s: %w", cfg.KeyPath, err)
	}
	return id, sign, nil
}

// Close closes the gateway and its connection.
func (c *Client) Close() error {
	return errors.Join(c.gateway.Close(), c.conn.Close())
}

// Configure configures the contract once, naming the regulator's MSP; the client's
// MSP becomes the operator.
func (c *Client) Configure(ctx context.Context, regulatorMSP string) (chaincode.Receipt, error) {
	return c.submit(ctx, nil, "Configure", regulatorMSP)
}

// RegisterLogKey registers a log's note verifier key; the operator only.
func (c *Client) RegisterLogKey(ctx context.Context, vkey string) (chaincode.Receipt, error) {
	return c.submit(ctx, nil, "RegisterLogKey", vkey)
}

// AnchorCheckpoint anchors a signed checkpoint note.
func (c *Client) AnchorCheckpoint(ctx context.Context, signedNote []byte, proof [][]byte) (*chaincode.Anchor, chaincode.Receipt, error) {
	if proof == nil {
		proof = [][]byte{}
	}
	proofJSON, err := json.Marshal(proof) // an array of base64 hashes
	if err != nil {
		return nil, chaincode.Receipt{}, fmt.Errorf("fabric AnchorCheckpoint: %w", err)
	}
	var a chaincode.Anchor
	receipt, err := c.submit(ctx, &a, "AnchorCheckpoint", string(signedNote), string(proofJSON))
	if err != nil {
		return nil, receipt, err
	}
	return &a, receipt, nil
}

// LatestCheckpoint returns the last anchored checkpoint of a log.
func (c *Client) LatestCheckpoint(ctx context.Context, origin string) (*chaincode.Anchor, error) {
	var a chaincode.Anchor
	if err := c.evaluate(ctx, &a, "LatestCheckpoint", origin); err != nil {
		return nil, err
	}
	return &a, nil
}

// RegisterCertificates registers a batch of certificates.
func (c *Client) RegisterCertificates(ctx context.Context, batch []chaincode.CertRegistration) (chaincode.Receipt, error) {
	batchJSON, err := json.Marshal(batch)
	if err != nil {
		return chaincode.Receipt{}, fmt.Errorf("fabric RegisterCertificates: %w", err)
	}
	return c.submit(ctx, nil, "RegisterCertificates", string(batchJSON))
}

// RevokeCertificate revokes a certificate with a reason.
func (c *Client) RevokeCertificate(ctx context.Context, serial, reason string) (*chaincode.CertRegistration, chaincode.Receipt, error) {
	var r chaincode.CertRegistration
	receipt, err := c.submit(ctx, &r, "RevokeCertificate", serial, reason)
	if err != nil {
		return nil, receipt, err
	}
	return &r, receipt, nil
}

// RecordSampling records a sampling verdict.
func (c *Client) RecordSampling(ctx context.Context, s chaincode.Sampling) (chaincode.Receipt, error) {
	samplingJSON, err := json.Marshal(s)
	if err != nil {
		return chaincode.Receipt{}, fmt.Errorf("fabric RecordSampling: %w", err)
	}
	return c.submit(ctx, nil, "RecordSampling", string(samplingJSON))
}

// GetCertificate returns a certificate's registration.
func (c *Client) GetCertificate(ctx context.Context, serial string) (*chaincode.CertRegistration, error) {
	var r chaincode.CertRegistration
	if err := c.evaluate(ctx, &r, "GetCertificate", serial); err != nil {
		return nil, err
	}
	return &r, nil
}

// evaluate runs a query on a peer and decodes its JSON result into out.
func (c *Client) evaluate(ctx context.Context, out any, fn string, args ...string) error {
	proposal, err := c.contract.NewProposal(fn, client.WithArguments(args...))
	if err != nil {
		return fmt.Errorf("fabric %s: proposal: %w", fn, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.EvaluateTimeout)
	defer cancel()
	result, err := proposal.EvaluateWithContext(ctx)
	if err != nil {
		return classify(KindEvaluate, fn, proposal.TransactionID(), err)
	}
	return decode(fn, result, out)
}

// submit endorses, submits and waits for the commit of a transaction, each phase
// with its own timeout, and decodes its JSON result into out unless out is nil.
func (c *Client) submit(ctx context.Context, out any, fn string, args ...string) (chaincode.Receipt, error) {
	proposal, err := c.contract.NewProposal(fn, client.WithArguments(args...))
	if err != nil {
		return chaincode.Receipt{}, fmt.Errorf("fabric %s: proposal: %w", fn, err)
	}
	txID := proposal.TransactionID()

	phase, cancel := context.WithTimeout(ctx, c.cfg.EndorseTimeout)
	tx, err := proposal.EndorseWithContext(phase)
	cancel()
	if err != nil {
		return chaincode.Receipt{}, classify(KindEndorse, fn, txID, err)
	}

	phase, cancel = context.WithTimeout(ctx, c.cfg.SubmitTimeout)
	commit, err := tx.SubmitWithContext(phase)
	cancel()
	if err != nil {
		return chaincode.Receipt{}, classify(KindSubmit, fn, txID, err)
	}

	phase, cancel = context.WithTimeout(ctx, c.cfg.CommitStatusTimeout)
	st, err := commit.StatusWithContext(phase)
	cancel()
	if err != nil {
		return chaincode.Receipt{}, classify(KindCommitStatus, fn, txID, err)
	}
	done := chaincode.Receipt{TxID: txID, Block: st.BlockNumber}
	if !st.Successful {
		return done, classify(KindCommit, fn, txID, &client.CommitError{TransactionID: txID, Code: st.Code})
	}
	if out == nil {
		return done, nil
	}
	return done, decode(fn, tx.Result(), out)
}

func decode(fn string, result []byte, out any) error {
	if err := json.Unmarshal(result, out); err != nil {
		return fmt.Errorf("fabric %s: result: %w", fn, err)
	}
	return nil
}

// Kind is the phase of a transaction in which it failed.
type Kind string

// The kinds of Error.
const (
	KindEvaluate     Kind = "evaluate"      // a query failed on the peer
	KindEndorse      Kind = "endorse"       // endorsement failed, or the contract refused the transaction
	KindSubmit       Kind = "submit"        // the orderer did not accept the endorsed transaction
	KindCommitStatus Kind = "commit status" // the commit status could not be had; the transaction may still commit
	KindCommit       Kind = "commit"        // the transaction was ordered but the peers marked it invalid
)

// Error is a failed transaction. It wraps the fabric-gateway client's error
// (client.EndorseError, SubmitError, CommitStatusError or CommitError, or a gRPC
// status for a query) and, when the contract refused the transaction, the refusal as
// a *chaincode.Error.
type Error struct {
	Kind       Kind
	Function   string                // the transaction function
	TxID       string                // the transaction ID
	Code       codes.Code            // the gRPC status code of the failed call (OK for KindCommit)
	Validation peer.TxValidationCode // for KindCommit: why the peers invalidated it
	Refusal    *chaincode.Error      // the contract's refusal, if it refused
	Err        error                 // the client's error
}

func (e *Error) Error() string {
	var reason string
	switch {
	case e.Refusal != nil:
		reason = "refused: " + e.Refusal.Error()
	case e.Kind == KindCommit:
		reason = "invalid transaction: " + e.Validation.String()
	default:
		reason = e.Err.Error()
	}
	return fmt.Sprintf("fabric %s: %s failed (tx %s): %s", e.Function, e.Kind, e.TxID, reason)
}

// Unwrap returns the client's error and the contract's refusal, if any.
func (e *Error) Unwrap() []error {
	if e.Refusal != nil {
		return []error{e.Err, e.Refusal}
	}
	return []error{e.Err}
}

// chaincodeRefusal matches a chaincode error response as the gateway reports it, when
// it is a refusal by the contract rules ("code: reason").
var chaincodeRefusal = regexp.MustCompile(`(?s)chaincode response \d+, ([a-z_]+): (.*)`)

// classify makes err, which happened in the given phase, an *Error; the client's
// error types, when present, tell the phase and the transaction.
func classify(kind Kind, fn, txID string, err error) *Error {
	e := &Error{Kind: kind, Function: fn, TxID: txID, Code: status.Code(err), Err: err}
	var (
		endorseErr      *client.EndorseError
		submitErr       *client.SubmitError
		commitStatusErr *client.CommitStatusError
		commitErr       *client.CommitError
	)
	switch {
	case errors.As(err, &endorseErr):
		e.Kind, e.TxID = KindEndorse, endorseErr.TransactionID
	case errors.As(err, &submitErr):
		e.Kind, e.TxID = KindSubmit, submitErr.TransactionID
	case errors.As(err, &commitStatusErr):
		e.Kind, e.TxID = KindCommitStatus, commitStatusErr.TransactionID
	case errors.As(err, &commitErr):
		e.Kind, e.TxID, e.Code, e.Validation = KindCommit, commitErr.TransactionID, codes.OK, commitErr.Code
	}
	st := status.Convert(err)
	messages := []string{st.Message()}
	for _, d := range st.Details() {
		if d, ok := d.(*gateway.ErrorDetail); ok {
			messages = append(messages, d.GetMessage())
		}
	}
	for _, m := range messages {
		if sub := chaincodeRefusal.FindStringSubmatch(m); sub != nil {
			e.Refusal = &chaincode.Error{Code: sub[1], Reason: sub[2]}
			break
		}
	}
	return e
}
