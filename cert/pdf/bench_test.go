package pdf

import (
	"fmt"
	"io"
	"testing"
)

// BenchmarkA6 renders one single-certificate A6 PDF per operation, each for a
// new certificate (a new serial and QR content).
func BenchmarkA6(b *testing.B) {
	c := producerCert()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		c.Serial = fmt.Sprintf("GP26%06d", i)
		l := Label{Cert: c, QR: "https://trace.example.cn/c/" + c.Serial, Short: "trace.example.cn/c/" + c.Serial}
		if err := Render(io.Discard, A6, []Label{l}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSheet1000 renders 1,000 unit-level labels of one certificate on
// sheet-3x8 (42 A4 pages) per operation.
func BenchmarkSheet1000(b *testing.B) {
	labels := unitLabels(producerCert(), 1000)
	b.ReportAllocs()
	for b.Loop() {
		if err := Render(io.Discard, Sheet3x8, labels); err != nil {
			b.Fatal(err)
		}
	}
}
