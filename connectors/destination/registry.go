package destination

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/sluicehq/sluice/config"
)

// Factory opens a destination.
type Factory func(ctx context.Context, cfg Config) (Destination, error)

type entry struct {
	spec config.ComponentSpec
	open Factory
}

var (
	mu    sync.RWMutex
	types = map[string]entry{}
)

// Register makes a destination type available by name: its spec drives
// validation of project files, the JSON Schema and the reference docs
// (through config.RegisterDestination), and open connects it. Destination
// packages call it from init.
func Register(spec config.ComponentSpec, open Factory) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := types[spec.Type]; dup {
		panic("destination: type registered twice: " + spec.Type)
	}
	spec.Kind = "destination"
	types[spec.Type] = entry{spec: spec, open: open}
	config.RegisterDestination(spec)
}

// Types lists the registered destination types.
func Types() []string {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]string, 0, len(types))
	for t := range types {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Spec returns a registered type's spec.
func Spec(typ string) (config.ComponentSpec, bool) {
	mu.RLock()
	defer mu.RUnlock()
	e, ok := types[typ]
	return e.spec, ok
}

// Open connects the destination d of a project for one sync.
func Open(ctx context.Context, d config.Destination, projectDir string, sync SyncInfo, logger *slog.Logger) (Destination, error) {
	mu.RLock()
	e, ok := types[d.Type]
	mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("destination %s: %w %q (available: %s)", d.Name, ErrNotFound, d.Type, strings.Join(Types(), ", "))
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg := Config{
		Name: d.Name, Type: d.Type, ProjectDir: projectDir, Sync: sync,
		Options: Options{spec: e.spec, values: d.Options},
		Logger:  logger.With("destination", d.Name),
	}
	if err := cfg.Options.checkRequired(); err != nil {
		return nil, cfg.Errorf("%w", err)
	}
	dst, err := e.open(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return dst, nil
}
