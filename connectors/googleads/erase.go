package googleads

import (
	"context"
	"errors"
	"fmt"

	datamanager "google.golang.org/api/datamanager/v1"

	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/internal/matchkeys"
)

// Erase implements destination.Eraser: the people are removed from the
// sync's Customer Match list by their key (an e-mail, a phone), prepared
// as it was sent. Google holds no person outside its lists that sluice
// could delete; removing one it does not hold is not an error.
func (g *GoogleAds) Erase(ctx context.Context, e *destination.Erasure) ([]destination.ErasureOutcome, error) {
	key := matchkeys.Key(g.cfg.Sync.Key)
	if key == "" {
		key = matchkeys.Email
	}
	if key != matchkeys.Email && key != matchkeys.Phone {
		return nil, fmt.Errorf("%w: the sync's key %s does not identify a person at Google on its own (e-mail or phone do)", destination.ErrCannotErase, key)
	}
	out := make([]destination.ErasureOutcome, len(e.Keys))
	var items []pending
	for i, k := range e.Keys {
		v, err := matchkeys.Prepare(matchkeys.Google, key, k, g.region)
		if err != nil {
			out[i].Ref = "no usable " + string(key) + ": nothing was sent to Google for it"
			continue
		}
		id := &datamanager.UserIdentifier{EmailAddress: v}
		if key == matchkeys.Phone {
			id = &datamanager.UserIdentifier{PhoneNumber: v}
		}
		items = append(items, pending{index: i, member: &datamanager.AudienceMember{UserData: &datamanager.UserData{UserIdentifiers: []*datamanager.UserIdentifier{id}}}})
	}
	for start := 0; start < len(items); start += MaxMembers {
		chunk := items[start:min(start+MaxMembers, len(items))]
		if err := g.eraseChunk(ctx, chunk, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (g *GoogleAds) eraseChunk(ctx context.Context, chunk []pending, out []destination.ErasureOutcome) error {
	errs := make([]error, len(out))
	for len(chunk) > 0 {
		id, err := g.call(ctx, false, chunk)
		if err == nil {
			g.settle(ctx, id, false, chunk, errs)
			for _, p := range chunk {
				out[p.index] = destination.ErasureOutcome{Ref: "google data manager removal request " + id, Err: errs[p.index]}
			}
			return nil
		}
		bad, whole := g.classify(err, len(chunk))
		if whole != nil {
			var br *destination.BatchRejected
			if errors.As(whole, &br) {
				return whole
			}
			return fmt.Errorf("removing people from Google Customer Match list %s: %w", g.dest.ProductDestinationId, whole)
		}
		var rest []pending
		for j, p := range chunk {
			if msg, refused := bad[j]; refused {
				out[p.index] = destination.ErasureOutcome{Err: fmt.Errorf("refused by Google: %s", msg)}
			} else {
				rest = append(rest, p)
			}
		}
		chunk = rest
	}
	return nil
}
