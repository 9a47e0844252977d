package salesforce

import (
	"context"
	"errors"
	"strings"

	"github.com/sluicehq/sluice/connectors/destination"
)

// RefDelete names Salesforce's record delete in the erasure audit.
const RefDelete = "salesforce record delete"

// Erase implements destination.Eraser: the records whose external id is
// one of the keys are found with SOQL and deleted with DELETE
// /composite/sobjects?ids=. A key no record has is not held. Salesforce
// keeps deleted records in its recycle bin for 15 days, and related
// records (activities, campaign history) stay: purging them is the org
// admin's (docs/destinations/salesforce.md).
//
// A refusal of one record is that key's error; credentials refused, the
// quota reserve reached, or a 429 or 5xx that outlasts the shared client's
// retries fail the whole call: every key stays pending.
func (sf *Salesforce) Erase(ctx context.Context, e *destination.Erasure) ([]destination.ErasureOutcome, error) {
	if e == nil || len(e.Keys) == 0 {
		return []destination.ErasureOutcome{}, nil
	}
	key := sf.cfg.Sync.Key
	if key != "" && !strings.EqualFold(key, sf.extID) && containsFold(sf.cfg.Sync.Fields, sf.extID) {
		return nil, sf.cfg.Errorf("erasing for sync %s: the sync's key %s is not its external id field %s, so its keys name no Salesforce record: %w",
			e.Sync, key, sf.extID, destination.ErrCannotErase)
	}
	out := make([]destination.ErasureOutcome, len(e.Keys))
	values := make([]string, 0, len(e.Keys))
	for i, k := range e.Keys {
		if k = strings.TrimSpace(k); k == "" {
			out[i] = destination.ErasureOutcome{Err: errors.New("the key is empty: Salesforce holds no record under it")}
			continue
		}
		values = append(values, k)
	}
	found, err := sf.lookupIDs(ctx, sf.object, sf.extID, values)
	if err != nil {
		return nil, err
	}
	var ids []string
	seen := map[string]bool{}
	for _, id := range found {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	outcomes, err := sf.deleteByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	for i, k := range e.Keys {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		id, ok := found[k]
		o := outcomes[id]
		switch {
		case !ok || (o != nil && goneCodes[o.Code]):
			out[i] = destination.ErasureOutcome{Ref: RefDelete + ": not held"}
		case o != nil:
			out[i] = destination.ErasureOutcome{Ref: RefDelete, Err: redactAPI(o, k)}
		default:
			out[i] = destination.ErasureOutcome{Ref: RefDelete}
		}
	}
	return out, nil
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}
