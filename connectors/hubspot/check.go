package hubspot

import (
	"context"
	"fmt"
	"net/http"
	"strings"
)

const pathProperties = "/crm/v3/properties/contacts"

// property is what sluice reads of a contact property.
type property struct {
	Name           string `json:"name"`
	Type           string `json:"type"`
	HasUniqueValue bool   `json:"hasUniqueValue"`
	Calculated     bool   `json:"calculated"`
}

// Check implements destination.Destination: the token must read the
// contact properties, every mapped field must be a property that can be
// written (or one create_properties will create on the first write), and
// id_property must be email or a property with unique values; the list
// of a segment sync must be a static list of contacts (or one
// create_lists will create). Nothing is changed.
func (h *HubSpot) Check(ctx context.Context) error {
	props, err := h.readProperties(ctx)
	if err != nil {
		return err
	}
	if err := h.checkProperties(props, h.createProps); err != nil {
		return err
	}
	if h.listRef != "" {
		if _, err := h.list(ctx, false); err != nil {
			return h.cfg.Errorf("checking list %q: %w", h.listRef, err)
		}
	}
	return nil
}

func (h *HubSpot) readProperties(ctx context.Context) (map[string]property, error) {
	var ans struct {
		Results []property `json:"results"`
	}
	if err := h.call(ctx, http.MethodGet, pathProperties, nil, &ans); err != nil {
		return nil, h.errFatal("reading the contact properties", err)
	}
	out := make(map[string]property, len(ans.Results))
	for _, p := range ans.Results {
		out[p.Name] = p
	}
	return out, nil
}

// checkProperties compares the mapping with the account's properties;
// missing properties are allowed when they will be created.
func (h *HubSpot) checkProperties(props map[string]property, allowMissing bool) error {
	idp, ok := props[h.idProperty]
	switch {
	case h.idProperty == "email":
	case !ok:
		return h.cfg.Errorf("id_property %s is not a contact property: use email, or create a property with unique values in HubSpot (Settings > Properties)", h.idProperty)
	case !idp.HasUniqueValue || idp.Name == "hs_object_id":
		return h.cfg.Errorf("id_property %s does not have unique values: HubSpot upserts only by email or a unique property", h.idProperty)
	}
	var missing, readOnly []string
	for _, f := range h.fields {
		p, ok := props[f]
		switch {
		case !ok:
			missing = append(missing, f)
		case p.Calculated:
			readOnly = append(readOnly, f)
		}
	}
	if len(readOnly) > 0 {
		return h.cfg.Errorf("mapped fields %s are read-only (calculated) contact properties: map the values to other properties", strings.Join(readOnly, ", "))
	}
	if len(missing) > 0 && !allowMissing {
		return h.cfg.Errorf("mapped fields %s are not contact properties: create them in HubSpot (Settings > Properties, object Contact, internal names as mapped), or set create_properties: true to let sluice create them as text properties", strings.Join(missing, ", "))
	}
	return nil
}

// ensureProperties, with create_properties, creates the mapped fields
// that are not contact properties yet, once per opened destination, as
// single-line text properties; without it, it does nothing (check has
// named them, and HubSpot refuses each record that sets them).
func (h *HubSpot) ensureProperties(ctx context.Context) error {
	if !h.createProps {
		return nil
	}
	h.propsMu.Lock()
	defer h.propsMu.Unlock()
	if h.propsReady {
		return nil
	}
	props, err := h.readProperties(ctx)
	if err != nil {
		return err
	}
	if err := h.checkProperties(props, true); err != nil {
		return err
	}
	for _, f := range h.fields {
		if _, ok := props[f]; ok {
			continue
		}
		p := map[string]any{"name": f, "label": f, "type": "string", "fieldType": "text", "groupName": "contactinformation",
			"description": "Created by sluice for a mapped field."}
		status, body, err := h.exchange(ctx, http.MethodPost, pathProperties, p)
		if err != nil {
			return h.errFatal("creating contact property "+f, err)
		}
		// 409: created meanwhile (another run), which is what we want.
		if status != http.StatusCreated && status != http.StatusOK && status != http.StatusConflict {
			return h.errFatal("creating contact property "+f, fmt.Errorf("%w", apiError(status, body)))
		}
	}
	h.propsReady = true
	return nil
}
