package api

import (
	"math"
	"testing"

	"github.com/ganpin/ganpin/trace"
)

// FuzzDecodeReadings: a readings batch decodes into readings with a time and a
// finite-or-flaggable temperature, or is refused with a *trace.Error.
func FuzzDecodeReadings(f *testing.F) {
	f.Add([]byte(`{"readings":[{"time":"2026-11-20T08:30:00+08:00","temperature":6.2,"humidity":90}]}`))
	f.Add([]byte(`{"readings":[{"time":"2026-11-20T08:30:00Z"}]}`))
	f.Add([]byte(`{"readings":[{"time":"x","temperature":1e400}]}`))
	f.Add([]byte(`{"readings":null,"device":1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var req readingsRequest
		err := decodeJSON(b, &req)
		if err == nil {
			var rs []trace.Reading
			rs, err = trace.ReadingsFromInput(req.Readings)
			for _, r := range rs {
				if r.Time.IsZero() || math.IsNaN(r.Temp) {
					t.Fatalf("accepted %+v from %s", r, b)
				}
			}
		}
		if _, ok := err.(*trace.Error); err != nil && !ok {
			t.Fatalf("error %v is not a *trace.Error", err)
		}
	})
}

// FuzzDecodeOrder: an order payload decodes or is refused with a *trace.Error;
// what decodes is screened for personal data without panicking.
func FuzzDecodeOrder(f *testing.F) {
	f.Add([]byte(`{"number":"A-1","channel":"赣南优品小程序","time":"2026-11-20T08:30:00+08:00","destination":{"province":"310000","city":"310100"},"items":[{"lot":1,"quantity":2}]}`))
	f.Add([]byte(`{"number":"13800138000","channel":"人民路88号","items":[{"certificate":"GP2600000001","units":["000001"]}]}`))
	f.Add([]byte(`{"phone":"1"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var spec trace.OrderSpec
		err := decodeJSON(b, &spec)
		if err != nil {
			if _, ok := err.(*trace.Error); !ok {
				t.Fatalf("error %v is not a *trace.Error", err)
			}
			return
		}
		for _, s := range []string{spec.Number, spec.Channel} {
			switch trace.PersonalData(s) {
			case "", "phone", "email", "address", "person", "id_card":
			default:
				t.Fatalf("unknown personal data kind for %q", s)
			}
		}
	})
}
