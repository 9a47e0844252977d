package googleads

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	datamanager "google.golang.org/api/datamanager/v1"
	"google.golang.org/api/googleapi"

	"github.com/sluicehq/sluice/connectors/destination"
)

// Write implements destination.Destination: adds and upserts are
// ingested, removes and deletes removed, each kind in requests of at most
// MaxMembers.
func (g *GoogleAds) Write(ctx context.Context, b *destination.Batch) ([]error, error) {
	errs := make([]error, len(b.Records))
	var adds, removes []pending
	for i, r := range b.Records {
		m, err := g.member(r)
		if err == nil && !r.Op.IsRemoval() {
			m.Consent, err = consent(r)
		}
		switch {
		case err != nil:
			errs[i] = err
		case r.Op.IsRemoval():
			removes = append(removes, pending{index: i, member: m})
		default:
			adds = append(adds, pending{index: i, member: m})
		}
	}
	for _, group := range []struct {
		ingest bool
		items  []pending
	}{{true, adds}, {false, removes}} {
		for start := 0; start < len(group.items); start += MaxMembers {
			chunk := group.items[start:min(start+MaxMembers, len(group.items))]
			if err := g.send(ctx, group.ingest, chunk, errs); err != nil {
				return nil, err
			}
		}
	}
	return errs, nil
}

// pending is a member waiting to be sent, with its record's index.
type pending struct {
	index  int
	member *datamanager.AudienceMember
}

// send sends one request and sets errs for its records. Members Google
// names in field violations are refused alone and the others sent again;
// a request Google refuses as a whole rejects the batch; one that could
// not be sent (credentials, retries exhausted) stops the run.
func (g *GoogleAds) send(ctx context.Context, ingest bool, items []pending, errs []error) error {
	for len(items) > 0 {
		id, err := g.call(ctx, ingest, items)
		if err == nil {
			g.settle(ctx, id, ingest, items, errs)
			return nil
		}
		bad, whole := g.classify(err, len(items))
		if whole != nil {
			return whole
		}
		var rest []pending
		for j, p := range items {
			if msg, refused := bad[j]; refused {
				errs[p.index] = fmt.Errorf("refused by Google: %s", msg)
			} else {
				rest = append(rest, p)
			}
		}
		items = rest
	}
	return nil
}

// call sends one ingest or remove request and returns Google's request
// id ("" when it gave none, as for validate-only requests).
func (g *GoogleAds) call(ctx context.Context, ingest bool, items []pending) (string, error) {
	members := make([]*datamanager.AudienceMember, len(items))
	for i, p := range items {
		members[i] = p.member
	}
	dests := []*datamanager.Destination{g.dest}
	if ingest {
		resp, err := g.svc.AudienceMembers.Ingest(&datamanager.IngestAudienceMembersRequest{
			AudienceMembers: members, Destinations: dests, Encoding: "HEX", ValidateOnly: g.validateOnly,
			TermsOfService: &datamanager.TermsOfService{CustomerMatchTermsOfServiceStatus: "ACCEPTED"},
		}).Context(ctx).Do()
		if err != nil {
			return "", err
		}
		return resp.RequestId, nil
	}
	resp, err := g.svc.AudienceMembers.Remove(&datamanager.RemoveAudienceMembersRequest{
		AudienceMembers: members, Destinations: dests, Encoding: "HEX", ValidateOnly: g.validateOnly,
	}).Context(ctx).Do()
	if err != nil {
		return "", err
	}
	return resp.RequestId, nil
}

// memberField finds the member index a field violation names, in proto
// (audience_members[3].user_data...) or JSON (audienceMembers[3]...) form.
var memberField = regexp.MustCompile(`^(?:audience_members|audienceMembers)\[(\d+)\]`)

// classify reads a failed request's error: the members named by field
// violations (when every violation names one), or the error for the whole
// request: a *destination.BatchRejected for a request Google refused as
// such, any other error to stop the run.
func (g *GoogleAds) classify(err error, n int) (map[int]string, error) {
	var gerr *googleapi.Error
	if !errors.As(err, &gerr) {
		return nil, g.cfg.Errorf("sending to the Data Manager API: %w", err)
	}
	st, details, _ := parseStatus([]byte(gerr.Body))
	msg := gerr.Message
	status := ""
	if st != nil {
		msg, status = st.Error.Message, st.Error.Status
	}
	switch {
	case gerr.Code == http.StatusUnauthorized:
		return nil, g.cfg.Errorf("Google refused the credentials (HTTP 401 %s): %s", status, msg)
	case gerr.Code == http.StatusForbidden:
		return nil, g.cfg.Errorf("Google refused access to customer %s or list %s (HTTP 403 %s): %s; check that the credentials' user or service account has access to the account (and login_customer_id for a manager account)", g.dest.OperatingAccount.AccountId, g.dest.ProductDestinationId, status, msg)
	case gerr.Code == http.StatusTooManyRequests || gerr.Code >= 500:
		return nil, g.cfg.Errorf("the Data Manager API still answered HTTP %d %s after retries: %s", gerr.Code, status, msg)
	}
	bad := map[int]string{}
	attributable := true
	for _, d := range details {
		for _, fv := range d.FieldViolations {
			m := memberField.FindStringSubmatch(fv.Field)
			if m == nil {
				attributable = false
				continue
			}
			i, _ := strconv.Atoi(m[1])
			if i >= n {
				attributable = false
				continue
			}
			bad[i] = strings.TrimSpace(fv.Description + " (" + fv.Field + ")")
		}
	}
	if len(bad) > 0 && attributable {
		return bad, nil
	}
	return nil, destination.RejectBatch(g.cfg.Errorf("Google refused the request (HTTP %d %s): %s", gerr.Code, status, msg))
}
