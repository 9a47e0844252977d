// Package bqfake is a loopback stand-in for the part of the BigQuery REST
// API (v2) that the official Go client uses to run statements: jobs.insert
// for query jobs and for load jobs (multipart media upload), jobs.get,
// jobs.getQueryResults with paging, jobs.cancel and tables.get. It checks
// the bearer token when one is set, records every job so tests can see the
// exact SQL and parameters sluice sends, and answers with what the test's
// Handler returns: it runs no SQL.
package bqfake

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Field is a result column: Type is INTEGER, FLOAT, STRING, BOOLEAN,
// NUMERIC, TIMESTAMP, DATE, DATETIME...
type Field struct{ Name, Type string }

// Result is what a statement returns: rows of Go values (int64, float64,
// string, bool, time.Time, nil), or an error.
type Result struct {
	Schema []Field
	Rows   [][]any
	Err    *Error
}

// Error is a job error as BigQuery reports it.
type Error struct {
	Reason  string // invalidQuery, notFound, accessDenied...
	Message string
}

// Statement is one query job the fake received.
type Statement struct {
	SQL            string
	Params         []Param
	DefaultDataset string
	Location       string
}

// Param is one positional query parameter.
type Param struct{ Type, Value string }

// Load is one load job the fake received, with the uploaded file.
type Load struct {
	Dataset, Table   string
	Fields           []Field
	SkipLeadingRows  int
	WriteDisposition string
	Data             []byte
}

// Server is a running fake.
type Server struct {
	srv *httptest.Server

	// Token, when set, must come as Authorization: Bearer Token.
	Token string
	// PageSize bounds the rows of one getQueryResults page.
	PageSize int
	// Handler answers query jobs; by default they succeed with no rows
	// (SELECT 1 answers 1).
	Handler func(Statement) Result
	// Tables are the tables tables.get finds, as dataset.table.
	Tables map[string]bool
	// Exists, when set, is asked instead of Tables (for tests whose
	// statements create tables as they go).
	Exists func(dataset, table string) bool

	mu         sync.Mutex
	jobs       map[string]*job
	statements []Statement
	loads      []Load
	cancelled  []string
}

type job struct {
	id, project, location string
	query                 bool
	res                   Result
}

// Start runs a fake on a free loopback port.
func Start() *Server {
	s := &Server{PageSize: 1000, jobs: map[string]*job{}, Tables: map[string]bool{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.route))
	return s
}

// URL is the endpoint to give the client (option.WithEndpoint).
func (s *Server) URL() string { return s.srv.URL + "/bigquery/v2/" }

// Close stops the server.
func (s *Server) Close() { s.srv.Close() }

// Statements returns the query jobs received, in order.
func (s *Server) Statements() []Statement {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Statement(nil), s.statements...)
}

// Loads returns the load jobs received.
func (s *Server) Loads() []Load {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Load(nil), s.loads...)
}

// Cancelled returns the ids of the jobs cancelled.
func (s *Server) Cancelled() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.cancelled...)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// apiError is Google's error envelope.
func apiError(w http.ResponseWriter, code int, status, reason, message string) {
	writeJSON(w, code, map[string]any{"error": map[string]any{
		"code": code, "message": message, "status": status,
		"errors": []map[string]any{{"message": message, "domain": "global", "reason": reason}},
	}})
}

func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	if s.Token != "" && r.Header.Get("Authorization") != "Bearer "+s.Token {
		apiError(w, http.StatusUnauthorized, "UNAUTHENTICATED", "unauthorized",
			"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.")
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/bigquery/v2")
	upload := strings.HasPrefix(path, "/upload/bigquery/v2/")
	path = strings.TrimPrefix(path, "/upload/bigquery/v2")
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case upload && r.Method == http.MethodPost && len(parts) == 3 && parts[0] == "projects" && parts[2] == "jobs":
		s.insertLoad(w, r, parts[1])
	case r.Method == http.MethodPost && len(parts) == 3 && parts[0] == "projects" && parts[2] == "jobs":
		s.insertQuery(w, r, parts[1])
	case r.Method == http.MethodGet && len(parts) == 4 && parts[2] == "queries":
		s.getQueryResults(w, r, parts[3])
	case r.Method == http.MethodGet && len(parts) == 4 && parts[2] == "jobs":
		s.getJob(w, parts[3])
	case r.Method == http.MethodPost && len(parts) == 5 && parts[2] == "jobs" && parts[4] == "cancel":
		s.cancel(w, parts[3])
	case r.Method == http.MethodGet && len(parts) == 6 && parts[2] == "datasets" && parts[4] == "tables":
		s.getTable(w, parts[1], parts[3], parts[5])
	default:
		apiError(w, http.StatusNotFound, "NOT_FOUND", "notFound", "bqfake: no such endpoint: "+r.Method+" "+r.URL.Path)
	}
}

type jobRef struct {
	ProjectID string `json:"projectId"`
	JobID     string `json:"jobId"`
	Location  string `json:"location"`
}

type jobBody struct {
	JobReference  jobRef `json:"jobReference"`
	Configuration struct {
		Query *struct {
			Query           string `json:"query"`
			UseLegacySQL    *bool  `json:"useLegacySql"`
			ParameterMode   string `json:"parameterMode"`
			QueryParameters []struct {
				ParameterType  struct{ Type string }  `json:"parameterType"`
				ParameterValue struct{ Value string } `json:"parameterValue"`
			} `json:"queryParameters"`
			DefaultDataset *struct {
				DatasetID string `json:"datasetId"`
			} `json:"defaultDataset"`
		} `json:"query"`
		Load *struct {
			DestinationTable struct {
				DatasetID string `json:"datasetId"`
				TableID   string `json:"tableId"`
			} `json:"destinationTable"`
			Schema struct {
				Fields []struct{ Name, Type string } `json:"fields"`
			} `json:"schema"`
			SkipLeadingRows  int    `json:"skipLeadingRows"`
			WriteDisposition string `json:"writeDisposition"`
		} `json:"load"`
	} `json:"configuration"`
}

func (s *Server) insertQuery(w http.ResponseWriter, r *http.Request, project string) {
	var body jobBody
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		apiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "invalid", "bqfake: bad job body: "+err.Error())
		return
	}
	q := body.Configuration.Query
	if q == nil {
		apiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "invalid", "bqfake: only query jobs go to jobs.insert without media")
		return
	}
	if q.UseLegacySQL == nil || *q.UseLegacySQL {
		apiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "invalid", "bqfake: legacy SQL requested; sluice writes GoogleSQL")
		return
	}
	st := Statement{SQL: q.Query, Location: body.JobReference.Location}
	for _, p := range q.QueryParameters {
		st.Params = append(st.Params, Param{Type: p.ParameterType.Type, Value: p.ParameterValue.Value})
	}
	if q.DefaultDataset != nil {
		st.DefaultDataset = q.DefaultDataset.DatasetID
	}
	s.mu.Lock()
	s.statements = append(s.statements, st)
	handler := s.Handler
	s.mu.Unlock()
	res := Result{}
	if handler != nil {
		res = handler(st)
	}
	if res.Schema == nil && res.Err == nil && strings.TrimSpace(st.SQL) == "SELECT 1" {
		res = Result{Schema: []Field{{Name: "f0_", Type: "INTEGER"}}, Rows: [][]any{{int64(1)}}}
	}
	j := &job{id: body.JobReference.JobID, project: project, location: body.JobReference.Location, query: true, res: res}
	if j.id == "" {
		j.id = fmt.Sprintf("job_%d", time.Now().UnixNano())
	}
	s.mu.Lock()
	s.jobs[j.id] = j
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.jobResource(j))
}

func (s *Server) insertLoad(w http.ResponseWriter, r *http.Request, project string) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		apiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "invalid", "bqfake: uploads must be multipart (got "+r.Header.Get("Content-Type")+")")
		return
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	meta, err := mr.NextPart()
	if err != nil {
		apiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "invalid", "bqfake: no metadata part")
		return
	}
	var body jobBody
	if err := json.NewDecoder(meta).Decode(&body); err != nil || body.Configuration.Load == nil {
		apiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "invalid", "bqfake: bad load job metadata")
		return
	}
	media, err := mr.NextPart()
	if err != nil {
		apiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "invalid", "bqfake: no media part")
		return
	}
	data, err := io.ReadAll(media)
	if err != nil {
		apiError(w, http.StatusBadRequest, "INVALID_ARGUMENT", "invalid", "bqfake: reading media: "+err.Error())
		return
	}
	l := body.Configuration.Load
	ld := Load{Dataset: l.DestinationTable.DatasetID, Table: l.DestinationTable.TableID, SkipLeadingRows: l.SkipLeadingRows, WriteDisposition: l.WriteDisposition, Data: data}
	for _, f := range l.Schema.Fields {
		ld.Fields = append(ld.Fields, Field{Name: f.Name, Type: f.Type})
	}
	j := &job{id: body.JobReference.JobID, project: project, location: body.JobReference.Location}
	s.mu.Lock()
	s.loads = append(s.loads, ld)
	s.jobs[j.id] = j
	s.Tables[ld.Dataset+"."+ld.Table] = true
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, s.jobResource(j))
}

func (s *Server) jobResource(j *job) map[string]any {
	status := map[string]any{"state": "DONE"}
	if j.res.Err != nil {
		e := map[string]any{"reason": j.res.Err.Reason, "message": j.res.Err.Message, "location": "query"}
		status["errorResult"] = e
		status["errors"] = []any{e}
	}
	kind := map[string]any{"load": map[string]any{}}
	if j.query {
		kind = map[string]any{"query": map[string]any{}}
	}
	return map[string]any{
		"kind":          "bigquery#job",
		"id":            j.project + ":" + j.location + "." + j.id,
		"jobReference":  map[string]any{"projectId": j.project, "jobId": j.id, "location": j.location},
		"configuration": kind,
		"status":        status,
		"statistics":    map[string]any{"creationTime": strconv.FormatInt(time.Now().UnixMilli(), 10)},
	}
}

func (s *Server) lookup(w http.ResponseWriter, id string) *job {
	s.mu.Lock()
	j := s.jobs[id]
	s.mu.Unlock()
	if j == nil {
		apiError(w, http.StatusNotFound, "NOT_FOUND", "notFound", "Not found: Job "+id)
	}
	return j
}

func (s *Server) getJob(w http.ResponseWriter, id string) {
	if j := s.lookup(w, id); j != nil {
		writeJSON(w, http.StatusOK, s.jobResource(j))
	}
}

func (s *Server) cancel(w http.ResponseWriter, id string) {
	if j := s.lookup(w, id); j != nil {
		s.mu.Lock()
		s.cancelled = append(s.cancelled, id)
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string]any{"kind": "bigquery#jobCancelResponse", "job": s.jobResource(j)})
	}
}

func (s *Server) getTable(w http.ResponseWriter, project, dataset, table string) {
	s.mu.Lock()
	ok := s.Tables[dataset+"."+table]
	exists := s.Exists
	s.mu.Unlock()
	if exists != nil {
		ok = exists(dataset, table)
	}
	if !ok {
		apiError(w, http.StatusNotFound, "NOT_FOUND", "notFound", "Not found: Table "+project+":"+dataset+"."+table)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"kind": "bigquery#table", "id": project + ":" + dataset + "." + table,
		"tableReference": map[string]any{"projectId": project, "datasetId": dataset, "tableId": table},
		"type":           "TABLE",
	})
}

func (s *Server) getQueryResults(w http.ResponseWriter, r *http.Request, id string) {
	j := s.lookup(w, id)
	if j == nil {
		return
	}
	if e := j.res.Err; e != nil {
		status := "INVALID_ARGUMENT"
		code := http.StatusBadRequest
		if e.Reason == "notFound" {
			status, code = "NOT_FOUND", http.StatusNotFound
		}
		apiError(w, code, status, e.Reason, e.Message)
		return
	}
	q := r.URL.Query()
	int64Micros := q.Get("formatOptions.useInt64Timestamp") == "true"
	start := 0
	if tok := q.Get("pageToken"); tok != "" {
		start, _ = strconv.Atoi(tok)
	} else if si := q.Get("startIndex"); si != "" {
		start, _ = strconv.Atoi(si)
	}
	size := s.PageSize
	if m := q.Get("maxResults"); m != "" {
		if n, err := strconv.Atoi(m); err == nil && n < size {
			size = n
		}
	}
	end := min(start+size, len(j.res.Rows))
	rows := []any{}
	for _, row := range j.res.Rows[min(start, end):end] {
		cells := make([]any, len(row))
		for i, v := range row {
			cells[i] = map[string]any{"v": encode(j.res.Schema[i].Type, v, int64Micros)}
		}
		rows = append(rows, map[string]any{"f": cells})
	}
	fields := make([]map[string]any, len(j.res.Schema))
	for i, f := range j.res.Schema {
		fields[i] = map[string]any{"name": f.Name, "type": f.Type, "mode": "NULLABLE"}
	}
	resp := map[string]any{
		"kind":         "bigquery#getQueryResultsResponse",
		"jobReference": map[string]any{"projectId": j.project, "jobId": j.id, "location": j.location},
		"jobComplete":  true,
		"schema":       map[string]any{"fields": fields},
		"totalRows":    strconv.Itoa(len(j.res.Rows)),
		"rows":         rows,
	}
	if end < len(j.res.Rows) && size > 0 {
		resp["pageToken"] = strconv.Itoa(end)
	}
	writeJSON(w, http.StatusOK, resp)
}

// encode writes a value the way the REST API does: every scalar as a
// string, TIMESTAMP in microseconds (int64 format) or seconds.
func encode(typ string, v any, int64Micros bool) any {
	if v == nil {
		return nil
	}
	switch x := v.(type) {
	case time.Time:
		switch typ {
		case "DATE":
			return x.Format("2006-01-02")
		case "DATETIME":
			return x.Format("2006-01-02T15:04:05.999999")
		}
		if int64Micros {
			return strconv.FormatInt(x.UnixMicro(), 10)
		}
		return strconv.FormatFloat(float64(x.UnixMicro())/1e6, 'E', -1, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	case string:
		return x
	}
	return fmt.Sprint(v)
}
