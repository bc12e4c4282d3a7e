package fabric_test

import (
	"bufio"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ganpin/ganpin/chaincode"
	"github.com/ganpin/ganpin/internal/ledger/fabric"
)

// TestFabricNetwork runs the client against a real one-organisation Fabric network
// that deploy/fabric/network.sh stands up from the binaries in FABRIC_BIN.
func TestFabricNetwork(t *testing.T) {
	bin := os.Getenv("FABRIC_BIN")
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Skip("skipping the real Fabric network test: FABRIC_BIN is not set, and CI has no Fabric binaries")
		}
		t.Skip("skipping the real Fabric network test: set FABRIC_BIN to the bin/ directory of a Fabric 2.5+ release " +
			"(peer, orderer, osnadmin, cryptogen, configtxgen, with config/ and builders/ccaas/ beside it) to run it")
	}
	for _, name := range []string{"peer", "orderer", "osnadmin", "cryptogen", "configtxgen"} {
		if _, err := os.Stat(filepath.Join(bin, name)); err != nil {
			t.Skipf("skipping the real Fabric network test: FABRIC_BIN=%s has no %s binary", bin, name)
		}
	}
	if testing.Short() {
		t.Skip("skipping the real Fabric network test in short mode")
	}

	root, err := filepath.Abs("../../..")
	ok(t, err)
	dir := t.TempDir()
	chaincodeBin := filepath.Join(dir, "ganpin-chaincode")
	build := exec.Command("go", "build", "-o", chaincodeBin, "./cmd/ganpin-chaincode")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ganpin-chaincode: %v\n%s", err, out)
	}
	network := filepath.Join(dir, "network")
	script := filepath.Join(root, "deploy", "fabric", "network.sh")
	env := append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"GANPIN_FABRIC_DIR="+network, "GANPIN_CHAINCODE="+chaincodeBin)
	t.Cleanup(func() {
		if t.Failed() {
			logTails(t, filepath.Join(network, "logs"))
		}
		down := exec.Command("bash", script, "down")
		down.Env = env
		if out, err := down.CombinedOutput(); err != nil {
			t.Errorf("network.sh down: %v\n%s", err, out)
		}
	})
	start := time.Now()
	up := exec.Command("bash", script, "up")
	up.Env = env
	out, err := up.CombinedOutput()
	if err != nil {
		t.Fatalf("network.sh up: %v\n%s", err, out)
	}
	t.Logf("network.sh up took %v:\n%s", time.Since(start).Round(time.Millisecond), out)

	vars := readEnv(t, filepath.Join(network, "client.env"))
	c, err := fabric.Dial(fabric.Config{
		PeerEndpoint:       vars["GANPIN_FABRIC_PEER"],
		TLSCACertPath:      vars["GANPIN_FABRIC_TLS_CA"],
		ServerNameOverride: vars["GANPIN_FABRIC_SERVER_NAME"],
		MSPID:              vars["GANPIN_FABRIC_MSP"],
		CertPath:           vars["GANPIN_FABRIC_CERT"],
		KeyPath:            vars["GANPIN_FABRIC_KEY"],
		Channel:            vars["GANPIN_FABRIC_CHANNEL"],
		Chaincode:          vars["GANPIN_FABRIC_CHAINCODE"],
		EndorseTimeout:     time.Minute, // the first transaction connects the peer to the chaincode server
	})
	ok(t, err)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// took logs how long a step took; for a transaction, from the proposal to the
	// commit status of its block.
	took := func(step string, since time.Time, r *chaincode.Receipt) {
		if r != nil {
			t.Logf("%-28s %6v  block %d", step, time.Since(since).Round(time.Millisecond), r.Block)
		} else {
			t.Logf("%-28s %6v", step, time.Since(since).Round(time.Millisecond))
		}
	}

	key := newLogKey(t)
	start = time.Now()
	receipt, err := c.Configure(ctx, regulator)
	ok(t, err)
	took("Configure (first call)", start, &receipt)
	start = time.Now()
	receipt, err = c.RegisterLogKey(ctx, key.vkey)
	ok(t, err)
	took("RegisterLogKey", start, &receipt)

	signed, _ := key.checkpoint(t, 4)
	start = time.Now()
	a, receipt, err := c.AnchorCheckpoint(ctx, signed, nil)
	ok(t, err)
	took("AnchorCheckpoint (size 4)", start, &receipt)
	if a.Size != 4 || a.TxID != receipt.TxID || receipt.Block == 0 {
		t.Fatalf("anchor = %+v, receipt = %+v", a, receipt)
	}
	signed, proof := key.checkpoint(t, 8)
	start = time.Now()
	_, receipt, err = c.AnchorCheckpoint(ctx, signed, proof)
	ok(t, err)
	took("AnchorCheckpoint (size 8)", start, &receipt)
	start = time.Now()
	latest, err := c.LatestCheckpoint(ctx, logName)
	ok(t, err)
	took("LatestCheckpoint (evaluate)", start, nil)
	if latest.Size != 8 || latest.Note != string(signed) {
		t.Fatalf("latest = %+v", latest)
	}
	_, _, err = c.AnchorCheckpoint(ctx, signed, proof)
	wantError(t, err, fabric.KindEndorse, "replayed")

	hash := strings.Repeat("ab", 32)
	start = time.Now()
	receipt, err = c.RegisterCertificates(ctx, []chaincode.CertRegistration{{Serial: "A-1", Hash: hash, Issuer: "9133"}})
	ok(t, err)
	took("RegisterCertificates", start, &receipt)
	start = time.Now()
	r, receipt, err := c.RevokeCertificate(ctx, "A-1", "issued in error")
	ok(t, err)
	took("RevokeCertificate", start, &receipt)
	if !r.Revoked || r.By != operator || r.TxID != receipt.TxID {
		t.Fatalf("revoked = %+v, receipt = %+v", r, receipt)
	}
	if r, err = c.GetCertificate(ctx, "A-1"); err != nil || !r.Revoked || r.By != operator || r.Reason != "issued in error" {
		t.Fatalf("certificate = %+v, %v", r, err)
	}
	// The operator's MSP may not record sampling verdicts: the contract refuses it.
	_, err = c.RecordSampling(ctx, chaincode.Sampling{Number: "S-1", Hash: hash, Verdict: "合格"})
	wantError(t, err, fabric.KindEndorse, "forbidden")

	// An MSP that is not a member of the channel does not get as far as the
	// contract: the peer refuses its proposal.
	farmKey, farmCert := newCert(t, nil, nil, &x509.Certificate{Subject: pkix.Name{CommonName: "admin@" + stranger}})
	farmKeyDER, err := x509.MarshalPKCS8PrivateKey(farmKey)
	ok(t, err)
	farm, err := fabric.Dial(fabric.Config{
		PeerEndpoint:       vars["GANPIN_FABRIC_PEER"],
		TLSCACertPath:      vars["GANPIN_FABRIC_TLS_CA"],
		ServerNameOverride: vars["GANPIN_FABRIC_SERVER_NAME"],
		MSPID:              stranger,
		CertPath:           writePEM(t, dir, "farm-cert.pem", "CERTIFICATE", farmCert.Raw),
		KeyPath:            writePEM(t, dir, "farm-key.pem", "PRIVATE KEY", farmKeyDER),
		Channel:            vars["GANPIN_FABRIC_CHANNEL"],
		Chaincode:          vars["GANPIN_FABRIC_CHAINCODE"],
	})
	ok(t, err)
	defer farm.Close()
	signed, proof = key.checkpoint(t, 12)
	_, _, err = farm.AnchorCheckpoint(ctx, signed, proof)
	fe := wantError(t, err, fabric.KindEndorse, "")
	if fe.Refusal != nil {
		t.Fatalf("a stranger's proposal reached the contract: %v", err)
	}
	t.Logf("a stranger's AnchorCheckpoint: %v", err)
	if _, err = farm.GetCertificate(ctx, "A-1"); err == nil {
		t.Fatal("a stranger read a certificate")
	}
}

// logTails logs the end of each log file of the network, to see why it failed.
func logTails(t *testing.T, dir string) {
	logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, name := range logs {
		b, err := os.ReadFile(name)
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
		if len(lines) > 40 {
			lines = lines[len(lines)-40:]
		}
		t.Logf("%s (last %d lines):\n%s", filepath.Base(name), len(lines), strings.Join(lines, "\n"))
	}
}

// readEnv reads KEY=VALUE lines.
func readEnv(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	ok(t, err)
	defer f.Close()
	vars := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, found := strings.Cut(sc.Text(), "="); found {
			vars[k] = v
		}
	}
	ok(t, sc.Err())
	return vars
}
