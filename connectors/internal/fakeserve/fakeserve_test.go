package fakeserve

import (
	"maps"
	"strings"
	"testing"
)

func TestMatch(t *testing.T) {
	digits := func(name, seg string) bool { return name != "listId" || strings.Trim(seg, "0123456789") == "" }
	for _, c := range []struct {
		template, path string
		want           map[string]string
	}{
		{"/crm/v3/lists/{listId}", "/crm/v3/lists/42", map[string]string{"listId": "42"}},
		{"/crm/v3/lists/{listId}", "/crm/v3/lists/abc", nil},
		{"/crm/v3/lists/{listId}", "/crm/v3/lists/", nil},
		{"/crm/v3/lists/{listId}", "/crm/v3/lists/42/memberships", nil},
		{"/api/profiles/{id}/", "/api/profiles/p1", map[string]string{"id": "p1"}},
		{"/v3/contacts/{identifier}", "/v3/contacts/a%40b", map[string]string{"identifier": "a@b"}},
		{"/lists/name/{name}", "/lists/name/a%2Fb", map[string]string{"name": "a/b"}},
		{"/a/{x}/c/{y}", "/a/1/c/2", map[string]string{"x": "1", "y": "2"}},
		{"/a/{x}/c/{y}", "/a/1/d/2", nil},
		{"/a/b", "/a/b", map[string]string{}},
	} {
		segs, err := Segments(c.path)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := Match(c.template, segs, digits)
		if ok != (c.want != nil) || !maps.Equal(got, c.want) {
			t.Errorf("Match(%q, %q) = %v %v, want %v", c.template, c.path, got, ok, c.want)
		}
	}
}

func TestFailures(t *testing.T) {
	var f Failures
	if _, ok := f.Next(); ok {
		t.Fatal("fails before Set")
	}
	f.Set(503, 2)
	for i := range 2 {
		if st, ok := f.Next(); !ok || st != 503 {
			t.Fatalf("request %d: %d %v", i, st, ok)
		}
	}
	if _, ok := f.Next(); ok {
		t.Fatal("a third failure")
	}
	f.Set(429, -1)
	if _, ok := f.Next(); ok {
		t.Fatal("negative n fails")
	}
}

func TestListen(t *testing.T) {
	for _, c := range []struct {
		addr string
		ok   bool
	}{{"127.0.0.1:0", true}, {"localhost:0", true}, {"0.0.0.0:0", false}, {"example.com:80", false}, {"nonsense", false}} {
		ln, err := Listen(c.addr)
		if (err == nil) != c.ok {
			t.Errorf("Listen(%q): %v", c.addr, err)
		}
		if ln != nil {
			if !strings.HasPrefix(URL(ln), "http://") {
				t.Errorf("URL %s", URL(ln))
			}
			ln.Close()
		}
	}
}

func TestRoute(t *testing.T) {
	ops := [][2]string{{"GET", "/a/{id}"}, {"PUT", "/a/{id}"}, {"POST", "/b"}}
	op := func(i int) (string, string) { return ops[i][0], ops[i][1] }
	for _, c := range []struct {
		method, path string
		want         int
		known        bool
	}{
		{"GET", "/a/1", 0, true}, {"PUT", "/a/1", 1, true}, {"DELETE", "/a/1", -1, true},
		{"POST", "/b", 2, true}, {"POST", "/c", -1, false},
	} {
		segs, _ := Segments(c.path)
		i, _, known := Route(len(ops), op, c.method, segs, nil)
		if i != c.want || known != c.known {
			t.Errorf("%s %s: %d %v, want %d %v", c.method, c.path, i, known, c.want, c.known)
		}
	}
	if _, err := Segments("/a/%zz"); err == nil {
		t.Error("a bad escape is accepted")
	}
}
