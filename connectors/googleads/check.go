package googleads

import (
	"context"
	"fmt"

	datamanager "google.golang.org/api/datamanager/v1"

	"github.com/sluicehq/sluice/connectors/internal/matchkeys"
)

// checkEmail is the address of the one member of Check's request. The
// request is validate-only: Google checks the credentials, the accounts,
// the list and the terms of service, and stores nothing.
const checkEmail = "sluice-check@example.invalid"

// Check implements destination.Destination: it gets an access token, then
// sends a validate-only ingest request to the configured list.
func (g *GoogleAds) Check(ctx context.Context) error {
	if _, err := g.tokens.Token(); err != nil {
		return g.cfg.Errorf("getting an access token with the credentials: %w", err)
	}
	probe := &datamanager.AudienceMember{
		UserData: &datamanager.UserData{UserIdentifiers: []*datamanager.UserIdentifier{{EmailAddress: matchkeys.Hash(checkEmail)}}},
		Consent:  &datamanager.Consent{AdUserData: consentGranted, AdPersonalization: consentUnspecified},
	}
	_, err := g.svc.AudienceMembers.Ingest(&datamanager.IngestAudienceMembersRequest{
		AudienceMembers: []*datamanager.AudienceMember{probe},
		Destinations:    []*datamanager.Destination{g.dest},
		Encoding:        "HEX",
		TermsOfService:  &datamanager.TermsOfService{CustomerMatchTermsOfServiceStatus: "ACCEPTED"},
		ValidateOnly:    true,
	}).Context(ctx).Do()
	if err != nil {
		_, cerr := g.classify(err, 0)
		if cerr == nil {
			cerr = err
		}
		return fmt.Errorf("checking list %s of customer %s: %w", g.dest.ProductDestinationId, g.dest.OperatingAccount.AccountId, cerr)
	}
	return nil
}
