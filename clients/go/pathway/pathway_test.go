package pathway

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

type goldenCase struct {
	Name   string   `json:"name"`
	Text   *string  `json:"text"`
	Repeat string   `json:"repeat"`
	Times  int      `json:"times"`
	Tokens []string `json:"tokens"`
	Count  int      `json:"token_count"`
	Hex    string   `json:"hex"`
}

// TestGolden checks every case of tests/data/pathway_golden.json, the file the
// Python implementation is checked against too.
func TestGolden(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "..", "tests", "data", "pathway_golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var golden struct {
		Algorithm string       `json:"algorithm"`
		Cases     []goldenCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &golden); err != nil {
		t.Fatal(err)
	}
	if golden.Algorithm != Algorithm {
		t.Fatalf("golden file is for %q, this is %q", golden.Algorithm, Algorithm)
	}
	for _, c := range golden.Cases {
		text := strings.Repeat(c.Repeat, c.Times)
		if c.Text != nil {
			text = *c.Text
		}
		tokens := Tokens(text)
		if len(tokens) != c.Count {
			t.Errorf("%s: %d tokens, want %d", c.Name, len(tokens), c.Count)
		}
		if c.Tokens != nil && len(c.Tokens) > 0 && !reflect.DeepEqual(tokens, c.Tokens) {
			t.Errorf("%s: tokens %q, want %q", c.Name, tokens, c.Tokens)
		}
		if got := VectorHex(text); got != c.Hex {
			t.Errorf("%s: vector %s, want %s", c.Name, got, c.Hex)
		}
	}
}
