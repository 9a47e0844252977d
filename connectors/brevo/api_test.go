package brevo

import "testing"

func TestContactPath(t *testing.T) {
	for _, tc := range []struct{ id, want string }{
		{"+33612345678", "/contacts/%2B33612345678"},
		{"ann+news@example.com", "/contacts/ann%2Bnews%40example.com"},
		{"a b/c?d#e%f", "/contacts/a%20b%2Fc%3Fd%23e%25f"},
		{"42", "/contacts/42"},
		{"é", "/contacts/%C3%A9"},
	} {
		if got := contactPath(tc.id); got != tc.want {
			t.Errorf("contactPath(%q) = %q, want %q", tc.id, got, tc.want)
		}
	}
}

func TestRedactPath(t *testing.T) {
	for _, tc := range []struct{ path, want string }{
		{contactPath("ann@example.com"), "/contacts/{identifier}"},
		{contactPath("+33612345678") + "?identifierType=phone_id", "/contacts/{identifier}?identifierType=phone_id"},
		{"/contacts/batch", "/contacts/batch"},
		{"/contacts/import", "/contacts/import"},
		{"/contacts/lists?limit=50&offset=0", "/contacts/lists?limit=50&offset=0"},
		{"/contacts/lists/12/contacts/add", "/contacts/lists/12/contacts/add"},
		{"/account", "/account"},
	} {
		if got := redactPath(tc.path); got != tc.want {
			t.Errorf("redactPath(%q) = %q, want %q", tc.path, got, tc.want)
		}
	}
}

func TestErasureIdentifier(t *testing.T) {
	for _, tc := range []struct {
		kind      idKind
		key, want string
		typ       string
		wantErr   bool
	}{
		{byEmail, " ann@example.com ", "ann@example.com", IdentifierEmail, false},
		{byEmail, "  ", "", IdentifierEmail, true},
		{bySMS, "+33 6 12 34 56 78", "+33612345678", IdentifierPhone, false},
		{bySMS, "0612345678", "", IdentifierPhone, true}, // national: never guessed
		{byExtID, " crm-1", " crm-1", IdentifierExtID, false},
		{byExtID, "", "", IdentifierExtID, true},
	} {
		typ, err := tc.kind.identifierType()
		if err != nil || typ != tc.typ {
			t.Errorf("kind %d: identifierType %q, %v; want %q", tc.kind, typ, err, tc.typ)
		}
		got, err := tc.kind.identifier(tc.key)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("kind %d, key %q: %q, %v; want %q (error %v)", tc.kind, tc.key, got, err, tc.want, tc.wantErr)
		}
	}
	if _, err := idKind(99).identifierType(); err == nil {
		t.Error("an unknown key kind has an identifierType")
	}
}
