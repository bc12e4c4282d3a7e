package api

import (
	"encoding/json"
	"testing"

	"github.com/ganpin/ganpin/trace"
)

func FuzzDecodeEvent(f *testing.F) {
	f.Add([]byte(`{"type":"harvest","time":"2026-11-20T08:30:00+08:00","site":1,"harvest":{"lot":{"code":"A","product":1,"quantity":5,"unit":"kg"}}}`))
	f.Add([]byte(`{"type":"transformation","transformation":{"inputs":[{"lot":1,"quantity":2}],"outputs":[]}}`))
	f.Add([]byte(`{"events":[{}]}`))
	f.Add([]byte(`{"type":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var spec trace.EventSpec
		err := decodeJSON(b, &spec)
		if err != nil {
			if _, ok := err.(*trace.Error); !ok {
				t.Fatalf("decode error %v is not a *trace.Error", err)
			}
			return
		}
		// What decodes re-encodes to something that decodes to the same value.
		out, err := json.Marshal(spec)
		if err != nil {
			t.Fatal(err)
		}
		var again trace.EventSpec
		if err := decodeJSON(out, &again); err != nil {
			t.Fatalf("re-encoded %s does not decode: %v", out, err)
		}
		b2, _ := json.Marshal(again)
		if string(b2) != string(out) {
			t.Fatalf("round trip changed %s to %s", out, b2)
		}
		var batch batchRequest
		if err := decodeJSON(b, &batch); err != nil {
			if _, ok := err.(*trace.Error); !ok {
				t.Fatalf("batch decode error %v is not a *trace.Error", err)
			}
		}
	})
}
