package media

import (
	"math/rand"
	"regexp"
	"strings"
	"testing"
)

// The grammars keys.go checks by hand, as regular expressions: the reference
// the checks must agree with.
var (
	mediaIDGrammar    = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	serverNameGrammar = regexp.MustCompile(`^[A-Za-z0-9.:\[\]-]{1,255}$`)
)

func TestKeyPartsFollowTheirGrammars(t *testing.T) {
	cases := []string{"", "a", "abc_DEF-123", ".", "..", "...", "a/b", "a b", "é", "[::1]:8448",
		"example.org", "x\x00", strings.Repeat("a", 255), strings.Repeat("a", 256)}
	const alphabet = "aZ09_-.:[]/ \x00é%"
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 5000; i++ {
		b := make([]byte, rng.Intn(8))
		for j := range b {
			b[j] = alphabet[rng.Intn(len(alphabet))]
		}
		cases = append(cases, string(b))
	}
	for _, s := range cases {
		if got, want := validMediaID(s), mediaIDGrammar.MatchString(s); got != want {
			t.Errorf("validMediaID(%q) = %v, the grammar says %v", s, got, want)
		}
		if got, want := validServerName(s), serverNameGrammar.MatchString(s) && s != "." && s != ".."; got != want {
			t.Errorf("validServerName(%q) = %v, the grammar says %v", s, got, want)
		}
	}
}

func TestValidKey(t *testing.T) {
	for key, want := range map[string]bool{
		"local/abc":                         true,
		"remote/them.example:8448/x-Y_1":    true,
		"remote/[::1]/abc":                  true,
		"local/":                            false,
		"local/a/b":                         false,
		"remote/../abc":                     false,
		"remote/./abc":                      false,
		"remote/them.example":               false,
		"other/abc":                         false,
		"local/" + strings.Repeat("a", 256): false,
		"event/1":                           true,
		"event/9223372036854775807":         true,
		"event/0":                           false,
		"event/01":                          false,
		"event/-1":                          false,
		"event/1a":                          false,
		"event/1/2":                         false,
		"event/":                            false,
	} {
		if got := ValidKey(key); got != want {
			t.Errorf("ValidKey(%q) = %v, want %v", key, got, want)
		}
	}
}
