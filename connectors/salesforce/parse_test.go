package salesforce

import (
	"errors"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

func TestParseUsage(t *testing.T) {
	for _, tc := range []struct {
		in          string
		used, limit int
		ok          bool
	}{
		{"api-usage=18/5000", 18, 5000, true},
		{"api-usage=25/5000, per-app-api-usage=17/250(appName=sample)", 25, 5000, true},
		{"per-app-api-usage=17/250(appName=sample), api-usage=7/100", 7, 100, true},
		{"api-usage=abc/5000", 0, 0, false},
		{"api-usage=5/0", 0, 0, false},
		{"", 0, 0, false},
	} {
		used, limit, ok := parseUsage(tc.in)
		if used != tc.used || limit != tc.limit || ok != tc.ok {
			t.Errorf("parseUsage(%q) = %d, %d, %v", tc.in, used, limit, ok)
		}
	}
}

func TestQuotaAllow(t *testing.T) {
	for _, tc := range []struct {
		reserve     string
		used, limit int
		allowed     int // requests allowed from there
	}{
		{"10%", 890, 1000, 10},
		{"10%", 900, 1000, 0},
		{"0", 95, 100, 5},
		{"50", 40, 100, 10},
	} {
		r, err := parseReserve(tc.reserve)
		if err != nil {
			t.Fatal(err)
		}
		q := &quota{reserve: r, name: "sf"}
		q.observe(map[string][]string{"Sforce-Limit-Info": {"api-usage=" + strconv.Itoa(tc.used) + "/" + strconv.Itoa(tc.limit)}})
		n := 0
		for q.allow() == nil {
			n++
			if n > tc.limit {
				break
			}
		}
		if n != tc.allowed {
			t.Errorf("reserve %s at %d/%d: %d requests allowed, want %d", tc.reserve, tc.used, tc.limit, n, tc.allowed)
		}
	}
}

func TestBulkError(t *testing.T) {
	for _, tc := range []struct {
		in, code, msg, fields string
	}{
		{"REQUIRED_FIELD_MISSING:Required fields are missing: [LastName]:LastName --", "REQUIRED_FIELD_MISSING", "Required fields are missing: [LastName]", "LastName"},
		{"DUPLICATE_EXTERNAL_ID:Duplicate external id specified: p1@example.com:--", "DUPLICATE_EXTERNAL_ID", "Duplicate external id specified: [key]", ""},
		{"INVALID_EMAIL_ADDRESS:Email: invalid email address: bob@@x.org:Email --", "INVALID_EMAIL_ADDRESS", "Email: invalid email address: [email]", "Email"},
		{"something odd", "BULK_ERROR", "something odd", ""},
	} {
		e := bulkError(tc.in, "p1@example.com")
		if e.Code != tc.code || e.Message != tc.msg || strings.Join(e.Fields, ",") != tc.fields {
			t.Errorf("bulkError(%q) = %q %q %v", tc.in, e.Code, e.Message, e.Fields)
		}
	}
}

func TestInChunks(t *testing.T) {
	var values []string
	for i := range 3000 {
		values = append(values, "person-"+strconv.Itoa(i)+"@example.com")
	}
	values = append(values, "o'brien\\x@example.com")
	chunks := inChunks(values)
	n := 0
	for _, c := range chunks {
		n += len(c)
		if l := len(url.QueryEscape(inList(c))); l > maxInBytes+100 {
			t.Errorf("an IN list of %d characters escaped", l)
		}
	}
	if n != len(values) || len(chunks) < 2 {
		t.Errorf("%d values in %d chunks, want %d", n, len(chunks), len(values))
	}
	if got := soqlString(`o'brien\x`); got != `'o\'brien\\x'` {
		t.Errorf("soqlString = %s", got)
	}
}

func TestRedactErr(t *testing.T) {
	values := []string{"ann@example.com", "o'neil@example.org"}
	soql := "SELECT Id FROM Contact WHERE X IN " + inList(values)
	for _, tc := range []struct {
		name string
		err  error
		keep error // returned as is
	}{
		{"transport error quoting the URL", errors.New(`Get "https://x.my.salesforce.com/services/data/v67.0/query?q=` + url.QueryEscape(soql) + `": connection reset`), nil},
		{"api error", &APIError{Status: 400, Code: "MALFORMED_QUERY", Message: "unexpected token: ann@example.com"}, nil},
		{"quota", &QuotaReserveError{Name: "sf", Used: 9, Limit: 10, Kept: 1}, &QuotaReserveError{}},
	} {
		got := redactErr(tc.err, values...)
		if strings.Contains(got.Error(), "ann") || strings.Contains(got.Error(), "neil") {
			t.Errorf("%s: %v", tc.name, got)
		}
		var qe *QuotaReserveError
		if tc.keep != nil && !errors.As(got, &qe) {
			t.Errorf("%s: %T lost", tc.name, got)
		}
	}
}
