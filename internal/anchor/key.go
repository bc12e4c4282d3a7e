// Package anchor signs checkpoints of the tamper-evident log and anchors them on the
// ledger, and builds the receipts that let anyone verify a record offline.
package anchor

import (
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// Key is the node's signing key, in the signed-note format.
type Key struct {
	Signer   note.Signer
	Verifier string // the public verifier key: name+hash+base64
}

// LoadKey reads the node key from dataDir/node.key, creating it (mode 0600) on first
// use with origin as its name.
func LoadKey(dataDir, origin string) (*Key, error) {
	path := filepath.Join(dataDir, "node.key")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		skey, vkey, err := note.GenerateKey(rand.Reader, origin)
		if err != nil {
			return nil, err
		}
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, err
		}
		if _, err := fmt.Fprintf(f, "%s\n%s\n", skey, vkey); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
		b = []byte(skey + "\n" + vkey + "\n")
	} else if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 2 {
		return nil, fmt.Errorf("node key %s: want the private and the public key, one a line", path)
	}
	s, err := note.NewSigner(lines[0])
	if err != nil {
		return nil, fmt.Errorf("node key %s: %w", path, err)
	}
	return &Key{Signer: s, Verifier: lines[1]}, nil
}
