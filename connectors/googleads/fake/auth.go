package fake

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	datamanager "google.golang.org/api/datamanager/v1"
)

// tokenLifetime is how long an access token lasts, as Google's do.
const tokenLifetime = time.Hour

// TokenURL is the token endpoint of a fake at base, for the token_uri of
// the service accounts tests give the destination.
func TokenURL(base string) string { return strings.TrimRight(base, "/") + "/token" }

// token serves POST /token: the JWT bearer grant of service accounts
// (RFC 7523, as google.golang.org's jwt package sends it) and the refresh
// token grant of user credentials, answering OAuth errors as Google does.
func (s *Server) token(c *call) {
	form, err := url.ParseQuery(string(c.body))
	if err != nil {
		s.oauthError(c, "invalid_request", "malformed form body")
		return
	}
	var ok bool
	var why string
	switch form.Get("grant_type") {
	case "urn:ietf:params:oauth:grant-type:jwt-bearer":
		ok, why = s.checkAssertion(form.Get("assertion"))
	case "refresh_token":
		ok, why = s.checkRefresh(form)
	default:
		s.oauthError(c, "unsupported_grant_type", "Invalid grant_type: "+form.Get("grant_type"))
		return
	}
	if !ok {
		s.oauthError(c, "invalid_grant", why)
		return
	}
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := "ya29.fake-" + hex.EncodeToString(b)
	s.mu.Lock()
	s.tokens[tok] = s.opts.Now().Add(tokenLifetime)
	s.mu.Unlock()
	s.reply(c, http.StatusOK, map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": int(tokenLifetime.Seconds())})
}

func (s *Server) oauthError(c *call, code, desc string) {
	status := http.StatusBadRequest
	if code == "invalid_client" {
		status = http.StatusUnauthorized
	}
	s.reply(c, status, map[string]string{"error": code, "error_description": desc})
}

// checkAssertion verifies a service account's signed JWT: RS256 by the key
// of its issuer, addressed to this token endpoint, unexpired, asking for
// the Data Manager scope.
func (s *Server) checkAssertion(assertion string) (bool, string) {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return false, "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe."
	}
	var head struct{ Alg string }
	var claims struct {
		Iss, Scope, Aud string
		Exp, Iat        int64
	}
	if !decodeSegment(parts[0], &head) || !decodeSegment(parts[1], &claims) || head.Alg != "RS256" {
		return false, "Invalid JWT Signature."
	}
	s.mu.Lock()
	key, known := s.accounts[claims.Iss]
	s.mu.Unlock()
	if !known {
		return false, "Invalid grant: account not found"
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return false, "Invalid JWT Signature."
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig) != nil {
		return false, "Invalid JWT Signature."
	}
	now := s.opts.Now().Unix()
	if claims.Exp < now || claims.Iat > now+300 || claims.Exp-claims.Iat > 3600 {
		return false, "Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim."
	}
	if s.URL != "" && claims.Aud != TokenURL(s.URL) {
		return false, "Invalid JWT: the aud claim is not this token endpoint"
	}
	if !slices.Contains(strings.Fields(claims.Scope), datamanager.DatamanagerScope) {
		return false, "Invalid OAuth scope or ID token audience provided."
	}
	return true, ""
}

// TrustKey makes the token endpoint take JWTs of a service account signed
// by the private half of key.
func (s *Server) TrustKey(email string, key *rsa.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.accounts[email] = key
}

// NewServiceAccount creates a service account key that the server trusts
// and returns its JSON, as Google issues it, with token_uri pointing at the
// server (URL must be set).
func (s *Server) NewServiceAccount(email string) ([]byte, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generating a key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(map[string]string{
		"type": "service_account", "project_id": "sluice-fake", "private_key_id": "fake",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": email, "client_id": "0", "token_uri": TokenURL(s.URL),
	}, "", "  ")
	if err != nil {
		return nil, err
	}
	s.TrustKey(email, &key.PublicKey)
	return append(b, '\n'), nil
}

// TrustServiceAccount trusts the key of a service account JSON (its
// private key's public half).
func (s *Server) TrustServiceAccount(saJSON []byte) error {
	var sa struct {
		ClientEmail string `json:"client_email"`
		PrivateKey  string `json:"private_key"`
	}
	if err := json.Unmarshal(saJSON, &sa); err != nil {
		return fmt.Errorf("reading the service account: %w", err)
	}
	block, _ := pem.Decode([]byte(sa.PrivateKey))
	if block == nil || sa.ClientEmail == "" {
		return errors.New("not a service account key (client_email and private_key)")
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		if parsed, err = x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
			return fmt.Errorf("reading the private key: %w", err)
		}
	}
	key, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return errors.New("the service account's private key is not RSA")
	}
	s.TrustKey(sa.ClientEmail, &key.PublicKey)
	return nil
}

func decodeSegment(seg string, v any) bool {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	return err == nil && json.Unmarshal(b, v) == nil
}

func (s *Server) checkRefresh(form url.Values) (bool, string) {
	for _, u := range s.opts.Users {
		if u.ClientID == form.Get("client_id") && u.ClientSecret == form.Get("client_secret") && u.RefreshToken == form.Get("refresh_token") {
			return true, ""
		}
	}
	return false, "Token has been expired or revoked."
}
