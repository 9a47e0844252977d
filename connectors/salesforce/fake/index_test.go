package fake

import (
	"encoding/csv"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// checkIndex rebuilds every index from the live records and compares it
// with the one the fake kept up to date.
func checkIndex(t *testing.T, s *Server) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for name, tbl := range s.records {
		want := map[string]map[string][]*record{}
		o := s.object(name)
		for _, r := range s.live(o) {
			for i := range o.Fields {
				f := &o.Fields[i]
				if v := r.fields[f.Name]; v != nil && indexed(f) {
					if want[f.Name] == nil {
						want[f.Name] = map[string][]*record{}
					}
					want[f.Name][foldKey(f, v)] = append(want[f.Name][foldKey(f, v)], r)
				}
			}
		}
		for _, field := range slices.Sorted(maps.Keys(want)) {
			for k, rs := range want[field] {
				got := creationOrder(slices.Clone(tbl.idx[field][k]))
				if !slices.Equal(got, rs) {
					t.Errorf("%s.%s index of %q: %d records, want %d", name, field, k, len(got), len(rs))
				}
			}
		}
		for field, byKey := range tbl.idx {
			for k, rs := range byKey {
				if len(want[field][k]) == 0 && len(rs) > 0 {
					t.Errorf("%s.%s index of %q holds %d records no live record has", name, field, k, len(rs))
				}
			}
		}
	}
}

// keyObject has a case-insensitive key (the default) and a case-sensitive
// unique code, to see both matching rules through the index.
var keyObject = Object{Name: "Key__c", Fields: []Field{
	ExternalIDField("Ext__c"),
	{Name: "Code__c", Type: "string", Length: 20, ExternalID: true, IDLookup: true, Unique: true, CaseSensitive: true},
	{Name: "Name__c", Type: "string", Length: 40},
}}

func keyRec(fields ...string) map[string]any {
	r := map[string]any{"attributes": map[string]any{"type": "Key__c"}}
	for i := 0; i+1 < len(fields); i += 2 {
		r[fields[i]] = fields[i+1]
	}
	return r
}

func TestUpsertMatchesThroughTheIndex(t *testing.T) {
	type call struct {
		field     string
		allOrNone bool
		recs      []map[string]any
		want      []string // per record: "created", "updated" or an error code
	}
	cases := []struct {
		name  string
		calls []call
		live  int
	}{
		{"case-insensitive external id updates", []call{
			{"Ext__c", false, []map[string]any{keyRec("Ext__c", "k1", "Code__c", "a")}, []string{"created"}},
			{"Ext__c", false, []map[string]any{keyRec("Ext__c", "K1", "Name__c", "n")}, []string{"updated"}},
		}, 1},
		{"case-sensitive field keeps both cases", []call{
			{"Code__c", false, []map[string]any{keyRec("Code__c", "abc"), keyRec("Code__c", "ABC")}, []string{"created", "created"}},
			{"Code__c", false, []map[string]any{keyRec("Code__c", "ABC", "Name__c", "n")}, []string{"updated"}},
		}, 2},
		{"unique value taken by another record", []call{
			{"Ext__c", false, []map[string]any{keyRec("Ext__c", "k1", "Code__c", "c1"), keyRec("Ext__c", "k2", "Code__c", "c2")}, []string{"created", "created"}},
			{"Ext__c", false, []map[string]any{keyRec("Ext__c", "k2", "Code__c", "c1")}, []string{"DUPLICATE_VALUE"}},
			{"Ext__c", false, []map[string]any{keyRec("Ext__c", "k1", "Code__c", "c3"), keyRec("Ext__c", "k2", "Code__c", "c1")}, []string{"updated", "updated"}},
		}, 2},
		{"allOrNone rolls the index back", []call{
			{"Ext__c", false, []map[string]any{keyRec("Ext__c", "k1", "Code__c", "c1")}, []string{"created"}},
			{"Ext__c", true, []map[string]any{keyRec("Ext__c", "k1", "Code__c", "c9"), keyRec("Ext__c", "k2", "Code__c", "c2"), keyRec("Ext__c", "k3", "Code__c", strings.Repeat("x", 21))},
				[]string{"ALL_OR_NONE_OPERATION_ROLLED_BACK", "ALL_OR_NONE_OPERATION_ROLLED_BACK", "STRING_TOO_LONG"}},
			// c1 is k1's again and c9 free; k2 was never created.
			{"Code__c", false, []map[string]any{keyRec("Code__c", "c1", "Name__c", "n"), keyRec("Code__c", "c9", "Ext__c", "k9")}, []string{"updated", "created"}},
			{"Ext__c", false, []map[string]any{keyRec("Ext__c", "k2")}, []string{"created"}},
		}, 3},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, Options{Objects: []Object{keyObject}})
			tok := login(t, s)
			for n, c := range tc.calls {
				a := do(t, s, tok, "PATCH", v+"/composite/sobjects/Key__c/"+c.field, map[string]any{"allOrNone": c.allOrNone, "records": c.recs})
				if a.status != 200 || len(a.arr) != len(c.want) {
					t.Fatalf("call %d: %d %s", n, a.status, a.raw)
				}
				for i, w := range c.want {
					res := a.arr[i].(map[string]any)
					got := "updated"
					switch {
					case res["success"] != true:
						got = res["errors"].([]any)[0].(map[string]any)["statusCode"].(string)
					case res["created"] == true:
						got = "created"
					}
					if got != w {
						t.Errorf("call %d record %d: %s, want %s (%s)", n, i, got, w, a.raw)
					}
				}
				checkIndex(t, s)
			}
			if got := len(s.Records("Key__c")); got != tc.live {
				t.Errorf("%d records, want %d", got, tc.live)
			}
		})
	}
}

// TestIndexFollowsDeletesAndMembers deletes people with campaign members
// and checks that index lookups (upserts, member checks, queries) no
// longer find them.
func TestIndexFollowsDeletesAndMembers(t *testing.T) {
	s := newServer(t, Options{})
	tok := login(t, s)
	do(t, s, tok, "PATCH", v+"/composite/sobjects/Contact/External_Id__c", map[string]any{"records": contacts(3)})
	camp, err := s.Seed("Campaign", map[string]any{"Name": "Spring"})
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	for _, r := range s.Records("Contact") {
		ids = append(ids, r["Id"].(string))
	}
	a := do(t, s, tok, "POST", v+"/composite/sobjects", map[string]any{"records": []any{member(camp, ids[0]), member(camp, ids[1]), member(camp, ids[0][:15])}})
	if a.status != 200 || a.arr[2].(map[string]any)["success"] != false {
		t.Fatalf("members: %d %s", a.status, a.raw)
	}
	checkIndex(t, s)
	if a := do(t, s, tok, "DELETE", v+"/composite/sobjects?ids="+ids[0], nil); a.status != 200 {
		t.Fatalf("delete: %s", a.raw)
	}
	checkIndex(t, s)
	if n := len(s.Records("CampaignMember")); n != 1 {
		t.Fatalf("%d members after deleting a member's contact, want 1", n)
	}
	a = do(t, s, tok, "PATCH", v+"/composite/sobjects/Contact/External_Id__c", map[string]any{"records": []any{contact("K0", "L", "")}})
	if res := a.arr[0].(map[string]any); res["created"] != true || res["id"] == ids[0] {
		t.Fatalf("upsert of a deleted contact's key: %s", a.raw)
	}
	checkIndex(t, s)
	q := do(t, s, tok, "GET", v+"/query?q="+url.QueryEscape("SELECT Id FROM CampaignMember WHERE ContactId IN ('"+ids[0]+"','"+ids[1][:15]+"')"), nil)
	if q.obj["totalSize"] != float64(1) {
		t.Fatalf("members of the deleted and the live contact: %s", q.raw)
	}
}

// TestQueriesUseTheIndex checks the records an SOQL lookup by key reads:
// those of the keys, not the whole object, with the same answers a scan
// gives.
func TestQueriesUseTheIndex(t *testing.T) {
	s := newServer(t, Options{})
	tok := login(t, s)
	for i := 0; i < 5; i++ {
		recs := contacts(200)
		for j, r := range recs {
			r["External_Id__c"] = fmt.Sprintf("k%d", i*200+j)
		}
		do(t, s, tok, "PATCH", v+"/composite/sobjects/Contact/External_Id__c", map[string]any{"records": recs})
	}
	all := s.Records("Contact")
	o := s.object("Contact")
	cases := []struct {
		name   string
		soql   string
		reads  int // candidates read
		answer int
	}{
		{"external ids, any case", "SELECT Id FROM Contact WHERE External_Id__c IN ('k1','K2','k999','nope')", 3, 3},
		{"ids in both forms", fmt.Sprintf("SELECT Id FROM Contact WHERE Id IN ('%s','%s')", all[0]["Id"], all[1]["Id"].(string)[:15]), 2, 2},
		{"email, another key", "SELECT Id FROM Contact WHERE Email = 'P3@example.com' AND LastName = 'L3'", 5, 5},
		{"negation scans", "SELECT Id FROM Contact WHERE External_Id__c != 'k1'", 1000, 999},
		{"null scans", "SELECT Id FROM Contact WHERE External_Id__c = null", 1000, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			parsed, err := parseSOQL(tc.soql)
			if err != nil {
				t.Fatal(err)
			}
			s.mu.Lock()
			reads := len(s.candidates(o, parsed.conds))
			s.mu.Unlock()
			if reads != tc.reads {
				t.Errorf("read %d records, want %d", reads, tc.reads)
			}
			a := do(t, s, tok, "GET", v+"/query?q="+url.QueryEscape(tc.soql), nil)
			if a.status != 200 || a.obj["totalSize"] != float64(tc.answer) {
				t.Fatalf("%d %v, want %d", a.status, a.obj["totalSize"], tc.answer)
			}
		})
	}
}

// TestBulkUpsertThroughTheIndex runs a job that updates in another case,
// creates and repeats keys, then checks the org and the index.
func TestBulkUpsertThroughTheIndex(t *testing.T) {
	s := newServer(t, Options{})
	tok := login(t, s)
	var in strings.Builder
	in.WriteString("External_Id__c,LastName\n")
	for i := range 1000 {
		fmt.Fprintf(&in, "k%d,L%d\n", i, i)
	}
	bulkJob(t, s, tok, "Contact", in.String())
	info, ok, failed := bulkJob(t, s, tok, "Contact", "External_Id__c,LastName\nK5,Five\nk1000,New\nk7,A\nK7,B\n")
	if info["numberRecordsProcessed"] != float64(4) || len(ok) != 3 || len(failed) != 3 {
		t.Fatalf("job %v: %d successful, %d failed", info, len(ok)-1, len(failed)-1)
	}
	created := map[string]string{}
	for _, row := range ok[1:] {
		created[row[2]] = row[1]
	}
	if created["K5"] != "false" || created["k1000"] != "true" {
		t.Fatalf("successful rows %v", ok)
	}
	if n := len(s.Records("Contact")); n != 1001 {
		t.Fatalf("%d contacts, want 1001", n)
	}
	checkIndex(t, s)
}

// TestResultPaths reads each result set with and without the trailing
// slash the guide shows.
func TestResultPaths(t *testing.T) {
	s := newServer(t, Options{})
	tok := login(t, s)
	info, _, _ := bulkJob(t, s, tok, "Contact", "External_Id__c,LastName\nk1,A\nk2,\n")
	id := info["id"].(string)
	cases := []struct {
		set    string
		header string
		rows   int
	}{
		{"successfulResults", "sf__Id,sf__Created,External_Id__c,LastName", 1},
		{"failedResults", "sf__Id,sf__Error,External_Id__c,LastName", 1},
		{"unprocessedrecords", "External_Id__c,LastName", 0},
	}
	for _, tc := range cases {
		for _, slash := range []string{"", "/"} {
			t.Run(tc.set+slash, func(t *testing.T) {
				a := do(t, s, tok, "GET", v+"/jobs/ingest/"+id+"/"+tc.set+slash, nil)
				rows, err := csv.NewReader(strings.NewReader(a.raw)).ReadAll()
				if a.status != 200 || err != nil || len(rows) != tc.rows+1 || strings.Join(rows[0], ",") != tc.header {
					t.Fatalf("%d %v %q", a.status, err, a.raw)
				}
			})
		}
	}
}

func TestRejectionMessages(t *testing.T) {
	cases := []struct {
		name string
		set  func(s *Server)
		want map[string]string // key: message, "" for success
	}{
		{"default message", func(s *Server) { s.RejectExternalIDs("k1") }, map[string]string{"k0": "", "k1": DefaultRejection}},
		{"the rule's message", func(s *Server) { s.RejectExternalIDsWith("Email must be a work address", "k0", "k1") },
			map[string]string{"k0": "Email must be a work address", "k1": "Email must be a work address"}},
		{"empty message is the default", func(s *Server) { s.RejectExternalIDsWith("", "k0") }, map[string]string{"k0": DefaultRejection, "k1": ""}},
		{"cleared", func(s *Server) { s.RejectExternalIDsWith("x", "k0"); s.RejectExternalIDs() }, map[string]string{"k0": "", "k1": ""}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, Options{})
			tok := login(t, s)
			tc.set(s)
			a := do(t, s, tok, "PATCH", v+"/composite/sobjects/Contact/External_Id__c", map[string]any{"records": contacts(2)})
			for i, res := range a.arr {
				res := res.(map[string]any)
				got := ""
				if errs, _ := res["errors"].([]any); len(errs) > 0 {
					e := errs[0].(map[string]any)
					got = e["message"].(string)
					if e["statusCode"] != "FIELD_CUSTOM_VALIDATION_EXCEPTION" {
						t.Errorf("code %v", e["statusCode"])
					}
				}
				if want := tc.want[fmt.Sprint("k", i)]; got != want {
					t.Errorf("k%d: %q, want %q", i, got, want)
				}
			}
		})
	}
}

func TestDefaultVersions(t *testing.T) {
	cases := []struct {
		name string
		opts Options
		path string
		want int
	}{
		{"the destination's default version", Options{}, "/services/data/v67.0/limits", 200},
		{"the oldest", Options{}, "/services/data/v46.0/limits", 200},
		{"past the newest", Options{}, "/services/data/v68.0/limits", 404},
		{"knob lowers it", Options{MaxVersion: 62}, "/services/data/v67.0/limits", 404},
		{"knob raises it", Options{MaxVersion: 70}, "/services/data/v70.0/limits", 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, tc.opts)
			if a := do(t, s, login(t, s), "GET", tc.path, nil); a.status != tc.want {
				t.Fatalf("%d, want %d: %s", a.status, tc.want, a.raw)
			}
		})
	}
}

// TestBulkAbortWhileProcessing aborts a job as soon as its upload is
// complete: whatever the processing reached, every row is in exactly one
// result set and the org holds the successful ones.
func TestBulkAbortWhileProcessing(t *testing.T) {
	for _, n := range []int{10, 5000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			s := newServer(t, Options{})
			tok := login(t, s)
			id := do(t, s, tok, "POST", v+"/jobs/ingest", map[string]any{"object": "Contact", "externalIdFieldName": "External_Id__c", "operation": "upsert"}).obj["id"].(string)
			var in strings.Builder
			in.WriteString("External_Id__c,LastName\n")
			for i := range n {
				fmt.Fprintf(&in, "k%d,L\n", i)
			}
			send(t, s, tok, "PUT", v+"/jobs/ingest/"+id+"/batches", "text/csv", []byte(in.String()))
			do(t, s, tok, "PATCH", v+"/jobs/ingest/"+id, map[string]any{"state": "UploadComplete"})
			if a := do(t, s, tok, "PATCH", v+"/jobs/ingest/"+id, map[string]any{"state": "Aborted"}); a.obj["state"] != "Aborted" {
				t.Fatalf("abort: %s", a.raw)
			}
			keys := map[string]int{}
			for _, set := range []string{"successfulResults", "failedResults", "unprocessedrecords"} {
				a := do(t, s, tok, "GET", v+"/jobs/ingest/"+id+"/"+set, nil)
				rows, err := csv.NewReader(strings.NewReader(a.raw)).ReadAll()
				if err != nil || len(rows) == 0 {
					t.Fatalf("%s: %v %q", set, err, a.raw)
				}
				col := slices.Index(rows[0], "External_Id__c")
				for _, r := range rows[1:] {
					keys[r[col]]++
				}
				if set == "successfulResults" && len(rows)-1 != len(s.Records("Contact")) {
					t.Errorf("%d successful rows, %d contacts", len(rows)-1, len(s.Records("Contact")))
				}
			}
			if len(keys) != n {
				t.Fatalf("%d rows in the result sets, want %d", len(keys), n)
			}
			for k, c := range keys {
				if c != 1 {
					t.Fatalf("%s in %d result sets", k, c)
				}
			}
			checkIndex(t, s)
		})
	}
}
