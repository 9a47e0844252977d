package fake

import (
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Grant types of the token endpoint.
const (
	GrantClientCredentials = "client_credentials"
	GrantJWTBearer         = "urn:ietf:params:oauth:grant-type:jwt-bearer"
)

// Audiences a JWT bearer assertion may name besides the fake's own URL
// ("OAuth 2.0 JWT Bearer Flow for Server-to-Server Integration":
// https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_jwt_flow.htm).
var loginAudiences = []string{"https://login.salesforce.com", "https://test.salesforce.com"}

// maxAssertionLife is how far ahead a JWT's exp may be: Salesforce wants
// it "within 3 minutes"; a few seconds of leeway cover clock skew.
const maxAssertionLife = 3*time.Minute + 5*time.Second

// Fixed ids of the org and its integration user, with their key prefixes.
const (
	orgID  = "00D5g000004Fake"
	userID = "0055g00000AFake"
)

// tokenError is the OAuth endpoint's error document; it is an object, not
// the REST API's error array.
type tokenError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func (c *call) tokenFail(code, desc string) {
	c.json(http.StatusBadRequest, tokenError{code, desc})
}

// token serves POST /services/oauth2/token (form-encoded). It does not
// count against the API request limit.
func (s *Server) token(c *call) {
	if c.r.Method != http.MethodPost {
		c.fail(http.StatusMethodNotAllowed, "METHOD_NOT_ALLOWED", "HTTP Method '"+c.r.Method+"' not allowed. Allowed are POST")
		return
	}
	c.r.Body = http.MaxBytesReader(c.w, c.r.Body, 1<<20)
	if err := c.r.ParseForm(); err != nil {
		c.tokenFail("invalid_request", "invalid request body")
		return
	}
	switch c.r.PostForm.Get("grant_type") {
	case GrantClientCredentials:
		s.clientCredentials(c)
	case GrantJWTBearer:
		s.jwtBearer(c)
	default:
		c.tokenFail("unsupported_grant_type", "grant type not supported")
	}
}

// clientCredentials checks client_id/client_secret from the form or HTTP
// Basic ("OAuth 2.0 Client Credentials Flow for Server-to-Server
// Integration"). Salesforce answers an unknown consumer key with
// invalid_client_id and a wrong secret with invalid_client.
func (s *Server) clientCredentials(c *call) {
	id, secret, basic := c.r.BasicAuth()
	if !basic {
		id, secret = c.r.PostForm.Get("client_id"), c.r.PostForm.Get("client_secret")
	}
	if s.opts.ClientID == "" || id != s.opts.ClientID {
		c.tokenFail("invalid_client_id", "client identifier invalid")
		return
	}
	if s.opts.ClientSecret == "" || !hmac.Equal([]byte(secret), []byte(s.opts.ClientSecret)) {
		c.tokenFail("invalid_client", "invalid client credentials")
		return
	}
	s.issue(c)
}

// jwtBearer checks an RS256 assertion: signature, iss (consumer key), sub
// (the user), aud (the login URL) and exp (within 3 minutes).
func (s *Server) jwtBearer(c *call) {
	if s.opts.JWTPublicKey == nil {
		c.tokenFail("invalid_grant", "invalid assertion")
		return
	}
	claims, err := verifyJWT(c.r.PostForm.Get("assertion"), s.opts.JWTPublicKey)
	if err != nil {
		c.tokenFail("invalid_grant", "invalid assertion")
		return
	}
	switch {
	case s.opts.ClientID == "" || claims.Issuer != s.opts.ClientID:
		c.tokenFail("invalid_client_id", "client identifier invalid")
	case claims.Subject == "" || (s.opts.Username != "" && claims.Subject != s.opts.Username):
		c.tokenFail("invalid_grant", "user hasn't approved this consumer")
	case !s.audienceOK(claims.Audience):
		c.tokenFail("invalid_grant", "audience is invalid")
	case claims.Expiry == 0 || !time.Unix(claims.Expiry, 0).After(c.now):
		c.tokenFail("invalid_grant", "expired authorization code")
	case time.Unix(claims.Expiry, 0).After(c.now.Add(maxAssertionLife)):
		c.tokenFail("invalid_grant", "invalid assertion")
	default:
		s.issue(c)
	}
}

func (s *Server) audienceOK(aud []string) bool {
	for _, a := range aud {
		a = strings.TrimSuffix(a, "/")
		if slices.Contains(loginAudiences, a) || (s.URL != "" && a == s.URL) {
			return true
		}
	}
	return false
}

// jwtClaims are the claims the JWT bearer flow reads; aud may be a string
// or an array.
type jwtClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience audience `json:"aud"`
	Expiry   int64    `json:"exp"`
}

type audience []string

func (a *audience) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*a = audience{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return fmt.Errorf("aud is neither a string nor an array of strings: %w", err)
	}
	*a = many
	return nil
}

// verifyJWT checks a compact RS256 JWT's signature and decodes its claims.
func verifyJWT(token string, key *rsa.PublicKey) (*jwtClaims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("jwt: not three dot-separated parts")
	}
	var header struct {
		Alg string `json:"alg"`
	}
	if err := decodeSegment(parts[0], &header); err != nil {
		return nil, fmt.Errorf("jwt header: %w", err)
	}
	if header.Alg != "RS256" {
		return nil, fmt.Errorf("jwt: alg %q, want RS256", header.Alg)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, fmt.Errorf("jwt signature: %w", err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(key, crypto.SHA256, sum[:], sig); err != nil {
		return nil, fmt.Errorf("jwt signature: %w", err)
	}
	var claims jwtClaims
	if err := decodeSegment(parts[1], &claims); err != nil {
		return nil, fmt.Errorf("jwt claims: %w", err)
	}
	return &claims, nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return fmt.Errorf("base64url: %w", err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("json: %w", err)
	}
	return nil
}

// issue starts a session and answers like Salesforce: access_token,
// instance_url (the fake plays the instance too), id, token_type,
// issued_at (milliseconds) and signature (HMAC-SHA256 of id+issued_at with
// the consumer secret, base64).
func (s *Server) issue(c *call) {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	tok := orgID + "!" + hex.EncodeToString(b)
	id := s.URL + "/id/" + orgID + "AAA/" + userID + "AAA"
	issued := strconv.FormatInt(c.now.UnixMilli(), 10)
	mac := hmac.New(sha256.New, []byte(s.opts.ClientSecret))
	mac.Write([]byte(id + issued))
	s.mu.Lock()
	s.sessions[tok] = c.now.Add(s.opts.TokenTTL)
	s.tokens++
	s.mu.Unlock()
	c.json(http.StatusOK, map[string]string{
		"access_token": tok, "instance_url": s.URL, "id": id, "token_type": "Bearer",
		"issued_at": issued, "signature": base64.StdEncoding.EncodeToString(mac.Sum(nil)), "scope": "api",
	})
}
