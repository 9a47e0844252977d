package salesforce

import (
	"context"
	"net/http"
	"strings"
)

// describeField is what sluice reads of a field in describe.
type describeField struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	ExternalID bool   `json:"externalId"`
	IDLookup   bool   `json:"idLookup"`
	Createable bool   `json:"createable"`
	Updateable bool   `json:"updateable"`
}

// Check implements destination.Destination: the credentials must give a
// session that can describe the object; external_id_field must be one of
// its fields marked External ID; every mapped field must be a field the
// user can create and update; a segment sync that names a campaign must
// sync Contacts or Leads, and its campaign must exist (or create_campaigns
// will create it).
// Nothing is changed.
func (sf *Salesforce) Check(ctx context.Context) error {
	var desc struct {
		Name   string          `json:"name"`
		Fields []describeField `json:"fields"`
	}
	if err := sf.call(ctx, http.MethodGet, sf.apiPath("/sobjects/"+sf.object+"/describe"), nil, &desc); err != nil {
		return sf.fail("describing "+sf.object, err)
	}
	byName := make(map[string]describeField, len(desc.Fields))
	for _, f := range desc.Fields {
		byName[strings.ToLower(f.Name)] = f
	}
	ext, ok := byName[strings.ToLower(sf.extID)]
	switch {
	case !ok:
		return sf.cfg.Errorf("external_id_field %s is not a field of %s: create it (Setup > Object Manager > %s > Fields), marked External ID and Unique", sf.extID, sf.object, sf.object)
	case !ext.ExternalID:
		return sf.cfg.Errorf("external_id_field %s of %s is not marked External ID: Salesforce upserts only by an External ID field (edit the field and tick External ID, and Unique)", sf.extID, sf.object)
	}
	var missing, readOnly []string
	for _, name := range sf.fields {
		f, ok := byName[strings.ToLower(name)]
		switch {
		case !ok:
			missing = append(missing, name)
		case !f.Createable || !f.Updateable:
			readOnly = append(readOnly, name)
		}
	}
	if len(missing) > 0 {
		return sf.cfg.Errorf("mapped fields %s are not fields of %s (or the user cannot see them): create them in Salesforce, or map to existing field API names", strings.Join(missing, ", "), sf.object)
	}
	if len(readOnly) > 0 {
		return sf.cfg.Errorf("mapped fields %s of %s cannot be both created and updated by the user (read-only, formula, or field-level security): map other fields, or grant edit access", strings.Join(readOnly, ", "), sf.object)
	}
	// The campaign is checked for segment syncs that name one (list:); a
	// destination's campaign option serves segment syncs that name none,
	// and is resolved by their first write, so that it never fails a
	// record sync's check.
	if sf.cfg.Sync.List == "" {
		return nil
	}
	if _, err := sf.memberField(); err != nil {
		return sf.cfg.Errorf("%w", err)
	}
	if _, err := sf.campaign(ctx, false); err != nil {
		return sf.cfg.Errorf("checking campaign %q: %w", sf.campaignRef, err)
	}
	return nil
}
