package salesforce

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/salesforce/fake"
)

func TestOpen(t *testing.T) {
	for _, tc := range []struct {
		name, extra string
		sync        destination.SyncInfo
		want        string // in the error; "" for success
	}{
		{"defaults", "", extSync, ""},
		{"nested field", "", destination.SyncInfo{Name: "s", Key: "External_Id__c", Fields: []string{"External_Id__c", "Account.Name"}}, "nested fields (Account.Name)"},
		{"batch too big", "batch_size: 201", extSync, "batch_size must be between 1 and 200"},
		{"bulk batch too big", "bulk_batch_size: 150001", extSync, "bulk_batch_size must be between 1 and 150000"},
		{"insert mode", "", destination.SyncInfo{Name: "s", Mode: "insert", Key: "External_Id__c", Fields: []string{"External_Id__c"}}, "mode insert is not supported"},
		{"api version", "api_version: 62", extSync, `api_version "62" is not a version`},
		{"object name", "object: 'Contact; DROP'", extSync, "is not an sObject API name"},
		{"reserve", "quota_reserve: 100%", extSync, "from 0% to below 100%"},
		{"unknown auth", "auth: password", extSync, `auth "password" is not`},
		{"no secret", "client_secret: ''", extSync, "needs client_secret"},
		{"jwt without key", "auth: jwt, username: u@example.com", extSync, "needs private_key"},
		{"jwt key file missing", "auth: jwt, username: u@example.com, private_key_file: key.pem", extSync, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, err := openErr(t.TempDir(), DefaultLoginURL, tc.extra, tc.sync)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("open: %v", err)
				}
				d.Close()
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("open: %v, want an error with %q", err, tc.want)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	srv := newFake(t, fake.Options{Objects: []fake.Object{{Name: "Contact", Fields: []fake.Field{
		fake.ExternalIDField("External_Id__c"), {Name: "Plain__c", Type: "string"}}}}})
	for _, tc := range []struct {
		name, extra string
		sync        destination.SyncInfo
		want        string
	}{
		{"fine", "", extSync, ""},
		{"missing fields named", "", destination.SyncInfo{Name: "s", Key: "External_Id__c", Fields: []string{"External_Id__c", "LastName", "Ltv__c", "Tier__c"}}, "mapped fields Ltv__c, Tier__c are not fields of Contact"},
		{"not an external id", "external_id_field: Plain__c", extSync, "Plain__c of Contact is not marked External ID"},
		{"no such external id", "external_id_field: Nope__c", extSync, "external_id_field Nope__c is not a field of Contact"},
		{"read-only field", "", destination.SyncInfo{Name: "s", Key: "External_Id__c", Fields: []string{"External_Id__c", "CreatedDate"}}, "CreatedDate of Contact cannot be both created and updated"},
		{"unknown object", "object: Nope__c", extSync, "not found"},
		{"campaign missing", "", withList(extSync, "VIP"), `no campaign "VIP"`},
		{"campaign to create", "create_campaigns: true", withList(extSync, "VIP"), ""},
		{"destination's campaign not checked for a record sync", "campaign: VIP", extSync, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sf := openSF(t, srv.URL, tc.extra, tc.sync)
			err := sf.Check(context.Background())
			if tc.want == "" {
				if err != nil {
					t.Fatalf("check: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("check: %v, want an error with %q", err, tc.want)
			}
		})
	}
	if n := len(srv.Records("Campaign")); n != 0 {
		t.Errorf("check created %d campaigns", n)
	}
}

func withList(s destination.SyncInfo, list string) destination.SyncInfo {
	s.List = list
	return s
}

func TestUpsertAndDelete(t *testing.T) {
	srv := newFake(t, fake.Options{})
	sf := openSF(t, srv.URL, "", extSync)
	recs := people(5)
	for i, err := range write(t, sf, recs) {
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if !recordIDRE.MatchString(recs[i].RemoteID) {
			t.Errorf("record %d: remote id %q is not a Salesforce id", i, recs[i].RemoteID)
		}
	}
	got := contacts(srv)
	if len(got) != 5 || got["p3@example.com"]["LastName"] != "Person 3" {
		t.Fatalf("contacts after upsert: %v", got)
	}
	// Deletes: by the id of the last upsert, by lookup (no id), a stale id
	// (the record gone meanwhile, found again by lookup), and a record
	// Salesforce never had.
	del := func(r destination.Record, id string) destination.Record {
		return destination.Record{Op: destination.OpDelete, Key: r.Key, Fields: map[string]any{"External_Id__c": r.Key}, RemoteID: id}
	}
	gone := write(t, sf, []destination.Record{recs[0]})
	_ = gone
	stale := recs[4].RemoteID
	if errs := write(t, sf, []destination.Record{del(recs[4], "")}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	again := person(4)
	if errs := write(t, sf, []destination.Record{again}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	errs := write(t, sf, []destination.Record{del(recs[0], recs[0].RemoteID), del(recs[1], ""), del(again, stale), del(person(99), "")})
	for i, err := range errs {
		if err != nil {
			t.Errorf("delete %d: %v", i, err)
		}
	}
	got = contacts(srv)
	if len(got) != 2 || got["p2@example.com"] == nil || got["p3@example.com"] == nil {
		t.Errorf("contacts after deletes: %d, want p2 and p3", len(got))
	}
}

func TestSessionExpiredMidRun(t *testing.T) {
	srv := newFake(t, fake.Options{})
	sf := openSF(t, srv.URL, "", extSync)
	write(t, sf, people(3))
	srv.ExpireTokens()
	for i, err := range write(t, sf, people(6)) {
		if err != nil {
			t.Fatalf("record %d after the session expired: %v", i, err)
		}
	}
	if n := sf.auth.fetchCount(); n != 2 {
		t.Errorf("%d tokens fetched, want 2 (one re-authentication)", n)
	}
	if n := len(contacts(srv)); n != 6 {
		t.Errorf("%d contacts, want 6", n)
	}
}

func TestBadCredentials(t *testing.T) {
	srv := newFake(t, fake.Options{})
	d, err := openErr(t.TempDir(), srv.URL, "client_secret: not-it", extSync)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	err = d.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "refused the credentials (invalid_client") || strings.Contains(err.Error(), "not-it") {
		t.Fatalf("check with a wrong secret: %v", err)
	}
}

func TestLockedRowsRetried(t *testing.T) {
	for _, tc := range []struct {
		name     string
		locked   int
		rejected int
	}{
		{"unlocked on the second try", 3, 0},
		{"still locked after the tries", 1000, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newFake(t, fake.Options{})
			sf := openSF(t, srv.URL, "", extSync)
			srv.LockRows(tc.locked)
			errs := write(t, sf, people(4))
			n := 0
			for _, err := range errs {
				var ae *APIError
				if err != nil {
					if !errors.As(err, &ae) || ae.Code != codeLocked {
						t.Errorf("error %v, want %s", err, codeLocked)
					}
					n++
				}
			}
			if n != tc.rejected {
				t.Errorf("%d records rejected, want %d", n, tc.rejected)
			}
		})
	}
}

func TestJWTKeyFile(t *testing.T) {
	key, pemKey := rsaKey(t)
	srv := newFake(t, fake.Options{JWTPublicKey: &key.PublicKey, Username: "integration@example.com"})
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "keys", "sf.pem"), pemKey, 0o600); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "sf.pem")
	if err := os.WriteFile(outside, pemKey, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, extra, want string
	}{
		{"key file in the project", "private_key_file: keys/sf.pem", ""},
		{"key inline", fmt.Sprintf("private_key: %q", pemKey), ""},
		{"key file outside", fmt.Sprintf("private_key_file: %q", outside), "outside the project folder"},
		{"key file escaping", "private_key_file: ../sf.pem", "outside the project folder"},
		{"not PEM", "private_key: 'abc'", "not PEM"},
		{"wrong user", "private_key_file: keys/sf.pem, username: other@example.com", "user hasn't approved this consumer"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			extra := "auth: jwt, client_secret: '', " + tc.extra
			if !strings.Contains(tc.extra, "username") {
				extra += ", username: integration@example.com"
			}
			d, err := openErr(dir, srv.URL, extra, extSync)
			if err == nil {
				defer d.Close()
				err = d.Check(context.Background())
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("jwt: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("jwt: %v, want an error with %q", err, tc.want)
			}
		})
	}
}
