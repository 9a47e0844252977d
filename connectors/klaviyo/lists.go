package klaviyo

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/sluicehq/sluice/connectors/destination"

	"github.com/sluicehq/sluice/connectors/internal/jsonenc"
)

// listIDShape is what Klaviyo list ids look like (six letters and digits,
// such as Y6nRLr); a list: value of that shape is tried as an id first,
// then as a name.
var listIDShape = regexp.MustCompile(`^[A-Za-z0-9]{6}$`)

// list is a resolved list.
type list struct{ id, name string }

// findList resolves a list reference, by id or by name. found is false when
// no list matches; two lists with the name are an error (use the id).
func (k *Klaviyo) findList(ctx context.Context, ref string) (l list, found bool, err error) {
	if listIDShape.MatchString(ref) {
		ans, err := k.api.call(ctx, epGetList, "/api/lists/"+url.PathEscape(ref), url.Values{"fields[list]": {"name"}}, nil)
		if err != nil {
			return list{}, false, err
		}
		switch ans.status {
		case http.StatusOK:
			var doc struct {
				Data struct {
					ID         string `json:"id"`
					Attributes struct {
						Name string `json:"name"`
					} `json:"attributes"`
				} `json:"data"`
			}
			if err := json.Unmarshal(ans.body, &doc); err != nil {
				return list{}, false, k.cfg.Errorf("reading list %s: %w", ref, err)
			}
			return list{id: doc.Data.ID, name: doc.Data.Attributes.Name}, true, nil
		case http.StatusNotFound:
			// Not an id: maybe a name.
		default:
			return list{}, false, k.cfg.Errorf("reading list %s: %s", ref, ans.message())
		}
	}
	q := url.Values{}
	q.Set("filter", "equals(name,"+quoteFilter(ref)+")")
	q.Set("fields[list]", "name")
	ans, err := k.api.call(ctx, epGetLists, "/api/lists", q, nil)
	if err != nil {
		return list{}, false, err
	}
	if ans.status != http.StatusOK {
		return list{}, false, k.cfg.Errorf("looking up the list named %q: %s", ref, ans.message())
	}
	var doc struct {
		Data []struct {
			ID         string `json:"id"`
			Attributes struct {
				Name string `json:"name"`
			} `json:"attributes"`
		} `json:"data"`
	}
	if err := json.Unmarshal(ans.body, &doc); err != nil {
		return list{}, false, k.cfg.Errorf("looking up the list named %q: %w", ref, err)
	}
	var ids []string
	for _, d := range doc.Data {
		if d.Attributes.Name == ref {
			ids = append(ids, d.ID)
		}
	}
	switch len(ids) {
	case 0:
		return list{}, false, nil
	case 1:
		return list{id: ids[0], name: ref}, true, nil
	}
	return list{}, false, k.cfg.Errorf("klaviyo has %d lists named %q (ids %s): set list: to the id of the one to use", len(ids), ref, strings.Join(ids, ", "))
}

// quoteFilter quotes a value for Klaviyo's filter syntax.
func quoteFilter(s string) string { return string(jsonenc.AppendText(nil, s)) }

// listID returns the id of the sync's list, creating the list when it is
// missing and create_list is set. The answer is kept for the destination's
// life (one sync run).
func (k *Klaviyo) listID(ctx context.Context) (string, error) {
	k.listMu.Lock()
	defer k.listMu.Unlock()
	if k.resolved != "" {
		return k.resolved, nil
	}
	l, found, err := k.findList(ctx, k.listRef)
	if err != nil {
		return "", err
	}
	if !found {
		if !k.createList {
			return "", k.cfg.Errorf("klaviyo has no list %q: create it in Klaviyo, set list: to an existing list's id or name, or set create_list: true on the destination", k.listRef)
		}
		if l, err = k.newList(ctx, k.listRef); err != nil {
			return "", err
		}
		k.log.Info("created the klaviyo list", "list", l.name, "list_id", l.id)
	}
	k.resolved = l.id
	return l.id, nil
}

func (k *Klaviyo) newList(ctx context.Context, name string) (list, error) {
	body := []byte(`{"data":{"type":"list","attributes":{"name":` + quoteFilter(name) + `}}}`)
	ans, err := k.api.call(ctx, epCreateList, "/api/lists", nil, body)
	if err != nil {
		return list{}, err
	}
	if ans.status != http.StatusCreated && ans.status != http.StatusOK {
		return list{}, k.cfg.Errorf("creating the list %q: %s", name, ans.message())
	}
	var doc struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.Unmarshal(ans.body, &doc); err != nil || doc.Data.ID == "" {
		return list{}, k.cfg.Errorf("reading the list klaviyo created: %s", snippetOrErr(ans.body, err))
	}
	return list{id: doc.Data.ID, name: name}, nil
}

// removal is a record to take off a list or unsubscribe.
type removal struct {
	idx    int
	ids    identifiers
	reason destination.Reason
}

// Klaviyo's limits for list calls and profile lookups.
const (
	maxListCall     = 1000
	maxLookupValues = 100
)

// removeFromList takes profiles off a list. Klaviyo's list endpoint wants
// profile ids, which sluice does not keep: they are looked up by the
// identifiers the removals carry (100 per request, from an endpoint
// allowed 700 a minute), then removed 1,000 per request. A profile Klaviyo
// does not have is not on the list: its removal succeeds.
func (k *Klaviyo) removeFromList(ctx context.Context, listID string, rs []removal, errs []error) error {
	ids, err := k.lookup(ctx, rs, errs)
	if err != nil {
		return err
	}
	type member struct {
		idx int
		id  string
	}
	var members []member
	for _, r := range rs {
		if errs[r.idx] != nil {
			continue
		}
		for _, id := range ids[r.idx] {
			members = append(members, member{r.idx, id})
		}
	}
	for start := 0; start < len(members); start += maxListCall {
		chunk := members[start:min(len(members), start+maxListCall)]
		b := append([]byte(nil), `{"data":[`...)
		for i, m := range chunk {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"type":"profile","id":`...)
			b = jsonenc.AppendString(b, m.id)
			b = append(b, '}')
		}
		b = append(b, "]}"...)
		ans, err := k.api.call(ctx, epListRemove, "/api/lists/"+url.PathEscape(listID)+"/relationships/profiles", nil, b)
		if err != nil {
			return err
		}
		if ans.status != http.StatusNoContent && ans.status != http.StatusOK && ans.status != http.StatusAccepted {
			for _, m := range chunk {
				errs[m.idx] = fmt.Errorf("klaviyo refused to remove the profile from list %s: %s", listID, ans.message())
			}
		}
	}
	return nil
}

// lookup finds the Klaviyo profile ids of removals, by e-mail, else phone
// number, else external id. A removal without any of them is rejected.
func (k *Klaviyo) lookup(ctx context.Context, rs []removal, errs []error) (map[int][]string, error) {
	type want struct {
		field string
		value string
		idx   int
	}
	groups := map[string][]want{}
	for _, r := range rs {
		switch {
		case r.ids.email != "":
			groups["email"] = append(groups["email"], want{"email", strings.ToLower(r.ids.email), r.idx})
		case r.ids.phone != "":
			groups["phone_number"] = append(groups["phone_number"], want{"phone_number", r.ids.phone, r.idx})
		case r.ids.external != "":
			groups["external_id"] = append(groups["external_id"], want{"external_id", r.ids.external, r.idx})
		default:
			errs[r.idx] = errNoIdentifier
		}
	}
	out := map[int][]string{}
	for _, field := range identifierAttrs {
		ws := groups[field]
		for start := 0; start < len(ws); start += maxLookupValues {
			chunk := ws[start:min(len(ws), start+maxLookupValues)]
			byValue := map[string][]int{}
			values := make([]string, 0, len(chunk))
			for _, w := range chunk {
				if _, dup := byValue[w.value]; !dup {
					values = append(values, w.value)
				}
				byValue[w.value] = append(byValue[w.value], w.idx)
			}
			filter := make([]byte, 0, 64+len(values)*32)
			filter = append(filter, "any("+field+",["...)
			for i, v := range values {
				if i > 0 {
					filter = append(filter, ',')
				}
				filter = jsonenc.AppendText(filter, v)
			}
			filter = append(filter, "])"...)
			q := url.Values{}
			q.Set("filter", string(filter))
			q.Set("fields[profile]", strings.Join(identifierAttrs, ","))
			q.Set("page[size]", "100")
			next := k.api.base + "/api/profiles?" + q.Encode()
			for pages := 0; next != "" && pages < 10; pages++ {
				ans, err := k.api.send(ctx, epGetProfiles, next, nil)
				if err != nil {
					return nil, err
				}
				if ans.status != http.StatusOK {
					for _, w := range chunk {
						errs[w.idx] = fmt.Errorf("looking up the klaviyo profile: %s", ans.message())
					}
					break
				}
				var doc struct {
					Data []struct {
						ID         string         `json:"id"`
						Attributes map[string]any `json:"attributes"`
					} `json:"data"`
					Links struct {
						Next string `json:"next"`
					} `json:"links"`
				}
				if err := json.Unmarshal(ans.body, &doc); err != nil {
					return nil, k.cfg.Errorf("reading profiles from klaviyo: %w", err)
				}
				for _, d := range doc.Data {
					v, _ := d.Attributes[field].(string)
					if field == "email" {
						v = strings.ToLower(v)
					}
					for _, idx := range byValue[v] {
						out[idx] = append(out[idx], d.ID)
					}
				}
				next = doc.Links.Next
			}
		}
	}
	return out, nil
}
