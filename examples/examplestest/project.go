package examplestest

import (
	"encoding/csv"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// QuickstartFiles reads every file of the quickstart (YAML and data, not
// the .sluice build output) by slash-separated relative path, for
// synctest projects that change some of them.
func QuickstartFiles(t testing.TB) map[string]string {
	t.Helper()
	root := Dir(t, "quickstart")
	files := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") && rel != "." {
				return filepath.SkipDir // .sluice: build output
			}
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// ProjectEnv sets the variables the project files refer to: the given
// ones, and a placeholder for the others (destinations a test does not
// sync): a 16-character secret for *_SECRET, an unreachable address for
// *_URL (addresses are checked when the project loads).
func ProjectEnv(files map[string]string, given map[string]string) map[string]string {
	env := maps.Clone(given)
	for _, body := range files {
		for _, m := range envRef.FindAllStringSubmatch(body, -1) {
			if _, ok := env[m[1]]; ok {
				continue
			}
			env[m[1]] = "unused"
			switch {
			case strings.HasSuffix(m[1], "_SECRET"):
				env[m[1]] = "unused-secret-of-sixteen-characters"
			case strings.HasSuffix(m[1], "_URL"):
				env[m[1]] = "http://unused.invalid"
			}
		}
	}
	return env
}

// EditCSV rewrites a seed file data/NAME of the project in dir: edit gets
// the header and the rows and returns the rows to write.
func EditCSV(t testing.TB, dir, name string, edit func(header []string, rows [][]string) [][]string) {
	t.Helper()
	path := filepath.Join(dir, "data", name)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	all, err := csv.NewReader(f).ReadAll()
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	rows := edit(all[0], all[1:])
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := csv.NewWriter(out)
	if err := w.WriteAll(append([][]string{all[0]}, rows...)); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}
