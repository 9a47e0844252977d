package daemon

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
)

// ErrWarehouseBusy says an embedded DuckDB file is open in another process
// (a `sluice sync` run by hand, say): the batch is skipped, not failed.
var ErrWarehouseBusy = errors.New("the warehouse file is open in another process")

// pool shares one warehouse connection between the batches in flight. An
// embedded DuckDB file takes one process at a time, so the daemon closes it
// when no batch needs it: between ticks, `sluice sync`, `sluice runs` and
// other commands can open it. Other warehouses stay connected.
type pool struct {
	open func(ctx context.Context, p *config.Project) (warehouse.Warehouse, error)

	mu  sync.Mutex
	cur *handle
}

type handle struct {
	w    warehouse.Warehouse
	cfg  config.Warehouse
	dir  string
	keep bool
	refs int
}

// keepOpen tells whether a warehouse stays connected between batches: an
// in-memory DuckDB would lose everything when closed; a DuckDB file is
// released for other processes.
func keepOpen(w config.Warehouse) bool {
	return w.Type != "duckdb" || w.Path == "" || w.Path == ":memory:"
}

func sameWarehouse(a, b config.Warehouse) bool {
	a.At, b.At = nil, nil
	return reflect.DeepEqual(a, b)
}

// acquire returns the project's warehouse and the function that releases it.
func (p *pool) acquire(ctx context.Context, pr *config.Project) (warehouse.Warehouse, func(), error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.cur
	if h != nil && (!sameWarehouse(h.cfg, pr.Warehouse) || h.dir != pr.Dir) {
		// The configuration changed: new batches get a new connection; the
		// old one closes when its last batch ends.
		if h.refs == 0 {
			h.w.Close()
		}
		p.cur, h = nil, nil
	}
	if h == nil {
		w, err := p.open(ctx, pr)
		if err != nil {
			if strings.Contains(err.Error(), "Could not set lock on file") || strings.Contains(err.Error(), "Conflicting lock") {
				return nil, nil, fmt.Errorf("%w (%v)", ErrWarehouseBusy, err)
			}
			return nil, nil, err
		}
		h = &handle{w: w, cfg: pr.Warehouse, dir: pr.Dir, keep: keepOpen(pr.Warehouse)}
		p.cur = h
	}
	h.refs++
	var once sync.Once
	return h.w, func() { once.Do(func() { p.release(h) }) }, nil
}

func (p *pool) release(h *handle) {
	p.mu.Lock()
	defer p.mu.Unlock()
	h.refs--
	if h.refs > 0 {
		return
	}
	if h != p.cur {
		h.w.Close()
		return
	}
	if !h.keep {
		h.w.Close()
		p.cur = nil
	}
}

// close closes the connection when no batch uses it.
func (p *pool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur != nil && p.cur.refs == 0 {
		p.cur.w.Close()
		p.cur = nil
	}
}
