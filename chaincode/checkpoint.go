// Package chaincode holds Ganpin's on-ledger contract: the rules for anchoring
// checkpoints of the tamper-evident log, registering and revoking certificates and
// recording sampling verdicts. The rules are plain deterministic Go over a key-value
// State (no clock, no randomness, sorted-key JSON), so Fabric's chaincode and the
// embedded ledger run the same code.
package chaincode

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
)

// Checkpoint is a C2SP tlog-checkpoint: the log's origin, its size and root hash.
type Checkpoint struct {
	Origin string
	Size   uint64
	Root   []byte
}

// Body returns the checkpoint's note text: origin, size and base64 root, one a line.
func (c Checkpoint) Body() string {
	return fmt.Sprintf("%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root))
}

// ParseCheckpoint parses a checkpoint note body (extension lines are ignored).
func ParseCheckpoint(text string) (Checkpoint, error) {
	lines := strings.SplitN(text, "\n", 4)
	if len(lines) < 4 {
		return Checkpoint{}, errors.New("checkpoint: want origin, size and root hash lines")
	}
	var c Checkpoint
	c.Origin = lines[0]
	if c.Origin == "" || strings.ContainsAny(c.Origin, " \t") {
		return c, errors.New("checkpoint: bad origin line")
	}
	size, err := strconv.ParseUint(lines[1], 10, 64)
	if err != nil || (len(lines[1]) > 1 && lines[1][0] == '0') {
		return c, errors.New("checkpoint: bad size line")
	}
	c.Size = size
	root, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(root) != 32 {
		return c, errors.New("checkpoint: bad root hash line (base64 of 32 bytes)")
	}
	c.Root = root
	return c, nil
}

// SignCheckpoint returns the checkpoint as a signed note.
func SignCheckpoint(c Checkpoint, s note.Signer) ([]byte, error) {
	return note.Sign(&note.Note{Text: c.Body()}, s)
}

// OpenCheckpoint verifies a signed checkpoint note with the log's verifier key and
// parses it; the origin must be the key's name.
func OpenCheckpoint(signed []byte, vkey string) (Checkpoint, error) {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: log key: %w", err)
	}
	n, err := note.Open(signed, note.VerifierList(v))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: signature: %w", err)
	}
	c, err := ParseCheckpoint(n.Text)
	if err != nil {
		return c, err
	}
	if c.Origin != v.Name() {
		return c, fmt.Errorf("checkpoint: origin %q is not the key's name %q", c.Origin, v.Name())
	}
	if !bytes.HasPrefix(signed, []byte(c.Body())) {
		return c, errors.New("checkpoint: body does not match")
	}
	return c, nil
}
