package config

import (
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// The Go types below are the project's configuration language. Their tags
// drive decoding, validation and the JSON Schema (schema/sluice.schema.json),
// so a key documented here is a key that works.

// CurrentVersion is the configuration version this build understands.
const CurrentVersion = 1

// Project is a loaded, validated project: sluice.yml plus every other YAML
// file it includes, merged.
type Project struct {
	Dir   string   // absolute project directory
	Files []string // project-relative paths of the loaded YAML files

	Version     int
	Name        string
	Warehouse   Warehouse
	Schema      string // where sluice builds its tables
	StateSchema string // where sync state lives
	TimeZone    string
	Daemon      Daemon   // settings of `sluice run`
	Erasure     *Erasure // nil without erasure: block; see docs/privacy.md

	// Redactor knows every value that came from a ${VAR} reference: pass
	// messages and logs that may quote the configuration through it.
	Redactor *Redactor

	Include       []string // include patterns of sluice.yml, as written
	ExternalPaths []string // folders outside the project that seed files may be read from

	Sections
}

// ProjectFile is the layout of sluice.yml.
type ProjectFile struct {
	Version       int       `yaml:"version" required:"true" doc:"Configuration format version. Always 1."`
	Name          string    `yaml:"name" required:"true" doc:"Project name, used in logs and run history."`
	Warehouse     Warehouse `yaml:"warehouse" required:"true" doc:"Where sluice reads sources and builds its tables."`
	Schema        string    `yaml:"schema" doc:"Schema that receives identity map, profiles and segments. Default: sluice."`
	StateSchema   string    `yaml:"state_schema" doc:"Schema that holds sync state (snapshots, run log). Default: sluice_state."`
	TimeZone      string    `yaml:"time_zone" doc:"IANA time zone for schedules and time windows. Default: UTC."`
	Include       []string  `yaml:"include" doc:"Glob patterns (relative to the project) of further YAML files to load. Default: *.yml, *.yaml, models/**/*.yml, models/**/*.yaml."`
	Exclude       []string  `yaml:"exclude" doc:"Glob patterns of YAML files to skip, e.g. docker-compose.yml (always skipped)."`
	Daemon        Daemon    `yaml:"daemon" doc:"Settings of sluice run, the scheduler daemon."`
	Erasure       *Erasure  `yaml:"erasure" doc:"The right to erasure: the secret keying the hashes of erased identifiers, the deadline, and an optional table of requests. Needed by sluice forget; see docs/privacy.md."`
	ExternalPaths []string  `yaml:"external_paths" doc:"Folders outside the project directory that seed files may be read from, e.g. ../shared/data for data several projects share; relative to the project, or absolute. Any other path that leaves the project is refused (see Paths)."`
	Sections      `yaml:",inline"`
	At            Positions `yaml:"-"`
}

// Sections are the definitions any project file may hold.
type Sections struct {
	Seeds        []Seed        `yaml:"seeds" doc:"CSV files loaded into the warehouse by build, like dbt seeds. validate and build check every file first (quoting, field counts, values against column_types) and report each problem as file:line; a build with a bad seed loads nothing."`
	Sources      []Source      `yaml:"sources" doc:"The customer's own tables (or SELECTs) that sluice reads."`
	Identity     *Identity     `yaml:"identity" doc:"How identifiers found in sources are stitched into profiles."`
	Traits       []Trait       `yaml:"traits" doc:"Profile attributes, keyed by trait name."`
	Segments     []Segment     `yaml:"segments" doc:"Audiences: subsets of profiles."`
	Destinations []Destination `yaml:"destinations" doc:"Systems that receive data (Klaviyo, webhooks, files...)."`
	Syncs        []Sync        `yaml:"syncs" doc:"What goes where, how and when."`
	Alerts       []Alert       `yaml:"alerts" doc:"Webhooks (generic JSON or Slack) told when syncs fail, reject too much or fall behind schedule; sent by sluice run."`
}

// Warehouse selects and configures the warehouse connection.
type Warehouse struct {
	Type           string `yaml:"type" required:"true" enum:"duckdb,clickhouse,snowflake,bigquery" doc:"Warehouse kind."`
	Path           string `yaml:"path" doc:"duckdb: database file, relative to the project; empty or :memory: for an in-memory database."`
	MemoryLimit    string `yaml:"memory_limit" doc:"duckdb: cap on DuckDB's own memory, e.g. 2GB (DuckDB's memory_limit setting). Builds keep their intermediate tables in an in-memory database attached as sluice_work, which counts against it and spills to DuckDB's temporary directory beyond it; the quickstart built over a million demo people fits in 4GB (at 1GB its profiles step stops with DuckDB's out-of-memory error)."`
	Threads        int    `yaml:"threads" min:"1" max:"1024" doc:"duckdb: worker threads; default: all cores."`
	ExternalAccess bool   `yaml:"external_access" doc:"duckdb: let SQL written in the project (sql: sources, fragments) and sluice query read and write any file or URL the process can reach. Default false: DuckDB may read only the project folder, the folders under external_paths and the database file's folder, and loads no extension (DuckDB's enable_external_access and allowed_directories settings). Turn it on to read remote or shared files (read_parquet of s3://..., httpfs) from sources."`
	FileMode       string `yaml:"file_mode" enum:"private,group" doc:"duckdb: permissions of the database file and its folder, which hold personal data: private (default) makes them readable by their owner only (0600 files, 0700 folder); group lets the owner's group read them too (0640, 0750). See docs/privacy.md."`

	// ClickHouse connection: a DSN, or its parts.
	DSN           Secret `yaml:"dsn" doc:"clickhouse: connection URL such as clickhouse://user:password@host:9000/db?secure=true (native protocol). It holds the password, so write it as a ${VAR} reference. Exclusive with host. snowflake: a gosnowflake DSN, user:password@account/database?warehouse=WH&role=ROLE, instead of account, user, password..."`
	Host          string `yaml:"host" doc:"clickhouse: server host name. Default: 127.0.0.1."`
	Port          int    `yaml:"port" min:"1" max:"65535" doc:"clickhouse: native protocol port. Default: 9000, or 9440 with tls."`
	Database      string `yaml:"database" doc:"clickhouse: default database, where sources written without a schema are read. Default: default. snowflake: database sluice reads and builds in (required without dsn)."`
	User          string `yaml:"user" doc:"clickhouse: user name. Default: default. snowflake: login name (required without dsn)."`
	Password      Secret `yaml:"password" doc:"clickhouse: password, as a ${VAR} reference. snowflake: password, unless private_key_file is given."`
	TLS           bool   `yaml:"tls" doc:"clickhouse: connect with TLS (the secure native port)."`
	TLSCAFile     string `yaml:"tls_ca_file" doc:"clickhouse: PEM file of the certificate authorities to trust, relative to the project; default: the system's."`
	TLSSkipVerify bool   `yaml:"tls_skip_verify" doc:"clickhouse: accept any server certificate (tests only: this disables TLS's protection)."`

	// Snowflake connection: a DSN, or account, user and password or key.
	Account          string `yaml:"account" doc:"snowflake: account identifier, such as myorg-myaccount (what precedes .snowflakecomputing.com)."`
	PrivateKeyFile   string `yaml:"private_key_file" doc:"snowflake: unencrypted PEM file of the user's RSA private key (PKCS#8 or PKCS#1) for key-pair authentication, relative to the project; used instead of password."`
	VirtualWarehouse string `yaml:"warehouse" doc:"snowflake: virtual warehouse that runs sluice's queries; default: the user's default warehouse."`
	Role             string `yaml:"role" doc:"snowflake: role to use; default: the user's default role."`

	// BigQuery connection.
	Project         string `yaml:"project" doc:"bigquery: Google Cloud project that runs the query jobs and holds the datasets sluice builds (schema and state_schema are datasets)."`
	Dataset         string `yaml:"dataset" doc:"bigquery: default dataset, where sources written without a dataset are read."`
	Location        string `yaml:"location" doc:"bigquery: location of the datasets and jobs, such as EU or us-central1. Default: the location BigQuery picks from the data."`
	CredentialsFile string `yaml:"credentials_file" doc:"bigquery: service-account key file (JSON), relative to the project. Default: Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud auth, or the metadata server)."`

	At Positions `yaml:"-"`
}

// Seed is a CSV file that build loads into a warehouse table.
type Seed struct {
	Name        string    `yaml:"name" required:"true" doc:"Table name."`
	Path        string    `yaml:"path" required:"true" doc:"CSV file, relative to the project directory."`
	Schema      string    `yaml:"schema" doc:"Schema of the table. Default: raw."`
	ColumnTypes Mapping   `yaml:"column_types" doc:"Column name to SQL type, overriding type detection (keep phone numbers as varchar)."`
	At          Positions `yaml:"-"`
}

// Source is a table or query in the warehouse with a declared primary key.
type Source struct {
	Name        string     `yaml:"name" required:"true" doc:"Name used by identity edges, traits and syncs."`
	Table       string     `yaml:"table" doc:"Table to read, as table or schema.table. Exactly one of table and sql."`
	SQL         string     `yaml:"sql" doc:"A SELECT to read instead of a table."`
	PrimaryKey  StringList `yaml:"primary_key" required:"true" doc:"Column(s) that identify a row; rows with a NULL or duplicated key are reported."`
	Timestamp   string     `yaml:"timestamp" doc:"Column telling when the row happened or last changed; used by most_recent rules and time windows."`
	AppendOnly  bool       `yaml:"append_only" doc:"Rows are only ever added, each with a timestamp later than every row already there: a build then reads only the rows after the last build's latest timestamp to find what changed, instead of hashing every row. Needs timestamp. A build that finds fewer rows up to that mark (a row deleted or rewritten) says so and rebuilds everything."`
	Description string     `yaml:"description" doc:"Free text for humans."`
	At          Positions  `yaml:"-"`
}

// Identity describes the entity's identifier types and where they co-occur.
type Identity struct {
	Entity    string    `yaml:"entity" doc:"Entity name; tables are named <entity>_identity_map and <entity>_profiles. Default: customer."`
	IDTypes   []IDType  `yaml:"id_types" required:"true" doc:"Identifier types, keyed by name (email, phone, user_id...)."`
	Edges     []Edge    `yaml:"edges" required:"true" doc:"Sources whose rows link identifiers together."`
	MaxRounds int       `yaml:"max_rounds" min:"1" max:"10000" doc:"Safety cap on stitching rounds. Default: 64."`
	At        Positions `yaml:"-"`
}

// IDType is one kind of identifier with its guards.
type IDType struct {
	Name              string    `yaml:",key"`
	Normalize         string    `yaml:"normalize" enum:"none,email,phone_e164,lower,trim" doc:"Normalisation applied before stitching: email (trim + lower-case), phone_e164, lower, trim or none. Default: trim."`
	DefaultRegion     string    `yaml:"default_region" doc:"phone_e164: ISO country code for numbers written without a country prefix, e.g. FR."`
	Blocklist         []string  `yaml:"blocklist" doc:"Values (after normalisation) that never link anything, e.g. test@example.com."`
	BlocklistPatterns []string  `yaml:"blocklist_patterns" doc:"Regular expressions (RE2) of values that never link anything."`
	LimitPerProfile   int       `yaml:"limit_per_profile" min:"1" max:"1000000" doc:"At most this many distinct values of this type per profile; a merge that would exceed it is blocked."`
	At                Positions `yaml:"-"`
}

// Edge names the columns of a source that carry identifiers.
type Edge struct {
	Source    string    `yaml:"source" required:"true" doc:"Source name."`
	IDs       Mapping   `yaml:"ids" required:"true" doc:"Identifier type to column."`
	Timestamp string    `yaml:"timestamp" doc:"Column telling when the identifiers were seen; default: the source's timestamp."`
	Where     string    `yaml:"where" doc:"SQL condition limiting which rows link identifiers."`
	Region    string    `yaml:"region" doc:"Column holding each row's ISO country code (FR, GB, US...): phone numbers written without a country prefix are read in that country. Rows without one, or with an unsupported one, use the id type's default_region."`
	At        Positions `yaml:"-"`
}

// Trait is one profile attribute. Exactly one of pick, aggregate,
// expression and rfm says what kind it is; Kind tells which.
type Trait struct {
	Name        string    `yaml:",key"`
	Description string    `yaml:"description" doc:"Free text for humans."`
	From        string    `yaml:"from" doc:"Source the trait reads (an identity edge source); without it, pick takes an identifier type."`
	Pick        string    `yaml:"pick" doc:"Identifier type, or column of from, whose value survives. NULL values never win."`
	Rule        string    `yaml:"rule" enum:"most_recent,most_frequent,first_seen,source_priority" doc:"Survivorship rule for pick: most_recent (default), most_frequent (ties: most recent), first_seen, or source_priority (implied by priority). Remaining ties go to the smallest value. Picking a column most_recent or first_seen needs the source's timestamp."`
	Priority    []string  `yaml:"priority" doc:"source_priority: sources in order of trust; the trait takes pick (a column they share) from the first source with a non-NULL value, most recent within a source. Replaces from."`
	Aggregate   string    `yaml:"aggregate" doc:"Aggregate over the source's rows of the profile: count(*), count(col), count(distinct col), sum(col), min(col), max(col), avg(col). A profile without rows gets 0 from count, NULL from the others."`
	Window      Duration  `yaml:"window" doc:"Only rows whose timestamp is within this long before the build, e.g. 90d, 12h, 4w. Needs the source's timestamp."`
	Where       string    `yaml:"where" doc:"SQL condition on source rows considered by pick or aggregate."`
	Expression  string    `yaml:"expression" doc:"SQL expression over other traits (including other expressions)."`
	RFM         *RFM      `yaml:"rfm" doc:"Built-in RFM score. Adds columns NAME_recency (days since the last purchase), NAME_frequency, NAME_monetary, scores NAME_r, NAME_f, NAME_m (quintiles 1 to 5, 5 best) and NAME, the three scores as text such as 545."`
	Type        string    `yaml:"type" doc:"SQL type to cast the result to, e.g. boolean, date, decimal(12,2)."`
	At          Positions `yaml:"-"`
}

// TraitKind tells what a trait computes.
type TraitKind string

// Trait kinds.
const (
	TraitIdentifier     TraitKind = "identifier"      // pick: ID_TYPE, from the identity map
	TraitColumn         TraitKind = "column"          // from: SOURCE, pick: COLUMN
	TraitSourcePriority TraitKind = "source_priority" // pick: COLUMN, priority: [SOURCE, ...]
	TraitAggregate      TraitKind = "aggregate"       // from: SOURCE, aggregate: FN(COL)
	TraitExpression     TraitKind = "expression"      // expression: SQL over traits
	TraitRFM            TraitKind = "rfm"             // rfm: {...}
)

// Kind tells what the trait computes, or "" when it does not say (an
// invalid trait).
func (t Trait) Kind() TraitKind {
	switch {
	case t.RFM != nil:
		return TraitRFM
	case t.Expression != "":
		return TraitExpression
	case t.Aggregate != "":
		return TraitAggregate
	case t.Pick != "" && (len(t.Priority) > 0 || t.Rule == "source_priority"):
		return TraitSourcePriority
	case t.Pick != "" && t.From != "":
		return TraitColumn
	case t.Pick != "":
		return TraitIdentifier
	}
	return ""
}

// Columns lists the columns the trait adds to the profiles table: its name,
// and for rfm also NAME_recency, NAME_frequency, NAME_monetary, NAME_r,
// NAME_f and NAME_m.
func (t Trait) Columns() []string {
	if t.RFM == nil {
		return []string{t.Name}
	}
	out := []string{t.Name}
	for _, suffix := range RFMSuffixes {
		out = append(out, t.Name+suffix)
	}
	return out
}

// RFMSuffixes name the columns an rfm trait adds besides its own, in order.
var RFMSuffixes = []string{"_recency", "_frequency", "_monetary", "_r", "_f", "_m"}

// RFM configures the built-in recency/frequency/monetary score.
type RFM struct {
	From      string    `yaml:"from" required:"true" doc:"Source of purchases (an identity edge source)."`
	Amount    string    `yaml:"amount" required:"true" doc:"Column with the purchase amount."`
	Timestamp string    `yaml:"timestamp" doc:"Column with the purchase time; default: the source's timestamp."`
	Where     string    `yaml:"where" doc:"SQL condition selecting purchases to count."`
	At        Positions `yaml:"-"`
}

// Segment is an audience over profiles.
type Segment struct {
	Name        string    `yaml:"name" required:"true" doc:"Segment name; members are in table ENTITY_segment_NAME."`
	Description string    `yaml:"description" doc:"Free text for humans."`
	Where       string    `yaml:"where" doc:"SQL condition over profile traits. Exactly one of where and sql."`
	SQL         string    `yaml:"sql" doc:"A query returning the profile_id of every member."`
	Exclude     []string  `yaml:"exclude" doc:"Segments whose members are left out of this one."`
	Group       string    `yaml:"group" doc:"Priority group: a profile belongs to at most one segment of a group."`
	Priority    int       `yaml:"priority" doc:"Within a group, the lowest number wins; ties go to the segment name that sorts first."`
	At          Positions `yaml:"-"`
}

// Destination is a configured system that receives data. Options other than
// name and type are checked by the destination type's own spec.
type Destination struct {
	Name    string           `yaml:"name" required:"true" doc:"Name used by syncs."`
	Type    string           `yaml:"type" required:"true" doc:"Destination type (klaviyo, brevo, webhook, file...)."`
	Options map[string]Value `yaml:",inline"`
	At      Positions        `yaml:"-"`
}

// Sync moves a model's rows to a destination. See docs/syncs.md.
type Sync struct {
	Name               string        `yaml:"name" required:"true" doc:"Sync name, used on the command line."`
	From               string        `yaml:"from" required:"true" doc:"What to send: profiles, segment.NAME (members, with their traits) or source.NAME."`
	To                 string        `yaml:"to" required:"true" doc:"Destination name."`
	Mode               string        `yaml:"mode" enum:"upsert,update,insert,mirror" doc:"upsert (default): send new and changed records; update: send changes, the destination only updates records it has; insert: send new records only; mirror: upsert, and also remove records that left the model (only records this sync sent)."`
	Key                string        `yaml:"key" doc:"Destination field that identifies a record, e.g. email: a field of mapping, or else a model column. Default: profile_id, or the source's primary key. Rows whose key is NULL, empty or shared by several rows are reported and never sent."`
	List               string        `yaml:"list" doc:"Destination list or audience, for list destinations."`
	Mapping            FieldMappings `yaml:"mapping" doc:"Destination field to model column, or to a mapping with from, transform or value. A dotted field (properties.ltv) nests. Default: every model column under its own name."`
	Nulls              string        `yaml:"nulls" enum:"skip,clear" doc:"What a NULL value does: skip (default) leaves the field out, so the destination keeps its value; clear sends null."`
	Consent            SyncConsent   `yaml:"consent" doc:"Boolean trait (or source column) that must be true for a record to be sent; a record whose consent turns false is removed from the destination. Or a mapping from purpose (email, sms, ads_user_data...) to boolean trait: a record is sent when at least one purpose is true (or one of the purposes the destination type says gate), and each purpose's value is sent with the record. A destination type may require purposes; see docs/syncs.md, Consent."`
	Schedule           string        `yaml:"schedule" doc:"Cron schedule for sluice run, e.g. */15 * * * * or @hourly."`
	BatchSize          int           `yaml:"batch_size" min:"1" max:"1000000" doc:"Records per request; default: the destination's batch_size."`
	Rate               float64       `yaml:"rate" gt:"0" max:"100000" doc:"Requests per second for this sync, overriding the destination's rate."`
	MaxRemovals        string        `yaml:"max_removals" doc:"Largest removal a run may make without --force: a share of the records this sync holds at the destination, such as 20% (the default), or a number of records. Guards against a broken or empty extract wiping a list."`
	RemovalFields      []string      `yaml:"removal_fields" doc:"Fields of mapping whose last sent values are kept and sent again with removals (the key always is), e.g. a phone number for an SMS list."`
	ChangeLogRetention Duration      `yaml:"change_log_retention" doc:"How long the per-record change log (sluice_state.sync_changes) keeps this sync's entries. Default: 30d."`
	At                 Positions     `yaml:"-"`
}

// Sync defaults.
const (
	DefaultMaxRemovals        = "20%"
	DefaultChangeLogRetention = 30 * 24 * time.Hour
)

// FieldMap is one destination field of a sync's mapping: the model column
// it reads (from), or a constant (value), and the transforms applied in
// order. Written as a plain string, it names the column.
type FieldMap struct {
	Field         string     `yaml:",key"`
	From          string     `yaml:"from" doc:"Model column to read: a trait (or profile_id), or a column of the source. Default: the column named like the field."`
	Value         Value      `yaml:"value" doc:"A constant sent as is (string, number or boolean) instead of a column."`
	Transform     StringList `yaml:"transform" doc:"Transforms applied in order: trim, lower, upper, email (trim and lower-case), phone_e164, sha256 (hex), string, integer, number, boolean, date, timestamp."`
	DefaultRegion string     `yaml:"default_region" doc:"phone_e164: ISO country code for numbers written without a country prefix, e.g. FR."`
	Nulls         string     `yaml:"nulls" enum:"skip,clear" doc:"Overrides the sync's nulls for this field."`
	At            Positions  `yaml:"-"`
}

// HasValue reports whether the field is a constant.
func (f FieldMap) HasValue() bool { return f.Value.Node != nil }

// Column is the model column the field reads: from, or the field's own
// name when neither from nor value is given.
func (f FieldMap) Column() string {
	switch {
	case f.From != "":
		return f.From
	case f.HasValue():
		return ""
	}
	return f.Field
}

// FieldMappings is a sync's mapping, in file order.
type FieldMappings []FieldMap

// Field returns the mapping of a destination field.
func (m FieldMappings) Field(name string) (FieldMap, bool) {
	for _, f := range m {
		if f.Field == name {
			return f, true
		}
	}
	return FieldMap{}, false
}

// TransformInfo describes a mapping transform.
type TransformInfo struct {
	Name string
	// SQL tells whether the warehouse can apply it, which a sync's key
	// needs: keys are compared in the warehouse.
	SQL bool
	Doc string
}

// Transforms lists the mapping transforms, in documentation order.
var Transforms = []TransformInfo{
	{"trim", true, "remove leading and trailing spaces"},
	{"lower", true, "lower-case"},
	{"upper", true, "upper-case"},
	{"email", true, "normalise an e-mail address: trim and lower-case"},
	{"phone_e164", false, "normalise a phone number to E.164 (+33612345678); default_region reads national numbers; an invalid number becomes NULL"},
	{"sha256", true, "SHA-256 of the text, as lower-case hex (normalise first, as ad platforms require)"},
	{"string", true, "cast to text"},
	{"integer", false, "cast to a whole number"},
	{"number", false, "cast to a number"},
	{"boolean", false, "cast to true or false"},
	{"date", false, "format a date or timestamp as YYYY-MM-DD"},
	{"timestamp", false, "format a timestamp as RFC 3339 in UTC"},
}

// Transform returns the named transform.
func Transform(name string) (TransformInfo, bool) {
	for _, t := range Transforms {
		if t.Name == name {
			return t, true
		}
	}
	return TransformInfo{}, false
}

func transformNames() []string {
	out := make([]string, len(Transforms))
	for i, t := range Transforms {
		out[i] = t.Name
	}
	return out
}

// ParseMaxRemovals reads a max_removals setting: "20%" is a share of the
// records at the destination (share 0.2, count -1), "500" a number of
// records (share -1, count 500).
func ParseMaxRemovals(s string) (share float64, count int64, err error) {
	s = strings.TrimSpace(s)
	if pct, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
		if err != nil || !(f >= 0 && f <= 100) { // NaN fails too
			return 0, 0, fmt.Errorf("write a percentage between 0%% and 100%%, such as 20%%")
		}
		return f / 100, -1, nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, 0, fmt.Errorf("write a percentage such as 20%% or a number of records such as 500")
	}
	return -1, n, nil
}

var fieldMappingsType = reflect.TypeFor[FieldMappings]()

func init() {
	// A mapping entry is a column name or a mapping of settings; the
	// generic keyed-list decoder knows only the latter.
	special[fieldMappingsType] = func(d *decoder, n *yaml.Node, v reflect.Value) {
		v.Set(reflect.ValueOf(d.decodeFieldMappings(n)))
	}
	typeDocs[reflect.TypeFor[FieldMap]()] = "How one destination field gets its value: a model column (from), or a constant (value), then transforms in order. `email: email` is short for `email: {from: email}`; an empty value reads the column named like the field."
	refExamples[reflect.TypeFor[FieldMap]()] = refExample{SectionsSchema, `syncs:
  - name: customers_to_crm
    from: profiles
    to: crm_hook
    key: email
    mapping:
      email: {from: email, transform: email}
      phone_number: {from: phone, transform: phone_e164, default_region: FR}
      hashed_email: {from: email, transform: [email, sha256]}
      properties.ltv: lifetime_value
      source: {value: sluice}
`}
	keyedIntros[reflect.TypeFor[FieldMap]()] = "is a mapping from destination field to where its value comes from: each key is a destination field name (any text; a dot nests, so properties.ltv sends {\"properties\": {\"ltv\": ...}}), and its value a model column name or a mapping with the keys below."
	customSchemas[fieldMappingsType] = func(b *schemaBuilder) *jsonObject {
		return b.ref("FieldMappings", fieldMappingsType, func() *jsonObject {
			return (&jsonObject{}).
				set("description", "Destination field to a model column name, or to a mapping with from, value, transform.").
				set("type", "object").
				set("additionalProperties", (&jsonObject{}).set("anyOf", []any{
					(&jsonObject{}).set("type", "string"),
					b.typeSchema(reflect.TypeFor[FieldMap]()),
					(&jsonObject{}).set("type", "null"),
				}))
		})
	}
}

// keyedIntros replaces the generic introduction of a keyed list's section in
// the reference, for lists whose keys are not sluice names.
var keyedIntros = map[reflect.Type]string{}

// customSchemas gives the JSON Schema of types the reflection rules cannot
// describe.
var customSchemas = map[reflect.Type]func(*schemaBuilder) *jsonObject{}

func (d *decoder) decodeFieldMappings(n *yaml.Node) FieldMappings {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.typeErrorf(n, "expected a mapping of destination field to column, got %s", d.describe(n))
		return nil
	}
	var out FieldMappings
	for _, e := range d.entries(n) { // aliases, merge keys, duplicates
		k, val := e.key, e.val
		f := FieldMap{Field: k.Value, At: Positions{"": d.pos(val), "name": d.pos(k)}}
		switch {
		case val.Kind == yaml.ScalarNode && val.Tag == "!!null":
			// `email:` reads the column named like the field.
		case val.Kind == yaml.ScalarNode:
			f.From = val.Value
			f.At["from"] = d.pos(val)
		case val.Kind == yaml.MappingNode:
			outer := d.key
			d.key = k.Value
			d.decodeStruct(val, reflect.ValueOf(&f).Elem())
			d.key = outer
			f.Field = k.Value
			f.At["name"] = d.pos(k)
		default:
			d.errorf(val, "field %s: expected a column name or a mapping with from, value or transform, got %s", quote(k.Value), kindName(val))
			continue
		}
		out = append(out, f)
	}
	return out
}

// ParseDuration reads a duration written as in project files (30s, 5m, 90d),
// for destination options of kind duration.
func ParseDuration(s string) (time.Duration, error) {
	var d Duration
	if err := d.decodeScalar(s); err != nil {
		return 0, err
	}
	return d.D, nil
}
