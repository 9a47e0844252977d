package meta

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// audienceInfo is what sluice reads of a custom audience.
type audienceInfo struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Subtype   string `json:"subtype"`
	AccountID string `json:"account_id"`
}

// errNoAudience: the audience is neither found nor to be created.
var errNoAudience = errors.New("audience not found")

// audience resolves the sync's audience once per opened destination: an
// id (all digits) is read back, a name is looked up among the ad account's
// audiences. A missing audience is created when create is set and
// create_audiences allows it; otherwise the answer wraps errNoAudience.
func (m *Meta) audience(ctx context.Context, create bool) (string, error) {
	m.audMu.Lock()
	defer m.audMu.Unlock()
	if m.audienceID != "" {
		return m.audienceID, nil
	}
	ref := m.audienceRef
	if ref == "" {
		return "", m.cfg.Errorf("sync %s names no audience: set its list (an audience name or id), or the destination's audience", m.cfg.Sync.Name)
	}
	if isDigits(ref) {
		var a audienceInfo
		err := m.call(ctx, http.MethodGet, "/"+ref, url.Values{"fields": {"id,name,subtype,account_id"}}, &a)
		var ge *GraphError
		switch {
		case errors.As(err, &ge) && !ge.fatal() && !ge.rateLimited():
			return "", fmt.Errorf("audience %s cannot be read with this token (%w): %w", ref, err, errNoAudience)
		case err != nil:
			return "", m.explain("reading audience "+ref, err)
		case a.AccountID != "" && "act_"+a.AccountID != m.account:
			return "", m.cfg.Errorf("audience %s belongs to ad account act_%s, not %s", ref, a.AccountID, m.account)
		}
		m.audienceID = a.ID
		return a.ID, nil
	}
	id, err := m.findAudience(ctx, ref)
	if err != nil || id != "" {
		m.audienceID = id
		return id, err
	}
	if !create || !m.createAudiences {
		return "", fmt.Errorf("no audience named %q in ad account %s: %w", ref, m.account, errNoAudience)
	}
	if id, err = m.createAudience(ctx, ref); err != nil {
		return "", err
	}
	m.audienceID = id
	return id, nil
}

// findAudience pages through the ad account's custom audiences for one
// named ref; "" when there is none. Pages are followed by their after
// cursor against base_url (the next link names Meta's host, which a
// proxy or test server is not).
func (m *Meta) findAudience(ctx context.Context, ref string) (string, error) {
	var found []string
	params := url.Values{"fields": {"id,name"}, "limit": {"500"}}
	for page := 0; ; page++ {
		var ans struct {
			Data   []audienceInfo `json:"data"`
			Paging struct {
				Cursors struct {
					After string `json:"after"`
				} `json:"cursors"`
				Next string `json:"next"`
			} `json:"paging"`
		}
		if err := m.call(ctx, http.MethodGet, "/"+m.account+"/customaudiences", params, &ans); err != nil {
			return "", m.explain("listing the custom audiences of "+m.account, err)
		}
		for _, a := range ans.Data {
			if a.Name == ref {
				found = append(found, a.ID)
			}
		}
		if ans.Paging.Next == "" || ans.Paging.Cursors.After == "" || len(ans.Data) == 0 {
			break
		}
		if page > 10000 {
			return "", m.cfg.Errorf("listing the custom audiences of %s: more than 10,000 pages; name the audience by id", m.account)
		}
		params.Set("after", ans.Paging.Cursors.After)
	}
	switch len(found) {
	case 0:
		return "", nil
	case 1:
		return found[0], nil
	}
	return "", m.cfg.Errorf("ad account %s has %d audiences named %q: name the one to use by id (%s)", m.account, len(found), ref, strings.Join(found, ", "))
}

// createAudience creates a Customer File Custom Audience.
func (m *Meta) createAudience(ctx context.Context, name string) (string, error) {
	var ans struct {
		ID string `json:"id"`
	}
	params := url.Values{"name": {name}, "subtype": {"CUSTOM"}, "customer_file_source": {m.source},
		"description": {"Kept in step by sluice (sync " + m.cfg.Sync.Name + ")."}}
	if err := m.call(ctx, http.MethodPost, "/"+m.account+"/customaudiences", params, &ans); err != nil {
		var ge *GraphError
		if errors.As(err, &ge) && !ge.fatal() {
			return "", m.cfg.Errorf("creating audience %q: %w (the ad account may not have accepted Meta's Custom Audience terms: see docs/destinations/meta.md)", name, err)
		}
		return "", m.explain("creating audience "+name, err)
	}
	if ans.ID == "" {
		return "", m.cfg.Errorf("creating audience %q: Meta's answer has no id", name)
	}
	m.cfg.Logger.Info("created a custom audience", "audience", name, "audience_id", ans.ID)
	return ans.ID, nil
}

func isDigits(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return s != ""
}

// Check implements destination.Destination: the token must read the ad
// account, and the audience must exist (or be one create_audiences will
// create on the first write). Nothing is changed.
func (m *Meta) Check(ctx context.Context) error {
	var acc struct {
		ID            string `json:"id"`
		AccountStatus int    `json:"account_status"`
	}
	if err := m.call(ctx, http.MethodGet, "/"+m.account, url.Values{"fields": {"id,name,account_status"}}, &acc); err != nil {
		var ge *GraphError
		if errors.As(err, &ge) && !ge.fatal() && !ge.rateLimited() {
			return m.cfg.Errorf("reading ad account %s: %w: check ad_account_id, and that the system user is assigned the account", m.account, err)
		}
		return m.explain("reading ad account "+m.account, err)
	}
	if acc.AccountStatus != 0 && acc.AccountStatus != 1 {
		return m.cfg.Errorf("ad account %s is not active (account_status %d): its audiences cannot be updated", m.account, acc.AccountStatus)
	}
	_, err := m.audience(ctx, false)
	switch {
	case errors.Is(err, errNoAudience) && m.createAudiences && !isDigits(m.audienceRef):
		return nil // created on the first write
	case errors.Is(err, errNoAudience):
		return m.cfg.Errorf("%w: create it in Ads Manager (a customer list audience), name it by id, or set create_audiences: true", err)
	}
	return err
}
