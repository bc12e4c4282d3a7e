package anchor

import (
	"crypto/rand"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/ganpin/ganpin/chaincode"
)

func FuzzVerifyReceipt(f *testing.F) {
	f.Add([]byte(`{"format":"ganpin-receipt/1","kind":"event","id":1,"record":"e30=","leaf_index":0,"tree_size":1,"inclusion_proof":[],"checkpoint":"x\n1\nAAAA\n\n","log_key":"x+1+AQ"}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		r, steps := Verify(raw, "")
		if len(steps) == 0 {
			t.Fatal("no steps")
		}
		ok := true
		for _, s := range steps {
			ok = ok && s.Err == nil
		}
		if ok && (r == nil || r.Ledger.TxID == "") {
			t.Fatalf("accepted %q", raw)
		}
	})
}

func FuzzParseCheckpoint(f *testing.F) {
	skey, vkey, _ := note.GenerateKey(rand.Reader, "fuzz.example/log")
	signer, _ := note.NewSigner(skey)
	f.Add("fuzz.example/log\n12\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n")
	f.Add("a\n0\n\n")
	f.Add("")
	f.Fuzz(func(t *testing.T, text string) {
		c, err := chaincode.ParseCheckpoint(text)
		if err != nil {
			return
		}
		// What parses round-trips through its body and a signature.
		again, err := chaincode.ParseCheckpoint(c.Body())
		if err != nil || again.Size != c.Size || string(again.Root) != string(c.Root) || again.Origin != c.Origin {
			t.Fatalf("%q does not round-trip: %v", text, err)
		}
		if c.Origin != "fuzz.example/log" {
			return
		}
		signed, err := chaincode.SignCheckpoint(c, signer)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := chaincode.OpenCheckpoint(signed, vkey); err != nil {
			t.Fatalf("own signature refused: %v", err)
		}
	})
}
