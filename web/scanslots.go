package web

import (
	"html"
	"strconv"

	"github.com/ganpin/ganpin/trace"
)

// The per-scan parts of a page, built without a template: they run on every scan,
// where a template run would cost more than the rest of the request. The words are
// the page's own (words), everything else is escaped.

// appendTop appends the unit serial scanned and the code's scan count with its warning.
func appendTop(b []byte, s *scanSlot) []byte {
	T := s.T
	if s.Unit != "" {
		b = append(b, `<p class="unit" id="unit">`...)
		b = append(b, T["unit"]...)
		b = append(b, ` <b class="mono">`...)
		b = append(b, html.EscapeString(s.Unit)...)
		b = append(b, `</b> <span class="small">`...)
		b = append(b, T["unit_of"]...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, int64(s.Units), 10)
		b = append(b, ' ')
		b = append(b, T["units"]...)
		b = append(b, "</span></p>\n"...)
	}
	if !s.Counted {
		return b
	}
	if s.Warn != "" {
		b = append(b, `<section class="scans warn" id="scans" aria-labelledby="scans-title" role="alert">`...)
	} else {
		b = append(b, `<section class="scans" id="scans" aria-labelledby="scans-title">`...)
	}
	b = append(b, `<h2 id="scans-title">`...)
	b = append(b, T["anti_fake"]...)
	b = append(b, `</h2><p id="scan-count">`...)
	if s.Tally.Scans == 1 {
		b = append(b, T["first_scan"]...)
	} else {
		b = append(b, T["scanned"]...)
		b = append(b, " <b>"...)
		b = strconv.AppendInt(b, s.Tally.Scans, 10)
		b = append(b, "</b> "...)
		b = append(b, T["times"]...)
		b = append(b, T["comma"]...)
		b = append(b, T["first_at"]...)
		b = append(b, ' ')
		b = s.Tally.First.In(cst).AppendFormat(b, "2006-01-02 15:04")
	}
	b = append(b, "</p>"...)
	if s.Warn != "" {
		key := "warn_" + s.Warn
		if s.Warn == "many" {
			key = "warn_lot"
			if s.Unit != "" {
				key = "warn_unit"
			}
		}
		b = append(b, `<p class="warning" id="scan-warning">`...)
		b = append(b, T[key]...)
		b = append(b, "</p>"...)
	}
	return append(b, "</section>\n"...)
}

// appendOrders appends the orders as the last steps of the journey.
func appendOrders(b []byte, T map[string]string, orders []trace.MaskedOrder) []byte {
	for _, o := range orders {
		d := html.EscapeString(o.Date)
		b = append(b, `<li class="step order"><p class="step-head"><b>`...)
		b = append(b, T["step_order"]...)
		b = append(b, `</b> <time datetime="`...)
		b = append(b, d...)
		b = append(b, `">`...)
		b = append(b, d...)
		b = append(b, `</time></p><p class="place">`...)
		b = append(b, T["ship_to"]...)
		b = append(b, ' ')
		b = append(b, html.EscapeString(o.City)...)
		b = append(b, "</p></li>\n"...)
	}
	return b
}
