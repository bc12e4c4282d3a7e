// Package epcis speaks GS1 EPCIS 2.0 (JSON-LD) with CBV 2.0 vocabulary for Ganpin:
// it maps Ganpin's events to EPCIS events and back, computes the CBV canonical event
// hash, captures EPCIS documents as asynchronous jobs and answers the standard
// event queries. See docs/epcis.md.
package epcis

// Context is the GS1 EPCIS 2.0 JSON-LD context every document Ganpin writes names.
const Context = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"

// NS is the namespace of Ganpin's extension fields and vocabulary, written with the
// prefix "ganpin".
const NS = "https://ganpin.cn/ns/epcis/"

// Namespace IRIs of the standard vocabularies.
const (
	cbvNS = "https://ref.gs1.org/cbv/"
	gs1NS = "https://gs1.org/voc/"
	dlNS  = "https://id.gs1.org/"
)

// bizTreating is Ganpin's business step for the application of a pesticide or other
// input on an orchard; CBV 2.0 has none.
const bizTreating = NS + "BizStep-treating"

// standardPrefixes are the prefixes the GS1 context defines (it is @protected).
var standardPrefixes = map[string]string{
	"epcis": "https://ref.gs1.org/epcis/", "cbv": cbvNS, "cbvmda": "urn:epcglobal:cbv:mda:", "gs1": gs1NS,
	"rdfs": "http://www.w3.org/2000/01/rdf-schema#", "owl": "http://www.w3.org/2002/07/owl#",
	"xsd": "http://www.w3.org/2001/XMLSchema#", "dcterms": "http://purl.org/dc/terms/",
}

// vocabulary is a set of bare words the GS1 context expands to IRIs under prefix.
type vocabulary struct {
	prefix string
	terms  map[string]bool
}

func terms(ws ...string) map[string]bool {
	m := make(map[string]bool, len(ws))
	for _, w := range ws {
		m[w] = true
	}
	return m
}

// The CBV 2.0 vocabularies, as the GS1 JSON-LD context lists them.
var (
	bizSteps = vocabulary{cbvNS + "BizStep-", terms("accepting", "arriving", "assembling", "collecting", "commissioning",
		"consigning", "creating_class_instance", "cycle_counting", "decommissioning", "departing", "destroying",
		"disassembling", "dispensing", "encoding", "entering_exiting", "holding", "inspecting", "installing", "killing",
		"loading", "other", "packing", "picking", "receiving", "removing", "repackaging", "repairing", "replacing",
		"reserving", "retail_selling", "sampling", "sensor_reporting", "shipping", "staging_outbound", "stock_taking",
		"stocking", "storing", "transporting", "unloading", "unpacking", "void_shipping")}
	dispositions = vocabulary{cbvNS + "Disp-", terms("active", "available", "completeness_verified", "completeness_inferred",
		"conformant", "container_closed", "container_open", "damaged", "destroyed", "dispensed", "disposed", "encoded",
		"expired", "in_progress", "in_transit", "inactive", "mismatch_instance", "mismatch_class", "mismatch_quantity",
		"needs_replacement", "no_pedigree_match", "non_conformant", "non_sellable_other", "partially_dispensed",
		"recalled", "reserved", "retail_sold", "returned", "sellable_accessible", "sellable_not_accessible", "stolen",
		"unavailable", "unknown")}
	bizTransactionTypes = vocabulary{cbvNS + "BTT-", terms("bol", "cert", "desadv", "inv", "pedigree", "po", "poc",
		"prodorder", "recadv", "rma", "testprd", "testres", "upevt")}
	sourceDestTypes = vocabulary{cbvNS + "SDT-", terms("owning_party", "possessing_party", "location")}
	errorReasons    = vocabulary{cbvNS + "ER-", terms("did_not_occur", "incorrect_data")}
	components      = vocabulary{cbvNS + "Comp-", terms("x", "y", "z", "axial_distance", "azimuth", "height",
		"spherical_radius", "polar_angle", "elevation_angle", "easting", "northing", "latitude", "longitude", "altitude")}
	sensorAlerts     = vocabulary{gs1NS, terms("ALARM_CONDITION", "ERROR_CONDITION")}
	measurementTypes = vocabulary{gs1NS, terms("AbsoluteHumidity", "AbsorbedDose", "AbsorbedDoseRate", "Acceleration",
		"Radioactivity", "Altitude", "AmountOfSubstance", "AmountOfSubstancePerUnitVolume", "Angle",
		"AngularAcceleration", "AngularMomentum", "AngularVelocity", "Area", "Capacitance", "Conductance",
		"Conductivity", "Count", "Density", "Dimensionless", "DoseEquivalent", "DoseEquivalentRate",
		"DynamicViscosity", "ElectricCharge", "ElectricCurrent", "ElectricCurrentDensity", "ElectricFieldStrength",
		"Energy", "Exposure", "Force", "Frequency", "Illuminance", "Inductance", "Irradiance", "KinematicViscosity",
		"Length", "LinearMomentum", "Luminance", "LuminousFlux", "LuminousIntensity", "MagneticFlux",
		"MagneticFluxDensity", "MagneticVectorPotential", "Mass", "MassConcentration", "MassFlowRate",
		"MassPerAreaTime", "MemoryCapacity", "MolalityOfSolute", "MolarEnergy", "MolarMass", "MolarVolume", "Power",
		"Pressure", "RadiantFlux", "RadiantIntensity", "RelativeHumidity", "Resistance", "Resistivity", "SolidAngle",
		"SpecificVolume", "Speed", "SurfaceDensity", "SurfaceTension", "Temperature", "Time", "Torque", "Voltage",
		"Volume", "VolumeFlowRate", "VolumeFraction", "VolumetricFlux", "Wavenumber")}
)

// expand returns the IRI of a bare vocabulary word, or "" when w is not one.
func (v vocabulary) expand(w string) string {
	if v.terms[w] {
		return v.prefix + w
	}
	return ""
}

// compact returns the bare word of a vocabulary IRI, or "" when iri is not one.
func (v vocabulary) compact(iri string) string {
	if len(iri) > len(v.prefix) && iri[:len(v.prefix)] == v.prefix && v.terms[iri[len(v.prefix):]] {
		return iri[len(v.prefix):]
	}
	return ""
}
