package meta

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/internal/matchkeys"
)

// RefRemoved names the removal in the erasure audit.
const RefRemoved = "meta DELETE /{audience_id}/users"

// Erase implements destination.Eraser: the keys (values of the sync's
// key, a match key) are hashed by Meta's rules and removed from the
// sync's audience with DELETE /{audience_id}/users, at most 10,000 a
// request. Meta does not say whom it held: removing someone it does not
// hold is not an error, so every key sent is erased unless a sample of
// invalid entries names it. A key that normalises to nothing was never
// sent, so Meta does not hold it under that key. An audience that does
// not exist holds nobody.
//
// "Audience too small" (200/1870047), credentials refused, or a 429 or
// 5xx that outlasts the retries fail the whole call: every key stays
// pending.
func (m *Meta) Erase(ctx context.Context, e *destination.Erasure) ([]destination.ErasureOutcome, error) {
	if e == nil || len(e.Keys) == 0 {
		return []destination.ErasureOutcome{}, nil
	}
	col := m.columns[m.keyCol]
	id, err := m.audience(ctx, false)
	if errors.Is(err, errNoAudience) {
		out := make([]destination.ErasureOutcome, len(e.Keys))
		for i := range out {
			out[i].Ref = "meta: the audience does not exist, nobody is held"
		}
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]destination.ErasureOutcome, len(e.Keys))
	var idx []int
	var cells []string
	for i, k := range e.Keys {
		cell, err := matchkeys.Prepare(matchkeys.Meta, col.key, k, m.region)
		if err != nil || strings.TrimSpace(k) == "" {
			out[i].Ref = "meta: no usable " + string(col.key) + ", never sent"
			continue
		}
		idx, cells = append(idx, i), append(cells, cell)
	}
	for start := 0; start < len(cells); start += MaxRows {
		end := min(start+MaxRows, len(cells))
		if err := m.eraseChunk(ctx, id, col.schema, idx[start:end], cells[start:end], out); err != nil {
			return nil, m.cfg.Errorf("erasure %s: %w", e.RequestID, err)
		}
	}
	return out, nil
}

func (m *Meta) eraseChunk(ctx context.Context, id, schema string, idx []int, cells []string, out []destination.ErasureOutcome) error {
	data := make([][]string, len(cells))
	for i, c := range cells {
		data[i] = []string{c}
	}
	payload, err := json.Marshal(map[string]any{"schema": []string{schema}, "data": data})
	if err != nil {
		return fmt.Errorf("encoding the payload: %w", err)
	}
	var ans usersAnswer
	err = m.call(ctx, http.MethodDelete, "/"+id+"/users", url.Values{"payload": {string(payload)}}, &ans)
	var ge *GraphError
	switch {
	case errors.As(err, &ge) && ge.audienceTooSmall():
		return destination.RejectBatch(fmt.Errorf("%w [%s]", errTooSmall, ge.Message))
	case err != nil:
		return m.explain("removing people from the audience", err)
	}
	samples := parseSamples(ans.Samples)
	for k, i := range idx {
		out[i].Ref = RefRemoved
		if reason, ok := samples[cells[k]]; ok {
			out[i].Err = fmt.Errorf("Meta counted this entry invalid: %s", reason)
		}
	}
	return nil
}
