package fabric_test

import (
	"bufio"
	"context"
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
		down := exec.Command("bash", script, "down")
		down.Env = env
		if out, err := down.CombinedOutput(); err != nil {
			t.Errorf("network.sh down: %v\n%s", err, out)
		}
	})
	up := exec.Command("bash", script, "up")
	up.Env = env
	if out, err := up.CombinedOutput(); err != nil {
		t.Fatalf("network.sh up: %v\n%s", err, out)
	}

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

	key := newLogKey(t)
	_, err = c.Configure(ctx, regulator)
	ok(t, err)
	_, err = c.RegisterLogKey(ctx, key.vkey)
	ok(t, err)

	signed, _ := key.checkpoint(t, 4)
	a, receipt, err := c.AnchorCheckpoint(ctx, signed, nil)
	ok(t, err)
	if a.Size != 4 || a.TxID != receipt.TxID || receipt.Block == 0 {
		t.Fatalf("anchor = %+v, receipt = %+v", a, receipt)
	}
	signed, proof := key.checkpoint(t, 8)
	_, _, err = c.AnchorCheckpoint(ctx, signed, proof)
	ok(t, err)
	latest, err := c.LatestCheckpoint(ctx, logName)
	ok(t, err)
	if latest.Size != 8 || latest.Note != string(signed) {
		t.Fatalf("latest = %+v", latest)
	}
	_, _, err = c.AnchorCheckpoint(ctx, signed, proof)
	wantError(t, err, fabric.KindEndorse, "replayed")

	hash := strings.Repeat("ab", 32)
	_, err = c.RegisterCertificates(ctx, []chaincode.CertRegistration{{Serial: "A-1", Hash: hash, Issuer: "9133"}})
	ok(t, err)
	r, _, err := c.RevokeCertificate(ctx, "A-1", "issued in error")
	ok(t, err)
	if r, err = c.GetCertificate(ctx, "A-1"); err != nil || !r.Revoked || r.By != operator {
		t.Fatalf("certificate = %+v, %v", r, err)
	}
	_, err = c.RecordSampling(ctx, chaincode.Sampling{Number: "S-1", Hash: hash, Verdict: "合格"})
	wantError(t, err, fabric.KindEndorse, "forbidden")
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
