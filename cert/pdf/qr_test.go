package pdf

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestReedSolomon(t *testing.T) {
	// "HELLO WORLD" as 1-M (ISO/IEC 18004 Annex I style worked example).
	data := []byte{32, 91, 11, 120, 209, 114, 220, 77, 67, 64, 236, 17, 236, 17, 236, 17}
	want := []byte{196, 35, 39, 119, 235, 215, 231, 226, 93, 23}
	if got := rsRemainder(data, rsGenerator(10)); !bytes.Equal(got, want) {
		t.Errorf("rsRemainder = %v, want %v", got, want)
	}
}

func TestQRCapacity(t *testing.T) {
	// Byte-mode capacities at level M from the standard's table 7.
	for _, tc := range []struct{ ver, bytes int }{{1, 14}, {2, 26}, {5, 84}, {7, 122}, {9, 180}, {10, 213}, {20, 666}, {40, 2331}} {
		if got := (8*qrDataCodewords(tc.ver) - 4 - qrCountBits(tc.ver)) / 8; got != tc.bytes {
			t.Errorf("version %d holds %d bytes, want %d", tc.ver, got, tc.bytes)
		}
	}
	if _, err := encodeQR(strings.Repeat("x", 2332)); err == nil {
		t.Error("encodeQR of 2,332 bytes: no error")
	}
}

func TestPenalty64(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{21, 25, 37, 57, 61} {
		for range 50 {
			d := make([]byte, n*n)
			for i := range d {
				d[i] = byte(rnd.IntN(2))
				if rnd.IntN(4) == 0 { // long runs and blocks too
					d[i] = 0
				}
			}
			rows, cols := bitLines(d, n)
			if got, want := penalty64(rows, cols, n), penalty(d, n); got != want {
				t.Fatalf("n=%d: penalty64 = %d, penalty = %d", n, got, want)
			}
		}
	}
}

// TestQRDecodes has zbarimg read codes of every mask and of versions with and
// without version information, long count fields and several blocks.
func TestQRDecodes(t *testing.T) {
	zbarimg := tool(t, "zbarimg")
	dir := t.TempDir()
	var want []string
	var files []string
	for i, n := range []int{1, 14, 20, 37, 66, 84, 100, 122, 200, 213, 300, 700} {
		content := strings.Repeat("https://trace.example.cn/01/06901234567892/21/", 1+n/40)[:n]
		ver := 1
		for 4+qrCountBits(ver)+8*n > 8*qrDataCodewords(ver) {
			ver++
		}
		m := newQRMatrix(ver)
		m.place(m.codewords(qrData(content, ver)))
		m.applyMask(i % 8)
		file := filepath.Join(dir, string(rune('a'+i))+".png")
		writeQRPNG(t, file, m.code())
		want, files = append(want, content), append(files, file)
	}
	c, err := encodeQR("https://trace.example.cn/c/GP26000123")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "best.png")
	writeQRPNG(t, file, c)
	want, files = append(want, "https://trace.example.cn/c/GP26000123"), append(files, file)

	for i, f := range files {
		got := decodeQR(t, zbarimg, f)
		if !slices.Equal(got, want[i:i+1]) {
			t.Errorf("%s: zbarimg read %q, want %q", filepath.Base(f), got, want[i])
		}
	}
}

// writeQRPNG draws c with its quiet zone, 4 pixels a module.
func writeQRPNG(t *testing.T, file string, c *qrCode) {
	t.Helper()
	const px = 4
	side := (c.size + 2*quietZone) * px
	img := image.NewGray(image.Rect(0, 0, side, side))
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	for _, r := range c.runs {
		for y := (quietZone + r[0]) * px; y < (quietZone+r[0]+1)*px; y++ {
			for x := (quietZone + r[1]) * px; x < (quietZone+r[1]+r[2])*px; x++ {
				img.SetGray(x, y, color.Gray{})
			}
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
