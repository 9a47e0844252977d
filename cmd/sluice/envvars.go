package main

import (
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/sluicehq/sluice/config"
)

// Environment variables used only in destination options (API keys, base
// URLs) are needed only to send: commands that never open a destination
// (validate, build, compile, query, identity, state, plan) run without
// them and say which are unset, and sync fails only the syncs whose
// destination needs one. So a project with a SaaS destination still
// builds offline, in CI without secrets, and right after `sluice init`.

// unsetDestinationVars lists, per destination, the unset variables its
// options reference, when every problem of probs is such a reference; ok
// is false otherwise (the problems are real).
func unsetDestinationVars(p *config.Project, probs config.Problems) (byDest map[string][]string, ok bool) {
	byDest = map[string][]string{}
	at := map[config.Pos]string{}
	var walk func(dest, file string, n *yaml.Node)
	walk = func(dest, file string, n *yaml.Node) {
		if n == nil {
			return
		}
		at[config.Pos{File: file, Line: n.Line, Col: n.Column}] = dest
		for _, c := range n.Content {
			walk(dest, file, c)
		}
	}
	for _, d := range p.Destinations {
		for _, v := range d.Options {
			walk(d.Name, v.Pos.File, v.Node)
		}
	}
	if e := p.Erasure; e != nil {
		// The erasure secret is needed only once something was erased:
		// the build checks, and forget asks for it.
		sp := e.At.Of("secret")
		for _, pr := range probs {
			if pr.Pos.File == sp.File && pr.Pos.Line == sp.Line {
				at[pr.Pos] = erasureSecret
			}
		}
	}
	for _, pr := range probs {
		dest, inDest := at[pr.Pos]
		if !inDest || !strings.HasPrefix(pr.Message, "environment variable ") || !strings.Contains(pr.Message, " is not set ") {
			return nil, false
		}
		name := strings.Fields(pr.Message)[2]
		if !slices.Contains(byDest[dest], name) {
			byDest[dest] = append(byDest[dest], name)
		}
	}
	return byDest, true
}

// erasureSecret is the key of unsetDestinationVars's result under which
// the unset variable of erasure.secret is listed.
const erasureSecret = "\x00erasure.secret"

// noteUnset tells which destinations cannot send until their variables
// are set.
func noteUnset(w io.Writer, byDest map[string][]string) {
	for _, d := range slices.Sorted(maps.Keys(byDest)) {
		if d == erasureSecret {
			fmt.Fprintf(w, "note: erasure.secret needs %s, not set: sluice forget cannot run until it is\n", strings.Join(byDest[d], ", "))
			continue
		}
		fmt.Fprintf(w, "note: destination %s needs %s, not set: its syncs cannot send until it is\n", d, strings.Join(byDest[d], ", "))
	}
}

// loadLenient loads the project; when its only problems are unset
// variables of destination options, it loads it again with those empty and
// returns them per destination. probs are the problems otherwise.
func loadLenient(dir string, rd *config.Redactor) (p *config.Project, byDest map[string][]string, probs config.Problems, err error) {
	p, err = config.Load(dir, config.Options{Redactor: rd})
	if err == nil {
		return p, nil, nil, nil
	}
	if !errors.As(err, &probs) {
		return nil, nil, nil, err
	}
	lenient, lerr := config.Load(dir, config.Options{Env: func(k string) (string, bool) {
		if v, ok := os.LookupEnv(k); ok {
			return v, true
		}
		return "", true
	}, Redactor: rd})
	if lerr != nil {
		return p, nil, probs, nil
	}
	byDest, ok := unsetDestinationVars(lenient, probs)
	if !ok || len(byDest) == 0 {
		return p, nil, probs, nil
	}
	return lenient, byDest, nil, nil
}
