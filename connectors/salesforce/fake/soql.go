package fake

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// The SOQL the fake understands is the subset a destination needs to look
// records up by key:
//
//	SELECT f1, f2 FROM Obj [WHERE cond [AND cond]...] [LIMIT n]
//	cond: field = value | field != value | field IN (value, ...)
//	value: 'string' (with \' \" \\ \n \r \t \b \f escapes) | null | true | false | number
//
// Anything else is 400 MALFORMED_QUERY. String comparisons are
// case-insensitive, as SOQL's are ("SOQL and SOSL Reference", Comparison
// Operators); ids match in their 15- or 18-character forms.

// soqlQuery is a parsed SOQL statement.
type soqlQuery struct {
	fields []string
	object string
	conds  []cond
	limit  int // -1: none
}

type cond struct {
	field  string
	negate bool
	values []any // string, float64, bool or nil
}

// malformed is a SOQL syntax error (MALFORMED_QUERY).
type malformed struct{ msg string }

func (m *malformed) Error() string { return m.msg }

// token kinds of the lexer.
const (
	tWord = iota
	tString
	tNumber
	tPunct
)

type token struct {
	kind int
	text string
}

// lexSOQL splits a statement into words, strings, numbers and punctuation.
func lexSOQL(q string) ([]token, error) {
	var out []token
	for i := 0; i < len(q); {
		ch := q[i]
		switch {
		case ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r':
			i++
		case ch == '\'':
			s, n, err := lexString(q[i:])
			if err != nil {
				return nil, err
			}
			out = append(out, token{tString, s})
			i += n
		case ch == '(' || ch == ')' || ch == ',' || ch == '=':
			out = append(out, token{tPunct, string(ch)})
			i++
		case ch == '!' && i+1 < len(q) && q[i+1] == '=':
			out = append(out, token{tPunct, "!="})
			i += 2
		case ch == '-' || (ch >= '0' && ch <= '9'):
			j := i + 1
			for j < len(q) && (q[j] == '.' || (q[j] >= '0' && q[j] <= '9')) {
				j++
			}
			out = append(out, token{tNumber, q[i:j]})
			i = j
		case isWordChar(ch):
			j := i
			for j < len(q) && (isWordChar(q[j]) || q[j] == '.') {
				j++
			}
			out = append(out, token{tWord, q[i:j]})
			i = j
		default:
			return nil, &malformed{fmt.Sprintf("unexpected token: '%c'", ch)}
		}
	}
	return out, nil
}

func isWordChar(ch byte) bool {
	return ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9')
}

// lexString reads a quoted SOQL string at the start of q and returns its
// value and the bytes consumed.
func lexString(q string) (string, int, error) {
	var b strings.Builder
	for i := 1; i < len(q); i++ {
		switch q[i] {
		case '\'':
			return b.String(), i + 1, nil
		case '\\':
			if i+1 >= len(q) {
				return "", 0, &malformed{"unterminated escape sequence"}
			}
			i++
			esc, ok := map[byte]string{'\'': "'", '"': "\"", '\\': "\\", 'n': "\n", 'r': "\r", 't': "\t", 'b': "\b", 'f': "\f", '_': "\\_", '%': "\\%"}[q[i]]
			if !ok {
				return "", 0, &malformed{"Invalid string literal. Illegal character sequence '\\" + string(q[i]) + "' in string literal."}
			}
			b.WriteString(esc)
		default:
			b.WriteByte(q[i])
		}
	}
	return "", 0, &malformed{"unterminated string literal"}
}

// parser walks the tokens.
type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() token {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return token{tPunct, ""}
}

func (p *parser) next() token {
	t := p.peek()
	p.pos++
	return t
}

func (p *parser) keyword(k string) bool {
	if t := p.peek(); t.kind == tWord && strings.EqualFold(t.text, k) {
		p.pos++
		return true
	}
	return false
}

func (p *parser) unexpected() error {
	t := p.peek()
	if t.text == "" {
		return &malformed{"unexpected end of query"}
	}
	return &malformed{fmt.Sprintf("unexpected token: '%s'", t.text)}
}

// parseSOQL parses the supported subset.
func parseSOQL(q string) (*soqlQuery, error) {
	toks, err := lexSOQL(q)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	out := &soqlQuery{limit: -1}
	if !p.keyword("SELECT") {
		return nil, p.unexpected()
	}
	for {
		t := p.next()
		if t.kind != tWord || strings.EqualFold(t.text, "FROM") || strings.Contains(t.text, ".") {
			p.pos--
			return nil, p.unexpected()
		}
		out.fields = append(out.fields, t.text)
		if p.peek().text != "," {
			break
		}
		p.pos++
	}
	if !p.keyword("FROM") {
		return nil, p.unexpected()
	}
	t := p.next()
	if t.kind != tWord {
		p.pos--
		return nil, p.unexpected()
	}
	out.object = t.text
	if p.keyword("WHERE") {
		for {
			c, err := p.cond()
			if err != nil {
				return nil, err
			}
			out.conds = append(out.conds, c)
			if !p.keyword("AND") {
				break
			}
		}
	}
	if p.keyword("LIMIT") {
		t := p.next()
		n, err := strconv.Atoi(t.text)
		if t.kind != tNumber || err != nil || n < 0 {
			p.pos--
			return nil, p.unexpected()
		}
		out.limit = n
	}
	if p.pos != len(p.toks) {
		return nil, p.unexpected()
	}
	return out, nil
}

func (p *parser) cond() (cond, error) {
	t := p.next()
	if t.kind != tWord {
		p.pos--
		return cond{}, p.unexpected()
	}
	c := cond{field: t.text}
	switch op := p.next(); {
	case op.text == "=":
	case op.text == "!=":
		c.negate = true
	case op.kind == tWord && strings.EqualFold(op.text, "IN"):
		return p.inList(c)
	case op.kind == tWord && strings.EqualFold(op.text, "NOT") && p.keyword("IN"):
		c.negate = true
		return p.inList(c)
	default:
		p.pos--
		return cond{}, p.unexpected()
	}
	v, err := p.value()
	if err != nil {
		return cond{}, err
	}
	c.values = []any{v}
	return c, nil
}

func (p *parser) inList(c cond) (cond, error) {
	if p.next().text != "(" {
		p.pos--
		return cond{}, p.unexpected()
	}
	for {
		v, err := p.value()
		if err != nil {
			return cond{}, err
		}
		c.values = append(c.values, v)
		switch p.next().text {
		case ",":
			continue
		case ")":
			return c, nil
		}
		p.pos--
		return cond{}, p.unexpected()
	}
}

func (p *parser) value() (any, error) {
	t := p.next()
	switch {
	case t.kind == tString:
		return t.text, nil
	case t.kind == tNumber:
		n, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return nil, &malformed{fmt.Sprintf("unexpected token: '%s'", t.text)}
		}
		return n, nil
	case t.kind == tWord && strings.EqualFold(t.text, "null"):
		return nil, nil
	case t.kind == tWord && strings.EqualFold(t.text, "true"):
		return true, nil
	case t.kind == tWord && strings.EqualFold(t.text, "false"):
		return false, nil
	}
	p.pos--
	return nil, p.unexpected()
}

// resolve checks the object and fields against the schema, answering
// Salesforce's INVALID_TYPE and INVALID_FIELD messages.
func (s *Server) resolve(q *soqlQuery) (*Object, error) {
	o := s.object(q.object)
	if o == nil {
		return nil, &soqlError{"INVALID_TYPE", fmt.Sprintf("sObject type '%s' is not supported. If you are attempting to use a custom object, be sure to append the '__c' after the entity name. Please reference your WSDL or the describe call for the appropriate names.", q.object)}
	}
	names := append([]string{}, q.fields...)
	for _, c := range q.conds {
		names = append(names, c.field)
	}
	for _, n := range names {
		if o.field(n) == nil {
			return nil, &soqlError{"INVALID_FIELD", fmt.Sprintf("No such column '%s' on entity '%s'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name. Please reference your WSDL or the describe call for the appropriate names.", n, o.Name)}
		}
	}
	return o, nil
}

type soqlError struct{ code, msg string }

func (e *soqlError) Error() string { return e.msg }

// matchesConds evaluates the WHERE clause on a record.
func matchesConds(o *Object, r *record, conds []cond) bool {
	for _, c := range conds {
		f := o.field(c.field)
		hit := false
		for _, v := range c.values {
			if equalSOQL(f, r.fields[f.Name], v) {
				hit = true
				break
			}
		}
		if hit == c.negate {
			return false
		}
	}
	return true
}

func equalSOQL(f *Field, have, want any) bool {
	if have == nil || want == nil {
		return have == nil && want == nil
	}
	if f.Type == "id" || f.Type == "reference" {
		a, okA := normalID(fmt.Sprint(have))
		b, okB := normalID(fmt.Sprint(want))
		return okA && okB && a == b
	}
	hs, hok := have.(string)
	ws, wok := want.(string)
	if hok && wok {
		return strings.EqualFold(hs, ws)
	}
	return fmt.Sprint(have) == fmt.Sprint(want)
}

// candidates returns the live records a WHERE clause may select, in
// creation order: those an index gives for the first equality or IN
// condition on an indexed field or Id (a lookup by key), else every live
// record. s.mu held.
func (s *Server) candidates(o *Object, conds []cond) []*record {
	for _, c := range conds {
		if c.negate || slices.Contains(c.values, nil) {
			continue
		}
		if rs, ok := s.lookup(o, o.field(c.field), c.values); ok {
			return rs
		}
	}
	return s.live(o)
}

// cursor is a query's remaining rows, read page by page.
type cursor struct {
	rows []map[string]any
}

// query serves GET query?q=...
func (s *Server) query(c *call) {
	q := c.r.URL.Query().Get("q")
	if strings.TrimSpace(q) == "" {
		c.fail(http.StatusBadRequest, "MALFORMED_QUERY", "A query string has to be specified")
		return
	}
	parsed, err := parseSOQL(q)
	var o *Object
	if err == nil {
		o, err = s.resolve(parsed)
	}
	if err != nil {
		var se *soqlError
		if errors.As(err, &se) {
			c.fail(http.StatusBadRequest, se.code, se.msg)
			return
		}
		c.fail(http.StatusBadRequest, "MALFORMED_QUERY", err.Error())
		return
	}
	s.mu.Lock()
	var rows []map[string]any
	for _, r := range s.candidates(o, parsed.conds) {
		if !matchesConds(o, r, parsed.conds) {
			continue
		}
		if parsed.limit >= 0 && len(rows) >= parsed.limit {
			break
		}
		row := map[string]any{"attributes": map[string]string{"type": o.Name, "url": fmt.Sprintf("/services/data/v%d.0/sobjects/%s/%s", c.version, o.Name, r.id)}}
		for _, name := range parsed.fields {
			f := o.field(name)
			row[f.Name] = r.fields[f.Name]
		}
		rows = append(rows, row)
	}
	s.mu.Unlock()
	s.page(c, &cursor{rows: rows}, 0, "")
}

// pageSize is Options.QueryPageSize, or the batchSize of a
// Sforce-Query-Options header (200 to 2,000).
func (s *Server) pageSize(c *call) int {
	size := s.opts.QueryPageSize
	if h := c.r.Header.Get("Sforce-Query-Options"); h != "" {
		if v, ok := strings.CutPrefix(strings.TrimSpace(h), "batchSize="); ok {
			if n, err := strconv.Atoi(v); err == nil && n >= 200 && n <= 2000 {
				size = n
			}
		}
	}
	return size
}

// page answers rows from offset; more rows stay behind a locator whose
// URL looks like Salesforce's (/query/01g...-2000).
func (s *Server) page(c *call, cur *cursor, offset int, locator string) {
	end := min(len(cur.rows), offset+s.pageSize(c))
	out := map[string]any{"totalSize": len(cur.rows), "done": end >= len(cur.rows), "records": cur.rows[offset:end]}
	if end < len(cur.rows) {
		if locator == "" {
			s.mu.Lock()
			s.nextID++
			locator = fmt.Sprintf("01g5g%010d", s.nextID)
			s.queries[locator] = cur
			s.mu.Unlock()
		}
		out["nextRecordsUrl"] = fmt.Sprintf("/services/data/v%d.0/query/%s-%d", c.version, locator, end)
	}
	c.json(http.StatusOK, out)
}

// queryMore serves GET query/{locator}-{offset}.
func (s *Server) queryMore(c *call) {
	loc, off, _ := strings.Cut(c.params["locator"], "-")
	offset, err := strconv.Atoi(off)
	s.mu.Lock()
	cur := s.queries[loc]
	s.mu.Unlock()
	if cur == nil || err != nil || offset < 0 || offset > len(cur.rows) {
		c.fail(http.StatusBadRequest, "INVALID_QUERY_LOCATOR", "invalid query locator")
		return
	}
	s.page(c, cur, offset, loc)
}
