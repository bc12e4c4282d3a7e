package epcis

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The EPCIS event hash ID of CBV 2.0: a pre-hash string of the event's fields in a
// canonical order, each value normalised (CBV words and CURIEs expanded to IRIs, EPC
// URNs and Digital Links in constrained canonical form, times in UTC with
// milliseconds, numbers without trailing zeros), lists sorted, extensions as
// {namespace}name=value sorted after the standard fields; eventID, recordTime and
// errorDeclaration left out. Its SHA-256 is written ni:///sha-256;{hex}?ver=CBV2.0.
// Ganpin follows GS1's reference implementation (RalphTro/epcis-event-hash-generator)
// where the prose leaves room, and is tested against hashes it computed.

// Namespaces maps JSON-LD prefixes to namespace IRIs.
type Namespaces map[string]string

// ContextNamespaces returns the prefixes a document's @context defines, with the
// GS1 context's own.
func ContextNamespaces(ctx any) Namespaces {
	ns := Namespaces{}
	for k, v := range standardPrefixes {
		ns[k] = v
	}
	add := func(c any) {
		if m, ok := c.(map[string]any); ok {
			for k, v := range m {
				if s, ok := v.(string); ok && !strings.HasPrefix(k, "@") {
					ns[k] = s
				}
			}
		}
	}
	if l, ok := ctx.([]any); ok {
		for _, c := range l {
			add(c)
		}
	} else {
		add(ctx)
	}
	return ns
}

// HashID returns the event hash ID of an event in JSON-LD compact form (as decoded
// by encoding/json, numbers as json.Number or float64).
func HashID(ev map[string]any, ns Namespaces) string {
	sum := sha256.Sum256([]byte(PreHash(ev, ns)))
	return hashID(sum)
}

func hashID(sum [32]byte) string {
	return "ni:///sha-256;" + hex.EncodeToString(sum[:]) + "?ver=CBV2.0"
}

// ParseHashID returns the digest of an event hash ID.
func ParseHashID(id string) ([32]byte, bool) {
	var sum [32]byte
	h, ok := strings.CutPrefix(id, "ni:///sha-256;")
	if !ok {
		return sum, false
	}
	h, ok = strings.CutSuffix(h, "?ver=CBV2.0")
	if !ok || len(h) != 64 {
		return sum, false
	}
	if _, err := hex.Decode(sum[:], []byte(h)); err != nil {
		return sum, false
	}
	return sum, true
}

// field kinds of the canonical property order.
type kind int

const (
	kPlain kind = iota
	kTime
	kURI
	kVocab
	kEPCs
	kQuantities
	kLocation
	kTyped
	kPersistent
	kSensors
)

type prop struct {
	name  string
	kind  kind
	vocab *vocabulary // kVocab, kTyped: the words of the value or type
	child string      // kTyped: the name of the identifier field
}

// propOrder is the canonical property order after eventType.
var propOrder = []prop{
	{name: "eventTime", kind: kTime},
	{name: "eventTimeZoneOffset", kind: kPlain},
	{name: "certificationInfo", kind: kURI},
	{name: "parentID", kind: kURI},
	{name: "epcList", kind: kEPCs},
	{name: "inputEPCList", kind: kEPCs},
	{name: "childEPCs", kind: kEPCs},
	{name: "quantityList", kind: kQuantities},
	{name: "childQuantityList", kind: kQuantities},
	{name: "inputQuantityList", kind: kQuantities},
	{name: "outputEPCList", kind: kEPCs},
	{name: "outputQuantityList", kind: kQuantities},
	{name: "action", kind: kPlain},
	{name: "transformationID", kind: kURI},
	{name: "bizStep", kind: kVocab, vocab: &bizSteps},
	{name: "disposition", kind: kVocab, vocab: &dispositions},
	{name: "persistentDisposition", kind: kPersistent},
	{name: "readPoint", kind: kLocation},
	{name: "bizLocation", kind: kLocation},
	{name: "sensorElementList", kind: kSensors},
}

// typedLists are written after the ordered properties, sorted by name with ilmd
// and the extensions, as the reference implementation does.
var typedLists = map[string]prop{
	"bizTransactionList": {name: "bizTransactionList", kind: kTyped, vocab: &bizTransactionTypes, child: "bizTransaction"},
	"sourceList":         {name: "sourceList", kind: kTyped, vocab: &sourceDestTypes, child: "source"},
	"destinationList":    {name: "destinationList", kind: kTyped, vocab: &sourceDestTypes, child: "destination"},
}

var (
	standardFields = func() map[string]bool {
		m := map[string]bool{"type": true, "eventID": true, "recordTime": true, "errorDeclaration": true, "@context": true,
			"rdfs:comment": true, "comment": true} // comments are not part of the event
		for _, p := range propOrder {
			m[p.name] = true
		}
		return m
	}()
	metadataOrder = []prop{{name: "time", kind: kTime}, {name: "startTime", kind: kTime}, {name: "endTime", kind: kTime},
		{name: "deviceID", kind: kURI}, {name: "deviceMetadata", kind: kURI}, {name: "rawData", kind: kURI},
		{name: "dataProcessingMethod", kind: kURI}, {name: "bizRules", kind: kURI}}
	reportOrder = []prop{{name: "type", kind: kVocab, vocab: &measurementTypes}, {name: "exception", kind: kVocab, vocab: &sensorAlerts},
		{name: "deviceID", kind: kURI}, {name: "deviceMetadata", kind: kURI}, {name: "rawData", kind: kURI},
		{name: "dataProcessingMethod", kind: kURI}, {name: "time", kind: kTime}, {name: "microorganism", kind: kURI},
		{name: "chemicalSubstance", kind: kURI}, {name: "value", kind: kPlain}, {name: "component", kind: kVocab, vocab: &components},
		{name: "stringValue", kind: kPlain}, {name: "booleanValue", kind: kPlain}, {name: "hexBinaryValue", kind: kPlain},
		{name: "uriValue", kind: kURI}, {name: "minValue", kind: kPlain}, {name: "maxValue", kind: kPlain},
		{name: "meanValue", kind: kPlain}, {name: "sDev", kind: kPlain}, {name: "percRank", kind: kPlain},
		{name: "percValue", kind: kPlain}, {name: "uom", kind: kPlain}, {name: "coordinateReferenceSystem", kind: kURI}}
)

// PreHash returns the canonical pre-hash string of an event.
func PreHash(ev map[string]any, ns Namespaces) string {
	h := hasher{ns: ns}
	var b strings.Builder
	b.WriteString("eventType=")
	b.WriteString(h.scalar(ev["type"]))
	for _, p := range propOrder {
		if v, ok := ev[p.name]; ok {
			b.WriteString(h.prop(p, v))
		}
	}
	var rest []string
	for k, v := range ev {
		if standardFields[k] {
			continue
		}
		if p, ok := typedLists[k]; ok {
			if s := h.prop(p, v); s != "" {
				rest = append(rest, s)
			}
			continue
		}
		if k == "ilmd" {
			if s := h.generic("ilmd", v); s != "" {
				rest = append(rest, s)
			}
			continue
		}
		rest = append(rest, h.extension(k, v)...)
	}
	slices.Sort(rest)
	for _, s := range rest {
		b.WriteString(s)
	}
	return b.String()
}

type hasher struct{ ns Namespaces }

// prop renders one field of an ordered property list; "" when it has no content.
func (h hasher) prop(p prop, v any) string {
	switch p.kind {
	case kTime:
		if s := h.time(v); s != "" {
			return p.name + "=" + s
		}
	case kPlain, kURI, kVocab:
		var parts []string
		for _, x := range list(v) {
			s := ""
			if p.kind == kVocab {
				s = h.vocab(*p.vocab, x)
			} else {
				s = h.scalar(x)
			}
			if s != "" {
				parts = append(parts, p.name+"="+s)
			}
		}
		slices.Sort(parts)
		return strings.Join(parts, "")
	case kEPCs:
		return h.children(p.name, v, func(x any) string {
			if s := h.scalar(x); s != "" {
				return "epc=" + s
			}
			return ""
		})
	case kQuantities:
		return h.children(p.name, v, func(x any) string {
			m, _ := x.(map[string]any)
			s := h.fields(m, []prop{{name: "epcClass", kind: kURI}, {name: "quantity", kind: kPlain}, {name: "uom", kind: kPlain}}, false)
			if s == "" {
				return ""
			}
			return "quantityElement" + s
		})
	case kLocation:
		m, _ := v.(map[string]any)
		if s := h.fields(m, []prop{{name: "id", kind: kURI}}, true); s != "" {
			return p.name + s
		}
	case kTyped:
		return h.children(p.name, v, func(x any) string {
			// The type, then the identifier, whatever the JSON's key order: as GS1's
			// examples write them and the reference implementation's vectors hash them.
			m := object(x)
			s := ""
			if t := h.vocab(*p.vocab, m["type"]); t != "" {
				s = "type=" + t
			}
			if id := h.scalar(m[p.child]); id != "" {
				s += p.child + "=" + id
			}
			return s
		})
	case kPersistent:
		m, _ := v.(map[string]any)
		s := h.prop(prop{name: "set", kind: kVocab, vocab: &dispositions}, m["set"]) +
			h.prop(prop{name: "unset", kind: kVocab, vocab: &dispositions}, m["unset"])
		if s != "" {
			return p.name + s
		}
	case kSensors:
		return h.children(p.name, v, func(x any) string {
			m, _ := x.(map[string]any)
			var s string
			if md, ok := m["sensorMetadata"].(map[string]any); ok {
				if f := h.fields(md, metadataOrder, true); f != "" {
					s = "sensorMetadata" + f
				}
			}
			var reports []string
			for _, r := range list(m["sensorReport"]) {
				rm, _ := r.(map[string]any)
				if f := h.fields(rm, reportOrder, true); f != "" {
					reports = append(reports, "sensorReport"+f)
				}
			}
			slices.Sort(reports)
			s += strings.Join(reports, "")
			var ext []string
			for k, v := range m {
				if k != "sensorMetadata" && k != "sensorReport" {
					ext = append(ext, h.extension(k, v)...)
				}
			}
			slices.Sort(ext)
			s += strings.Join(ext, "")
			if s == "" {
				return ""
			}
			return "sensorElement" + s
		})
	}
	return ""
}

// children renders a list field: its name, then its elements sorted.
func (h hasher) children(name string, v any, elem func(any) string) string {
	var parts []string
	for _, x := range list(v) {
		if s := elem(x); s != "" {
			parts = append(parts, s)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	slices.Sort(parts)
	return name + strings.Join(parts, "")
}

// fields renders an object's fields in order, then (with ext) its extensions sorted.
func (h hasher) fields(m map[string]any, order []prop, ext bool) string {
	var b strings.Builder
	known := map[string]bool{}
	for _, p := range order {
		known[p.name] = true
		if v, ok := m[p.name]; ok {
			b.WriteString(h.prop(p, v))
		}
	}
	if ext {
		var rest []string
		for k, v := range m {
			if !known[k] {
				rest = append(rest, h.extension(k, v)...)
			}
		}
		slices.Sort(rest)
		for _, s := range rest {
			b.WriteString(s)
		}
	}
	return b.String()
}

// extension renders a user extension element, one string per value when it is a list.
func (h hasher) extension(k string, v any) []string {
	name := h.key(k)
	var out []string
	for _, x := range list(v) {
		if s := h.generic(name, x); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// generic renders a named element of no standard structure: name=value for a
// scalar, name then its children sorted for an object.
func (h hasher) generic(name string, v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		if s := h.scalar(v); s != "" {
			return name + "=" + s
		}
		return ""
	}
	var parts []string
	for k, cv := range m {
		parts = append(parts, h.extension(k, cv)...)
	}
	if len(parts) == 0 {
		return ""
	}
	slices.Sort(parts)
	return name + strings.Join(parts, "")
}

// key writes an extension's name as {namespace}local.
func (h hasher) key(k string) string {
	if p, local, ok := strings.Cut(k, ":"); ok && !strings.HasPrefix(local, "//") {
		if iri, ok := h.ns[p]; ok {
			return "{" + iri + "}" + local
		}
	}
	best := ""
	for _, iri := range h.ns {
		if len(iri) > len(best) && len(iri) < len(k) && strings.HasPrefix(k, iri) {
			best = iri
		}
	}
	if best != "" {
		return "{" + best + "}" + k[len(best):]
	}
	return k
}

// vocab renders a value that may be a bare word of v.
func (h hasher) vocab(v vocabulary, x any) string {
	if s, ok := x.(string); ok {
		if iri := v.expand(strings.TrimSpace(s)); iri != "" {
			return iri
		}
	}
	return h.scalar(x)
}

// scalar renders a value: trimmed, CURIEs and CBV URNs expanded, numbers
// normalised, GS1 identifiers in canonical Digital Link form.
func (h hasher) scalar(v any) string {
	switch x := v.(type) {
	case string:
		return h.text(x)
	case json.Number:
		if f, err := x.Float64(); err == nil {
			return number(f)
		}
		return string(x)
	case float64:
		return number(x)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

var cbvURNs = strings.NewReplacer("urn:epcglobal:cbv:bizstep:", cbvNS+"BizStep-", "urn:epcglobal:cbv:disp:", cbvNS+"Disp-",
	"urn:epcglobal:cbv:btt:", cbvNS+"BTT-", "urn:epcglobal:cbv:sdt:", cbvNS+"SDT-", "urn:epcglobal:cbv:er:", cbvNS+"ER-")

// isNumeric reports whether s is a decimal number: [+-]digits[.digits][e[+-]digits].
func isNumeric(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			n++
		}
		return n
	}
	n := digits()
	if i < len(s) && s[i] == '.' {
		i++
		n += digits()
	}
	if n == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

func (h hasher) text(s string) string {
	s = strings.TrimSpace(s)
	if p, local, ok := strings.Cut(s, ":"); ok && !strings.HasPrefix(local, "//") {
		if iri, ok := h.ns[p]; ok {
			s = iri + local
		}
	}
	if strings.HasPrefix(s, "urn:epcglobal:cbv:") {
		s = cbvURNs.Replace(s)
	}
	if isNumeric(s) {
		// The reference implementation reads every numeric text as a number, as XML
		// carries no types.
		if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) {
			return number(f)
		}
	}
	if dl := canonicalDL(s); dl != "" {
		return dl
	}
	return s
}

// number writes a number without trailing zeros, as Python's repr does: integers
// without a fraction, others in the shortest form, with an exponent below 1e-4 or
// from 1e16 on.
func number(f float64) string {
	if f == 0 {
		return "0" // and not "-0"
	}
	if f == math.Trunc(f) {
		return strconv.FormatFloat(f, 'f', 0, 64)
	}
	e := math.Floor(math.Log10(math.Abs(f)))
	if e < -4 || e >= 16 {
		return strconv.FormatFloat(f, 'e', -1, 64)
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

// time renders a timestamp in UTC with milliseconds, rounding the third decimal
// half up on the fourth.
func (h hasher) time(v any) string {
	s, ok := v.(string)
	if !ok {
		return ""
	}
	s = strings.TrimSpace(s)
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return s
	}
	if frac := fraction(s); len(frac) > 3 && frac[3] >= '5' {
		t = t.Add(time.Millisecond)
	}
	return t.UTC().Truncate(time.Millisecond).Format("2006-01-02T15:04:05.000Z")
}

// fraction returns the digits after the seconds' decimal point.
func fraction(s string) string {
	i := strings.IndexByte(s, '.')
	if i < 0 || i < strings.IndexByte(s, 'T') {
		return ""
	}
	j := i + 1
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	return s[i+1 : j]
}

// object returns v as an object: a decoded one, or a typed reference Ganpin writes.
func object(v any) map[string]any {
	switch x := v.(type) {
	case map[string]any:
		return x
	case typedRef:
		return map[string]any{"type": x.typ, x.kind: x.id}
	}
	return nil
}

// list returns v as a list: itself when it is one, else a list of v.
func list(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return nil
	}
	return []any{v}
}
