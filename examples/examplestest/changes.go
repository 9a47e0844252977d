package examplestest

import (
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/sync/synctest"
)

// Queries of the quickstart's built tables the destinations' end-to-end
// tests compare a destination with: the e-mails (lower-cased) of the VIPs
// with e-mail consent, and of every profile with e-mail consent.
const (
	VIPEmails        = `SELECT lower(p.email) FROM sluice.customer_profiles p JOIN sluice.customer_segment_vip v USING (profile_id) WHERE p.email_opt_in AND p.email IS NOT NULL`
	ConsentingEmails = `SELECT lower(email) FROM sluice.customer_profiles WHERE email_opt_in AND email IS NOT NULL`
)

// NewContacts are the e-mails of the consenting contacts QuickstartChanges
// adds; the last is the address a test has its destination refuse.
var NewContacts = []string{"nina.new@example.org", "noah.new@example.org", "bea.new@example.org"}

// Changes are the people QuickstartChanges changed.
type Changes struct {
	Withdrawn string // a VIP who withdrew e-mail consent
	Exiting   string // a VIP whose orders were cancelled: out of the segment
	Changed   string // a person (one profile, not a VIP) whose first name changed
}

// QuickstartChanges makes, in the project's copy of the quickstart's data,
// the changes the destinations' end-to-end tests sync after a first run
// (the delta sequence every CRM is held to), then builds again: a VIP
// withdraws e-mail consent, another VIP's orders are cancelled (a segment
// exit and a changed lifetime value), a non-VIP's first name changes, and
// three new consenting contacts arrive (NewContacts, with a last name, as
// Salesforce requires one).
func QuickstartChanges(t testing.TB, p *synctest.Project) Changes {
	t.Helper()
	vips := p.Strings(t, VIPEmails)
	if len(vips) < 3 {
		t.Fatalf("%d VIPs in the quickstart data", len(vips))
	}
	c := Changes{Withdrawn: vips[0], Exiting: vips[1]}
	for _, m := range p.Strings(t, ConsentingEmails) {
		if !slices.Contains(vips, m) && len(p.Strings(t, "SELECT profile_id FROM sluice.customer_profiles WHERE lower(email) = ?", m)) == 1 {
			c.Changed = m
			break
		}
	}
	exitingIDs := p.Strings(t, `SELECT m.id_value FROM sluice.customer_identity_map m JOIN sluice.customer_profiles p USING (profile_id)
		WHERE lower(p.email) = ? AND m.id_type IN ('user_id', 'email')`, c.Exiting)
	EditCSV(t, p.Dir, "crm_contacts.csv", func(h []string, rows [][]string) [][]string {
		col := columns(t, h)
		for _, r := range rows {
			switch strings.ToLower(strings.TrimSpace(r[col("email")])) {
			case c.Withdrawn:
				r[col("email_consent")] = "false"
			case c.Changed:
				r[col("first_name")] = "Renamed"
				r[col("updated_at")] = "2026-06-01T08:00:00Z"
			}
		}
		for i, email := range NewContacts {
			r := make([]string, len(h))
			first, _, _ := strings.Cut(email, ".")
			r[col("contact_id")], r[col("email")], r[col("country")] = "N00000"+string(rune('1'+i)), email, "FR"
			r[col("first_name")], r[col("last_name")] = strings.ToUpper(first[:1])+first[1:], "New"
			r[col("email_consent")], r[col("email_consent_at")] = "true", "2026-01-15T08:00:00Z"
			r[col("created_at")], r[col("updated_at")] = "2026-01-15T08:00:00Z", "2026-01-15T08:00:00Z"
			rows = append(rows, r)
		}
		return rows
	})
	EditCSV(t, p.Dir, "orders.csv", func(h []string, rows [][]string) [][]string {
		col := columns(t, h)
		for _, r := range rows {
			if slices.Contains(exitingIDs, r[col("contact_id")]) || slices.Contains(exitingIDs, strings.ToLower(strings.TrimSpace(r[col("email")]))) {
				r[col("status")] = "cancelled"
			}
		}
		return rows
	})
	p.Build(t)
	return c
}

// Column returns the index of a CSV column by name, failing the test for a
// column the header lacks.
func Column(t testing.TB, header []string, name string) int {
	t.Helper()
	i := slices.Index(header, name)
	if i < 0 {
		t.Fatalf("no column %s in %v", name, header)
	}
	return i
}

func columns(t testing.TB, header []string) func(string) int {
	return func(name string) int { t.Helper(); return Column(t, header, name) }
}

// Without returns list without the values of drop.
func Without(list []string, drop ...string) []string {
	return slices.DeleteFunc(slices.Clone(list), func(s string) bool { return slices.Contains(drop, s) })
}
