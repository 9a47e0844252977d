package demodata_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/demodata"
)

var headers = map[string]string{
	"crm_contacts.csv": "contact_id,email,phone,first_name,last_name,country,email_consent,email_consent_at,sms_consent,sms_consent_at,created_at,updated_at",
	"web_events.csv":   "event_id,anonymous_id,user_id,email,event_type,page,occurred_at",
	"orders.csv":       "order_id,contact_id,email,phone,amount,currency,status,ordered_at",
}

// dataset is one generated directory, parsed back with encoding/csv.
type dataset struct {
	dir   string
	stats demodata.Stats
	raw   map[string][]byte
	rows  map[string][][]string // data rows, header excluded
	col   map[string]map[string]int
}

func generate(t testing.TB, opt demodata.Options) *dataset {
	t.Helper()
	dir := t.TempDir()
	st, err := demodata.Generate(dir, opt)
	if err != nil {
		t.Fatalf("Generate: %v", err)
	}
	ds := &dataset{dir: dir, stats: st, raw: map[string][]byte{}, rows: map[string][][]string{}, col: map[string]map[string]int{}}
	for name := range headers {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		ds.raw[name] = b
		// FieldsPerRecord 0: every record must have as many fields as the
		// header, which checks the column count of every row.
		recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(recs) == 0 {
			t.Fatalf("%s: empty", name)
		}
		ds.rows[name] = recs[1:]
		ds.col[name] = map[string]int{}
		for i, h := range recs[0] {
			ds.col[name][h] = i
		}
	}
	return ds
}

// values returns one column of a file.
func (d *dataset) values(file, column string) []string {
	i, ok := d.col[file][column]
	if !ok {
		panic("no column " + column + " in " + file)
	}
	out := make([]string, len(d.rows[file]))
	for k, r := range d.rows[file] {
		out[k] = r[i]
	}
	return out
}

func count(vals []string, pred func(string) bool) int {
	n := 0
	for _, v := range vals {
		if pred(v) {
			n++
		}
	}
	return n
}

func TestDeterminism(t *testing.T) {
	base := demodata.Options{Profiles: 1500, Seed: 42}
	a := generate(t, base)
	tests := []struct {
		name string
		opt  demodata.Options
		same bool
	}{
		{"same options", base, true},
		{"explicit default now", demodata.Options{Profiles: 1500, Seed: 42, Now: demodata.DefaultNow}, true},
		{"different seed", demodata.Options{Profiles: 1500, Seed: 43}, false},
		{"different now", demodata.Options{Profiles: 1500, Seed: 42, Now: demodata.DefaultNow.AddDate(0, 1, 0)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := generate(t, tt.opt)
			for name := range headers {
				if eq := bytes.Equal(a.raw[name], b.raw[name]); eq != tt.same {
					t.Errorf("%s: identical=%v, want %v", name, eq, tt.same)
				}
			}
		})
	}
}

// People are generated independently and IDs are sequential, so a smaller
// data set is a prefix of a larger one with the same seed.
func TestSmallerIsPrefix(t *testing.T) {
	small := generate(t, demodata.Options{Profiles: 300, Seed: 7})
	big := generate(t, demodata.Options{Profiles: 600, Seed: 7})
	for name := range headers {
		if !bytes.HasPrefix(big.raw[name], small.raw[name]) {
			t.Errorf("%s: 300-profile output is not a prefix of the 600-profile output", name)
		}
	}
}

func TestWriteToMatchesGenerate(t *testing.T) {
	opt := demodata.Options{Profiles: 800, Seed: 9}
	ds := generate(t, opt)
	bufs := map[string]*bytes.Buffer{}
	ws := map[string]io.Writer{}
	for name := range headers {
		bufs[name] = new(bytes.Buffer)
		ws[name] = bufs[name]
	}
	st, err := demodata.WriteTo(ws, opt)
	if err != nil {
		t.Fatal(err)
	}
	for name := range headers {
		if !bytes.Equal(bufs[name].Bytes(), ds.raw[name]) {
			t.Errorf("%s: WriteTo output differs from Generate", name)
		}
		if st.Files[name] != ds.stats.Files[name] {
			t.Errorf("%s: rows %d vs %d", name, st.Files[name], ds.stats.Files[name])
		}
	}
}

func TestFileStructure(t *testing.T) {
	ds := generate(t, demodata.Options{Profiles: 2000, Seed: 1})
	var total int64
	for name, header := range headers {
		t.Run(name, func(t *testing.T) {
			raw := ds.raw[name]
			total += int64(len(raw))
			if first, _, _ := bytes.Cut(raw, []byte("\n")); string(first) != header {
				t.Errorf("header = %q, want %q", first, header)
			}
			if got := ds.stats.Files[name]; got != int64(len(ds.rows[name])) || got == 0 {
				t.Errorf("Stats rows = %d, parsed %d", got, len(ds.rows[name]))
			}
			// Primary key: first column, unique and non-empty.
			seen := make(map[string]bool, len(ds.rows[name]))
			for _, r := range ds.rows[name] {
				if r[0] == "" || seen[r[0]] {
					t.Fatalf("primary key %q empty or duplicated", r[0])
				}
				seen[r[0]] = true
			}
			// Quoting must be exactly what encoding/csv produces.
			var buf bytes.Buffer
			w := csv.NewWriter(&buf)
			recs, _ := csv.NewReader(bytes.NewReader(raw)).ReadAll()
			if err := w.WriteAll(recs); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), raw) {
				t.Errorf("re-encoding with encoding/csv changes the file")
			}
		})
	}
	if total != ds.stats.Bytes {
		t.Errorf("Stats.Bytes = %d, files total %d", ds.stats.Bytes, total)
	}
	if len(ds.stats.Files) != 3 {
		t.Errorf("Stats.Files = %v", ds.stats.Files)
	}
}

func TestReferences(t *testing.T) {
	ds := generate(t, demodata.Options{Profiles: 2000, Seed: 2})
	ids := map[string]bool{}
	for _, id := range ds.values("crm_contacts.csv", "contact_id") {
		ids[id] = true
	}
	for _, ref := range []struct{ file, col string }{{"web_events.csv", "user_id"}, {"orders.csv", "contact_id"}} {
		for _, v := range ds.values(ref.file, ref.col) {
			if v != "" && !ids[v] {
				t.Fatalf("%s.%s = %s: no such contact", ref.file, ref.col, v)
			}
		}
	}
}

func TestMessIsPresent(t *testing.T) {
	ds := generate(t, demodata.Options{Profiles: 2000, Seed: 1})
	contactEmails := ds.values("crm_contacts.csv", "email")
	var allEmails []string
	allEmails = append(allEmails, contactEmails...)
	allEmails = append(allEmails, ds.values("web_events.csv", "email")...)
	allEmails = append(allEmails, ds.values("orders.csv", "email")...)
	var phones []string
	phones = append(phones, ds.values("crm_contacts.csv", "phone")...)
	phones = append(phones, ds.values("orders.csv", "phone")...)

	// Duplicate CRM records: same e-mail after lower-casing and trimming.
	byNorm := map[string]int{}
	for _, e := range contactEmails {
		n := strings.ToLower(strings.TrimSpace(e))
		if n != "" && n != "test@example.com" && n != "null" && n != "undefined" {
			byNorm[n]++
		}
	}
	dups := 0
	for _, c := range byNorm {
		if c > 1 {
			dups++
		}
	}
	anon := ds.values("web_events.csv", "anonymous_id")
	names := append(ds.values("crm_contacts.csv", "first_name"), ds.values("crm_contacts.csv", "last_name")...)

	tests := []struct {
		name string
		got  int
		min  int
	}{
		{"mixed-case e-mails", count(allEmails, func(s string) bool { return s != strings.ToLower(s) }), 50},
		{"shared junk test@example.com", count(allEmails, func(s string) bool { return s == "test@example.com" }), 5},
		{"null/undefined e-mails", count(allEmails, func(s string) bool { return s == "null" || s == "undefined" }), 2},
		{"e-mails with surrounding spaces", count(allEmails, func(s string) bool { return s != strings.TrimSpace(s) }), 10},
		{"blank CRM e-mails", count(contactEmails, func(s string) bool { return s == "" }), 10},
		{"CRM duplicates by normalised e-mail", dups, 40},
		{"international phones", count(phones, func(s string) bool { return strings.HasPrefix(s, "+") || strings.HasPrefix(s, "00") }), 100},
		{"national phones", count(phones, func(s string) bool { return s != "" && s[0] != '+' && !strings.HasPrefix(s, "00") }), 100},
		{"blank phones", count(phones, func(s string) bool { return s == "" }), 100},
		{"junk phones", count(phones, func(s string) bool { return s == "0000000000" }), 2},
		{"accented names", count(names, func(s string) bool { return strings.ContainsAny(s, "éèëüöäß") }), 20},
		{"names needing quotes", count(names, func(s string) bool { return strings.ContainsAny(s, `,"`) }), 5},
		{"shared junk anonymous ids", count(anon, func(s string) bool { return !strings.HasPrefix(s, "anon-") }), 5},
		{"guest orders", count(ds.values("orders.csv", "contact_id"), func(s string) bool { return s == "" }), 100},
		{"logged-in events", count(ds.values("web_events.csv", "user_id"), func(s string) bool { return s != "" }), 100},
		{"non-completed orders", count(ds.values("orders.csv", "status"), func(s string) bool { return s != "completed" }), 50},
	}
	for _, tt := range tests {
		if tt.got < tt.min {
			t.Errorf("%s: %d, want >= %d", tt.name, tt.got, tt.min)
		}
	}
}

// The rates are approximate by design; these bounds catch gross regressions.
func TestRatios(t *testing.T) {
	const n = 20000
	ds := generate(t, demodata.Options{Profiles: n, Seed: 5})
	orders := ds.values("orders.csv", "contact_id")
	statuses := ds.values("orders.csv", "status")
	events := ds.values("web_events.csv", "event_type")
	tests := []struct {
		name     string
		got      float64
		min, max float64
	}{
		{"CRM rows per person", float64(len(ds.rows["crm_contacts.csv"])) / n, 0.85, 0.93},
		{"events per person", float64(len(events)) / n, 2.4, 3.6},
		{"orders per person", float64(len(orders)) / n, 1.2, 2.2},
		{"orders with contact_id", float64(count(orders, func(s string) bool { return s != "" })) / float64(len(orders)), 0.6, 0.8},
		{"completed orders", float64(count(statuses, func(s string) bool { return s == "completed" })) / float64(len(statuses)), 0.86, 0.94},
		{"page views", float64(count(events, func(s string) bool { return s == "page_view" })) / float64(len(events)), 0.5, 0.75},
		{"FR contacts", float64(count(ds.values("crm_contacts.csv", "country"), func(s string) bool { return s == "FR" })) / float64(len(ds.rows["crm_contacts.csv"])), 0.40, 0.50},
	}
	for _, tt := range tests {
		if tt.got < tt.min || tt.got > tt.max {
			t.Errorf("%s = %.3f, want in [%.2f, %.2f]", tt.name, tt.got, tt.min, tt.max)
		}
	}
}

func TestTimestamps(t *testing.T) {
	now := demodata.DefaultNow
	ds := generate(t, demodata.Options{Profiles: 2000, Seed: 3})
	parse := func(file, col, v string) time.Time {
		ts, err := time.Parse(time.RFC3339, v)
		if err != nil {
			t.Fatalf("%s.%s: %v", file, col, err)
		}
		if !strings.HasSuffix(v, "Z") || !ts.Before(now) {
			t.Fatalf("%s.%s = %s: want UTC before %s", file, col, v, now)
		}
		return ts
	}
	c := ds.col["crm_contacts.csv"]
	for _, r := range ds.rows["crm_contacts.csv"] {
		created := parse("crm_contacts.csv", "created_at", r[c["created_at"]])
		updated := parse("crm_contacts.csv", "updated_at", r[c["updated_at"]])
		if updated.Before(created) {
			t.Fatalf("%s: updated_at %s < created_at %s", r[0], updated, created)
		}
		if created.Before(now.AddDate(-3, 0, -1)) {
			t.Fatalf("%s: created_at %s older than 3 years", r[0], created)
		}
		for _, k := range []string{"email_consent", "sms_consent"} {
			v, at := r[c[k]], r[c[k+"_at"]]
			switch {
			case v == "" && at == "":
			case (v == "true" || v == "false") && at != "":
				parse("crm_contacts.csv", k+"_at", at)
			default:
				t.Fatalf("%s: %s=%q %s_at=%q", r[0], k, v, k, at)
			}
		}
	}
	for _, f := range []struct{ file, col string }{{"web_events.csv", "occurred_at"}, {"orders.csv", "ordered_at"}} {
		for _, v := range ds.values(f.file, f.col) {
			if ts := parse(f.file, f.col, v); ts.Before(now.AddDate(-2, 0, -1)) {
				t.Fatalf("%s.%s = %s: older than 2 years", f.file, f.col, v)
			}
		}
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestErrors(t *testing.T) {
	ok := func() map[string]io.Writer {
		return map[string]io.Writer{"crm_contacts.csv": io.Discard, "web_events.csv": io.Discard, "orders.csv": io.Discard}
	}
	failing := ok()
	failing["orders.csv"] = failingWriter{}
	missing := ok()
	delete(missing, "web_events.csv")

	tests := []struct {
		name    string
		w       map[string]io.Writer
		opt     demodata.Options
		invalid bool // wraps ErrInvalidOptions
		msg     string
	}{
		{"zero profiles", ok(), demodata.Options{}, true, "Profiles"},
		{"negative profiles", ok(), demodata.Options{Profiles: -1}, true, "Profiles"},
		{"missing writer", missing, demodata.Options{Profiles: 10}, true, "web_events.csv"},
		{"write failure", failing, demodata.Options{Profiles: 10}, false, "disk full"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := demodata.WriteTo(tt.w, tt.opt)
			if err == nil || !strings.Contains(err.Error(), tt.msg) || errors.Is(err, demodata.ErrInvalidOptions) != tt.invalid {
				t.Errorf("err = %v, want mention of %q (invalid=%v)", err, tt.msg, tt.invalid)
			}
		})
	}

	// Generate into a path under a regular file cannot create the directory.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := demodata.Generate(filepath.Join(file, "sub"), demodata.Options{Profiles: 1}); err == nil {
		t.Error("Generate under a regular file: want error")
	}
}

func BenchmarkGenerate(b *testing.B) {
	const profiles = 100000
	dir := b.TempDir()
	var st demodata.Stats
	for b.Loop() {
		var err error
		if st, err = demodata.Generate(dir, demodata.Options{Profiles: profiles, Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
	b.SetBytes(st.Bytes)
	b.ReportMetric(float64(profiles)*float64(b.N)/b.Elapsed().Seconds(), "profiles/s")
}
