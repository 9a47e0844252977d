package fake_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/sluicehq/sluice/connectors/brevo/fake"
	"github.com/sluicehq/sluice/connectors/internal/apispec"
)

func TestCheckBatchAnswer(t *testing.T) {
	for _, tc := range []struct {
		v  string
		ok bool
	}{
		{"", true},
		{fake.BatchObserved, true},
		{fake.BatchDocumented, true},
		{"207", false},
		{"Documented", false},
	} {
		if err := fake.CheckBatchAnswer(tc.v); (err == nil) != tc.ok {
			t.Errorf("CheckBatchAnswer(%q) = %v, want ok %v", tc.v, err, tc.ok)
		}
	}
}

// post sends a /contacts/batch request and returns the status and body.
func post(t *testing.T, srv *fake.Server, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, srv.URL+"/contacts/batch", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("api-key", "k")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// TestBatchAnswers sends the same request (a known contact, an unknown one,
// a refused one, a second known one) to both answers.
func TestBatchAnswers(t *testing.T) {
	const req = `{"contacts":[{"email":"a@example.com","attributes":{"N":1}},{"email":"new@example.com"},` +
		`{"email":"bad@example.com","attributes":{"N":1}},{"sms":"+33612345678","attributes":{"N":1}}]}`
	for _, tc := range []struct {
		answer     string
		status     int
		body       string // substring
		wantN      []bool // a, bad, sms updated
		moreStatus int    // with the unknown and the refused contacts left out
	}{
		{"", http.StatusNotFound, `No contact found for indexes 1`, []bool{false, false, false}, http.StatusBadRequest},
		{fake.BatchObserved, http.StatusNotFound, `No contact found for indexes 1`, []bool{false, false, false}, http.StatusBadRequest},
		{fake.BatchDocumented, http.StatusMultiStatus, `{"failureIds":[1,2],"successIds":[0,3]}`, []bool{true, false, true}, http.StatusMultiStatus},
	} {
		t.Run("answer "+tc.answer, func(t *testing.T) {
			srv := fake.New(t, fake.Options{APIKey: "k", BatchAnswer: tc.answer})
			srv.Put(fake.Contact{Email: "a@example.com"})
			srv.Put(fake.Contact{Email: "bad@example.com"})
			srv.Put(fake.Contact{Attributes: map[string]any{"SMS": "+33612345678"}})
			srv.Reject("refused for the test", "bad@example.com")
			status, body := post(t, srv, req)
			if status != tc.status || !bytes.Contains(body, []byte(tc.body)) {
				t.Errorf("HTTP %d %s, want %d with %s", status, body, tc.status, tc.body)
			}
			for i, who := range []string{"a@example.com", "bad@example.com", "+33612345678"} {
				c, _ := srv.Find(who)
				if got := c.Attributes["N"] != nil; got != tc.wantN[i] {
					t.Errorf("contact %d updated: %v, want %v", i, got, tc.wantN[i])
				}
			}
			if _, ok := srv.Find("new@example.com"); ok {
				t.Error("/contacts/batch created a contact")
			}
			if status, _ := post(t, srv, `{"contacts":[{"email":"a@example.com"},{"email":"bad@example.com"}]}`); status != tc.moreStatus {
				t.Errorf("a refused contact: HTTP %d, want %d", status, tc.moreStatus)
			}
			if status, _ := post(t, srv, `{"contacts":[{"email":"a@example.com","sms":"+33612345678"}]}`); status != http.StatusBadRequest {
				t.Errorf("two identifiers: HTTP %d, want 400 whatever the answer", status)
			}
		})
	}
}

// TestDocumentedAnswerMatchesSpec checks the 207 body against the model
// Brevo's spec gives it (updateBatchContactsModel: successIds and
// failureIds, arrays of int64), when the spec is there.
func TestDocumentedAnswerMatchesSpec(t *testing.T) {
	dir := apispec.Dir()
	if dir == "" {
		t.Skip("vendor specs folder not found")
	}
	raw, err := os.ReadFile(filepath.Join(dir, "brevo-swagger-v3.yaml"))
	if err != nil {
		t.Skipf("Brevo spec: %v", err)
	}
	var spec struct {
		Definitions map[string]struct {
			Properties map[string]struct {
				Type  string `yaml:"type"`
				Items struct {
					Type string `yaml:"type"`
				} `yaml:"items"`
			} `yaml:"properties"`
		} `yaml:"definitions"`
	}
	if err := yaml.Unmarshal(raw, &spec); err != nil {
		t.Fatal(err)
	}
	model, ok := spec.Definitions["updateBatchContactsModel"]
	if !ok {
		t.Fatal("the spec has no updateBatchContactsModel")
	}
	srv := fake.New(t, fake.Options{APIKey: "k", BatchAnswer: fake.BatchDocumented})
	status, body := post(t, srv, `{"contacts":[{"email":"nobody@example.com"}]}`)
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil || status != http.StatusMultiStatus {
		t.Fatalf("HTTP %d %s: %v", status, body, err)
	}
	keys := make([]string, 0, len(got))
	for k := range got {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	want := make([]string, 0, len(model.Properties))
	for k, p := range model.Properties {
		want = append(want, k)
		if p.Type != "array" || p.Items.Type != "integer" {
			t.Errorf("spec: %s is %s of %s, the fake answers arrays of integers", k, p.Type, p.Items.Type)
		}
		for _, v := range got[k].([]any) {
			if f, ok := v.(float64); !ok || f != float64(int64(f)) {
				t.Errorf("%s holds %v, not an integer", k, v)
			}
		}
	}
	slices.Sort(want)
	if !slices.Equal(keys, want) {
		t.Errorf("207 body has %v, the spec's model %v", keys, want)
	}
}

func TestHandlerRefusesAnUnknownAnswer(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("Handler accepted BatchAnswer \"207\"")
		}
	}()
	fake.Handler(fake.Options{APIKey: "k", BatchAnswer: "207"})
}
