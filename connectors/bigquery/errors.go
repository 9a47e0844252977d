package bigquery

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	bq "cloud.google.com/go/bigquery"
	"google.golang.org/api/googleapi"
)

// explain wraps a client error with what sluice was doing, the job (to
// find it in the console) and, where the user can act, what to check.
func (w *Warehouse) explain(doing, jobID string, err error) error {
	job := ""
	if jobID != "" {
		job = " (job " + jobID + ")"
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("bigquery: %s%s: %w", doing, job, err)
	}
	var ge *googleapi.Error
	if errors.As(err, &ge) {
		reason := ""
		if len(ge.Errors) > 0 {
			reason = ge.Errors[0].Reason
		}
		switch {
		case ge.Code == http.StatusUnauthorized:
			return fmt.Errorf("bigquery: %s: Google rejected the credentials; check warehouse.credentials_file or the Application Default Credentials: %w", doing, err)
		case ge.Code == http.StatusForbidden && reason != "rateLimitExceeded" && reason != "quotaExceeded":
			return fmt.Errorf("bigquery: %s in project %q: permission denied; the account needs the BigQuery Job User role on the project and Data Editor on the datasets: %w", doing, w.project, err)
		case ge.Code == http.StatusNotFound:
			return fmt.Errorf("bigquery: %s%s: not found; check warehouse.project (%q), warehouse.location (%q) and the dataset names: %w", doing, job, w.project, w.location, err)
		}
		if msg := strings.TrimSpace(ge.Message); msg != "" {
			return fmt.Errorf("bigquery: %s%s: %s: %w", doing, job, msg, errStatement)
		}
		return fmt.Errorf("bigquery: %s%s: %w", doing, job, err)
	}
	var je *bq.Error
	if errors.As(err, &je) {
		return fmt.Errorf("bigquery: %s%s: %s: %s: %w", doing, job, je.Reason, je.Message, errStatement)
	}
	var me bq.MultiError
	if errors.As(err, &me) && len(me) > 0 {
		msgs := make([]string, len(me))
		for i, e := range me {
			msgs[i] = e.Error()
		}
		return fmt.Errorf("bigquery: %s%s: %s: %w", doing, job, strings.Join(msgs, "; "), errStatement)
	}
	return fmt.Errorf("bigquery: %s%s: %w", doing, job, err)
}

// errStatement marks errors BigQuery reported for a statement (syntax,
// missing tables, types), as opposed to connection or credential failures.
var errStatement = errors.New("the statement failed in BigQuery")
