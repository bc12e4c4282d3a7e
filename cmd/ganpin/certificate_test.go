package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// tool finds a program the test needs: skipped without it, failed under CI=true.
func tool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found: CI installs poppler-utils and zbar-tools", name)
		}
		t.Skipf("%s not found: apt-get install poppler-utils zbar-tools", name)
	}
	return p
}

// qrCodes rasterises page 1 of a PDF at dpi (a thermal label printer prints 203, an
// office printer 300 or more) and returns the QR codes zbarimg reads on it.
func qrCodes(t *testing.T, pdf []byte, dpi string) []string {
	t.Helper()
	pdftoppm, zbarimg := tool(t, "pdftoppm"), tool(t, "zbarimg")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "c.pdf"), pdf, 0o600)
	if out, err := exec.Command(pdftoppm, "-r", dpi, "-f", "1", "-l", "1", "-png", filepath.Join(dir, "c.pdf"), filepath.Join(dir, "page")).CombinedOutput(); err != nil {
		t.Fatalf("pdftoppm: %v %s", err, out)
	}
	pages, _ := filepath.Glob(filepath.Join(dir, "page*.png"))
	if len(pages) != 1 {
		t.Fatalf("pdftoppm made %d pages", len(pages))
	}
	out, err := exec.Command(zbarimg, "-q", "--raw", pages[0]).Output()
	if err != nil {
		t.Fatalf("zbarimg: %v", err)
	}
	return strings.Fields(string(out))
}

func fetch(t *testing.T, p *proc, path string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", path, nil)
	if strings.HasPrefix(path, "/") {
		req, _ = http.NewRequest("GET", p.base+path, nil)
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

// TestPrintedQRResolves: the QR code printed on a demo certificate, read back from the
// rendered page with zbarimg, opens the certificate's public page on the running
// server; so do unit-level labels, and the certificate printed from the command line.
func TestPrintedQRResolves(t *testing.T) {
	dir := t.TempDir()
	p := start(t, "--data", dir)
	type item struct {
		ID     int64
		Serial string
		Units  int
		URL    string
	}
	var list struct{ Items []item }
	if st, b := fetch(t, p, "/api/v1/certificates?limit=1000"); st != 200 || json.Unmarshal(b, &list) != nil || len(list.Items) == 0 {
		t.Fatalf("certificates: %d %s", st, b)
	}
	i := slices.IndexFunc(list.Items, func(c item) bool { return c.Units > 0 })
	if i < 0 {
		t.Fatal("no demo certificate with unit-level labels")
	}
	c := list.Items[i]
	st, pdf := fetch(t, p, "/api/v1/certificates/"+strconv.FormatInt(c.ID, 10)+"/pdf?layout=a6")
	if st != 200 {
		t.Fatalf("pdf: %d %s", st, pdf)
	}
	codes := qrCodes(t, pdf, "300")
	if len(codes) != 1 || codes[0] != c.URL || !strings.HasPrefix(c.URL, p.base+"/01/") {
		t.Fatalf("the A6 page's QR codes %q, want the certificate's Digital Link %s", codes, c.URL)
	}
	st, page := fetch(t, p, codes[0])
	if st != 200 || !strings.Contains(string(page), c.Serial) || !strings.Contains(string(page), "有效") {
		t.Fatalf("the QR's link %s: %d %.300s", codes[0], st, page)
	}

	// Unit-level labels: every code on the first sheet is a unit's link and resolves.
	st, pdf = fetch(t, p, "/api/v1/certificates/"+strconv.FormatInt(c.ID, 10)+"/pdf?layout=sheet-3x8&units=1-24")
	if st != 200 {
		t.Fatalf("unit labels: %d %s", st, pdf)
	}
	codes = qrCodes(t, pdf, "300")
	slices.Sort(codes)
	if len(codes) != 24 || codes[0] != c.URL+"/21/000001" || codes[23] != c.URL+"/21/000024" {
		t.Fatalf("a sheet of unit labels reads %d codes: %q", len(codes), codes)
	}
	if st, page := fetch(t, p, codes[23]); st != 200 || !strings.Contains(string(page), "000024") {
		t.Fatalf("a unit's link %s: %d %.300s", codes[23], st, page)
	}

	// From the command line, against the same data directory.
	out := filepath.Join(dir, "cert.pdf")
	if msg, err := runCmd(t, "certificate", "print", "--data", dir, "--base-url", p.base, "--serial", c.Serial, "--layout", "label", "--out", out); err != nil {
		t.Fatalf("certificate print: %v\n%s", err, msg)
	}
	b, _ := os.ReadFile(out)
	if codes := qrCodes(t, b, "203"); len(codes) != 1 || codes[0] != c.URL {
		t.Fatalf("the printed label's QR codes %q, want %s", codes, c.URL)
	}
	if msg, err := runCmd(t, "certificate", "print", "--data", dir, "--serial", "GP99999999", "--out", out); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Fatalf("printing an unknown serial: %v %s", err, msg)
	}
}
