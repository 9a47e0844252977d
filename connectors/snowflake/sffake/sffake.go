// Package sffake is a loopback stand-in for Snowflake's client REST API,
// the part the official Go driver speaks: login
// (/session/v1/login-request) with a password or a key-pair JWT, queries
// (/queries/v1/query-request) answered with JSON row sets, and logout. It
// checks what a real account checks — credentials, the session token on
// every query — and records every statement so that tests can see the
// exact SQL sluice sends. What a statement returns is up to the test's
// Handler: the fake runs no SQL.
package sffake

import (
	"compress/gzip"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Column describes a result column as Snowflake does: Type is fixed, real,
// text, boolean, date, timestamp_ntz, variant...
type Column struct {
	Name      string
	Type      string
	Precision int64
	Scale     int64
}

// Result is what a statement returns: rows of values in Snowflake's JSON
// text form (nil is NULL), or an error.
type Result struct {
	Columns []Column
	Rows    [][]*string
	Err     *Error
}

// Error is a Snowflake error response.
type Error struct {
	Code     string // such as 002003
	SQLState string // such as 42S02
	Message  string
}

// Statement is one query-request the fake received.
type Statement struct {
	SQL      string
	Bindings map[string]Binding
}

// Binding is one bound parameter (positional: "1", "2"...).
type Binding struct {
	Type  string `json:"type"`
	Value any    `json:"value"`
}

// Login is one login request the fake received (secrets left out).
type Login struct {
	Account, User, Authenticator string
	Database, Warehouse, Role    string
	SessionParameters            map[string]any
}

// Server is a running fake.
type Server struct {
	srv *httptest.Server

	// Accepted credentials: User with Password, or with a JWT signed by
	// the private key matching PublicKey.
	Account   string
	User      string
	Password  string
	PublicKey *rsa.PublicKey

	// Handler answers statements; by default every statement succeeds and
	// returns no rows.
	Handler func(s Statement) Result

	mu         sync.Mutex
	statements []Statement
	logins     []Login
	tokens     map[string]bool
	seq        int
}

// Start runs a fake on 127.0.0.1 (a free port); Close stops it.
func Start(account, user, password string) *Server {
	s := &Server{Account: account, User: user, Password: password, tokens: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/session/v1/login-request", s.login)
	mux.HandleFunc("/queries/v1/query-request", s.query)
	mux.HandleFunc("/session", s.logout)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "sffake: no such endpoint "+r.URL.Path, http.StatusNotFound)
	})
	s.srv = httptest.NewServer(mux)
	return s
}

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Host and Port are where the fake listens (the driver speaks http to it).
func (s *Server) Host() string {
	h, _, _ := net.SplitHostPort(s.srv.Listener.Addr().String())
	return h
}

// Port is the fake's port.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.srv.Listener.Addr().String())
	n, _ := strconv.Atoi(p)
	return n
}

// Statements returns what the fake received, in order.
func (s *Server) Statements() []Statement {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Statement(nil), s.statements...)
}

// Logins returns the login requests received.
func (s *Server) Logins() []Login {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Login(nil), s.logins...)
}

// Text is a helper for Result rows: a value in JSON text form.
func Text(v string) *string { return &v }

func readJSON(r *http.Request, into any) error {
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		gz, err := gzip.NewReader(r.Body)
		if err != nil {
			return err
		}
		defer gz.Close()
		body = gz
	}
	return json.NewDecoder(body).Decode(into)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// failure is Snowflake's error envelope: HTTP 200, success false.
func failure(w http.ResponseWriter, code, message string, data any) {
	writeJSON(w, map[string]any{"data": data, "code": code, "message": message, "success": false})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	var req struct {
		Data struct {
			AccountName       string         `json:"ACCOUNT_NAME"`
			LoginName         string         `json:"LOGIN_NAME"`
			Password          string         `json:"PASSWORD"`
			Authenticator     string         `json:"AUTHENTICATOR"`
			Token             string         `json:"TOKEN"`
			SessionParameters map[string]any `json:"SESSION_PARAMETERS"`
		} `json:"data"`
	}
	if err := readJSON(r, &req); err != nil {
		http.Error(w, "sffake: bad login body: "+err.Error(), http.StatusBadRequest)
		return
	}
	d := req.Data
	q := r.URL.Query()
	s.mu.Lock()
	s.logins = append(s.logins, Login{
		Account: d.AccountName, User: d.LoginName, Authenticator: d.Authenticator,
		Database: q.Get("databaseName"), Warehouse: q.Get("warehouse"), Role: q.Get("roleName"),
		SessionParameters: d.SessionParameters,
	})
	s.mu.Unlock()
	if !strings.EqualFold(d.AccountName, s.Account) {
		failure(w, "390100", "Incorrect username or password was specified.", nil)
		return
	}
	switch strings.ToUpper(d.Authenticator) {
	case "SNOWFLAKE_JWT":
		if err := s.checkJWT(d.Token, d.AccountName, s.User); err != nil {
			failure(w, "390144", "JWT token is invalid. ["+err.Error()+"]", nil)
			return
		}
	default:
		if d.LoginName != s.User || d.Password != s.Password || s.Password == "" {
			failure(w, "390100", "Incorrect username or password was specified.", nil)
			return
		}
	}
	token := fmt.Sprintf("session-token-%d", time.Now().UnixNano())
	s.mu.Lock()
	s.tokens[token] = true
	s.mu.Unlock()
	writeJSON(w, map[string]any{
		"data": map[string]any{
			"token":                   token,
			"validityInSeconds":       3600,
			"masterToken":             "master-" + token,
			"masterValidityInSeconds": 14400,
			"sessionId":               time.Now().UnixNano() % 1_000_000,
			"serverVersion":           "9.99.0",
			"parameters": []map[string]any{
				{"name": "TIMEZONE", "value": "UTC"},
			},
			"sessionInfo": map[string]any{
				"databaseName": q.Get("databaseName"), "schemaName": q.Get("schemaName"),
				"warehouseName": q.Get("warehouse"), "roleName": q.Get("roleName"),
			},
		},
		"code": nil, "message": nil, "success": true,
	})
}

// checkJWT verifies an RS256 token: signed by the registered key, issued
// for ACCOUNT.USER, not expired.
func (s *Server) checkJWT(token, account, user string) error {
	if s.PublicKey == nil {
		return fmt.Errorf("no public key registered for the user")
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return fmt.Errorf("malformed token")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return fmt.Errorf("malformed signature")
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(s.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		return fmt.Errorf("signature does not match the registered public key")
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return fmt.Errorf("malformed payload")
	}
	var claims struct {
		Iss string `json:"iss"`
		Sub string `json:"sub"`
		Exp int64  `json:"exp"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return fmt.Errorf("malformed claims")
	}
	want := strings.ToUpper(account + "." + user)
	if claims.Sub != want || !strings.HasPrefix(claims.Iss, want+".SHA256:") {
		return fmt.Errorf("token issued for %s, not %s", claims.Sub, want)
	}
	if time.Unix(claims.Exp, 0).Before(time.Now()) {
		return fmt.Errorf("token expired")
	}
	return nil
}

func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	const prefix = `Snowflake Token="`
	if !strings.HasPrefix(h, prefix) || !strings.HasSuffix(h, `"`) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokens[strings.TrimSuffix(strings.TrimPrefix(h, prefix), `"`)]
}

func (s *Server) query(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		failure(w, "390104", "User must login again to access the service.", nil)
		return
	}
	var req struct {
		SQLText  string             `json:"sqlText"`
		Bindings map[string]Binding `json:"bindings"`
	}
	if err := readJSON(r, &req); err != nil {
		http.Error(w, "sffake: bad query body: "+err.Error(), http.StatusBadRequest)
		return
	}
	st := Statement{SQL: req.SQLText, Bindings: req.Bindings}
	s.mu.Lock()
	s.statements = append(s.statements, st)
	s.seq++
	queryID := fmt.Sprintf("01b2c3d4-0000-%04d-0000-00000000%04d", s.seq%10000, s.seq%10000)
	handler := s.Handler
	s.mu.Unlock()
	res := Result{}
	if handler != nil {
		res = handler(st)
	}
	if res.Columns == nil && res.Err == nil && strings.TrimSpace(st.SQL) == "SELECT 1" {
		// The liveness probe drivers and sluice's Check send.
		res = Result{Columns: []Column{{Name: "1", Type: "fixed", Precision: 1}}, Rows: [][]*string{{Text("1")}}}
	}
	if res.Err != nil {
		failure(w, res.Err.Code, res.Err.Message, map[string]any{
			"sqlState": res.Err.SQLState, "queryId": queryID, "internalError": false,
		})
		return
	}
	rowType := make([]map[string]any, len(res.Columns))
	for i, c := range res.Columns {
		rowType[i] = map[string]any{
			"name": c.Name, "type": c.Type, "nullable": true, "precision": c.Precision, "scale": c.Scale,
			"length": 16777216, "byteLength": 16777216,
		}
	}
	typeID := 0x1000 // SELECT
	if len(res.Columns) == 0 {
		// Statements without a result answer one status row, as DDL does.
		typeID = 0x6000
		rowType = []map[string]any{{"name": "status", "type": "text", "nullable": true, "length": 16777216, "byteLength": 16777216}}
		res.Rows = [][]*string{{Text("Statement executed successfully.")}}
	}
	rows := res.Rows
	if rows == nil {
		rows = [][]*string{}
	}
	writeJSON(w, map[string]any{
		"data": map[string]any{
			"parameters":        []any{},
			"rowtype":           rowType,
			"rowset":            rows,
			"total":             len(rows),
			"returned":          len(rows),
			"queryId":           queryID,
			"queryResultFormat": "json",
			"statementTypeId":   typeID,
		},
		"code": nil, "message": nil, "success": true,
	})
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, map[string]any{"data": nil, "code": nil, "message": nil, "success": true})
}
