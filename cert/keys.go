package cert

import (
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Keys holds the issuing parties' Ed25519 signing keys. Each party's key is derived
// from one secret kept in the data directory (issuer.key, mode 0600), so no private
// key is stored in the database; the public keys are published.
type Keys struct {
	secret []byte
}

// LoadKeys reads dataDir/issuer.key, creating it on first use.
func LoadKeys(dataDir string) (*Keys, error) {
	path := filepath.Join(dataDir, "issuer.key")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		secret := make([]byte, 32)
		rand.Read(secret)
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, err
		}
		if _, err := fmt.Fprintln(f, hex.EncodeToString(secret)); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
		return &Keys{secret: secret}, nil
	} else if err != nil {
		return nil, err
	}
	secret, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(secret) != 32 {
		return nil, fmt.Errorf("issuer key %s: want 32 bytes in hex", path)
	}
	return &Keys{secret: secret}, nil
}

// Party returns the signing key of a party.
func (k *Keys) Party(id int64) ed25519.PrivateKey {
	m := hmac.New(sha256.New, k.secret)
	m.Write([]byte("ganpin issuer key/1 party " + strconv.FormatInt(id, 10)))
	return ed25519.NewKeyFromSeed(m.Sum(nil))
}

// Public returns a party's public key.
func (k *Keys) Public(id int64) ed25519.PublicKey {
	return k.Party(id).Public().(ed25519.PublicKey)
}
