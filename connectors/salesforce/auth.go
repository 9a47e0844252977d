package salesforce

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/oauth2/jwt"

	"github.com/sluicehq/sluice/connectors/destination"
)

// Salesforce's token endpoint, under login_url.
const tokenPath = "/services/oauth2/token"

// jwtLifetime is the assertion's validity: Salesforce refuses an exp more
// than three minutes ahead.
const jwtLifetime = 3 * time.Minute

// authenticator holds the session: the access token and the instance it
// was issued for. Salesforce's token answers carry no expires_in, so a
// token is used until an answer says INVALID_SESSION_ID (the session timed
// out or was revoked); invalidate then makes the next call fetch another.
type authenticator struct {
	fetch func(ctx context.Context) (*oauth2.Token, error)
	httpc *http.Client
	what  string // which credentials, for messages

	mu      sync.Mutex
	tok     *oauth2.Token
	base    string // the token's instance_url
	fetches int    // tokens fetched, for tests
}

func newAuthenticator(cfg destination.Config, s settings) (*authenticator, error) {
	if strings.TrimSpace(s.clientID) == "" {
		return nil, errors.New("client_id is empty: set it to a ${VAR} reference to the connected app's consumer key")
	}
	tokenURL := s.loginURL + tokenPath
	a := &authenticator{httpc: &http.Client{Timeout: 30 * time.Second, Transport: http.DefaultTransport.(*http.Transport).Clone()}}
	switch s.authKind {
	case "", "client_credentials":
		if strings.TrimSpace(s.secret) == "" {
			return nil, errors.New("auth client_credentials needs client_secret: set it to a ${VAR} reference to the connected app's consumer secret")
		}
		cc := &clientcredentials.Config{ClientID: strings.TrimSpace(s.clientID), ClientSecret: strings.TrimSpace(s.secret),
			TokenURL: tokenURL, AuthStyle: oauth2.AuthStyleInParams}
		a.what = "client_id and client_secret (and that the connected app enables the client credentials flow with a Run As user)"
		a.fetch = func(ctx context.Context) (*oauth2.Token, error) { return cc.Token(ctx) }
	case "jwt":
		key, err := loadKey(cfg.ProjectDir, s)
		if err != nil {
			return nil, err
		}
		if strings.TrimSpace(s.username) == "" {
			return nil, errors.New("auth jwt needs username: the Salesforce user the token is issued for")
		}
		jc := &jwt.Config{Email: strings.TrimSpace(s.clientID), Subject: strings.TrimSpace(s.username), PrivateKey: key,
			TokenURL: tokenURL, Audience: s.loginURL, Expires: jwtLifetime}
		a.what = "client_id, username and the private key (the connected app must hold its certificate and pre-authorize the user)"
		a.fetch = func(ctx context.Context) (*oauth2.Token, error) { return jc.TokenSource(ctx).Token() }
	default:
		return nil, fmt.Errorf("auth %q is not client_credentials or jwt", s.authKind)
	}
	return a, nil
}

// loadKey reads the JWT signing key from private_key or private_key_file
// (inside the project), and checks it is an RSA key in PEM.
func loadKey(projectDir string, s settings) ([]byte, error) {
	var key []byte
	switch {
	case strings.TrimSpace(s.key) != "" && s.keyFile != "":
		return nil, errors.New("set private_key or private_key_file, not both")
	case strings.TrimSpace(s.key) != "":
		key = []byte(strings.TrimSpace(s.key))
	case s.keyFile != "":
		path, err := insideProject(projectDir, s.keyFile)
		if err != nil {
			return nil, err
		}
		if key, err = os.ReadFile(path); err != nil {
			return nil, fmt.Errorf("private_key_file: %w", err)
		}
	default:
		return nil, errors.New("auth jwt needs private_key (a ${VAR} reference to the PEM key) or private_key_file")
	}
	block, _ := pem.Decode(key)
	if block == nil {
		return nil, errors.New("the JWT private key is not PEM (-----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----)")
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return key, nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("the JWT private key cannot be read as an unencrypted PKCS#1 or PKCS#8 RSA key")
	}
	if _, ok := k.(*rsa.PrivateKey); !ok {
		return nil, errors.New("the JWT private key is not an RSA key: Salesforce signs with RS256")
	}
	return key, nil
}

// insideProject resolves a project-relative path and refuses one that
// leaves the project folder (through .., an absolute path or a symlink).
func insideProject(projectDir, p string) (string, error) {
	if projectDir == "" {
		projectDir = "."
	}
	root, err := filepath.Abs(projectDir)
	if err != nil {
		return "", fmt.Errorf("private_key_file: %w", err)
	}
	full := p
	if !filepath.IsAbs(full) {
		full = filepath.Join(root, p)
	}
	if r, err := filepath.EvalSymlinks(root); err == nil {
		root = r
	}
	if r, err := filepath.EvalSymlinks(full); err == nil {
		full = r
	}
	rel, err := filepath.Rel(root, full)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("private_key_file %s is outside the project folder: keep the key inside it (and out of version control)", p)
	}
	return full, nil
}

// token returns the current access token and instance, fetching one when
// there is none. Fetches are serialised: concurrent callers share one.
func (a *authenticator) token(ctx context.Context) (string, string, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tok != nil && a.tok.Valid() {
		return a.tok.AccessToken, a.base, nil
	}
	tok, err := a.fetch(context.WithValue(ctx, oauth2.HTTPClient, a.httpc))
	if err != nil {
		return "", "", a.explain(err)
	}
	a.fetches++
	inst, _ := tok.Extra("instance_url").(string)
	inst = strings.TrimRight(strings.TrimSpace(inst), "/")
	if pu, err := url.Parse(inst); inst == "" || err != nil || (pu.Scheme != "https" && pu.Scheme != "http") || pu.Host == "" {
		return "", "", errors.New("getting an access token: Salesforce's answer has no usable instance_url")
	}
	a.tok, a.base = tok, inst
	return tok.AccessToken, inst, nil
}

// invalidate drops the token an answer refused, unless another caller
// already replaced it.
func (a *authenticator) invalidate(access string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.tok != nil && a.tok.AccessToken == access {
		a.tok = nil
	}
}

// explain words a token failure: the OAuth error code and description
// only (the answer's body never holds the secret, but is not quoted
// whole either).
func (a *authenticator) explain(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		code, desc := re.ErrorCode, re.ErrorDescription
		if code == "" {
			// x/oauth2/jwt does not read the OAuth error document.
			var doc struct {
				Error       string `json:"error"`
				Description string `json:"error_description"`
			}
			if json.Unmarshal(re.Body, &doc) == nil {
				code, desc = doc.Error, doc.Description
			}
		}
		if code == "" {
			code = fmt.Sprintf("HTTP %d", re.Response.StatusCode)
		}
		if desc != "" {
			code += ": " + desc
		}
		if re.Response.StatusCode >= 500 {
			return fmt.Errorf("getting an access token: Salesforce's login service failed (%s): try again later", code)
		}
		return fmt.Errorf("getting an access token: Salesforce refused the credentials (%s): check %s", code, a.what)
	}
	return fmt.Errorf("getting an access token: %w", err)
}

func (a *authenticator) close() { a.httpc.CloseIdleConnections() }

// fetchCount tells how many tokens were fetched.
func (a *authenticator) fetchCount() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.fetches
}
