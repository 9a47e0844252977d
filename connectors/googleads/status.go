package googleads

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	datamanager "google.golang.org/api/datamanager/v1"
)

// errValidateOnly is every record's outcome under validate_only: Google
// checked the request and stored nothing, so the records stay to be sent.
var errValidateOnly = errors.New("validate_only is set: Google validated the request and stored nothing; unset validate_only to send for real")

// Request states of requestStatus:retrieve.
const (
	stateSuccess    = "SUCCESS"
	stateFailed     = "FAILED"
	statePartial    = "PARTIAL_SUCCESS"
	stateProcessing = "PROCESSING"
)

// statusPollMax is the longest pause between two reads of a status.
const statusPollMax = 5 * time.Second

// settle sets the outcome of a request Google accepted: under
// validate_only every record stays to be sent; otherwise the request's
// status decides, as far as it is known within status_wait.
func (g *GoogleAds) settle(ctx context.Context, id string, ingest bool, items []pending, errs []error) {
	if g.validateOnly {
		for _, p := range items {
			errs[p.index] = errValidateOnly
		}
		return
	}
	if id == "" || !g.readStatus {
		return
	}
	what := "ingestion"
	if !ingest {
		what = "removal"
	}
	st, err := g.awaitStatus(ctx, id)
	log := g.cfg.Logger.With("request_id", id, "members", len(items), "kind", what)
	switch {
	case err != nil:
		log.Warn("could not read the request's status from Google; its members are counted delivered", "error", err)
	case st.state == stateFailed:
		failure := fmt.Errorf("Google failed to process the %s request %s: %s", what, id, st.describe())
		for _, p := range items {
			errs[p.index] = failure
		}
	case st.state == statePartial:
		log.Warn("Google processed the request in part; it does not say which members failed, so all are counted delivered", "errors", st.describe())
	case st.state == stateSuccess:
		log.Debug("Google processed the request", "records", st.records, "identifiers", st.identifiers, "match_rate", st.matchRate)
	default:
		log.Info("Google is still processing the request (it may take up to 24 hours); its members are counted delivered", "status", st.state)
	}
}

// requestState is what requestStatus:retrieve tells of a request, over
// its destinations (sluice sends one).
type requestState struct {
	state                string
	errors               []string
	records, identifiers int64
	matchRate            string
}

func (s requestState) describe() string {
	if len(s.errors) == 0 {
		return "no reason given"
	}
	return strings.Join(s.errors, ", ")
}

// awaitStatus reads the status of a request until Google is done with it
// or status_wait has passed (at least once).
func (g *GoogleAds) awaitStatus(ctx context.Context, id string) (requestState, error) {
	deadline := time.Now().Add(g.statusWait)
	pause := 500 * time.Millisecond
	for {
		resp, err := g.svc.RequestStatus.Retrieve().RequestId(id).Context(ctx).Do()
		if err != nil {
			return requestState{}, err
		}
		st := summarize(resp)
		if st.state != stateProcessing && st.state != "REQUEST_STATUS_UNKNOWN" && st.state != "" {
			return st, nil
		}
		left := time.Until(deadline)
		if left <= 0 {
			return st, nil
		}
		if err := sleep(ctx, min(pause, left)); err != nil {
			return st, err
		}
		pause = min(2*pause, statusPollMax)
	}
}

// summarize folds the per-destination statuses into one: FAILED if any
// failed, PROCESSING if any is still processing, and so on.
func summarize(resp *datamanager.RetrieveRequestStatusResponse) requestState {
	rank := map[string]int{"": 0, "REQUEST_STATUS_UNKNOWN": 1, stateSuccess: 2, stateProcessing: 3, statePartial: 4, stateFailed: 5}
	var out requestState
	for _, d := range resp.RequestStatusPerDestination {
		if rank[d.RequestStatus] > rank[out.state] {
			out.state = d.RequestStatus
		}
		if d.ErrorInfo != nil {
			for _, c := range d.ErrorInfo.ErrorCounts {
				out.errors = append(out.errors, fmt.Sprintf("%s (%d records)", c.Reason, c.RecordCount))
			}
		}
		if s := d.AudienceMembersIngestionStatus; s != nil && s.UserDataIngestionStatus != nil {
			u := s.UserDataIngestionStatus
			out.records, out.identifiers, out.matchRate = u.RecordCount, u.UserIdentifierCount, u.UploadMatchRateRange
		}
		if s := d.AudienceMembersRemovalStatus; s != nil && s.UserDataRemovalStatus != nil {
			out.records, out.identifiers = s.UserDataRemovalStatus.RecordCount, s.UserDataRemovalStatus.UserIdentifierCount
		}
	}
	return out
}
