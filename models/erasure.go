package models

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/models/dialect"
)

// Erasure is what a build needs to honour erasure requests (the project's
// erasure block): the suppression list it reads, the key its SQL hashes
// values with, and the table of requests to take in first.
//
// The key is derived from the project's secret and only substituted for
// KeyPlaceholder when a statement runs: compiled SQL files, plans and
// error messages show the placeholder, never the key.
type Erasure struct {
	StateSchema      string
	SuppressionTable string // qualified: every erased identifier as a keyed digest
	Key              string // hex; see ErasureKey
	// KeyPlaceholder stands for the key in the compiled SQL
	// (ErasureKeyPlaceholder): no SQL written in the project may contain
	// it (CheckFragmentSyntax).
	KeyPlaceholder string
	// Requests is a SELECT of id_type, id_value and requested_at, or "".
	Requests string
}

// ErasureKeyPlaceholder stands for the erasure key in compiled SQL.
const ErasureKeyPlaceholder = "{sluice:erasure_key}"

// SuppressionTableName is the suppression list's table in the state schema.
const SuppressionTableName = "erasure_identifiers"

// ErasureKey derives the key sluice hashes erased identifiers with from
// the project's secret: HMAC-SHA256(secret, "sluice erasure v1"), hex. The
// warehouse sees only this derived key, never the secret.
func ErasureKey(secret string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("sluice erasure v1"))
	return hex.EncodeToString(m.Sum(nil))
}

// ErasureDigest is the keyed digest of an identifier of a type: SHA-256 of
// key, type, ':' and the normalised value, hex. SuppressedExpr computes the
// same in SQL.
func ErasureDigest(key, idType, value string) string {
	h := sha256.Sum256([]byte(key + idType + ":" + value))
	return hex.EncodeToString(h[:])
}

// DigestExpr is ErasureDigest in SQL, over SQL expressions for the type's
// name and the value, with the key's placeholder.
func (e *Erasure) DigestExpr(d dialect.Dialect, typeExpr, valueExpr string) string {
	return dialect.SHA256Hex(d, "concat("+d.String(e.KeyPlaceholder)+", "+typeExpr+", ':', "+valueExpr+")")
}

// SuppressedExpr is true when a value of a type is on the suppression list.
func (e *Erasure) SuppressedExpr(d dialect.Dialect, typeExpr, valueExpr string) string {
	return e.DigestExpr(d, typeExpr, valueExpr) + " IN (SELECT digest FROM " + e.SuppressionTable + ")"
}

// SuppressionDDL creates the state schema and the suppression list.
func SuppressionDDL(d dialect.Dialect, stateSchema string) []string {
	text, ts := dialect.TextType(d), dialect.TimestampType(d)
	return []string{
		d.CreateSchema(stateSchema),
		dialect.CreateTableIfMissing(d, d.Table(stateSchema, SuppressionTableName), []dialect.TableColumn{
			{Name: "request_id", Type: text}, {Name: "id_type", Type: text}, {Name: "digest", Type: text}, {Name: "added_at", Type: ts},
		}),
	}
}

func (c *Compiler) erasure(plan *Plan) {
	e := c.P.Erasure
	if e == nil {
		return
	}
	plan.Erasure = &Erasure{
		StateSchema:      c.P.StateSchema,
		SuppressionTable: c.D.Table(c.P.StateSchema, SuppressionTableName),
		Key:              ErasureKey(string(e.Secret)),
		KeyPlaceholder:   ErasureKeyPlaceholder,
	}
	if r := e.Requests; r != nil {
		if r.SQL != "" {
			plan.Erasure.Requests = "SELECT id_type, id_value, requested_at FROM (\n" + strings.TrimRight(strings.TrimSpace(r.SQL), ";") + "\n) AS erasure_requests"
		} else {
			plan.Erasure.Requests = "SELECT id_type, id_value, requested_at FROM " + c.D.TableRef(r.Table)
		}
	}
}

// Bindings are the values substituted for placeholders when a statement
// runs.
func (p *Plan) Bindings() map[string]string {
	if p.Erasure == nil {
		return nil
	}
	return map[string]string{p.Erasure.KeyPlaceholder: p.Erasure.Key}
}

// LiveSourceName is the table, in the project schema, that a sync from an
// edge source reads when the project erases: the source's rows without
// those of erased people (an erased identifier and none stitched), so that
// rows lingering in the source are never sent again.
func LiveSourceName(source string) string { return "src_" + source + "_live" }

// NeedsLiveSource tells whether a source gets a live table: the project
// erases, an identity edge reads the source (only its rows can be told
// apart), and a sync reads it.
func NeedsLiveSource(p *config.Project, source string) bool {
	if p.Erasure == nil || p.Identity == nil {
		return false
	}
	edge := false
	for _, e := range p.Identity.Edges {
		edge = edge || e.Source == source
	}
	if !edge {
		return false
	}
	for _, s := range p.Syncs {
		if s.From == "source."+source {
			return true
		}
	}
	return false
}
