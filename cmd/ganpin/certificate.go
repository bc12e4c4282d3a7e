package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/ganpin/ganpin/cert/pdf"
	"github.com/ganpin/ganpin/internal/config"
)

// certificate runs the certificate tools: print.
func certificate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "print" {
		return errors.New("usage: ganpin certificate print --serial S [--layout a6|label|sheet-2x5|sheet-3x8] [--copies N | --units FROM-TO] --out FILE.pdf")
	}
	var serial, layout, units, out string
	var copies int
	cfg, rest, err := config.Load("certificate print", args[1:], getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&serial, "serial", "", "the certificate's serial number")
		fs.StringVar(&layout, "layout", "a6", "a6, label (80×60 mm thermal), sheet-2x5 or sheet-3x8 (A4 label sheets)")
		fs.IntVar(&copies, "copies", 1, "copies of the certificate")
		fs.StringVar(&units, "units", "", "unit-level labels FROM-TO, e.g. 1-240, instead of copies")
		fs.StringVar(&out, "out", "", "the PDF file to write")
	})
	if err != nil {
		return err
	}
	if serial == "" || out == "" || len(rest) > 0 {
		return errors.New("certificate print needs --serial and --out")
	}
	l, err := pdf.ParseLayout(layout)
	if err != nil {
		return err
	}
	sel := pdf.Selection{Copies: copies}
	if units != "" {
		a, b, ok := strings.Cut(units, "-")
		from, err1 := strconv.Atoi(a)
		to, err2 := strconv.Atoi(b)
		if !ok || err1 != nil || err2 != nil {
			return fmt.Errorf("--units %q: want FROM-TO, e.g. 1-240", units)
		}
		sel = pdf.Selection{From: from, To: to}
	}
	db, st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	defer st.Close()
	c, err := st.CertificateBySerial(ctx, serial)
	if err != nil {
		return err
	}
	labels, err := pdf.Labels(c, cfg.PublicURL("http://"+cfg.Addr), sel)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := pdf.Render(&buf, l, labels); err != nil {
		return err
	}
	if err := os.WriteFile(out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d labels of certificate %s (%s, %g%s, %s)\n", out, len(labels), c.Serial, c.Product, c.Quantity, c.Unit.ZH(), c.Producer)
	return nil
}
