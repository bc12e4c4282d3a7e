package pdf

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ganpin/ganpin/cert"
	"github.com/ganpin/ganpin/trace"
)

func producerCert() *cert.Certificate {
	return &cert.Certificate{Serial: "GP26000123", Product: "赣南脐橙 5kg装", Quantity: 120, Unit: trace.Box,
		Origin: "江西省赣州市寻乌县澄江镇", Issued: time.Date(2026, 11, 28, 1, 5, 0, 0, time.UTC),
		Producer: "寻乌县澄江脐橙专业合作社", Contact: "0797-4000000",
		Template: cert.Producer, Basis: cert.QualityControl | cert.SelfTested, Report: "ZJ-20261127-01"}
}

func buyerCert() *cert.Certificate {
	return &cert.Certificate{Serial: "GP26000456", Product: "赣南脐橙（混装）", Quantity: 2.5, Unit: trace.Tonne,
		Origin: "江西省赣州市信丰县", Issued: time.Date(2026, 12, 1, 16, 30, 0, 0, time.UTC),
		Producer: "赣州果业收购有限公司", Template: cert.Buyer, Basis: cert.QualityControl,
		Upstream: []cert.Upstream{
			{Serial: "GP26000123", Issuer: "寻乌县澄江脐橙专业合作社", Product: "脐橙", Quantity: 1200, Unit: trace.Kg, IssuedOn: "2026-11-28", Bases: []string{"自行检测合格"}},
			{Serial: "JX-0451", Issuer: "某家庭农场", Product: "脐橙", Quantity: 800, Unit: trace.Kg, IssuedOn: "2026-01-20", Legacy: true, Bases: []string{"自我承诺"}},
			{Issuer: "张三", Product: "脐橙", Quantity: 500, Unit: trace.Jin, IssuedOn: "2026-11-30", Bases: []string{"质量安全控制符合要求"}},
		}}
}

func label(c *cert.Certificate) Label {
	return Label{Cert: c, QR: "https://trace.example.cn/c/" + c.Serial, Short: "trace.example.cn/c/" + c.Serial}
}

// unitLabels returns n unit-level labels of c with consecutive serials.
func unitLabels(c *cert.Certificate, n int) []Label {
	labels := make([]Label, n)
	for i := range labels {
		u := fmt.Sprintf("%06d", i+1)
		labels[i] = Label{Cert: c, Unit: u, Short: "trace.example.cn/c/" + c.Serial,
			QR: "https://trace.example.cn/01/06901234567892/10/XW-2026-001/21/" + u}
	}
	return labels
}

// tool returns the path of an external program the test needs. Where it is
// missing the test is skipped, except in CI (CI=true), which installs them all.
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

// run runs a program and returns its standard output.
func run(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// decodeQR returns the contents of the QR codes zbarimg finds in an image.
func decodeQR(t *testing.T, zbarimg, file string) []string {
	t.Helper()
	cmd := exec.Command(zbarimg, "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", file)
	out, err := cmd.Output()
	if err != nil && len(out) == 0 {
		return nil // zbarimg exits 4 when it finds no code
	}
	return strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
}
