package hubspot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/sluicehq/sluice/connectors/destination"
)

// Segment syncs keep a list's members (lists v3, by record id): an entry
// upserts the person's contact, whose record id the answer gives, then
// adds it with PUT /crm/v3/lists/{listId}/memberships/add; an exit looks
// the record id up and removes it. Only MANUAL and SNAPSHOT lists take
// such changes: a DYNAMIC (active) list is filled by HubSpot from its
// filters, and is refused at check.

const (
	contactsObjectType = "0-1"
	pathLists          = "/crm/v3/lists"
)

// listInfo is what sluice reads of a list.
type listInfo struct {
	ListID         string `json:"listId"`
	Name           string `json:"name"`
	ObjectTypeID   string `json:"objectTypeId"`
	ProcessingType string `json:"processingType"`
}

// errNoList is returned by findList when HubSpot has no such list.
var errNoList = errors.New("no such list")

// list resolves the sync's list to its id, once; with create (a write, not
// check) and create_lists, a list that does not exist is created MANUAL.
// It returns "" without error when the list does not exist yet and will
// be created by the first write.
func (h *HubSpot) list(ctx context.Context, create bool) (string, error) {
	h.listMu.Lock()
	defer h.listMu.Unlock()
	if h.listID != "" {
		return h.listID, nil
	}
	l, err := h.findList(ctx)
	switch {
	case errors.Is(err, errNoList) && h.createLists && !isDigits(h.listRef):
		if !create {
			return "", nil
		}
		if l, err = h.createList(ctx); err != nil {
			return "", err
		}
	case errors.Is(err, errNoList):
		return "", fmt.Errorf("HubSpot has no contact list %q: create it (a static list) in HubSpot, or set create_lists: true", h.listRef)
	case err != nil:
		return "", err
	}
	if l.ObjectTypeID != "" && l.ObjectTypeID != contactsObjectType {
		return "", fmt.Errorf("HubSpot list %q is not a list of contacts (object type %s)", h.listRef, l.ObjectTypeID)
	}
	if l.ProcessingType == "DYNAMIC" {
		return "", fmt.Errorf("HubSpot list %q is an active (DYNAMIC) list: HubSpot fills it from its filters and its members cannot be set; use a static (MANUAL) list", h.listRef)
	}
	h.listID = l.ListID
	return h.listID, nil
}

// findList reads the list by id (all digits) or by name.
func (h *HubSpot) findList(ctx context.Context) (listInfo, error) {
	path := pathLists + "/object-type-id/" + contactsObjectType + "/name/" + url.PathEscape(h.listRef)
	if isDigits(h.listRef) {
		path = pathLists + "/" + h.listRef
	}
	var ans struct {
		List listInfo `json:"list"`
	}
	err := h.call(ctx, http.MethodGet, path, nil, &ans)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusNotFound && ae.Category == "OBJECT_NOT_FOUND" {
		return listInfo{}, errNoList
	}
	if err != nil {
		return listInfo{}, explain("reading the list", err)
	}
	if ans.List.ListID == "" {
		return listInfo{}, errors.New("reading the list: HubSpot's answer has no listId")
	}
	return ans.List, nil
}

func (h *HubSpot) createList(ctx context.Context) (listInfo, error) {
	req := map[string]string{"name": h.listRef, "objectTypeId": contactsObjectType, "processingType": "MANUAL"}
	var ans struct {
		List listInfo `json:"list"`
	}
	if err := h.call(ctx, http.MethodPost, pathLists, req, &ans); err != nil {
		return listInfo{}, explain("creating the list", err)
	}
	if ans.List.ListID == "" {
		return listInfo{}, errors.New("creating the list: HubSpot's answer has no listId")
	}
	return ans.List, nil
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// membershipAnswer is the answer of memberships/add and /remove.
type membershipAnswer struct {
	Added   []string `json:"recordsIdsAdded"` // sic: HubSpot's name
	Removed []string `json:"recordIdsRemoved"`
	Missing []string `json:"recordIdsMissing"`
}

// addToList upserts the contacts of the entries at idx and adds them to
// the list. A member already there is not in recordsIdsAdded, so success
// is read as "not in recordIdsMissing"; a missing record id (the contact
// deleted in between) is that record's error.
func (h *HubSpot) addToList(ctx context.Context, listID string, recs []destination.Record, idx []int, errs []error) error {
	if len(idx) == 0 {
		return nil
	}
	ids, err := h.upsert(ctx, recs, idx, errs)
	if err != nil || len(ids) == 0 {
		return err
	}
	return h.changeMembers(ctx, listID, "add", ids, errs, errors.New("HubSpot has no contact with this record id any more (deleted meanwhile?): not added to the list"))
}

// removeFromList takes the exits at idx out of the list: a person HubSpot
// has no contact for, or whose contact is gone, is out already.
func (h *HubSpot) removeFromList(ctx context.Context, listID string, recs []destination.Record, idx []int, errs []error) error {
	if len(idx) == 0 {
		return nil
	}
	ids, err := h.recordIDs(ctx, recs, idx)
	if err != nil || len(ids) == 0 {
		return err
	}
	return h.changeMembers(ctx, listID, "remove", ids, errs, nil)
}

// changeMembers sends one memberships call with the record ids of ids (by
// record index); missingErr is the error of a record whose id HubSpot
// reports missing (nil: that is fine).
func (h *HubSpot) changeMembers(ctx context.Context, listID, verb string, ids map[int]string, errs []error, missingErr error) error {
	seen := map[string]bool{}
	body := make([]string, 0, len(ids))
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			body = append(body, id)
		}
	}
	path := pathLists + "/" + listID + "/memberships/" + verb
	status, raw, err := h.exchange(ctx, http.MethodPut, path, body)
	if err != nil {
		return h.errFatal(verb+" list members", err)
	}
	if status < 200 || status > 299 {
		ae := apiError(status, raw)
		if ae.fatal() || destination.Retryable(status) || status < 400 || status == http.StatusNotFound {
			return h.errFatal(verb+" list members", ae)
		}
		for i := range ids {
			errs[i] = ae
		}
		return nil
	}
	var ans membershipAnswer
	if err := json.Unmarshal(raw, &ans); err != nil {
		return h.cfg.Errorf("%s list members: reading HubSpot's answer: %w", verb, err)
	}
	if missingErr == nil {
		return nil
	}
	missing := map[string]bool{}
	for _, id := range ans.Missing {
		missing[id] = true
	}
	for i, id := range ids {
		if missing[id] {
			errs[i] = missingErr
		}
	}
	return nil
}

// writeList applies a segment sync's entries and exits: exits first, so
// that a person who left and came back in one batch ends in the list.
func (h *HubSpot) writeList(ctx context.Context, b *destination.Batch, adds, removes []int, errs []error) error {
	if len(adds)+len(removes) == 0 {
		return nil
	}
	if h.listRef == "" {
		return h.cfg.Errorf("sync %s sends list entries and exits: give it a list (the sync's list: or the destination's list option), a HubSpot list id or name", b.Sync)
	}
	if len(adds) > 0 {
		if err := h.ensureProperties(ctx); err != nil {
			return err
		}
	}
	listID, err := h.list(ctx, true)
	if err != nil {
		return h.cfg.Errorf("list %q: %w", h.listRef, err)
	}
	if err := h.removeFromList(ctx, listID, b.Records, removes, errs); err != nil {
		return err
	}
	return h.addToList(ctx, listID, b.Records, adds, errs)
}
