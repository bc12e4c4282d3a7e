package main

import (
	"bytes"
	"context"
	"database/sql"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

// fetchReceipt polls for the receipt of event id until its checkpoint is anchored.
func fetchReceipt(t *testing.T, p *proc, id string) []byte {
	t.Helper()
	return poll(t, p, "/api/v1/events/"+id+"/receipt", func([]byte) bool { return true })
}

// poll GETs path until it answers 200 with a body done accepts.
func poll(t *testing.T, p *proc, path string, done func([]byte) bool) []byte {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequest("GET", p.base+path, nil)
		req.Header.Set("Authorization", "Bearer "+p.token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		switch {
		case res.StatusCode == 200 && done(b):
			return b
		case res.StatusCode == 200, res.StatusCode == 409: // 待上链
			time.Sleep(100 * time.Millisecond)
		default:
			t.Fatalf("%s: %d %s", path, res.StatusCode, b)
		}
	}
	t.Fatalf("%s: not anchored within 30 s", path)
	return nil
}

func runCmd(t *testing.T, args ...string) (string, error) {
	var out, errb bytes.Buffer
	err := run(context.Background(), args, func(string) string { return "" }, nil, &out, &errb)
	return out.String() + errb.String(), err
}

// TestReceiptVerifyAuditTamper: a demo event's receipt verifies offline; ganpin audit
// passes; after one event row is edited behind the system's back, audit names it
// and the event's receipt no longer verifies.
func TestReceiptVerifyAuditTamper(t *testing.T) {
	dir := t.TempDir()
	p := start(t, "--data", dir, "--anchor-every", "200ms")
	var before struct{ Log struct{ Label string } }
	p.get(t, "/api/v1/events/7", &before)
	receipt := fetchReceipt(t, p, "7")
	var after struct{ Log struct{ Label string } }
	p.get(t, "/api/v1/events/7", &after)
	if after.Log.Label != "已上链" || (before.Log.Label != "待上链" && before.Log.Label != "已上链") {
		t.Fatalf("event log status before/after anchoring: %q / %q", before.Log.Label, after.Log.Label)
	}
	path := filepath.Join(dir, "receipt.json")
	os.WriteFile(path, receipt, 0o600)

	key := getText(t, p.base+"/.well-known/ganpin/log-key")
	if out, err := runCmd(t, "verify", "--key", key, path); err != nil || !strings.Contains(out, "receipt verified") {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	// Another log's key does not verify it.
	other := strings.Replace(key, "ganpin.local/log", "evil.example/log", 1)
	if out, err := runCmd(t, "verify", "--key", other, path); err == nil || !strings.Contains(out, "✗ checkpoint signed") {
		t.Fatalf("verify with another key: %v\n%s", err, out)
	}
	// A receipt whose record was edited fails at the inclusion step.
	forged := bytes.Replace(receipt, []byte(`"record":"ey`), []byte(`"record":"ez`), 1)
	os.WriteFile(path+".forged", forged, 0o600)
	if out, err := runCmd(t, "verify", "--key", key, path+".forged"); err == nil || !strings.Contains(out, "✗ event 7 is leaf") {
		t.Fatalf("verify a forged receipt: %v\n%s", err, out)
	}
	if out, err := runCmd(t, "verify", filepath.Join(dir, "missing.json")); err == nil {
		t.Fatalf("verify a missing file: %s", out)
	}
	os.WriteFile(path+".junk", []byte("{not json"), 0o600)
	if out, err := runCmd(t, "verify", path+".junk"); err == nil || !strings.Contains(out, "✗ parse the receipt") {
		t.Fatalf("verify junk: %v\n%s", err, out)
	}

	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
	if out, err := runCmd(t, "audit", "--data", dir); err != nil || !strings.Contains(out, "audit passed") {
		t.Fatalf("audit of an untouched database: %v\n%s", err, out)
	}

	// Edit event 7 directly in the database.
	db, err := sql.Open("sqlite", filepath.Join(dir, "ganpin.db"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := db.Exec(`UPDATE events SET body = CAST(replace(CAST(body AS TEXT), '"dose":"', '"dose":"1') AS BLOB) WHERE id = 7`)
	if n, _ := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("tamper: %v (%d rows)", err, n)
	}
	if _, err := db.Exec(`DELETE FROM events WHERE id = 9`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out, err := runCmd(t, "audit", "--data", dir)
	if err == nil || !strings.Contains(out, "event 7: its row was altered") || !strings.Contains(out, "event 9 was deleted") {
		t.Fatalf("audit after tampering: %v\n%s", err, out)
	}
	q := start(t, "--data", dir)
	os.WriteFile(path, fetchReceipt(t, q, "7"), 0o600)
	if out, err := runCmd(t, "verify", "--key", key, path); err == nil || !strings.Contains(out, "✗ event 7 is leaf") {
		t.Fatalf("verify the altered event's receipt: %v\n%s", err, out)
	}
}

func getText(t *testing.T, url string) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return strings.TrimSpace(string(b))
}

// TestCertificateReceiptRevokeTamper: a demo certificate's receipt verifies offline
// with its issuer's signature; once revoked, its receipt fails verification with the
// reason; a certificate row edited behind the system's back is named by audit.
func TestCertificateReceiptRevokeTamper(t *testing.T) {
	dir := t.TempDir()
	p := start(t, "--data", dir, "--anchor-every", "200ms")
	key := getText(t, p.base+"/.well-known/ganpin/log-key")
	path := filepath.Join(dir, "receipt.json")
	os.WriteFile(path, poll(t, p, "/api/v1/certificates/1/receipt", func([]byte) bool { return true }), 0o600)
	out, err := runCmd(t, "verify", "--key", key, path)
	if err != nil || !strings.Contains(out, "✓ certificate 1 is leaf") || !strings.Contains(out, "✓ signed by the issuer's key") {
		t.Fatalf("verify the certificate: %v\n%s", err, out)
	}

	req, _ := http.NewRequest("POST", p.base+"/api/v1/certificates/1/revoke", strings.NewReader(`{"reason":"包装破损，整批下架"}`))
	req.Header.Set("Authorization", "Bearer "+p.token)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 201 {
		t.Fatalf("revoke: %v %v", err, res)
	}
	revoked := poll(t, p, "/api/v1/certificates/1/receipt", func(b []byte) bool {
		return bytes.Contains(b, []byte(`"revocation":{"format"`)) && bytes.Count(b, []byte(`"checkpoint":"ganpin`)) == 2
	})
	os.WriteFile(path, revoked, 0o600)
	out, err = runCmd(t, "verify", "--key", key, path)
	if err == nil || !strings.Contains(out, "✓ revocation: revocation 1 is leaf") || !strings.Contains(out, "✗ the certificate is in force: REVOKED (已撤销)") || !strings.Contains(out, "包装破损") {
		t.Fatalf("verify the revoked certificate: %v\n%s", err, out)
	}

	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
	db, err := sql.Open("sqlite", filepath.Join(dir, "ganpin.db"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := db.Exec(`UPDATE certificates SET body = CAST(replace(CAST(body AS TEXT), '"quantity":', '"quantity":1') AS BLOB) WHERE id = 2`)
	if n, _ := res.RowsAffected(); err != nil || n != 1 {
		t.Fatalf("tamper: %v (%d rows)", err, n)
	}
	db.Close()
	out, err = runCmd(t, "audit", "--data", dir)
	if err == nil || !strings.Contains(out, "certificate 2: its row was altered") || strings.Contains(out, "certificate 1:") {
		t.Fatalf("audit after tampering with a certificate: %v\n%s", err, out)
	}
}
