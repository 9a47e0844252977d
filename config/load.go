package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// ProjectFileName is the file that marks a project directory.
const ProjectFileName = "sluice.yml"

// Defaults applied when sluice.yml does not say otherwise.
const (
	DefaultSchema      = "sluice"
	DefaultStateSchema = "sluice_state"
	DefaultSeedSchema  = "raw"
	DefaultEntity      = "customer"
	DefaultMaxRounds   = 64
)

var (
	defaultInclude = []string{"*.yml", "*.yaml", "models/**/*.yml", "models/**/*.yaml"}
	// Files users commonly keep beside a project that are not sluice files.
	alwaysExclude = []string{"docker-compose*.yml", "docker-compose*.yaml", "compose.yml", "compose.yaml", ".*/**", "**/.*"}
)

// Options tune Load.
type Options struct {
	// Env looks up ${VAR} references; default os.LookupEnv.
	Env func(string) (string, bool)
	// Redactor, when set, also learns every value from the environment
	// (the CLI shares one with its output, so later errors hide them too).
	Redactor *Redactor
}

// Load reads and validates the project in dir. Configuration mistakes are
// returned together as Problems; other errors (unreadable files) are
// wrapped as usual.
func Load(dir string, opt Options) (*Project, error) {
	if opt.Env == nil {
		opt.Env = os.LookupEnv
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolving project directory %s: %w", dir, err)
	}
	if opt.Redactor == nil {
		opt.Redactor = &Redactor{}
	}
	sink := &problemSink{redact: opt.Redactor}
	l := &loader{dir: dir, abs: abs, sink: sink, env: opt.Env}

	var pf ProjectFile
	rootName := filepath.Join(dir, ProjectFileName)
	if _, err := os.Lstat(filepath.Join(abs, ProjectFileName)); errors.Is(err, fs.ErrNotExist) {
		sink.add(Pos{File: rootName}, "no %s here: is this a sluice project? (create one with `sluice init DIR`)", ProjectFileName)
		return nil, sink.list
	}
	root, ok, err := l.read(ProjectFileName)
	if err != nil {
		return nil, err
	}
	if ok {
		l.decodeFile(rootName, root, &pf)
	}
	p := &Project{
		Dir: abs, Files: []string{ProjectFileName}, Version: pf.Version, Name: pf.Name,
		Warehouse: pf.Warehouse, Schema: pf.Schema, StateSchema: pf.StateSchema, TimeZone: pf.TimeZone,
		Daemon: pf.Daemon, Erasure: pf.Erasure, Include: pf.Include, ExternalPaths: pf.ExternalPaths, Redactor: sink.redact,
	}
	l.merge(p, pf.Sections)

	files, err := l.findFiles(pf.Include, pf.Exclude)
	if err != nil {
		return nil, err
	}
	for _, rel := range files {
		data, ok, err := l.read(rel)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		var sec sectionsFile
		l.decodeFile(filepath.Join(dir, rel), data, &sec)
		l.merge(p, sec.Sections)
		p.Files = append(p.Files, rel)
	}
	applyDefaults(p)
	if pf.At == nil {
		// An empty or null sluice.yml decodes nothing; validate reports
		// its missing keys here.
		pf.At = Positions{"": {File: rootName, Line: 1, Col: 1}}
	}
	validate(p, pf.At, sink)
	if len(sink.list) > 0 {
		return p, sink.redacted().Sorted()
	}
	return p, nil
}

// sectionsFile is the layout of every YAML file other than sluice.yml.
// Project-level keys are recognised only to explain where they belong.
type sectionsFile struct {
	Sections  `yaml:",inline"`
	Misplaced map[string]Value `yaml:",inline"`
}

type loader struct {
	dir, abs string
	sink     *problemSink
	env      func(string) (string, bool)
	identity Pos
}

// read returns the content of the project file rel. A file that is not
// YAML text (not a regular file, too large, binary, not UTF-8) is reported
// as a problem and not ok, so the other files are still checked.
func (l *loader) read(rel string) (data []byte, ok bool, err error) {
	name := filepath.Join(l.dir, rel)
	data, err = readProjectFile(filepath.Join(l.abs, rel), name)
	var fp *fileProblem
	if errors.As(err, &fp) {
		l.sink.add(fp.pos, "%s", fp.msg)
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if line, col, what, good := checkText(data); !good {
		l.sink.add(Pos{File: name, Line: line, Col: col}, "not a YAML text file: %s", what)
		return nil, false, nil
	}
	return data, true, nil
}

func (l *loader) decodeFile(name string, data []byte, into any) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return // an empty file defines nothing
		}
		p := syntaxProblem(name, data, err)
		l.sink.add(p.Pos, "%s", p.Message)
		return
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		l.sink.add(Pos{File: name, Line: extra.Line, Col: extra.Column}, "a project file holds one YAML document; move this one to a file of its own")
	} else if !errors.Is(err, io.EOF) {
		p := syntaxProblem(name, data, err)
		l.sink.add(p.Pos, "%s", p.Message)
	}
	d := &decoder{file: name, sink: l.sink, secrets: map[*yaml.Node]bool{}}
	if !d.checkTree(&doc) {
		return
	}
	d.interpolate(&doc, l.env)
	top := resolve(&doc)
	if top == nil || (top.Kind == yaml.ScalarNode && top.Tag == "!!null") {
		return
	}
	if top.Kind == yaml.ScalarNode {
		// A file that is one text is not a project file (a symlink to a
		// .env file or /etc/passwd parses so): never quote it.
		l.sink.add(Pos{File: name, Line: top.Line, Col: top.Column}, "expected a mapping of keys, got %s: is this a sluice project file?", kindName(top))
		return
	}
	d.decode(top, reflect.ValueOf(into))
	if sf, ok := into.(*sectionsFile); ok {
		projectKeys := []string{"version", "name", "warehouse", "schema", "state_schema", "time_zone", "include", "exclude", "daemon"}
		sectionKeys := []string{"seeds", "sources", "identity", "traits", "segments", "destinations", "syncs", "alerts"}
		for _, k := range sortedKeys(sf.Misplaced) {
			v := sf.Misplaced[k]
			keyPos := d.keyPosition(top, k)
			if slices.Contains(projectKeys, k) {
				l.sink.add(keyPos, "%s belongs in %s, not in this file", quote(k), ProjectFileName)
				continue
			}
			_ = v
			l.sink.add(keyPos, "unknown key %s%s", quote(k), didYouMean(k, sectionKeys))
		}
	}
}

// keyPosition finds the position of a top-level key, or of the mapping.
func (d *decoder) keyPosition(m *yaml.Node, key string) Pos {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := resolve(m.Content[i]); k != nil && k.Kind == yaml.ScalarNode && k.Value == key {
			return d.pos(m.Content[i])
		}
	}
	return d.pos(m)
}

func (l *loader) merge(p *Project, s Sections) {
	p.Seeds = append(p.Seeds, s.Seeds...)
	p.Sources = append(p.Sources, s.Sources...)
	if s.Identity != nil {
		if p.Identity != nil {
			l.sink.add(s.Identity.At.Of(""), "identity is already defined at %s; a project has one identity section", l.identity)
		} else {
			p.Identity = s.Identity
			l.identity = s.Identity.At.Of("")
		}
	}
	p.Traits = append(p.Traits, s.Traits...)
	p.Segments = append(p.Segments, s.Segments...)
	p.Destinations = append(p.Destinations, s.Destinations...)
	p.Syncs = append(p.Syncs, s.Syncs...)
	p.Alerts = append(p.Alerts, s.Alerts...)
}

// findFiles lists the project's YAML files other than sluice.yml, in a
// stable order.
func (l *loader) findFiles(include, exclude []string) ([]string, error) {
	if len(include) == 0 {
		include = defaultInclude
	}
	exclude = append(slices.Clone(exclude), alwaysExclude...)
	var out []string
	err := filepath.WalkDir(l.abs, func(p string, e fs.DirEntry, err error) error {
		rel, _ := filepath.Rel(l.abs, p)
		rel = filepath.ToSlash(rel)
		if err != nil {
			if rel == "." {
				return err
			}
			// An unreadable folder is one problem among the others.
			l.sink.add(Pos{File: filepath.Join(l.dir, rel), Line: 1, Col: 1}, "cannot list this folder: %v", unwrapPath(err))
			return filepath.SkipDir
		}
		if e.IsDir() && rel != "." && (strings.HasPrefix(e.Name(), ".") || e.Name() == "node_modules" || e.Name() == "target") {
			return filepath.SkipDir
		}
		if rel == "." || rel == ProjectFileName || !matchAny(include, rel) || matchAny(exclude, rel) {
			return nil
		}
		// A folder named like a YAML file is listed too, so that reading
		// it reports it rather than skipping it silently.
		out = append(out, rel)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing project files in %s: %w", l.dir, err)
	}
	slices.Sort(out)
	return out, nil
}

func matchAny(patterns []string, rel string) bool {
	for _, p := range patterns {
		if matchGlob(strings.Split(p, "/"), strings.Split(rel, "/")) {
			return true
		}
	}
	return false
}

// matchGlob matches path segments against pattern segments, where ** stands
// for any number of segments.
func matchGlob(pat, segs []string) bool {
	if len(pat) == 0 {
		return len(segs) == 0
	}
	if pat[0] == "**" {
		for i := 0; i <= len(segs); i++ {
			if matchGlob(pat[1:], segs[i:]) {
				return true
			}
		}
		return false
	}
	if len(segs) == 0 {
		return false
	}
	if ok, _ := path.Match(pat[0], segs[0]); !ok {
		return false
	}
	return matchGlob(pat[1:], segs[1:])
}

func applyDefaults(p *Project) {
	if p.Schema == "" {
		p.Schema = DefaultSchema
	}
	if p.StateSchema == "" {
		p.StateSchema = DefaultStateSchema
	}
	if p.TimeZone == "" {
		p.TimeZone = "UTC"
	}
	for i := range p.Seeds {
		if p.Seeds[i].Schema == "" {
			p.Seeds[i].Schema = DefaultSeedSchema
		}
	}
	if id := p.Identity; id != nil {
		if id.Entity == "" {
			id.Entity = DefaultEntity
		}
		if _, set := id.At["max_rounds"]; !set && id.MaxRounds == 0 { // max_rounds: 0 is refused
			id.MaxRounds = DefaultMaxRounds
		}
		for i := range id.IDTypes {
			if id.IDTypes[i].Normalize == "" {
				id.IDTypes[i].Normalize = "trim"
			}
		}
	}
	for i := range p.Traits {
		if p.Traits[i].Pick != "" && p.Traits[i].Rule == "" {
			p.Traits[i].Rule = "most_recent"
		}
	}
	for i := range p.Syncs {
		if p.Syncs[i].Mode == "" {
			p.Syncs[i].Mode = "upsert"
		}
	}
}
