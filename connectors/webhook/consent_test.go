package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sluicehq/sluice/connectors/destination"
)

// Per-purpose consent travels as each operation's consent object, encoded
// as encoding/json would, and is left out for records without it.
func TestConsentObject(t *testing.T) {
	yes, no := true, false
	cases := []struct {
		name    string
		consent map[string]*bool
		want    string // the operation's JSON
	}{
		{"no consent", nil, `{"op":"upsert","key":"a","fields":{"email":"a"}}`},
		{"empty", map[string]*bool{}, `{"op":"upsert","key":"a","fields":{"email":"a"}}`},
		{"purposes sorted, null unspecified", map[string]*bool{"sms": nil, "email": &yes, "ads_user_data": &no, "<x>": &yes},
			`{"op":"upsert","key":"a","fields":{"email":"a"},"consent":{"\u003cx\u003e":true,"ads_user_data":false,"email":true,"sms":null}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []byte
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				got, _ = io.ReadAll(r.Body)
			}))
			defer srv.Close()
			opts, err := destination.ParseOptions(Spec, "{url: '"+srv.URL+"', rate: 1000}")
			if err != nil {
				t.Fatal(err)
			}
			d, err := Open(context.Background(), destination.Config{Name: "hook", Type: "webhook", Options: opts, Sync: destination.SyncInfo{Name: "s", Mode: "upsert"}})
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			rec := destination.Record{Op: destination.OpUpsert, Key: "a", Fields: map[string]any{"email": "a"}, Consent: c.consent}
			if _, err := d.Write(context.Background(), &destination.Batch{Sync: "s", RunID: "r", Records: []destination.Record{rec}}); err != nil {
				t.Fatal(err)
			}
			var p struct{ Operations []json.RawMessage }
			if err := json.Unmarshal(got, &p); err != nil || len(p.Operations) != 1 {
				t.Fatalf("body %s: %v", got, err)
			}
			if string(p.Operations[0]) != c.want {
				t.Errorf("operation %s\nwant      %s", p.Operations[0], c.want)
			}
			op := Operation{Op: "upsert", Key: "a", Fields: rec.Fields, Consent: c.consent}
			want, _ := json.Marshal(&Payload{Operations: []Operation{op}})
			if enc, err := appendPayload(nil, &Payload{Operations: []Operation{op}}); err != nil || !bytes.Equal(enc, want) {
				t.Errorf("appendPayload = %s (%v), json.Marshal = %s", enc, err, want)
			}
		})
	}
}
