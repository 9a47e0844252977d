package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/sluicehq/sluice/connectors/internal/redact"
)

// maxInBytes bounds the escaped values of one SOQL IN list, so that the
// query's URL stays well under Salesforce's 16,384-character URI limit.
const maxInBytes = 12_000

// queryAnswer is a page of an SOQL query's answer.
type queryAnswer struct {
	TotalSize      int               `json:"totalSize"`
	Done           bool              `json:"done"`
	NextRecordsURL string            `json:"nextRecordsUrl"`
	Records        []json.RawMessage `json:"records"`
}

// query runs an SOQL query and hands every record to each, following
// nextRecordsUrl until done.
func (sf *Salesforce) query(ctx context.Context, soql string, each func(json.RawMessage) error) error {
	path := sf.apiPath("/query?q=" + url.QueryEscape(soql))
	for pages := 0; path != ""; pages++ {
		var ans queryAnswer
		if err := sf.call(ctx, http.MethodGet, path, nil, &ans); err != nil {
			return err
		}
		for _, r := range ans.Records {
			if err := each(r); err != nil {
				return err
			}
		}
		path = ""
		if !ans.Done && ans.NextRecordsURL != "" {
			if !strings.HasPrefix(ans.NextRecordsURL, "/services/data/") {
				return fmt.Errorf("reading an SOQL answer: unexpected nextRecordsUrl %q", ans.NextRecordsURL)
			}
			path = ans.NextRecordsURL
		}
	}
	return nil
}

// soqlString quotes a value as an SOQL string literal.
func soqlString(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return "'" + r.Replace(v) + "'"
}

// inChunks splits values into IN lists whose escaped size stays under
// maxInBytes (and at most 1,000 values).
func inChunks(values []string) [][]string {
	var out [][]string
	var cur []string
	size := 0
	for _, v := range values {
		n := len(url.QueryEscape(soqlString(v))) + 3
		if len(cur) > 0 && (size+n > maxInBytes || len(cur) >= 1000) {
			out = append(out, cur)
			cur, size = nil, 0
		}
		cur = append(cur, v)
		size += n
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

func inList(values []string) string {
	q := make([]string, len(values))
	for i, v := range values {
		q[i] = soqlString(v)
	}
	return "(" + strings.Join(q, ",") + ")"
}

// lookupIDs finds the ids of the records of object whose field has one of
// values, with SOQL IN lists; it returns id by value, for the values
// found. External ids match without regard to case unless the field is
// case-sensitive, so a value found in another case counts too.
func (sf *Salesforce) lookupIDs(ctx context.Context, object, field string, values []string) (map[string]string, error) {
	uniq := make([]string, 0, len(values))
	want := map[string][]string{} // lower-cased value: the values asked
	for _, v := range values {
		k := strings.ToLower(v)
		if _, ok := want[k]; !ok {
			uniq = append(uniq, v)
		}
		want[k] = append(want[k], v)
	}
	out := map[string]string{}
	for _, chunk := range inChunks(uniq) {
		soql := "SELECT Id, " + field + " FROM " + object + " WHERE " + field + " IN " + inList(chunk)
		err := sf.query(ctx, soql, func(raw json.RawMessage) error {
			var rec map[string]any
			if err := json.Unmarshal(raw, &rec); err != nil {
				return fmt.Errorf("reading an SOQL record: %w", err)
			}
			id, _ := rec["Id"].(string)
			got := fieldString(rec, field)
			for _, v := range want[strings.ToLower(got)] {
				if _, exact := out[v]; !exact || v == got {
					out[v] = id
				}
			}
			return nil
		})
		if err != nil {
			return nil, sf.fail("looking "+object+" records up by "+field, redactErr(err, chunk...))
		}
	}
	return out, nil
}

// fieldString reads a field of a query record, whatever its case.
func fieldString(rec map[string]any, field string) string {
	for k, v := range rec {
		if strings.EqualFold(k, field) {
			if s, ok := v.(string); ok {
				return s
			}
			if v != nil {
				return fmt.Sprint(v)
			}
		}
	}
	return ""
}

// redactErr masks values in an error's message (a transport error quotes
// the query's URL), keeping an *APIError's fields for the hints and any
// error that quotes none of them as it is.
func redactErr(err error, values ...string) error {
	if ae, ok := err.(*APIError); ok {
		c := *ae
		c.Message = redact.Message(c.Message, values...)
		return &c
	}
	msg := err.Error()
	r := msg
	for _, v := range values {
		if v != "" {
			// A query's URL holds them escaped for SOQL, then for the URL.
			lit := soqlString(v)
			r = strings.ReplaceAll(r, url.QueryEscape(lit[1:len(lit)-1]), "[key]")
			r = strings.ReplaceAll(r, url.QueryEscape(v), "[key]")
		}
	}
	if r = redact.Message(r, values...); r != msg {
		return errors.New(r)
	}
	return err
}
