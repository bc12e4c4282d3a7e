package cert

import "time"

// ScanTally counts the scans of one printed code of a certificate: its own QR code
// (Code is the serial) or a unit label's (serial/unit serial). A genuine box is
// scanned a few times; many scans of one code, or scans far apart, suggest copies.
type ScanTally struct {
	Code    string
	Scans   int64
	First   time.Time
	Last    time.Time
	Regions []string // coarse regions seen (at most MaxScanRegions), where a source is configured
}

// MaxScanRegions bounds the regions a tally keeps.
const MaxScanRegions = 8
