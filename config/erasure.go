package config

import (
	"reflect"
	"strings"
	"time"
)

// DefaultErasureDeadline is how long an erasure request may stay
// incomplete before sluice run alerts: under GDPR's one month, with room to
// act.
const DefaultErasureDeadline = 25 * 24 * time.Hour

// Erasure configures the right to erasure (GDPR/RGPD article 17): the
// secret that keys the hashes sluice keeps of erased identifiers, the
// deadline, and an optional table of requests fed by the data team's DSR
// tooling.
type Erasure struct {
	Secret   Secret           `yaml:"secret" doc:"Required. Key of the hashes sluice keeps of erased identifiers (their suppression list and audit), as a ${VAR} reference; at least 16 characters. Changing it makes earlier erasures unrecognisable: keep it like a database password."`
	Deadline Duration         `yaml:"deadline" doc:"How long a request may stay incomplete before sluice run alerts and counts it in sluice_erasures_overdue. Default: 25d, under GDPR's one month."`
	Requests *ErasureRequests `yaml:"requests" doc:"A table or SELECT of erasure requests (id_type, id_value, requested_at), read at each build: each new row is queued like sluice forget TYPE:VALUE."`
	At       Positions        `yaml:"-"`
}

// ErasureRequests is where requests are read from.
type ErasureRequests struct {
	Table string    `yaml:"table" doc:"Table of requests, as table or schema.table, with columns id_type, id_value and requested_at. Exactly one of table and sql."`
	SQL   string    `yaml:"sql" doc:"A SELECT returning id_type, id_value and requested_at."`
	At    Positions `yaml:"-"`
}

// MinErasureSecret is the shortest secret accepted: the hashes are only as
// strong as it.
const MinErasureSecret = 16

// ErasureDeadline is the effective deadline.
func (e *Erasure) ErasureDeadline() time.Duration {
	if e == nil || e.Deadline.IsZero() {
		return DefaultErasureDeadline
	}
	return e.Deadline.D
}

func init() {
	typeDocs[reflect.TypeFor[Erasure]()] = "The right to erasure: `sluice forget TYPE:VALUE` (or a row of `requests`) erases the person holding that identifier from the warehouse tables sluice writes and from every destination it was synced to, keeps only keyed hashes of their identifiers so that a later build never recreates them, and audits it (`sluice erasures`). See docs/privacy.md."
	refExamples[reflect.TypeFor[Erasure]()] = refExample{ProjectSchema, `version: 1
name: shop
warehouse: {type: duckdb, path: shop.duckdb}
erasure:
  secret: ${SLUICE_ERASURE_SECRET}
  deadline: 20d
  requests: { table: privacy.erasure_requests }
`}
}

func (v *validator) erasure() {
	e := v.p.Erasure
	if e == nil {
		return
	}
	if _, ok := e.At["secret"]; !ok {
		// Not a required tag: an unset variable leaves the value empty,
		// which is fine until something is erased (see cmd/sluice).
		v.add(e.At.Of(""), "erasure needs secret: the key of the hashes of erased identifiers, as a ${VAR} reference such as ${SLUICE_ERASURE_SECRET}")
	}
	if e.Secret != "" && len(e.Secret) < MinErasureSecret {
		v.add(e.At.Of("secret"), "the erasure secret is too short: use at least %d characters (for instance openssl rand -hex 32)", MinErasureSecret)
	}
	if e.Deadline.D > 30*24*time.Hour {
		v.add(e.At.Of("deadline"), "deadline %s is longer than GDPR's one month: use 30d or less", e.Deadline.Text)
	}
	r := e.Requests
	if r == nil {
		return
	}
	switch {
	case r.Table == "" && r.SQL == "":
		v.add(e.At.Of("requests"), "erasure requests need a table or a sql query")
	case r.Table != "" && r.SQL != "":
		v.add(r.At.Of("sql"), "erasure requests have both table and sql: keep one")
	case r.Table != "" && strings.Count(r.Table, ".") > 2:
		v.add(r.At.Of("table"), "invalid table %s: write table, schema.table or database.schema.table", quote(r.Table))
	}
}
