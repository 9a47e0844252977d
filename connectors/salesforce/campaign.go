package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/sluicehq/sluice/connectors/internal/redact"

	"github.com/sluicehq/sluice/connectors/destination"
)

// Segment syncs keep a Campaign's members: an entry upserts the person's
// Contact or Lead by external id (whose id the answer gives), then inserts
// a CampaignMember with its ContactId or LeadId; one that is a member
// already (DUPLICATE_VALUE, "Already a campaign member") counts as added.
// An exit finds the CampaignMember records of the person in the campaign
// with SOQL and deletes them. Entries and exits always go through
// collections, 200 records a call.

// memberField is the CampaignMember field naming a person of the object.
func (sf *Salesforce) memberField() (string, error) {
	switch strings.ToLower(sf.object) {
	case "contact":
		return "ContactId", nil
	case "lead":
		return "LeadId", nil
	}
	return "", fmt.Errorf("segment syncs add Contacts or Leads to a campaign, but object is %s: set object to Contact or Lead", sf.object)
}

// errNoCampaign is returned by findCampaign when the org has no such
// campaign.
var errNoCampaign = errors.New("no such campaign")

// campaign resolves the sync's campaign to its id, once; with create (a
// write, not check) and create_campaigns, a campaign that does not exist
// is created. It returns "" without error when the campaign will be
// created by the first write.
func (sf *Salesforce) campaign(ctx context.Context, create bool) (string, error) {
	sf.campaignMu.Lock()
	defer sf.campaignMu.Unlock()
	if sf.campaignID != "" {
		return sf.campaignID, nil
	}
	id, err := sf.findCampaign(ctx)
	switch {
	case errors.Is(err, errNoCampaign) && sf.createCampaigns && !isCampaignID(sf.campaignRef):
		if !create {
			return "", nil
		}
		if id, err = sf.createCampaign(ctx); err != nil {
			return "", err
		}
	case errors.Is(err, errNoCampaign):
		return "", fmt.Errorf("Salesforce has no campaign %q: create it in Salesforce, or set create_campaigns: true", sf.campaignRef)
	case err != nil:
		return "", err
	}
	sf.campaignID = id
	return id, nil
}

// isCampaignID tells a Campaign record id (key prefix 701) from a name.
func isCampaignID(s string) bool { return recordIDRE.MatchString(s) && strings.HasPrefix(s, "701") }

func (sf *Salesforce) findCampaign(ctx context.Context) (string, error) {
	soql := "SELECT Id, Name FROM Campaign WHERE Name = " + soqlString(sf.campaignRef)
	if isCampaignID(sf.campaignRef) {
		soql = "SELECT Id, Name FROM Campaign WHERE Id = " + soqlString(sf.campaignRef)
	}
	var ids []string
	err := sf.query(ctx, soql, func(raw json.RawMessage) error {
		var c struct {
			ID string `json:"Id"`
		}
		if err := json.Unmarshal(raw, &c); err != nil {
			return fmt.Errorf("reading a Campaign record: %w", err)
		}
		ids = append(ids, c.ID)
		return nil
	})
	switch {
	case err != nil:
		return "", explain("looking the campaign up", err)
	case len(ids) == 0:
		return "", errNoCampaign
	case len(ids) > 1:
		return "", fmt.Errorf("%d campaigns are named %q: name the campaign by its id (701...)", len(ids), sf.campaignRef)
	}
	return ids[0], nil
}

func (sf *Salesforce) createCampaign(ctx context.Context) (string, error) {
	rec := map[string]any{"attributes": map[string]string{"type": "Campaign"}, "Name": sf.campaignRef, "IsActive": true}
	var results []saveResult
	if err := sf.call(ctx, http.MethodPost, sf.apiPath("/composite/sobjects"), map[string]any{"allOrNone": true, "records": []any{rec}}, &results); err != nil {
		return "", explain("creating the campaign", err)
	}
	if len(results) != 1 || !results[0].Success || results[0].ID == "" {
		if len(results) == 1 && results[0].err() != nil {
			return "", explain("creating the campaign", results[0].err())
		}
		return "", errors.New("creating the campaign: Salesforce's answer has no id")
	}
	return results[0].ID, nil
}

// writeCampaign applies a segment sync's entries and exits: exits first,
// so that a person who left and came back in one batch ends a member.
func (sf *Salesforce) writeCampaign(ctx context.Context, b *destination.Batch, adds, removes []int, errs []error) error {
	if len(adds)+len(removes) == 0 {
		return nil
	}
	if sf.campaignRef == "" {
		return sf.cfg.Errorf("sync %s sends campaign entries and exits: give it a campaign (the sync's list: or the destination's campaign option), a Campaign id or name", b.Sync)
	}
	field, err := sf.memberField()
	if err != nil {
		return sf.cfg.Errorf("sync %s: %w", b.Sync, err)
	}
	cid, err := sf.campaign(ctx, true)
	if err != nil {
		return sf.cfg.Errorf("campaign %q: %w", sf.campaignRef, err)
	}
	for start := 0; start < len(removes); start += MaxBatch {
		if err := sf.removeMembers(ctx, cid, field, b.Records, removes[start:min(len(removes), start+MaxBatch)], errs); err != nil {
			return err
		}
	}
	for start := 0; start < len(adds); start += MaxBatch {
		chunk := adds[start:min(len(adds), start+MaxBatch)]
		if err := sf.upsertChunk(ctx, b.Records, chunk, errs); err != nil {
			return err
		}
		if err := sf.addMembers(ctx, cid, field, b.Records, chunk, errs); err != nil {
			return err
		}
	}
	return nil
}

// addMembers inserts a CampaignMember for each entry at idx whose upsert
// was accepted (its RemoteID is the person's id).
func (sf *Salesforce) addMembers(ctx context.Context, cid, field string, recs []destination.Record, idx []int, errs []error) error {
	byPerson := map[string][]int{}
	var people []string
	for _, i := range idx {
		if errs[i] != nil || recs[i].RemoteID == "" {
			continue
		}
		p := recs[i].RemoteID
		if _, ok := byPerson[p]; !ok {
			people = append(people, p)
		}
		byPerson[p] = append(byPerson[p], i)
	}
	if len(people) == 0 {
		return nil
	}
	records := make([]map[string]any, len(people))
	for k, p := range people {
		records[k] = map[string]any{"attributes": map[string]string{"type": "CampaignMember"}, "CampaignId": cid, field: p}
	}
	status, body, err := sf.exchange(ctx, http.MethodPost, sf.apiPath("/composite/sobjects"), map[string]any{"allOrNone": false, "records": records})
	if err != nil {
		return sf.fail("adding campaign members", err)
	}
	var sent []int
	for _, p := range people {
		sent = append(sent, byPerson[p]...)
	}
	if status != http.StatusOK {
		return sf.refuseAll(recs, sent, status, body, errs, "adding campaign members")
	}
	var results []saveResult
	if err := json.Unmarshal(body, &results); err != nil {
		return sf.cfg.Errorf("adding campaign members: reading Salesforce's answer: %w", err)
	}
	for k, p := range people {
		var e error
		switch {
		case k >= len(results):
			e = errNotAccounted
		case results[k].err() == nil || results[k].err().Code == "DUPLICATE_VALUE":
			// DUPLICATE_VALUE: "Already a campaign member".
		default:
			e = results[k].err()
		}
		for _, i := range byPerson[p] {
			errs[i] = redactAPI(e, sf.idOf(recs[i]), recs[i].Key)
		}
	}
	return nil
}

func redactAPI(err error, values ...string) error {
	var ae *APIError
	if errors.As(err, &ae) {
		c := *ae
		c.Message = redact.Message(c.Message, values...)
		return &c
	}
	return err
}

// removeMembers deletes the CampaignMember records of the exits at idx: a
// person Salesforce does not have, or who is not a member, is out already.
// The person's id is the one kept from the entry, else looked up by
// external id; a kept id under which no member is found may be stale (the
// person merged into another record meanwhile), so those exits are looked
// up once more by external id.
func (sf *Salesforce) removeMembers(ctx context.Context, cid, field string, recs []destination.Record, idx []int, errs []error) error {
	people := map[int]string{} // record index: person id
	var lookup, kept []int
	for _, i := range idx {
		errs[i] = nil
		if id := strings.TrimSpace(recs[i].RemoteID); recordIDRE.MatchString(id) {
			people[i] = id
			kept = append(kept, i)
		} else {
			lookup = append(lookup, i)
		}
	}
	if err := sf.lookupPeople(ctx, recs, lookup, people); err != nil {
		return err
	}
	members, err := sf.memberIDs(ctx, cid, field, people)
	if err != nil {
		return err
	}
	isMember := map[string]bool{}
	for _, p := range members {
		isMember[p] = true
	}
	kept = slices.DeleteFunc(kept, func(i int) bool { return isMember[people[i]] })
	again := map[int]string{}
	if err := sf.lookupPeople(ctx, recs, kept, again); err != nil {
		return err
	}
	for i, id := range again {
		if id == people[i] {
			delete(again, i)
		}
		people[i] = id
	}
	if len(again) > 0 {
		more, err := sf.memberIDs(ctx, cid, field, again)
		if err != nil {
			return err
		}
		maps.Copy(members, more)
	}
	return sf.deleteMembers(ctx, recs, people, members, errs)
}

// lookupPeople finds the person ids of the records at idx by external id,
// into people; a person Salesforce does not have is left out.
func (sf *Salesforce) lookupPeople(ctx context.Context, recs []destination.Record, idx []int, people map[int]string) error {
	if len(idx) == 0 {
		return nil
	}
	values := make([]string, len(idx))
	for k, i := range idx {
		values[k] = sf.idOf(recs[i])
	}
	found, err := sf.lookupIDs(ctx, sf.object, sf.extID, values)
	if err != nil {
		return err
	}
	for k, i := range idx {
		if id, ok := found[values[k]]; ok {
			people[i] = id
		}
	}
	return nil
}

// deleteMembers deletes the members (person id by member id); an exit
// whose member Salesforce refuses to delete gets that error.
func (sf *Salesforce) deleteMembers(ctx context.Context, recs []destination.Record, people map[int]string, members map[string]string, errs []error) error {
	if len(members) == 0 {
		return nil
	}
	ids := make([]string, 0, len(members))
	for m := range members {
		ids = append(ids, m)
	}
	outcomes, err := sf.deleteByID(ctx, ids)
	if err != nil {
		return err
	}
	failed := map[string]*APIError{} // person id: a member delete refused
	for m, o := range outcomes {
		if o != nil && !goneCodes[o.Code] {
			failed[members[m]] = o
		}
	}
	for i, p := range people {
		if o, ok := failed[p]; ok {
			errs[i] = redactAPI(o, sf.idOf(recs[i]), recs[i].Key)
		}
	}
	return nil
}

// memberIDs finds the CampaignMember records of the people in the
// campaign: the person id of each, by member id.
func (sf *Salesforce) memberIDs(ctx context.Context, cid, field string, people map[int]string) (map[string]string, error) {
	var ids []string
	seen := map[string]bool{}
	for _, id := range people {
		if !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	out := map[string]string{}
	for _, chunk := range inChunks(ids) {
		soql := "SELECT Id, " + field + " FROM CampaignMember WHERE CampaignId = " + soqlString(cid) + " AND " + field + " IN " + inList(chunk)
		err := sf.query(ctx, soql, func(raw json.RawMessage) error {
			var m map[string]any
			if err := json.Unmarshal(raw, &m); err != nil {
				return fmt.Errorf("reading a CampaignMember record: %w", err)
			}
			if id, _ := m["Id"].(string); id != "" {
				out[id] = fieldString(m, field)
			}
			return nil
		})
		if err != nil {
			return nil, sf.fail("looking campaign members up", err)
		}
	}
	return out, nil
}
