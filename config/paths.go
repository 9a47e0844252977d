package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"gopkg.in/yaml.v3"
)

// Paths rule. Every file or folder a project names stays inside the
// project directory: a relative path is read against the project, and it
// must still be inside after cleaning (no .. out of it) and after resolving
// symbolic links (no link leading out of it). Folders listed under
// external_paths count as inside too, for data shared by several projects.
// Absolute paths are refused, except for the few kinds that commonly live
// elsewhere by design and are written absolute on purpose: the DuckDB
// warehouse file, file-destination export folders and credential files
// (tls_ca_file, private_key_file, credentials_file).
//
// The same rule is checked when validating (with the position of each
// value) and again where a path is used (ResolveInProject), so that a file
// replaced by a symlink after validation cannot lead out at build time.

// ErrOutsideProject is wrapped by the errors of paths that leave the
// project directory.
var ErrOutsideProject = errors.New("leaves the project directory")

// ResolveInProject returns the absolute, symlink-free path that rel names
// in the project directory dir, or an error wrapping ErrOutsideProject when
// it leads out of dir or out of every one of roots (further allowed
// folders, absolute or relative to dir). rel must be relative; the file
// need not exist: its deepest existing ancestor is resolved.
func ResolveInProject(dir, rel string, roots ...string) (string, error) {
	if strings.TrimSpace(rel) == "" {
		return "", errors.New("the path is empty")
	}
	if filepath.IsAbs(rel) {
		return "", fmt.Errorf("%w: an absolute path is not allowed here, write it relative to the project directory", ErrOutsideProject)
	}
	return resolveWithin(dir, filepath.Join(dir, rel), roots)
}

// ResolvePath is ResolveInProject for kinds of paths that may also be
// written absolute (warehouse file, export folder, credential files): an
// absolute path is taken as written, a relative one must stay inside.
func ResolvePath(dir, p string, roots ...string) (string, error) {
	if filepath.IsAbs(p) {
		return filepath.Clean(p), nil
	}
	return ResolveInProject(dir, p, roots...)
}

// resolveWithin resolves full and checks that it lies in dir or a root.
func resolveWithin(dir, full string, roots []string) (string, error) {
	real, err := resolveExisting(full)
	if err != nil {
		return "", err
	}
	for _, r := range append([]string{dir}, roots...) {
		if !filepath.IsAbs(r) {
			r = filepath.Join(dir, r)
		}
		rr, err := filepath.EvalSymlinks(r)
		if err != nil {
			continue // a missing root allows nothing
		}
		if within(rr, real) {
			return real, nil
		}
	}
	if lexical, _ := filepath.Rel(dir, full); !filepath.IsLocal(lexical) && lexical != "." {
		return "", fmt.Errorf("%w: .. goes above it", ErrOutsideProject)
	}
	return "", fmt.Errorf("%w through a symbolic link", ErrOutsideProject)
}

func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && (rel == "." || filepath.IsLocal(rel))
}

// resolveExisting resolves symlinks in the deepest existing ancestor of p
// and appends the rest. A dangling symlink is refused: creating the file
// would follow it wherever it points.
func resolveExisting(p string) (string, error) {
	p = filepath.Clean(p)
	var rest []string
	for {
		real, err := filepath.EvalSymlinks(p)
		if err == nil {
			return filepath.Join(append([]string{real}, rest...)...), nil
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Errorf("resolving the path: %w", err)
		}
		if _, lerr := os.Lstat(p); lerr == nil {
			return "", fmt.Errorf("follows a symbolic link that points at nothing: %w", ErrOutsideProject)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return filepath.Join(append([]string{p}, rest...)...), nil
		}
		rest = append([]string{filepath.Base(p)}, rest...)
		p = parent
	}
}

// pathKind says what a path must name and whether it may be absolute.
type pathKind struct {
	what     string // for messages: "seed file", "warehouse path"...
	absolute bool   // may be written absolute
	file     bool   // names a file (else a folder)
	required bool   // must exist
}

var (
	seedPath       = pathKind{what: "seed file", file: true, required: true}
	warehousePath  = pathKind{what: "warehouse path", absolute: true, file: true}
	credentialPath = pathKind{what: "credential file", absolute: true, file: true}
	folderPath     = pathKind{what: "folder", absolute: true}
)

// CheckPaths checks every path of the project against the paths rule and
// what it must name (a seed file that exists, a folder where a folder is
// expected). at holds the positions of sluice.yml's top-level keys.
func CheckPaths(p *Project, at Positions) Problems {
	sink := &problemSink{}
	roots := checkExternalPaths(p, at, sink)
	check := func(pos Pos, val string, k pathKind) {
		if msg := checkPath(p.Dir, val, k, roots); msg != "" {
			sink.add(pos, "%s", msg)
		}
	}
	w := p.Warehouse
	if w.Type == "duckdb" && w.Path != "" && w.Path != ":memory:" {
		check(w.At.Of("path"), w.Path, warehousePath)
	}
	for key, val := range map[string]string{"tls_ca_file": w.TLSCAFile, "private_key_file": w.PrivateKeyFile, "credentials_file": w.CredentialsFile} {
		if val != "" {
			check(w.At.Of(key), val, credentialPath)
		}
	}
	for _, s := range p.Seeds {
		if _, set := s.At["path"]; set { // else reported as a missing key
			check(s.At.Of("path"), s.Path, seedPath)
		}
	}
	for _, d := range p.Destinations {
		checkOptionPaths(d, check)
	}
	checkIncludes(p, at, sink)
	return sink.list
}

// checkPath returns what is wrong with one path, or "". Values are not
// quoted: they may come from the environment, and the position shows them.
func checkPath(dir, val string, k pathKind, roots []string) string {
	if strings.TrimSpace(val) == "" {
		if strings.HasSuffix(k.what, "path") {
			return k.what + " is empty"
		}
		return k.what + " path is empty"
	}
	var real string
	var err error
	if k.absolute {
		real, err = ResolvePath(dir, val, roots...)
	} else {
		real, err = ResolveInProject(dir, val, roots...)
	}
	if err != nil {
		hint := "write it inside the project, or as an absolute path"
		if !k.absolute {
			hint = "a folder that several projects share can be listed under external_paths"
		}
		return fmt.Sprintf("%s %v (%s; see Paths in docs/configuration.md)", k.what, err, hint)
	}
	st, err := os.Stat(real)
	switch {
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		if k.required {
			return k.what + " not found (paths are relative to the project directory)"
		}
	case err != nil:
		return fmt.Sprintf("%s cannot be read: %v", k.what, errors.Unwrap(err))
	case k.file && st.IsDir():
		return k.what + " is a directory, not a file"
	case k.file && !st.Mode().IsRegular():
		return k.what + " is not a regular file (pipes and devices are refused)"
	case !k.file && !st.IsDir():
		return k.what + " is a file, not a directory"
	}
	return ""
}

// checkOptionPaths checks the options a destination type's spec marks as
// paths.
func checkOptionPaths(d Destination, check func(Pos, string, pathKind)) {
	spec, _, ok := destinationSpec(d.Type)
	if !ok {
		return
	}
	for _, f := range spec.Fields {
		v, set := d.Options[f.Name]
		if f.Path == "" || !set || v.Node == nil || v.Node.Kind != yaml.ScalarNode || v.Node.Tag == "!!null" {
			continue // not a string: reported by the option checks
		}
		k := folderPath
		if f.Path == PathFile {
			k = credentialPath
		}
		k.what = f.Name
		check(v.Pos, v.Node.Value, k)
	}
}

// checkExternalPaths checks external_paths (folders that must exist) and
// returns them for the other checks.
func checkExternalPaths(p *Project, at Positions, sink *problemSink) []string {
	var roots []string
	for _, r := range p.ExternalPaths {
		full := r
		if !filepath.IsAbs(full) {
			full = filepath.Join(p.Dir, r)
		}
		st, err := os.Stat(full)
		switch {
		case strings.TrimSpace(r) == "":
			sink.add(at.Of("external_paths"), "external_paths holds an empty path")
		case err != nil:
			sink.add(at.Of("external_paths"), "external_paths: a folder listed does not exist")
		case !st.IsDir():
			sink.add(at.Of("external_paths"), "external_paths: an entry is a file, not a folder")
		default:
			roots = append(roots, full)
		}
	}
	return roots
}

// checkIncludes refuses include patterns that could only name files
// outside the project (they would silently match nothing), and project
// files that are symlinks leading out of the project.
func checkIncludes(p *Project, at Positions, sink *problemSink) {
	for _, pat := range p.Include {
		clean := filepath.Clean(filepath.FromSlash(pat))
		if filepath.IsAbs(clean) || !filepath.IsLocal(clean) {
			sink.add(at.Of("include"), "include patterns are relative to the project directory and stay inside it (no absolute path, no ..)")
		}
	}
	// Positions of project files carry the directory as the user wrote it.
	prefix := strings.TrimSuffix(at.Of("").File, ProjectFileName)
	for _, rel := range p.Files {
		if _, err := ResolveInProject(p.Dir, rel); err != nil {
			sink.add(Pos{File: prefix + rel}, "project file %v", err)
		}
	}
}

// pathsSection documents the paths rule in the configuration reference.
func (w *refWriter) pathsSection() {
	w.heading(2, "Paths")
	w.p("Every file or folder a project names is read against the project directory (the folder holding `%s`) and must stay inside it: "+
		"after cleaning (`data/../data/x.csv` is fine, `../x.csv` and `data/../../x.csv` are not) and after resolving symbolic links (a link in `data/` to `/etc/passwd`, or a `data` folder that is itself a link to elsewhere, is refused). "+
		"A link that points at nothing is refused as well, since writing through it would create its target wherever that is. "+
		"This covers seed files, the DuckDB file (`warehouse.path`), export folders of the `file` destination, credential files (`tls_ca_file`, `private_key_file`, `credentials_file`) and the project's YAML files themselves; `include` patterns may not be absolute or use `..`.", ProjectFileName)
	w.p("Two exceptions, both visible in review:\n"+
		"- The DuckDB file, export folders and credential files may be written as **absolute** paths (`/var/lib/sluice/acme.duckdb`, `/run/secrets/sa.json`): they are taken as written. A relative path never leaves the project.\n"+
		"- Seed files may also come from folders listed under **`external_paths`** in `%s` (relative to the project, or absolute), for data that several projects share: `external_paths: [../quickstart/data]`.", ProjectFileName)
	w.p("`validate` reports a path that breaks the rule at its `path:line:col`, along with every other problem, and so does a seed `path` that is empty, names a missing file, a directory or anything but a regular file (a pipe, a device). " +
		"The rule is checked again where each path is used (`build` loading a seed, opening the DuckDB file, writing an export), so a file replaced by a link after validation cannot lead out either; a file outside is never read, not even to check it.")
	w.p("SQL follows the same rule on DuckDB: `sql:` sources, fragments and `sluice query` may read files only in the project folder, the folders under `external_paths` and the DuckDB file's folder (`read_csv('/etc/passwd')` is refused), write none elsewhere, attach no other database and load no extension. " +
		"DuckDB cannot lift this while the database is open, so nothing later in a run can undo it. A project that reads remote or shared files from its sources (`read_parquet('s3://...')`) sets `external_access: true` on the warehouse.")
	w.p("`validate` writes nothing: it opens an existing DuckDB file read-only, and when the file does not exist yet it checks columns against seed files only. " +
		"Files that may hold personal data (the DuckDB file and its folder, export files) are created readable by their owner only; see [privacy](privacy.md) and `file_mode`.")
}
