package trace

import (
	"strings"
	"testing"
)

func TestUSCC(t *testing.T) {
	for _, c := range []struct {
		code string
		ok   bool
	}{
		{"91350100M000100Y43", true},  // published example
		{"91350100M000100Y42", false}, // wrong check character
		{"9135010OM000100Y43", false}, // O is not in the alphabet
		{"91350100M000100Y4", false},  // short
		{"", false},
	} {
		if got := ValidUSCC(c.code); got != c.ok {
			t.Errorf("ValidUSCC(%q) = %v, want %v", c.code, got, c.ok)
		}
	}
}

func TestGTIN(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"6901234567892", "06901234567892"},
		{"96385074", "00000096385074"},
		{"036000291452", "00036000291452"},
		{"10614141000415", "10614141000415"},
		{"6291041500213", "06291041500213"}, // GS1 example
		{"6901234567891", ""},
		{"690123456789", ""},
		{"69012345678a2", ""},
	} {
		got, ok := NormalizeGTIN(c.in)
		if got != c.want || ok != (c.want != "") {
			t.Errorf("NormalizeGTIN(%q) = %q, %v; want %q", c.in, got, ok, c.want)
		}
	}
	if !ValidGLN("6901234000009") || ValidGLN("6901234000005") {
		t.Error("GLN check digit")
	}
}

func TestCountyCodes(t *testing.T) {
	ganzhou := 0
	for _, c := range Counties {
		if !ValidCountyCode(c.Code) {
			t.Errorf("%s %s has an invalid shape", c.Code, c.Name)
		}
		if strings.HasPrefix(c.Code, "3607") {
			ganzhou++
		}
	}
	if ganzhou != 18 {
		t.Errorf("Ganzhou counties = %d, want 18", ganzhou)
	}
	for _, bad := range []string{"3607", "360700", "990101", "36073a"} {
		if ValidCountyCode(bad) {
			t.Errorf("ValidCountyCode(%q) = true", bad)
		}
	}
}

func TestPHIEnd(t *testing.T) {
	app := mustTime(t, "2026-10-01T17:30:00+08:00")
	if got := PHIEnd(app, 14).Format("2006-01-02T15:04:05Z07:00"); got != "2026-10-15T00:00:00+08:00" {
		t.Errorf("PHIEnd = %s", got)
	}
}

func FuzzUSCC(f *testing.F) {
	f.Add("91350100M000100Y43")
	f.Add("93360734MA35XW0C1X")
	f.Fuzz(func(t *testing.T, s string) {
		if !ValidUSCC(s) {
			return
		}
		// A valid code stays valid, and changing its check character breaks it.
		c, ok := USCCCheck(s[:17])
		if !ok || c != s[17] {
			t.Fatalf("%q valid but check %q", s, c)
		}
		other := usccAlphabet[(strings.IndexByte(usccAlphabet, s[17])+1)%31]
		if ValidUSCC(s[:17] + string(other)) {
			t.Fatalf("%q and its altered check both valid", s)
		}
	})
}

func FuzzGTIN(f *testing.F) {
	f.Add("6901234567892")
	f.Add("96385074")
	f.Fuzz(func(t *testing.T, s string) {
		g, ok := NormalizeGTIN(s)
		if !ok {
			return
		}
		if len(g) != 14 || !strings.HasSuffix(g, s) {
			t.Fatalf("NormalizeGTIN(%q) = %q", s, g)
		}
		if again, ok := NormalizeGTIN(g); !ok || again != g {
			t.Fatalf("GTIN-14 %q does not normalise to itself", g)
		}
	})
}
