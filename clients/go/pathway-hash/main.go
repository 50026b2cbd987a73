// Command pathway-hash prints the pathway memory's bucket vectors (package
// lakehouse/clients/go/pathway) for texts, so tests can compare them byte for byte
// with the Python implementation.
//
//	echo '["forklift operator", ""]' | pathway-hash
//	["<256 hex digits>", "<256 hex digits>"]
//
// The input is a JSON array of strings on stdin; the output a JSON array of the
// vectors' 128 bytes in lowercase hex, in the same order. With -tokens each
// output item is instead {"hex": ..., "tokens": [...]}.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"flag"

	"lakehouse/clients/go/pathway"
)

type withTokens struct {
	Hex    string   `json:"hex"`
	Tokens []string `json:"tokens"`
}

func main() {
	showTokens := flag.Bool("tokens", false, "print each text's tokens beside its vector")
	flag.Parse()
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	var texts []string
	if err := json.Unmarshal(data, &texts); err != nil {
		fail(fmt.Errorf("stdin must be a JSON array of strings: %w", err))
	}
	out := make([]any, len(texts))
	for i, text := range texts {
		if *showTokens {
			tokens := pathway.Tokens(text)
			if tokens == nil {
				tokens = []string{}
			}
			out[i] = withTokens{pathway.VectorHex(text), tokens}
		} else {
			out[i] = pathway.VectorHex(text)
		}
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
