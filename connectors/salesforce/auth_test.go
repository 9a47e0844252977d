package salesforce

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func rsaKey(t *testing.T) (*rsa.PrivateKey, []byte) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// tokenServer answers the token endpoint and records the forms it got;
// its instance answers describe, so that Check goes through.
type tokenServer struct {
	*httptest.Server
	mu    sync.Mutex
	forms []map[string][]string
}

func newTokenServer(t *testing.T) *tokenServer {
	ts := &tokenServer{}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == tokenPath {
			_ = r.ParseForm()
			ts.mu.Lock()
			ts.forms = append(ts.forms, r.PostForm)
			ts.mu.Unlock()
			fmt.Fprintf(w, `{"access_token":"00D!tok","instance_url":%q,"token_type":"Bearer","issued_at":"1"}`, ts.URL)
			return
		}
		fmt.Fprint(w, `{"name":"Contact","fields":[{"name":"External_Id__c","externalId":true,"createable":true,"updateable":true},{"name":"LastName","createable":true,"updateable":true},{"name":"Email","createable":true,"updateable":true}]}`)
	}))
	t.Cleanup(ts.Close)
	return ts
}

// TestGrants checks what each grant sends: the client credentials in the
// form, and a JWT bearer assertion signed RS256 whose claims Salesforce
// reads (iss the consumer key, sub the user, aud the login URL, exp within
// three minutes).
func TestGrants(t *testing.T) {
	key, pemKey := rsaKey(t)
	for _, tc := range []struct {
		name, extra string
		check       func(t *testing.T, form map[string][]string, loginURL string)
	}{
		{"client credentials", "", func(t *testing.T, f map[string][]string, _ string) {
			if g := first(f, "grant_type"); g != "client_credentials" || first(f, "client_id") != testClientID || first(f, "client_secret") != testSecret {
				t.Errorf("client credentials form: grant %q, client_id %q", g, first(f, "client_id"))
			}
		}},
		{"jwt bearer", fmt.Sprintf("auth: jwt, username: integration@example.com, private_key: %q", pemKey), func(t *testing.T, f map[string][]string, loginURL string) {
			if g := first(f, "grant_type"); g != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
				t.Errorf("grant_type %q", g)
			}
			parts := strings.Split(first(f, "assertion"), ".")
			if len(parts) != 3 {
				t.Fatalf("assertion has %d parts", len(parts))
			}
			var head struct{ Alg string }
			var claims struct {
				Iss, Sub, Aud string
				Exp, Iat      int64
			}
			decodePart(t, parts[0], &head)
			decodePart(t, parts[1], &claims)
			life := time.Until(time.Unix(claims.Exp, 0))
			if head.Alg != "RS256" || claims.Iss != testClientID || claims.Sub != "integration@example.com" || claims.Aud != loginURL || life <= 0 || life > jwtLifetime {
				t.Errorf("assertion: alg %s, claims %+v (expires in %s)", head.Alg, claims, life)
			}
			if err := verifyRS256(&key.PublicKey, parts); err != nil {
				t.Errorf("assertion signature: %v", err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTokenServer(t)
			sf := openSF(t, ts.URL, tc.extra, extSync)
			if err := sf.Check(context.Background()); err != nil {
				t.Fatalf("check: %v", err)
			}
			if len(ts.forms) != 1 {
				t.Fatalf("%d token requests, want 1", len(ts.forms))
			}
			tc.check(t, ts.forms[0], ts.URL)
		})
	}
}

func first(f map[string][]string, k string) string {
	if v := f[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

func decodePart(t *testing.T, s string, v any) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatal(err)
	}
}

func verifyRS256(pub *rsa.PublicKey, parts []string) error {
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return err
	}
	h := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	return rsa.VerifyPKCS1v15(pub, crypto.SHA256, h[:], sig)
}
