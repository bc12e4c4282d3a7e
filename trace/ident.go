package trace

import "strings"

const usccAlphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"

var usccWeights = [17]int{1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28}

// USCCCheck returns the GB 32100-2015 check character for the first 17 characters
// of a 统一社会信用代码, and false when they use characters outside the code's alphabet.
func USCCCheck(first17 string) (byte, bool) {
	if len(first17) != 17 {
		return 0, false
	}
	sum := 0
	for i := 0; i < 17; i++ {
		v := strings.IndexByte(usccAlphabet, first17[i])
		if v < 0 {
			return 0, false
		}
		sum += v * usccWeights[i]
	}
	c := 31 - sum%31
	if c == 31 {
		c = 0
	}
	return usccAlphabet[c], true
}

// ValidUSCC reports whether s is an 18-character 统一社会信用代码 with a correct check character.
func ValidUSCC(s string) bool {
	if len(s) != 18 {
		return false
	}
	c, ok := USCCCheck(s[:17])
	return ok && s[17] == c
}

// GS1Check returns the mod-10 check digit for the digits of s (without the check digit),
// and false when s is empty or holds a non-digit.
func GS1Check(s string) (byte, bool) {
	if s == "" {
		return 0, false
	}
	sum := 0
	for i := 0; i < len(s); i++ {
		d := s[len(s)-1-i]
		if d < '0' || d > '9' {
			return 0, false
		}
		w := 1
		if i%2 == 0 {
			w = 3
		}
		sum += int(d-'0') * w
	}
	return byte('0' + (10-sum%10)%10), true
}

func validGS1(s string) bool {
	c, ok := GS1Check(s[:len(s)-1])
	return ok && s[len(s)-1] == c
}

// NormalizeGTIN validates a GTIN-8, -12, -13 or -14 and returns it as a GTIN-14.
func NormalizeGTIN(s string) (string, bool) {
	switch len(s) {
	case 8, 12, 13, 14:
	default:
		return "", false
	}
	if !validGS1(s) {
		return "", false
	}
	return strings.Repeat("0", 14-len(s)) + s, true
}

// ValidGLN reports whether s is a 13-digit GS1 Global Location Number with a correct check digit.
func ValidGLN(s string) bool { return len(s) == 13 && validGS1(s) }
