package identity

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models"
)

// Errors of Explain, for errors.Is.
var (
	ErrUnknownType = errors.New("unknown id type")
	ErrRejected    = errors.New("value is not a valid identifier of its type")
	ErrBlocklisted = errors.New("value is blocklisted")
	ErrNotFound    = errors.New("identifier not found")
	ErrNotBuilt    = errors.New("identity map not built")
)

// Identifier is one identifier: a type and a normalised value.
type Identifier struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

func (i Identifier) String() string { return i.Type + ":" + i.Value }

// ProfileIdentifier is an identifier of the explained profile.
type ProfileIdentifier struct {
	Identifier
	FirstSeen *time.Time `json:"first_seen_at,omitempty"`
	LastSeen  *time.Time `json:"last_seen_at,omitempty"`
	SeenCount int64      `json:"seen_count"`
}

// Row is a source row of an edge, by source name and primary key.
type Row struct {
	Source string     `json:"source"`
	Key    string     `json:"key"`
	SeenAt *time.Time `json:"seen_at,omitempty"`
}

func (r Row) String() string {
	// Parts of a composite key are joined by the unit separator; show them
	// with a visible one.
	s := r.Source + " " + strings.ReplaceAll(r.Key, "\x1f", "|")
	if r.SeenAt != nil {
		s += " (" + formatTime(*r.SeenAt) + ")"
	}
	return s
}

// Link is one step of a chain: a row that carries both identifiers.
type Link struct {
	Row  Row        `json:"row"`
	From Identifier `json:"from"`
	To   Identifier `json:"to"`
}

// Chain is the shortest chain of rows from the explained identifier to
// another identifier of its profile.
type Chain struct {
	To    Identifier `json:"to"`
	Links []Link     `json:"links"`
}

// Apart is a row of the profile that also carries an identifier of another
// profile: limit_per_profile kept the two apart.
type Apart struct {
	Row       Row        `json:"row"`
	Here      Identifier `json:"here"`
	Other     Identifier `json:"other"`
	ProfileID string     `json:"other_profile_id"`
}

// Explanation answers "why is this identifier in this profile, with these
// others?".
type Explanation struct {
	Input       string              `json:"input"`      // the value as given
	Identifier  Identifier          `json:"identifier"` // normalised
	ProfileID   string              `json:"profile_id"`
	Identifiers []ProfileIdentifier `json:"identifiers"` // the explained one first, then by type and value
	Chains      []Chain             `json:"chains"`      // one per other identifier, same order
	Apart       []Apart             `json:"kept_apart,omitempty"`
	// Rows are every source row carrying an identifier of the profile,
	// earliest first: what an erasure lists for the data team.
	Rows []Row `json:"rows,omitempty"`
}

// ParseIdentifier splits TYPE:VALUE at the first colon (type names cannot
// contain one; values can).
func ParseIdentifier(s string) (typ, value string, err error) {
	typ, value, ok := strings.Cut(s, ":")
	if !ok || typ == "" {
		return "", "", fmt.Errorf("expected TYPE:VALUE, such as email:jane@example.com, got %q", s)
	}
	return typ, value, nil
}

// Normalise normalises a value of an id type as the build does, in the
// warehouse. A value the build would skip is an error: ErrUnknownType,
// ErrRejected or ErrBlocklisted (junk included); the error of a
// blocklisted value still carries the identifier (see BlockedError).
func Normalise(ctx context.Context, w warehouse.Warehouse, c *models.Compiler, idType, value string) (Identifier, error) {
	id := c.P.Identity
	if id == nil {
		return Identifier{}, fmt.Errorf("%w: the project has no identity section", ErrUnknownType)
	}
	var typ *config.IDType
	var names []string
	for i := range id.IDTypes {
		names = append(names, id.IDTypes[i].Name)
		if id.IDTypes[i].Name == idType {
			typ = &id.IDTypes[i]
		}
	}
	if typ == nil {
		return Identifier{}, fmt.Errorf("%w %q%s (declared: %s)", ErrUnknownType, idType, config.DidYouMean(idType, names), strings.Join(names, ", "))
	}
	d := c.D
	lit := d.String(value)
	var junk sql.NullBool
	var formatted, normalised sql.NullString
	q := "SELECT " + junkExpr(d, lit) + ", " + formatExpr(d, *typ, lit) + ", " + NormalizeExpr(d, *typ, lit)
	if err := warehouse.QueryRow(ctx, w, q, &junk, &formatted, &normalised); err != nil {
		return Identifier{}, fmt.Errorf("normalising %s:%s: %w", idType, value, err)
	}
	switch {
	case junk.Valid && junk.Bool:
		return Identifier{}, &BlockedError{ID: Identifier{idType, value}, err: fmt.Errorf("%s:%q: %w: it is a built-in junk value (blank, null, undefined, none, n/a, or only zeros and separators), which never links anything", idType, value, ErrBlocklisted)}
	case !formatted.Valid:
		return Identifier{}, fmt.Errorf("%s:%q: %w (normalize: %s%s), so the build skipped it", idType, value, ErrRejected, typ.Normalize, regionNote(*typ))
	case !normalised.Valid:
		return Identifier{}, &BlockedError{ID: Identifier{idType, formatted.String}, err: fmt.Errorf("%s:%q: %w: normalised to %q, which the blocklist of %s names", idType, value, ErrBlocklisted, formatted.String, idType)}
	}
	return Identifier{idType, normalised.String}, nil
}

// BlockedError is ErrBlocklisted with the identifier as normalised.
type BlockedError struct {
	ID  Identifier
	err error
}

func (e *BlockedError) Error() string { return e.err.Error() }
func (e *BlockedError) Unwrap() error { return e.err }

// Explain finds the profile holding the identifier (normalised as the build
// normalises it), every identifier of that profile, and for each the
// shortest chain of source rows linking it to the given one: a breadth-first
// search over the rows of that profile only. It reads the tables the last
// build left (E_identity_map, E_identity_rows, E_identity_edges).
func Explain(ctx context.Context, w warehouse.Warehouse, c *models.Compiler, idType, value string) (*Explanation, error) {
	norm, err := Normalise(ctx, w, c, idType, value)
	if err != nil {
		return nil, err
	}
	id := c.P.Identity
	d := c.D
	ex := &Explanation{Input: value, Identifier: norm}

	schema, table := c.P.Schema, c.Entity()+"_identity_edges"
	if ok, err := w.TableExists(ctx, schema, table); err != nil {
		return nil, err
	} else if !ok {
		return nil, fmt.Errorf("%w: %s.%s does not exist; run sluice build first", ErrNotBuilt, schema, table)
	}
	edges := EdgesTable(c)
	var self int64
	found := false
	k := &compiler{c: c, d: d, id: id, types: id.IDTypes}
	idMap := MapTable(c)
	// Identity maps built by earlier releases lack the identifiers' numbers.
	probe, err := w.Query(ctx, "SELECT id_no FROM "+idMap+" WHERE 1 = 0")
	if err != nil {
		return nil, fmt.Errorf("%w: %s has no id_no column (built by an earlier release); run sluice build again", ErrNotBuilt, plainTable(idMap))
	}
	probe.Close()
	// Joins keep to what every warehouse runs: one per SELECT, with the
	// right side's names its own.
	rows, err := w.Query(ctx, "SELECT id_no, profile_id FROM "+idMap+
		" WHERE id_type = "+d.String(idType)+" AND id_value = "+d.String(ex.Identifier.Value))
	if err != nil {
		return nil, fmt.Errorf("looking up %s: %w", ex.Identifier, err)
	}
	for rows.Next() {
		if err := rows.Scan(&self, &ex.ProfileID); err != nil {
			rows.Close()
			return nil, err
		}
		found = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("looking up %s: %w", ex.Identifier, err)
	}
	if !found {
		hint := ""
		if ex.Identifier.Value != value {
			hint = fmt.Sprintf(" (normalised from %q)", value)
		}
		return nil, fmt.Errorf("%s%s: %w: no row of an edge source carries it", ex.Identifier, hint, ErrNotFound)
	}

	// The profile's identifiers.
	members := map[int64]ProfileIdentifier{}
	rows, err = w.Query(ctx, "SELECT id_no, id_type, id_value, first_seen_at, last_seen_at, seen_count FROM "+idMap+
		" WHERE profile_id = "+d.String(ex.ProfileID))
	if err != nil {
		return nil, fmt.Errorf("reading profile %s: %w", ex.ProfileID, err)
	}
	for rows.Next() {
		var n int64
		var pi ProfileIdentifier
		var first, last sql.NullTime
		if err := rows.Scan(&n, &pi.Type, &pi.Value, &first, &last, &pi.SeenCount); err != nil {
			rows.Close()
			return nil, err
		}
		pi.FirstSeen, pi.LastSeen = timePtr(first), timePtr(last)
		members[n] = pi
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	// The rows touching the profile, with every identifier they carry.
	type rowInfo struct {
		Row
		ids []int64
	}
	byRow := map[int64]*rowInfo{}
	outside := map[int64]Identifier{}
	outsideProfile := map[int64]string{}
	memberIDs := `SELECT id_no FROM ` + idMap + ` WHERE profile_id = ` + d.String(ex.ProfileID)
	rows, err = w.Query(ctx, `SELECT er.row_id, `+k.sourceName("er.edge")+`, er.row_key, er.seen_at, er.id, m.m_type, m.m_value, m.m_profile
FROM (
    SELECT e.row_id AS row_id, r.r_edge AS edge, r.r_key AS row_key, r.r_seen AS seen_at, e.id AS id
    FROM `+edges+` AS e
    JOIN (SELECT row_id AS r_row, edge AS r_edge, row_key AS r_key, seen_at AS r_seen FROM `+RowsTable(c)+`) AS r ON r.r_row = e.row_id
    WHERE e.row_id IN (SELECT x.row_id FROM `+edges+` AS x WHERE x.id IN (`+memberIDs+`))
) AS er
JOIN (SELECT id_no AS m_id, id_type AS m_type, id_value AS m_value, profile_id AS m_profile FROM `+idMap+`) AS m ON m.m_id = er.id`)
	if err != nil {
		return nil, fmt.Errorf("reading the rows of profile %s: %w", ex.ProfileID, err)
	}
	for rows.Next() {
		var rowID, n int64
		var src, it, iv, prof string
		var key sql.NullString
		var seen sql.NullTime
		if err := rows.Scan(&rowID, &src, &key, &seen, &n, &it, &iv, &prof); err != nil {
			rows.Close()
			return nil, err
		}
		ri := byRow[rowID]
		if ri == nil {
			ri = &rowInfo{Row: Row{Source: src, Key: key.String, SeenAt: timePtr(seen)}}
			if !key.Valid {
				ri.Key = "(no key)"
			}
			byRow[rowID] = ri
		}
		ri.ids = append(ri.ids, n)
		if prof != ex.ProfileID {
			outside[n] = Identifier{it, iv}
			outsideProfile[n] = prof
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	// Rows in a deterministic order: earliest first, then source and key.
	rowIDs := make([]int64, 0, len(byRow))
	for r := range byRow {
		rowIDs = append(rowIDs, r)
	}
	sort.Slice(rowIDs, func(a, b int) bool { return rowLess(byRow[rowIDs[a]].Row, byRow[rowIDs[b]].Row) })
	for _, r := range rowIDs {
		ex.Rows = append(ex.Rows, byRow[r].Row)
	}
	rowsOf := map[int64][]int64{} // identifier -> rows, in that order
	for _, r := range rowIDs {
		ri := byRow[r]
		slices.Sort(ri.ids)
		for _, n := range ri.ids {
			if _, in := members[n]; in {
				rowsOf[n] = append(rowsOf[n], r)
			}
		}
	}

	// Breadth-first search from the explained identifier over the rows of
	// the profile: each step is a row carrying two of its identifiers.
	type step struct {
		prev int64
		row  int64
	}
	reached := map[int64]step{self: {prev: -1}}
	queue := []int64{self}
	for len(queue) > 0 {
		n := queue[0]
		queue = queue[1:]
		for _, r := range rowsOf[n] {
			for _, m := range byRow[r].ids {
				if _, in := members[m]; !in {
					continue
				}
				if _, seen := reached[m]; seen {
					continue
				}
				reached[m] = step{prev: n, row: r}
				queue = append(queue, m)
			}
		}
	}

	order := make([]int64, 0, len(members))
	for n := range members {
		if n != self {
			order = append(order, n)
		}
	}
	sort.Slice(order, func(a, b int) bool {
		x, y := members[order[a]], members[order[b]]
		if x.Type != y.Type {
			return x.Type < y.Type
		}
		return x.Value < y.Value
	})
	ex.Identifiers = append(ex.Identifiers, members[self])
	for _, n := range order {
		ex.Identifiers = append(ex.Identifiers, members[n])
		ch := Chain{To: members[n].Identifier}
		if _, ok := reached[n]; ok {
			for m := n; m != self; m = reached[m].prev {
				s := reached[m]
				ch.Links = append(ch.Links, Link{Row: byRow[s.row].Row, From: members[s.prev].Identifier, To: members[m].Identifier})
			}
			slices.Reverse(ch.Links)
		}
		ex.Chains = append(ex.Chains, ch)
	}

	for _, r := range rowIDs {
		ri := byRow[r]
		var here *Identifier
		for _, n := range ri.ids {
			if m, in := members[n]; in && here == nil {
				here = &m.Identifier
			}
		}
		for _, n := range ri.ids {
			if o, out := outside[n]; out && here != nil {
				ex.Apart = append(ex.Apart, Apart{Row: ri.Row, Here: *here, Other: o, ProfileID: outsideProfile[n]})
			}
		}
	}
	return ex, nil
}

func rowLess(a, b Row) bool {
	switch {
	case a.SeenAt != nil && b.SeenAt == nil:
		return true
	case a.SeenAt == nil && b.SeenAt != nil:
		return false
	case a.SeenAt != nil && !a.SeenAt.Equal(*b.SeenAt):
		return a.SeenAt.Before(*b.SeenAt)
	case a.Source != b.Source:
		return a.Source < b.Source
	}
	return a.Key < b.Key
}

// Render writes the explanation for a terminal.
func (ex *Explanation) Render(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s is in profile %s (%d identifiers)\n", ex.Identifier, ex.ProfileID, len(ex.Identifiers))
	if ex.Input != ex.Identifier.Value {
		fmt.Fprintf(&b, "(normalised from %q)\n", ex.Input)
	}
	b.WriteString("\nIdentifiers (first seen, last seen, rows):\n")
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, pi := range ex.Identifiers {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\n", pi.Type, pi.Value, optTime(pi.FirstSeen), optTime(pi.LastSeen), pi.SeenCount)
	}
	tw.Flush()
	if len(ex.Chains) > 0 {
		fmt.Fprintf(&b, "\nHow they are linked (shortest chain of source rows from %s):\n", ex.Identifier)
		for _, ch := range ex.Chains {
			fmt.Fprintf(&b, "  %s\n", ch.To)
			if len(ch.Links) == 0 {
				b.WriteString("    (no chain of rows within the profile)\n")
			}
			for _, l := range ch.Links {
				fmt.Fprintf(&b, "    %s: %s + %s\n", l.Row, l.From, l.To)
			}
		}
	}
	if len(ex.Apart) > 0 {
		b.WriteString("\nKept apart by limit_per_profile (rows that also carry another profile's identifier):\n")
		for _, a := range ex.Apart {
			fmt.Fprintf(&b, "  %s: %s here, %s in profile %s\n", a.Row, a.Here, a.Other, a.ProfileID)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func regionNote(t config.IDType) string {
	if t.Normalize == "phone_e164" {
		return ", default_region: " + t.DefaultRegion
	}
	return ""
}

func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

func optTime(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return formatTime(*t)
}

func formatTime(t time.Time) string {
	if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0 {
		return t.Format(time.DateOnly)
	}
	return t.Format("2006-01-02 15:04:05")
}
