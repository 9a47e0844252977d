package salesforce

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/salesforce/fake"
)

var segmentSync = destination.SyncInfo{Name: "vip", Mode: "mirror", Key: "External_Id__c", List: "VIP", Fields: []string{"External_Id__c", "LastName", "Email"}}

func entry(i int) destination.Record {
	r := person(i)
	r.Op = destination.OpAdd
	return r
}

func exit(i int, remoteID string) destination.Record {
	return destination.Record{Op: destination.OpRemove, Key: person(i).Key, Fields: map[string]any{"External_Id__c": person(i).Key}, RemoteID: remoteID}
}

// members returns the external ids of the campaign's members.
func members(t *testing.T, srv *fake.Server) map[string]bool {
	t.Helper()
	byID := map[string]string{}
	for _, c := range srv.Records("Contact") {
		byID[c["Id"].(string)], _ = c["External_Id__c"].(string)
	}
	out := map[string]bool{}
	for _, m := range srv.Records("CampaignMember") {
		id, _ := m["ContactId"].(string)
		out[byID[id]] = true
	}
	return out
}

func TestCampaignMembership(t *testing.T) {
	srv := newFake(t, fake.Options{})
	sf := openSF(t, srv.URL, "create_campaigns: true", segmentSync)
	adds := []destination.Record{entry(1), entry(2), entry(3)}
	for i, err := range write(t, sf, adds) {
		if err != nil {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
	if c := srv.Records("Campaign"); len(c) != 1 || c[0]["Name"] != "VIP" {
		t.Fatalf("campaigns: %v", c)
	}
	// Entries again (a retried run): members already count as added.
	again := []destination.Record{entry(1), entry(2), entry(4)}
	for i, err := range write(t, sf, again) {
		if err != nil {
			t.Errorf("entry %d again: %v", i, err)
		}
	}
	if got := members(t, srv); len(got) != 4 {
		t.Fatalf("members: %v", got)
	}
	// Exits: by the Contact id the entry gave, by lookup, and a person
	// Salesforce never had.
	errs := write(t, sf, []destination.Record{exit(1, adds[0].RemoteID), exit(2, ""), exit(77, "")})
	for i, err := range errs {
		if err != nil {
			t.Errorf("exit %d: %v", i, err)
		}
	}
	got := members(t, srv)
	if len(got) != 2 || !got["p3@example.com"] || !got["p4@example.com"] {
		t.Errorf("members after exits: %v", got)
	}
	// A stale kept id (here another Contact's, not a member): the exit is
	// looked up by external id and still leaves.
	other := []destination.Record{person(9)}
	write(t, sf, other)
	if errs := write(t, sf, []destination.Record{exit(3, other[0].RemoteID)}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if got := members(t, srv); len(got) != 1 || !got["p4@example.com"] {
		t.Errorf("members after the exit with a stale id: %v", got)
	}
	if n := len(srv.Records("Contact")); n != 5 {
		t.Errorf("exits deleted contacts: %d left of 5", n)
	}
}

func TestCampaignRefused(t *testing.T) {
	for _, tc := range []struct {
		name, extra string
		sync        destination.SyncInfo
		want        string
	}{
		{"missing campaign", "", segmentSync, `no campaign "VIP"`},
		{"no campaign named", "", destination.SyncInfo{Name: "vip", Key: "External_Id__c", Fields: segmentSync.Fields}, "give it a campaign"},
		{"not a person object", "object: Campaign", segmentSync, "set object to Contact or Lead"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFake(t, fake.Options{})
			sf := openSF(t, srv.URL, tc.extra, tc.sync)
			_, err := sf.Write(t.Context(), &destination.Batch{Sync: "vip", Records: []destination.Record{entry(1)}})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("write: %v, want an error with %q", err, tc.want)
			}
		})
	}
}
