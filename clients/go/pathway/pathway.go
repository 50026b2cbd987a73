// Package pathway is the Go implementation of the pathway memory's byte contract
// (docs/pathway.md): the version-1 tokenizer and the 32-bucket HMAC-SHA-256 token
// hash. It must give the same bytes as servers/pathway/tokens.py and buckets.py for
// every input; tests/integration/test_pathway_go.py checks both against the golden
// file tests/data/pathway_golden.json.
//
// Like the Python side it consults no Unicode table (Go 1.19 ships Unicode 13,
// Python 3.11 Unicode 14): code points are classified by the fixed ranges below.
package pathway

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"unicode/utf8"
)

// Algorithm names this version of the contract.
const Algorithm = "lakehouse.pathway.buckets.v1"

// Buckets is the vector's length; VectorBytes its serialised size.
const (
	Buckets     = 32
	VectorBytes = 4 * Buckets
)

// Key is the HMAC-SHA-256 key every token is hashed under.
var Key = []byte("lakehouse.pathway.v1")

type span struct{ first, last rune }

// separators end a token (inclusive, disjoint, ascending; as tokens.SEPARATORS).
var separators = []span{
	{0x0000, 0x002F},
	{0x003A, 0x0040},
	{0x005B, 0x0060},
	{0x007B, 0x00BF},
	{0x00D7, 0x00D7},
	{0x00F7, 0x00F7},
	{0x2000, 0x206F},
	{0x20A0, 0x20CF},
	{0x2E00, 0x2E7F},
	{0x3000, 0x303F},
	{0xD800, 0xDFFF},
	{0xFE00, 0xFE0F},
	{0xFE10, 0xFE1F},
	{0xFE30, 0xFE6F},
	{0xFEFF, 0xFEFF},
	{0xFF01, 0xFF0F},
	{0xFF1A, 0xFF20},
	{0xFF3B, 0xFF40},
	{0xFF5B, 0xFF65},
	{0xFFF0, 0xFFFF},
	{0x1F3FB, 0x1F3FF},
	{0xE0000, 0xE007F},
}

// singles are tokens of one code point each (as tokens.SINGLES).
var singles = []span{
	{0x2190, 0x2BFF},
	{0x2E80, 0x2FDF},
	{0x3040, 0x30FF},
	{0x3100, 0x31FF},
	{0x3400, 0x4DBF},
	{0x4E00, 0x9FFF},
	{0xF900, 0xFAFF},
	{0x1F000, 0x1F3FA},
	{0x1F400, 0x1FAFF},
	{0x20000, 0x3FFFF},
}

func in(r rune, spans []span) bool {
	for _, s := range spans {
		if r < s.first {
			return false
		}
		if r <= s.last {
			return true
		}
	}
	return false
}

// lower is the fixed lowercase mapping (as tokens.LOWER).
func lower(r rune) rune {
	switch {
	case r >= 0x41 && r <= 0x5A:
		return r + 0x20
	case r >= 0xC0 && r <= 0xDE && r != 0xD7:
		return r + 0x20
	case (r >= 0x0100 && r <= 0x012F) || (r >= 0x0132 && r <= 0x0137) || (r >= 0x014A && r <= 0x0177):
		if r%2 == 0 {
			return r + 1
		}
	case r >= 0x0139 && r <= 0x0148:
		if r%2 == 1 {
			return r + 1
		}
	case r == 0x0178:
		return 0x00FF
	case r == 0x0179 || r == 0x017B || r == 0x017D:
		return r + 1
	case r >= 0x0391 && r <= 0x03AB && r != 0x03A2:
		return r + 0x20
	case r == 0x0386:
		return 0x03AC
	case r >= 0x0388 && r <= 0x038A:
		return r + 0x25
	case r == 0x038C:
		return 0x03CC
	case r == 0x038E || r == 0x038F:
		return r + 0x3F
	case r >= 0x0410 && r <= 0x042F:
		return r + 0x20
	case r >= 0x0400 && r <= 0x040F:
		return r + 0x50
	case r >= 0xFF21 && r <= 0xFF3A:
		return r + 0x20
	}
	return r
}

// Tokens splits text by the version-1 rules. Invalid UTF-8 decodes to U+FFFD, a separator.
func Tokens(text string) []string {
	var out []string
	var run []byte
	flush := func() {
		if len(run) > 0 {
			out = append(out, string(run))
			run = run[:0]
		}
	}
	var buf [utf8.UTFMax]byte
	for _, r := range text {
		r = lower(r)
		switch {
		case in(r, separators):
			flush()
		case in(r, singles):
			flush()
			n := utf8.EncodeRune(buf[:], r)
			out = append(out, string(buf[:n]))
		default:
			n := utf8.EncodeRune(buf[:], r)
			run = append(run, buf[:n]...)
		}
	}
	flush()
	return out
}

// BucketAndSign is one token's bucket (0-31) and sign (+1 or -1).
func BucketAndSign(token string) (int, int) {
	mac := hmac.New(sha256.New, Key)
	mac.Write([]byte(token))
	digest := mac.Sum(nil)
	sign := 1
	if digest[1]&0x80 != 0 {
		sign = -1
	}
	return int(digest[0] & (Buckets - 1)), sign
}

// Counts is the signed count per bucket.
func Counts(text string) [Buckets]int64 {
	seen := map[string]int64{}
	for _, t := range Tokens(text) {
		seen[t]++
	}
	var c [Buckets]int64
	for t, n := range seen {
		bucket, sign := BucketAndSign(t)
		c[bucket] += int64(sign) * n
	}
	return c
}

// Vector is the 128-byte serialisation of text's bucket vector: 32
// little-endian float32 values, unit length (all zero when text has no token).
func Vector(text string) []byte {
	c := Counts(text)
	var squares int64
	for _, v := range c {
		squares += v * v
	}
	out := make([]byte, VectorBytes)
	if squares == 0 {
		return out
	}
	norm := math.Sqrt(float64(squares))
	for i, v := range c {
		binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(float32(float64(v)/norm)))
	}
	return out
}

// VectorHex is Vector in lowercase hex.
func VectorHex(text string) string {
	return hex.EncodeToString(Vector(text))
}
