package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The checked-in generated files must be what the generator writes today,
// with every destination type compiled into sluice. (This test lives here,
// not in package config, because the destination packages import config.)
func TestGeneratedFilesUpToDate(t *testing.T) {
	files, names, err := generated()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		t.Run(filepath.ToSlash(name), func(t *testing.T) {
			got, err := os.ReadFile(filepath.Join("..", "..", "..", name))
			if err != nil {
				t.Fatalf("%s is missing (%v): run go generate ./config", name, err)
			}
			if !bytes.Equal(got, files[name]) {
				t.Errorf("%s is stale: run go generate ./config\n%s", name, firstDiff(got, files[name]))
			}
		})
	}
}

// firstDiff shows the first differing line, to say what changed.
func firstDiff(got, want []byte) string {
	g, w := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			return fmt.Sprintf("first difference at line %d:\n  checked in: %q\n  generated:  %q", i+1, gl, wl)
		}
	}
	return ""
}
