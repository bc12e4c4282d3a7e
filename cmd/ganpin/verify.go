package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ganpin/ganpin/chaincode"
	"github.com/ganpin/ganpin/internal/anchor"
	"github.com/ganpin/ganpin/internal/config"
)

// verify checks a receipt offline and says which step fails.
func verify(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ganpin verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	key := fs.String("key", "", "the log's verifier key (from /.well-known/ganpin/log-key); the receipt's own when empty")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: ganpin verify [--key KEY] RECEIPT.json")
	}
	raw, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return err
	}
	_, steps := anchor.Verify(raw, *key)
	failed := false
	for _, s := range steps {
		if s.Err != nil {
			fmt.Fprintf(stdout, "✗ %s: %v\n", s.Name, s.Err)
			failed = true
			break
		}
		fmt.Fprintf(stdout, "✓ %s\n", s.Name)
	}
	if failed {
		return errors.New("the receipt does not verify")
	}
	if *key == "" {
		fmt.Fprintln(stdout, "note: checked with the key in the receipt; pass --key with the log's published key to rule out a forged log")
	}
	fmt.Fprintln(stdout, "receipt verified")
	return nil
}

// audit recomputes the log from the database and checks it against the ledger.
func audit(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cfg, _, err := config.Load("audit", args, getenv, stderr)
	if err != nil {
		return err
	}
	db, st, err := openStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	st.Close()
	key, err := anchor.LoadKey(cfg.DataDir, cfg.LogOrigin)
	if err != nil {
		return err
	}
	var anchored *chaincode.Anchor
	if _, err := os.Stat(filepath.Join(cfg.DataDir, "ledger.jsonl")); err == nil || cfg.Fabric.Peer != "" {
		l, closeLedger, err := openLedger(ctx, cfg, key)
		if err != nil {
			return fmt.Errorf("the ledger itself fails its checks: %w", err)
		}
		defer closeLedger()
		if anchored, err = l.LatestCheckpoint(ctx, key.Signer.Name()); err != nil {
			fmt.Fprintln(stdout, "nothing anchored on the ledger yet: checking the log against itself only")
			anchored = nil
		}
	}
	n, err := anchor.Audit(ctx, db, anchored, func(s string) { fmt.Fprintln(stdout, "ALTERED:", s) })
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("audit found %d discrepancies", n)
	}
	if anchored != nil {
		fmt.Fprintf(stdout, "audit passed: every record matches the log, and the log matches the checkpoint of %d leaves anchored in transaction %s\n", anchored.Size, anchored.TxID)
	} else {
		fmt.Fprintln(stdout, "audit passed: every record matches the log")
	}
	return nil
}
