package meta

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/connectors/destination"
	"github.com/sluicehq/sluice/connectors/meta/fake"
)

// TestOpenRefuses: what cannot work is refused when the destination
// opens, with what to do instead.
func TestOpenRefuses(t *testing.T) {
	base := "{access_token: t, ad_account_id: act_1, customer_file_source: USER_PROVIDED_ONLY"
	sync := destination.SyncInfo{Name: "vip", Mode: "mirror", Key: "email", Fields: []string{"email", "phone"}}
	cases := []struct {
		name, opts string
		sync       func(s *destination.SyncInfo)
		want       string
	}{
		{"unknown field", "", func(s *destination.SyncInfo) { s.Fields = append(s.Fields, "ltv") }, "ltv are not match keys Meta takes: map identifiers to email, phone"},
		{"nested field", "", func(s *destination.SyncInfo) { s.Fields = append(s.Fields, "properties.ltv") }, "properties.ltv"},
		{"key not a match key", "", func(s *destination.SyncInfo) { s.Key = "profile_id" }, `key "profile_id" is not a mapped match key`},
		{"no match key", "", func(s *destination.SyncInfo) { s.Fields = nil }, "no match key"},
		{"mode update", "", func(s *destination.SyncInfo) { s.Mode = "update" }, "mode update does not suit an audience"},
		{"replace without mirror", ", replace: true", func(s *destination.SyncInfo) { s.Mode = "upsert" }, "replace needs mode mirror"},
		{"account id", ", ad_account_id: 12x", nil, "ad_account_id must be act_"},
		{"batch size", ", batch_size: 10001", nil, "batch_size must be between 1 and 10000"},
		{"source", ", customer_file_source: CRM", nil, "customer_file_source must be one of"},
		{"version", ", api_version: latest", nil, "api_version must be"},
		{"base url", ", base_url: graph.facebook.com", nil, "base_url must be"},
		{"phone region", ", phone_region: FRA", nil, "phone_region must be"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := sync
			s.Fields = append([]string(nil), sync.Fields...)
			if c.sync != nil {
				c.sync(&s)
			}
			// A later key wins in a YAML mapping: the case's options
			// override the base.
			_, _, _, err := openWith(base+c.opts+"}", s)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

// TestCheck: the token must read the ad account; the audience must exist
// or be creatable; check creates nothing.
func TestCheck(t *testing.T) {
	ctx := context.Background()
	t.Run("bad token", func(t *testing.T) {
		e := newEnv(t, fake.Options{})
		d, _, _, err := openWith("{access_token: wrong, ad_account_id: act_"+account+", customer_file_source: USER_PROVIDED_ONLY, audience: VIP, base_url: "+e.url+"}",
			destination.SyncInfo{Name: "vip", Key: "email", Fields: []string{"email"}})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		err = d.Check(ctx)
		var ge *GraphError
		if !errors.As(err, &ge) || ge.Code != 190 || !strings.Contains(err.Error(), "access token was refused") {
			t.Errorf("got %v", err)
		}
		if strings.Contains(err.Error(), "wrong") {
			t.Error("the message quotes the token")
		}
	})
	t.Run("unknown ad account", func(t *testing.T) {
		e := newEnv(t, fake.Options{})
		d, _, _, err := openWith("{access_token: "+token+", ad_account_id: act_999, customer_file_source: USER_PROVIDED_ONLY, audience: VIP, base_url: "+e.url+"}",
			destination.SyncInfo{Name: "vip", Key: "email", Fields: []string{"email"}})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if err := d.Check(ctx); err == nil || !strings.Contains(err.Error(), "check ad_account_id") {
			t.Errorf("got %v", err)
		}
	})
	t.Run("missing audience", func(t *testing.T) {
		e := newEnv(t, fake.Options{})
		m, _, _ := e.open(t, "create_audiences: false", "email")
		if err := m.Check(ctx); err == nil || !strings.Contains(err.Error(), `no audience named "VIP"`) || !strings.Contains(err.Error(), "create_audiences: true") {
			t.Errorf("got %v", err)
		}
		_, err := m.Write(ctx, &destination.Batch{Records: []destination.Record{add(map[string]any{"email": "a@example.com"})}})
		if err == nil || !errors.Is(err, errNoAudience) {
			t.Errorf("a write without the audience must stop the run, got %v", err)
		}
	})
	t.Run("creatable audience", func(t *testing.T) {
		e := newEnv(t, fake.Options{})
		m, _, _ := e.open(t, "", "email")
		if err := m.Check(ctx); err != nil {
			t.Fatal(err)
		}
		if st := e.srv.Stats(); st.Audiences != 0 {
			t.Fatal("check created an audience")
		}
		write(t, m, add(map[string]any{"email": "a@example.com"}))
		a, ok := e.srv.AudienceByName("VIP")
		if !ok || a.Subtype != "CUSTOM" || a.CustomerFileSource != "USER_PROVIDED_ONLY" || len(a.Members) != 1 {
			t.Errorf("created audience %+v", a)
		}
	})
	t.Run("audience by name past the first page, and by id", func(t *testing.T) {
		e := newEnv(t, fake.Options{})
		for i := range 1203 {
			e.srv.CreateAudience(fmt.Sprintf("A%d", i))
		}
		id := e.srv.CreateAudience("VIP")
		m, _, _ := e.open(t, "create_audiences: false", "email")
		if got, err := m.audience(ctx, false); err != nil || got != id {
			t.Errorf("by name: %q, %v; want %s", got, err, id)
		}
		byID, _, _ := e.open(t, "audience: \""+id+"\", create_audiences: false", "email")
		if err := byID.Check(ctx); err != nil {
			t.Errorf("by id: %v", err)
		}
		ghost, _, _ := e.open(t, "audience: \"999\", create_audiences: true", "email")
		if err := ghost.Check(ctx); err == nil || !errors.Is(err, errNoAudience) {
			t.Errorf("an unknown id is never created: %v", err)
		}
	})
	t.Run("two audiences of one name", func(t *testing.T) {
		e := newEnv(t, fake.Options{})
		e.srv.CreateAudience("VIP")
		e.srv.CreateAudience("VIP")
		m, _, _ := e.open(t, "", "email")
		if err := m.Check(ctx); err == nil || !strings.Contains(err.Error(), "name the one to use by id") {
			t.Errorf("got %v", err)
		}
	})
}

// TestErase: keys are hashed as the sync sent them and removed; a key
// never held, or one with nothing usable, is not an error; an audience
// that does not exist holds nobody; a persistent failure leaves every
// key pending.
func TestErase(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, fake.Options{})
	m, _, _ := e.open(t, "", "email", "phone")
	out, err := m.Erase(ctx, &destination.Erasure{RequestID: "r0", Keys: []string{"a@example.com"}})
	if err != nil || len(out) != 1 || out[0].Err != nil || e.srv.Stats().Audiences != 0 {
		t.Fatalf("erasing from an audience that does not exist: %+v, %v (and nothing is created)", out, err)
	}
	write(t, m, add(map[string]any{"email": "a@example.com", "phone": "+33612345678"}), add(map[string]any{"email": "B@example.com"}))
	out, err = m.Erase(ctx, &destination.Erasure{RequestID: "r1", Keys: []string{" A@Example.com", "nobody@example.com", ""}})
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range out {
		if o.Err != nil || o.Ref == "" || strings.Contains(o.Ref, "@") {
			t.Errorf("outcome %d: %+v", i, o)
		}
	}
	a, _ := e.srv.AudienceByName("VIP")
	if len(a.Members) != 1 || a.Members[0].Cells["EMAIL"] != sum("b@example.com") {
		t.Errorf("after erasure the audience holds %+v", a.Members)
	}
	last := e.users()[len(e.users())-1]
	if p := last.payload(t); last.method != "DELETE" || len(p.Schema) != 1 || p.Schema[0] != "EMAIL" || len(p.Data) != 2 {
		t.Errorf("erasure request %s %+v", last.method, p)
	}
	e.srv.Fail(http.StatusInternalServerError, 100)
	m.client.Close()
	m2, _, _ := e.open(t, "max_retries: 1", "email")
	if _, err := m2.Erase(ctx, &destination.Erasure{RequestID: "r2", Keys: []string{"b@example.com"}}); err == nil {
		t.Error("a persistent 500 must fail the call")
	}
}
