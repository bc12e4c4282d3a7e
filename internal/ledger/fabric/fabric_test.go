package fabric_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hyperledger/fabric-chaincode-go/v2/shim"
	"github.com/hyperledger/fabric-contract-api-go/v2/contractapi"
	"github.com/hyperledger/fabric-gateway/pkg/client"
	"github.com/hyperledger/fabric-gateway/pkg/identity"
	"github.com/hyperledger/fabric-protos-go-apiv2/common"
	"github.com/hyperledger/fabric-protos-go-apiv2/gateway"
	"github.com/hyperledger/fabric-protos-go-apiv2/msp"
	"github.com/hyperledger/fabric-protos-go-apiv2/peer"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/ganpin/ganpin/chaincode"
	"github.com/ganpin/ganpin/internal/ledger/fabric"
)

const (
	operator   = "GanpinMSP"
	regulator  = "SAMRMSP"
	stranger   = "FarmMSP"
	peerName   = "peer0.ganpin.example"
	channel    = "ganpin"
	chaincodeN = "ganpin"
	logName    = "ganpin.example/log"
)

// fakeGateway is a Fabric Gateway service with one peer of the operator's
// organisation: it checks the clients' signatures, runs the real chaincode (through
// contractapi, as a peer does) on an in-memory world state, and commits each
// submitted transaction in a block of its own.
type fakeGateway struct {
	gateway.UnimplementedGatewayServer
	cc       *contractapi.ContractChaincode
	peerID   []byte // the peer's serialized identity
	peerKey  *ecdsa.PrivateKey
	mu       sync.Mutex
	state    map[string][]byte
	pending  map[string]map[string][]byte // endorsed transactions' writes, by transaction ID
	statuses map[string]*gateway.CommitStatusResponse
	height   uint64

	// Faults to inject.
	endorseDelay time.Duration
	submitErr    error
	invalidate   peer.TxValidationCode // when not VALID, the next submitted transaction is invalid
}

// proposalInfo is what the fake reads from a signed proposal.
type proposalInfo struct {
	header  *common.Header
	payload *peer.ChaincodeProposalPayload
	channel *common.ChannelHeader
	creator []byte
	args    []string
}

func (g *fakeGateway) open(sp *peer.SignedProposal) (*proposalInfo, error) {
	prop := &peer.Proposal{}
	if err := proto.Unmarshal(sp.GetProposalBytes(), prop); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "proposal: %v", err)
	}
	info := &proposalInfo{header: &common.Header{}, payload: &peer.ChaincodeProposalPayload{}, channel: &common.ChannelHeader{}}
	if err := proto.Unmarshal(prop.GetHeader(), info.header); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "header: %v", err)
	}
	if err := proto.Unmarshal(info.header.GetChannelHeader(), info.channel); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "channel header: %v", err)
	}
	sh := &common.SignatureHeader{}
	if err := proto.Unmarshal(info.header.GetSignatureHeader(), sh); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "signature header: %v", err)
	}
	info.creator = sh.GetCreator()
	if err := verify(info.creator, sp.GetProposalBytes(), sp.GetSignature()); err != nil {
		return nil, status.Errorf(codes.PermissionDenied, "proposal signature: %v", err)
	}
	if err := proto.Unmarshal(prop.GetPayload(), info.payload); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "proposal payload: %v", err)
	}
	spec := &peer.ChaincodeInvocationSpec{}
	if err := proto.Unmarshal(info.payload.GetInput(), spec); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "invocation spec: %v", err)
	}
	if info.channel.GetChannelId() != channel || spec.GetChaincodeSpec().GetChaincodeId().GetName() != chaincodeN {
		return nil, status.Errorf(codes.NotFound, "no chaincode %s on channel %s", spec.GetChaincodeSpec().GetChaincodeId().GetName(), info.channel.GetChannelId())
	}
	for _, a := range spec.GetChaincodeSpec().GetInput().GetArgs() {
		info.args = append(info.args, string(a))
	}
	return info, nil
}

// execute runs the chaincode for the proposal on the committed state.
func (g *fakeGateway) execute(info *proposalInfo) (*peer.Response, *peerStub) {
	g.mu.Lock()
	defer g.mu.Unlock()
	stub := &peerStub{args: info.args, creator: info.creator, txID: info.channel.GetTxId(), state: g.state, writes: map[string][]byte{}}
	return g.cc.Invoke(stub), stub
}

// chaincodeError is the gateway's error for a chaincode's error response.
func chaincodeError(code codes.Code, message string, resp *peer.Response) error {
	st, err := status.New(code, message).WithDetails(&gateway.ErrorDetail{
		Address: peerName + ":7051",
		MspId:   operator,
		Message: fmt.Sprintf("chaincode response %d, %s", resp.GetStatus(), resp.GetMessage()),
	})
	if err != nil {
		return status.Error(codes.Internal, err.Error())
	}
	return st.Err()
}

func (g *fakeGateway) Evaluate(_ context.Context, req *gateway.EvaluateRequest) (*gateway.EvaluateResponse, error) {
	info, err := g.open(req.GetProposedTransaction())
	if err != nil {
		return nil, err
	}
	resp, _ := g.execute(info)
	if resp.GetStatus() >= shim.ERRORTHRESHOLD {
		return nil, chaincodeError(codes.Unknown, fmt.Sprintf("evaluate call to endorser returned error: chaincode response %d, %s", resp.GetStatus(), resp.GetMessage()), resp)
	}
	return &gateway.EvaluateResponse{Result: resp}, nil
}

func (g *fakeGateway) Endorse(ctx context.Context, req *gateway.EndorseRequest) (*gateway.EndorseResponse, error) {
	g.mu.Lock()
	delay := g.endorseDelay
	g.mu.Unlock()
	select {
	case <-time.After(delay):
	case <-ctx.Done():
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	info, err := g.open(req.GetProposedTransaction())
	if err != nil {
		return nil, err
	}
	resp, stub := g.execute(info)
	if resp.GetStatus() >= shim.ERRORTHRESHOLD {
		return nil, chaincodeError(codes.Aborted, "failed to endorse transaction, see attached details for more info", resp)
	}
	env, err := g.prepare(info, resp, stub)
	if err != nil {
		return nil, status.Error(codes.Aborted, err.Error())
	}
	g.mu.Lock()
	g.pending[info.channel.GetTxId()] = stub.writes
	g.mu.Unlock()
	return &gateway.EndorseResponse{PreparedTransaction: env}, nil
}

// prepare assembles the endorsed transaction envelope for the client to sign.
func (g *fakeGateway) prepare(info *proposalInfo, resp *peer.Response, stub *peerStub) (*common.Envelope, error) {
	events, err := proto.Marshal(stub.event)
	if err != nil {
		return nil, err
	}
	action, err := proto.Marshal(&peer.ChaincodeAction{Response: resp, Events: events, ChaincodeId: &peer.ChaincodeID{Name: chaincodeN}})
	if err != nil {
		return nil, err
	}
	prp, err := proto.Marshal(&peer.ProposalResponsePayload{ProposalHash: sha(info.header.GetChannelHeader()), Extension: action})
	if err != nil {
		return nil, err
	}
	sig, err := ecdsa.SignASN1(rand.Reader, g.peerKey, sha(append(append([]byte{}, prp...), g.peerID...)))
	if err != nil {
		return nil, err
	}
	input, err := proto.Marshal(&peer.ChaincodeProposalPayload{Input: info.payload.GetInput()})
	if err != nil {
		return nil, err
	}
	actionPayload, err := proto.Marshal(&peer.ChaincodeActionPayload{
		ChaincodeProposalPayload: input,
		Action: &peer.ChaincodeEndorsedAction{
			ProposalResponsePayload: prp,
			Endorsements:            []*peer.Endorsement{{Endorser: g.peerID, Signature: sig}},
		},
	})
	if err != nil {
		return nil, err
	}
	tx, err := proto.Marshal(&peer.Transaction{Actions: []*peer.TransactionAction{{Header: info.header.GetSignatureHeader(), Payload: actionPayload}}})
	if err != nil {
		return nil, err
	}
	payload, err := proto.Marshal(&common.Payload{Header: info.header, Data: tx})
	if err != nil {
		return nil, err
	}
	return &common.Envelope{Payload: payload}, nil
}

func (g *fakeGateway) Submit(_ context.Context, req *gateway.SubmitRequest) (*gateway.SubmitResponse, error) {
	env := req.GetPreparedTransaction()
	payload := &common.Payload{}
	if err := proto.Unmarshal(env.GetPayload(), payload); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "payload: %v", err)
	}
	sh := &common.SignatureHeader{}
	if err := proto.Unmarshal(payload.GetHeader().GetSignatureHeader(), sh); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "signature header: %v", err)
	}
	if err := verify(sh.GetCreator(), env.GetPayload(), env.GetSignature()); err != nil {
		return nil, status.Errorf(codes.PermissionDenied, "transaction signature: %v", err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.submitErr != nil {
		return nil, g.submitErr
	}
	writes, ok := g.pending[req.GetTransactionId()]
	if !ok {
		return nil, status.Errorf(codes.FailedPrecondition, "transaction %s was not endorsed", req.GetTransactionId())
	}
	delete(g.pending, req.GetTransactionId())
	g.height++
	result := peer.TxValidationCode_VALID
	if g.invalidate != peer.TxValidationCode_VALID {
		result, g.invalidate = g.invalidate, peer.TxValidationCode_VALID
	} else {
		for k, v := range writes {
			g.state[k] = v
		}
	}
	g.statuses[req.GetTransactionId()] = &gateway.CommitStatusResponse{Result: result, BlockNumber: g.height}
	return &gateway.SubmitResponse{}, nil
}

func (g *fakeGateway) CommitStatus(_ context.Context, req *gateway.SignedCommitStatusRequest) (*gateway.CommitStatusResponse, error) {
	r := &gateway.CommitStatusRequest{}
	if err := proto.Unmarshal(req.GetRequest(), r); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "request: %v", err)
	}
	if err := verify(r.GetIdentity(), req.GetRequest(), req.GetSignature()); err != nil {
		return nil, status.Errorf(codes.PermissionDenied, "request signature: %v", err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	st, ok := g.statuses[r.GetTransactionId()]
	if !ok {
		return nil, status.Errorf(codes.NotFound, "transaction %s is unknown", r.GetTransactionId())
	}
	return st, nil
}

// peerStub is the chaincode stub of one transaction on the fake peer. It implements
// what the contract uses; the other methods of the embedded nil interface panic.
type peerStub struct {
	shim.ChaincodeStubInterface
	args    []string
	creator []byte
	txID    string
	state   map[string][]byte // committed state, read only
	writes  map[string][]byte
	event   *peer.ChaincodeEvent
}

func (s *peerStub) GetFunctionAndParameters() (string, []string) { return s.args[0], s.args[1:] }
func (s *peerStub) GetCreator() ([]byte, error)                  { return s.creator, nil }
func (s *peerStub) GetTxID() string                              { return s.txID }
func (s *peerStub) GetState(key string) ([]byte, error)          { return s.state[key], nil }

func (s *peerStub) PutState(key string, value []byte) error {
	s.writes[key] = value
	return nil
}

func (s *peerStub) SetEvent(name string, payload []byte) error {
	s.event = &peer.ChaincodeEvent{ChaincodeId: chaincodeN, TxId: s.txID, EventName: name, Payload: payload}
	return nil
}

func sha(b []byte) []byte {
	h := sha256.Sum256(b)
	return h[:]
}

// verify checks an ECDSA signature over SHA-256(msg) by a serialized identity.
func verify(serialized, msg, sig []byte) error {
	id := &msp.SerializedIdentity{}
	if err := proto.Unmarshal(serialized, id); err != nil {
		return err
	}
	cert, err := identity.CertificateFromPEM(id.GetIdBytes())
	if err != nil {
		return err
	}
	pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !ecdsa.VerifyASN1(pub, sha(msg), sig) {
		return errors.New("bad signature")
	}
	return nil
}

// network is a fake gateway served over TLS on a loopback port.
type network struct {
	gw   *fakeGateway
	addr string
	ca   string // path of the TLS CA certificate
	dir  string
}

func newNetwork(t *testing.T) *network {
	t.Helper()
	cc, err := contractapi.NewChaincode(&chaincode.SmartContract{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	caKey, caCert := newCert(t, nil, nil, &x509.Certificate{Subject: pkix.Name{CommonName: "tlsca.ganpin.example"}, IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign})
	srvKey, srvCert := newCert(t, caKey, caCert, &x509.Certificate{Subject: pkix.Name{CommonName: peerName}, DNSNames: []string{peerName}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	ca := writePEM(t, dir, "tlsca.pem", "CERTIFICATE", caCert.Raw)

	peerKey, peerCert := newCert(t, nil, nil, &x509.Certificate{Subject: pkix.Name{CommonName: peerName}})
	peerID, err := proto.Marshal(&msp.SerializedIdentity{Mspid: operator, IdBytes: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: peerCert.Raw})})
	if err != nil {
		t.Fatal(err)
	}
	g := &fakeGateway{cc: cc, peerID: peerID, peerKey: peerKey, state: map[string][]byte{},
		pending: map[string]map[string][]byte{}, statuses: map[string]*gateway.CommitStatusResponse{}}

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	creds := credentials.NewServerTLSFromCert(&tls.Certificate{Certificate: [][]byte{srvCert.Raw}, PrivateKey: srvKey})
	srv := grpc.NewServer(grpc.Creds(creds))
	gateway.RegisterGatewayServer(srv, g)
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return &network{gw: g, addr: lis.Addr().String(), ca: ca, dir: dir}
}

// dial returns a client signing as a new identity of the MSP.
func (n *network) dial(t *testing.T, mspID string, tune func(*fabric.Config)) *fabric.Client {
	t.Helper()
	key, cert := newCert(t, nil, nil, &x509.Certificate{Subject: pkix.Name{CommonName: "admin@" + mspID}})
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := fabric.Config{
		PeerEndpoint:       n.addr,
		TLSCACertPath:      n.ca,
		ServerNameOverride: peerName,
		MSPID:              mspID,
		CertPath:           writePEM(t, n.dir, mspID+"-cert.pem", "CERTIFICATE", cert.Raw),
		KeyPath:            writePEM(t, n.dir, mspID+"-key.pem", "PRIVATE KEY", keyDER),
		Channel:            channel,
		Chaincode:          chaincodeN,
	}
	if tune != nil {
		tune(&cfg)
	}
	c, err := fabric.Dial(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// newCert makes an ECDSA key and a certificate from tmpl, signed by the parent or
// self-signed when parent is nil.
func newCert(t *testing.T, parentKey *ecdsa.PrivateKey, parent *x509.Certificate, tmpl *x509.Certificate) (*ecdsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// logKey signs checkpoints of a log whose leaves are "leaf 0", "leaf 1", ...
type logKey struct {
	signer note.Signer
	vkey   string
}

func newLogKey(t *testing.T) logKey {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, logName)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	return logKey{signer: signer, vkey: vkey}
}

// checkpoint signs the checkpoint of the log at a size that is a power of two, with
// the consistency proof from the half size, which is then the half size's root.
func (k logKey) checkpoint(t *testing.T, size uint64) ([]byte, [][]byte) {
	t.Helper()
	signed, err := chaincode.SignCheckpoint(chaincode.Checkpoint{Origin: logName, Size: size, Root: root(0, size)}, k.signer)
	if err != nil {
		t.Fatal(err)
	}
	return signed, [][]byte{root(size/2, size)}
}

// root is the RFC 6962 hash of the perfect subtree of leaves [begin, end).
func root(begin, end uint64) []byte {
	if end-begin == 1 {
		return rfc6962.DefaultHasher.HashLeaf([]byte(fmt.Sprintf("leaf %d", begin)))
	}
	mid := begin + (end-begin)/2
	return rfc6962.DefaultHasher.HashChildren(root(begin, mid), root(mid, end))
}

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// wantError checks that err is a fabric.Error of the kind, refused by the contract
// with the code when code is not empty.
func wantError(t *testing.T, err error, kind fabric.Kind, code string) *fabric.Error {
	t.Helper()
	var fe *fabric.Error
	if !errors.As(err, &fe) {
		t.Fatalf("got %v, want a fabric.Error", err)
	}
	if fe.Kind != kind || fe.TxID == "" {
		t.Fatalf("got %s error (tx %q): %v, want %s", fe.Kind, fe.TxID, err, kind)
	}
	var refusal *chaincode.Error
	if code != "" && (!errors.As(err, &refusal) || refusal.Code != code) {
		t.Fatalf("got %v, want the contract's %s refusal", err, code)
	}
	return fe
}

// configured returns a network whose contract the operator has configured, with the
// log's key registered.
func configured(t *testing.T, key logKey) (*network, *fabric.Client) {
	t.Helper()
	n := newNetwork(t)
	op := n.dial(t, operator, nil)
	ctx := context.Background()
	_, err := op.Configure(ctx, regulator)
	ok(t, err)
	_, err = op.RegisterLogKey(ctx, key.vkey)
	ok(t, err)
	return n, op
}

func TestAnchorAndReadBack(t *testing.T) {
	key := newLogKey(t)
	_, op := configured(t, key)
	ctx := context.Background()

	signed, _ := key.checkpoint(t, 4)
	a, receipt, err := op.AnchorCheckpoint(ctx, signed, nil)
	ok(t, err)
	if a.Origin != logName || a.Size != 4 || a.Note != string(signed) || a.TxID != receipt.TxID || receipt.Block != 3 {
		t.Fatalf("anchor = %+v, receipt = %+v", a, receipt)
	}
	latest, err := op.LatestCheckpoint(ctx, logName)
	ok(t, err)
	if *latest != *a {
		t.Fatalf("latest = %+v, want %+v", latest, a)
	}

	signed, proof := key.checkpoint(t, 8)
	a, receipt, err = op.AnchorCheckpoint(ctx, signed, proof)
	ok(t, err)
	if a.Size != 8 || receipt.Block != 4 {
		t.Fatalf("anchor = %+v, receipt = %+v", a, receipt)
	}
	if latest, err = op.LatestCheckpoint(ctx, logName); err != nil || latest.Size != 8 {
		t.Fatalf("latest = %+v, %v", latest, err)
	}
}

func TestEndorsementRefusal(t *testing.T) {
	key := newLogKey(t)
	n, op := configured(t, key)
	ctx := context.Background()
	signed, _ := key.checkpoint(t, 4)
	_, _, err := op.AnchorCheckpoint(ctx, signed, nil)
	ok(t, err)

	_, receipt, err := op.AnchorCheckpoint(ctx, signed, nil)
	fe := wantError(t, err, fabric.KindEndorse, "replayed")
	var endorseErr *client.EndorseError
	if !errors.As(err, &endorseErr) || fe.Code != codes.Aborted || receipt.TxID != "" {
		t.Fatalf("error = %#v, receipt = %+v", fe, receipt)
	}
	if !strings.Contains(err.Error(), "replayed: checkpoint 4 is already anchored") {
		t.Fatalf("error text %q lacks the contract's reason", err)
	}
	if n.gw.height != 3 {
		t.Fatalf("height = %d: a refused transaction was committed", n.gw.height)
	}

	_, err = op.LatestCheckpoint(ctx, "other.example/log")
	fe = wantError(t, err, fabric.KindEvaluate, "not_found")
	if fe.Code != codes.Unknown {
		t.Fatalf("evaluate error = %#v", fe)
	}
}

func TestWrongMSP(t *testing.T) {
	key := newLogKey(t)
	n, op := configured(t, key)
	ctx := context.Background()
	farm := n.dial(t, stranger, nil)
	samr := n.dial(t, regulator, nil)
	signed, _ := key.checkpoint(t, 4)

	_, _, err := farm.AnchorCheckpoint(ctx, signed, nil)
	wantError(t, err, fabric.KindEndorse, "forbidden")
	if !strings.Contains(err.Error(), "FarmMSP may not anchor checkpoints") {
		t.Fatalf("error text %q lacks the contract's reason", err)
	}

	hash := strings.Repeat("ab", 32)
	_, err = op.RegisterCertificates(ctx, []chaincode.CertRegistration{{Serial: "A-1", Hash: hash, Issuer: "9133"}})
	ok(t, err)
	_, _, err = farm.RevokeCertificate(ctx, "A-1", "伪造")
	wantError(t, err, fabric.KindEndorse, "forbidden")
	r, receipt, err := samr.RevokeCertificate(ctx, "A-1", "抽检不合格")
	ok(t, err)
	if !r.Revoked || r.By != regulator || r.MSP != operator || r.TxID != receipt.TxID {
		t.Fatalf("revoked = %+v, receipt = %+v", r, receipt)
	}
	if r, err = farm.GetCertificate(ctx, "A-1"); err != nil || !r.Revoked || r.Reason != "抽检不合格" {
		t.Fatalf("certificate = %+v, %v", r, err)
	}

	sampling := chaincode.Sampling{Number: "S-1", Hash: hash, Verdict: "合格"}
	_, err = op.RecordSampling(ctx, sampling)
	wantError(t, err, fabric.KindEndorse, "forbidden")
	_, err = samr.RecordSampling(ctx, sampling)
	ok(t, err)
}

func TestFailedPhases(t *testing.T) {
	key := newLogKey(t)
	n, op := configured(t, key)
	ctx := context.Background()
	signed, _ := key.checkpoint(t, 4)

	n.gw.mu.Lock()
	n.gw.submitErr = status.Error(codes.Unavailable, "no orderer is available")
	n.gw.mu.Unlock()
	_, _, err := op.AnchorCheckpoint(ctx, signed, nil)
	fe := wantError(t, err, fabric.KindSubmit, "")
	var submitErr *client.SubmitError
	if !errors.As(err, &submitErr) || fe.Code != codes.Unavailable || fe.Refusal != nil {
		t.Fatalf("submit error = %#v", fe)
	}

	n.gw.mu.Lock()
	n.gw.submitErr, n.gw.invalidate = nil, peer.TxValidationCode_MVCC_READ_CONFLICT
	n.gw.mu.Unlock()
	_, receipt, err := op.AnchorCheckpoint(ctx, signed, nil)
	fe = wantError(t, err, fabric.KindCommit, "")
	var commitErr *client.CommitError
	if !errors.As(err, &commitErr) || fe.Validation != peer.TxValidationCode_MVCC_READ_CONFLICT || receipt.TxID != fe.TxID || receipt.Block == 0 {
		t.Fatalf("commit error = %#v, receipt = %+v", fe, receipt)
	}
	if !strings.Contains(err.Error(), "MVCC_READ_CONFLICT") {
		t.Fatalf("error text %q lacks the validation code", err)
	}

	n.gw.mu.Lock()
	n.gw.endorseDelay = time.Second
	n.gw.mu.Unlock()
	slow := n.dial(t, operator, func(c *fabric.Config) { c.EndorseTimeout = 50 * time.Millisecond })
	_, _, err = slow.AnchorCheckpoint(ctx, signed, nil)
	if fe := wantError(t, err, fabric.KindEndorse, ""); fe.Code != codes.DeadlineExceeded {
		t.Fatalf("endorse timeout error = %#v", fe)
	}
}
