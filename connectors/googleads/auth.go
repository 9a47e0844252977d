package googleads

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	datamanager "google.golang.org/api/datamanager/v1"
)

// tokenSource reads service-account or user credentials and returns their
// access tokens for the Data Manager scope, fetched through client (paced
// and retried like every other request). Only these two kinds are taken:
// credentials of other kinds (external accounts) make the library call
// URLs and run commands named inside the JSON, which a project file should
// not be able to do.
func tokenSource(creds []byte, client *http.Client) (oauth2.TokenSource, error) {
	var head struct {
		Type        string `json:"type"`
		ClientEmail string `json:"client_email"`
	}
	if err := json.Unmarshal(creds, &head); err != nil {
		return nil, errors.New("the credentials are not JSON: give a service account key or user credentials (authorized_user) as Google issues them")
	}
	var kind google.CredentialsType
	switch google.CredentialsType(head.Type) {
	case google.ServiceAccount:
		kind = google.ServiceAccount
	case google.AuthorizedUser:
		kind = google.AuthorizedUser
	default:
		return nil, fmt.Errorf("credentials of type %q are not supported: give a service account key (service_account) or user credentials (authorized_user)", head.Type)
	}
	// The token requests outlive Open's context: they happen when a token
	// is first needed or has expired, bounded by client's timeout.
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, client)
	c, err := google.CredentialsFromJSONWithType(ctx, creds, kind, datamanager.DatamanagerScope)
	if err != nil {
		return nil, fmt.Errorf("reading the %s credentials: %w", head.Type, err)
	}
	return c.TokenSource, nil
}
