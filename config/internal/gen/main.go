// Command gen writes the files generated from the configuration types: the
// JSON Schemas of project files and the configuration reference.
//
//	go run ./internal/gen -root ..    (from config/, via go generate ./config)
//
// It writes, relative to the repository root:
//
//	schema/sluice.schema.json       sluice.yml
//	schema/sluice-file.schema.json  every other project YAML file
//	docs/configuration.md           the configuration reference
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sluicehq/sluice/config"

	// Registered destination types appear in the schema and the reference.
	_ "github.com/sluicehq/sluice/connectors/all"
)

func main() {
	root := flag.String("root", ".", "repository root")
	flag.Parse()
	if err := run(*root); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

// generated returns the generated files by path relative to the
// repository root.
func generated() (map[string][]byte, []string, error) {
	files := map[string][]byte{}
	for _, k := range config.SchemaKinds {
		b, err := config.JSONSchema(k)
		if err != nil {
			return nil, nil, err
		}
		files[filepath.Join("schema", k.FileName())] = b
	}
	files[filepath.Join("docs", "configuration.md")] = config.ReferenceMarkdown()
	return files, []string{
		filepath.Join("schema", config.ProjectSchema.FileName()),
		filepath.Join("schema", config.SectionsSchema.FileName()),
		filepath.Join("docs", "configuration.md"),
	}, nil
}

func run(root string) error {
	files, names, err := generated()
	if err != nil {
		return err
	}
	for _, name := range names {
		path := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, files[name], 0o644); err != nil {
			return err
		}
	}
	return nil
}
