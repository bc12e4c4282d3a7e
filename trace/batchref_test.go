package trace_test

import (
	"testing"

	"github.com/ganpin/ganpin/internal/sqldb"
	"github.com/ganpin/ganpin/internal/testdb"
	"github.com/ganpin/ganpin/trace"
)

// A batch refers to the lots and events it makes itself with negative IDs, so that
// one all-or-nothing batch can harvest, pack, ship and correct.
func TestBatchReferences(t *testing.T) {
	testdb.Each(t, func(t *testing.T, db sqldb.DB) {
		w := newWorld(t, db)
		pack := trace.EventSpec{Type: trace.Transformation, Time: at(-2), Site: w.packhouse.ID, Transformation: &trace.TransformationSpec{
			Inputs:  []trace.LotQuantity{{Lot: -1, Quantity: 500}},
			Outputs: []trace.NewLotSpec{{Code: "XW-B1", Product: w.box.ID, Quantity: 90, Unit: trace.Box}}}}
		test := func(lot int64, passed bool) trace.EventSpec {
			return trace.EventSpec{Type: trace.SelfTest, Time: at(-2), Site: w.packhouse.ID, SelfTest: &trace.SelfTestSpec{Lot: lot, Method: "速测卡", Passed: passed}}
		}
		fix := test(-1, true)
		fix.Corrects = -3
		specs := []trace.EventSpec{
			harvest(w.orchard.ID, -3, "XW-R1", w.fruit.ID, 1000),
			pack,
			test(-1, false),
			fix,
			{Type: trace.Shipping, Time: at(-1), Site: w.packhouse.ID, Shipping: &trace.ShippingSpec{Lots: []int64{-2}, To: w.coldStore.ID}},
		}
		evs := w.mustCapture(t, w.coop, specs...)
		raw, boxes := evs[0].Lots[0].Lot, evs[1].Lots[1].Lot
		if evs[1].Spec.Transformation.Inputs[0].Lot != raw || evs[2].Spec.SelfTest.Lot != raw || evs[4].Spec.Shipping.Lots[0] != boxes {
			t.Fatalf("references not resolved: inputs %+v, self test lot %d, shipped %v; want raw %d, boxes %d",
				evs[1].Spec.Transformation.Inputs, evs[2].Spec.SelfTest.Lot, evs[4].Spec.Shipping.Lots, raw, boxes)
		}
		if evs[3].Spec.Corrects != evs[2].ID {
			t.Fatalf("corrects = %d, want %d", evs[3].Spec.Corrects, evs[2].ID)
		}
		if specs[1].Transformation.Inputs[0].Lot != -1 || specs[3].Corrects != -3 {
			t.Fatal("the caller's specs were changed")
		}
		// The records hold the IDs, not the references.
		stored, err := w.st.Event(t.Context(), evs[4].ID)
		if err != nil || stored.Spec.Shipping.Lots[0] != boxes {
			t.Fatalf("stored shipping = %+v, %v", stored, err)
		}

		// A reference ahead of what the batch has made is refused, naming the field.
		_, err = w.capture(t, w.coop, harvest(w.orchard.ID, -3, "XW-R2", w.fruit.ID, 10), test(-2, true))
		wantErr(t, err, trace.KindInvalid, "unknown_batch_ref", "events[1].self_test.lot")
		_, err = w.capture(t, w.coop, test(raw, true), func() trace.EventSpec { s := test(raw, true); s.Corrects = -2; return s }())
		wantErr(t, err, trace.KindInvalid, "unknown_batch_ref", "events[1].corrects")
	})
}
