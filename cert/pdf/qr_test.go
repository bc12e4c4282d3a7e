package pdf

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestQRDecodes has zbarimg read the codes drawn from go-qrcode's bitmap: short and
// long contents, versions with and without version information.
func TestQRDecodes(t *testing.T) {
	zbarimg := tool(t, "zbarimg")
	dir := t.TempDir()
	for i, n := range []int{1, 14, 37, 66, 84, 122, 213, 300} {
		content := strings.Repeat("https://trace.example.cn/01/06901234567892/21/", 1+n/40)[:n]
		c, err := encodeQR(content)
		if err != nil {
			t.Fatal(err)
		}
		if size, _ := qrSize(content); size != c.size {
			t.Errorf("qrSize(%d bytes) = %d, the code has %d modules", n, size, c.size)
		}
		file := filepath.Join(dir, string(rune('a'+i))+".png")
		writeQRPNG(t, file, c)
		if got := decodeQR(t, zbarimg, file); !slices.Equal(got, []string{content}) {
			t.Errorf("%d bytes: zbarimg read %q, want %q", n, got, content)
		}
	}
	if _, err := encodeQR(strings.Repeat("x", 2332)); err == nil {
		t.Error("encodeQR of 2,332 bytes: no error")
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
