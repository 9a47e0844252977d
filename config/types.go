package config

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

	Sections
}

// ProjectFile is the layout of sluice.yml.
type ProjectFile struct {
	Version     int       `yaml:"version" required:"true" doc:"Configuration format version. Always 1."`
	Name        string    `yaml:"name" required:"true" doc:"Project name, used in logs and run history."`
	Warehouse   Warehouse `yaml:"warehouse" required:"true" doc:"Where sluice reads sources and builds its tables."`
	Schema      string    `yaml:"schema" doc:"Schema that receives identity map, profiles and segments. Default: sluice."`
	StateSchema string    `yaml:"state_schema" doc:"Schema that holds sync state (snapshots, run log). Default: sluice_state."`
	TimeZone    string    `yaml:"time_zone" doc:"IANA time zone for schedules and time windows. Default: UTC."`
	Include     []string  `yaml:"include" doc:"Glob patterns (relative to the project) of further YAML files to load. Default: *.yml, *.yaml, models/**/*.yml, models/**/*.yaml."`
	Exclude     []string  `yaml:"exclude" doc:"Glob patterns of YAML files to skip, e.g. docker-compose.yml (always skipped)."`
	Sections    `yaml:",inline"`
	At          Positions `yaml:"-"`
}

// Sections are the definitions any project file may hold.
type Sections struct {
	Seeds        []Seed        `yaml:"seeds" doc:"CSV files loaded into the warehouse by build, like dbt seeds."`
	Sources      []Source      `yaml:"sources" doc:"The customer's own tables (or SELECTs) that sluice reads."`
	Identity     *Identity     `yaml:"identity" doc:"How identifiers found in sources are stitched into profiles."`
	Traits       []Trait       `yaml:"traits" doc:"Profile attributes, keyed by trait name."`
	Segments     []Segment     `yaml:"segments" doc:"Audiences: subsets of profiles."`
	Destinations []Destination `yaml:"destinations" doc:"Systems that receive data (Klaviyo, webhooks, files...)."`
	Syncs        []Sync        `yaml:"syncs" doc:"What goes where, how and when."`
}

// Warehouse selects and configures the warehouse connection.
type Warehouse struct {
	Type        string    `yaml:"type" required:"true" enum:"duckdb" doc:"Warehouse kind."`
	Path        string    `yaml:"path" doc:"duckdb: database file, relative to the project; empty or :memory: for an in-memory database."`
	MemoryLimit string    `yaml:"memory_limit" doc:"duckdb: cap on DuckDB's own memory, e.g. 2GB (DuckDB's memory_limit setting)."`
	Threads     int       `yaml:"threads" doc:"duckdb: worker threads; default: all cores."`
	At          Positions `yaml:"-"`
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
	Description string     `yaml:"description" doc:"Free text for humans."`
	At          Positions  `yaml:"-"`
}

// Identity describes the entity's identifier types and where they co-occur.
type Identity struct {
	Entity    string    `yaml:"entity" doc:"Entity name; tables are named <entity>_identity_map and <entity>_profiles. Default: customer."`
	IDTypes   []IDType  `yaml:"id_types" required:"true" doc:"Identifier types, keyed by name (email, phone, user_id...)."`
	Edges     []Edge    `yaml:"edges" required:"true" doc:"Sources whose rows link identifiers together."`
	MaxRounds int       `yaml:"max_rounds" doc:"Safety cap on stitching rounds. Default: 64."`
	At        Positions `yaml:"-"`
}

// IDType is one kind of identifier with its guards.
type IDType struct {
	Name              string    `yaml:",key"`
	Normalize         string    `yaml:"normalize" enum:"none,email,phone_e164,lower,trim" doc:"Normalisation applied before stitching: email (trim + lower-case), phone_e164, lower, trim or none. Default: trim."`
	DefaultRegion     string    `yaml:"default_region" doc:"phone_e164: ISO country code for numbers written without a country prefix, e.g. FR."`
	Blocklist         []string  `yaml:"blocklist" doc:"Values (after normalisation) that never link anything, e.g. test@example.com."`
	BlocklistPatterns []string  `yaml:"blocklist_patterns" doc:"Regular expressions (RE2) of values that never link anything."`
	LimitPerProfile   int       `yaml:"limit_per_profile" doc:"At most this many distinct values of this type per profile; a merge that would exceed it is blocked."`
	At                Positions `yaml:"-"`
}

// Edge names the columns of a source that carry identifiers.
type Edge struct {
	Source    string    `yaml:"source" required:"true" doc:"Source name."`
	IDs       Mapping   `yaml:"ids" required:"true" doc:"Identifier type to column."`
	Timestamp string    `yaml:"timestamp" doc:"Column telling when the identifiers were seen; default: the source's timestamp."`
	Where     string    `yaml:"where" doc:"SQL condition limiting which rows link identifiers."`
	At        Positions `yaml:"-"`
}

// Trait is one profile attribute. Exactly one of pick, aggregate,
// expression and rfm says what kind it is.
type Trait struct {
	Name        string    `yaml:",key"`
	Description string    `yaml:"description" doc:"Free text for humans."`
	From        string    `yaml:"from" doc:"Source the trait reads; without it, pick takes an identifier type."`
	Pick        string    `yaml:"pick" doc:"Identifier type, or column of from, whose value survives."`
	Rule        string    `yaml:"rule" enum:"most_recent,most_frequent,first_seen,source_priority" doc:"Survivorship rule for pick. Default: most_recent."`
	Priority    []string  `yaml:"priority" doc:"source_priority: sources in order of trust."`
	Aggregate   string    `yaml:"aggregate" doc:"Aggregate over the source's rows of the profile: count(*), sum(col), min, max, avg, count(distinct col)."`
	Window      Duration  `yaml:"window" doc:"Only rows whose timestamp is within this long before the build, e.g. 90d, 12h, 4w."`
	Where       string    `yaml:"where" doc:"SQL condition on source rows considered by pick or aggregate."`
	Expression  string    `yaml:"expression" doc:"SQL expression over other traits."`
	RFM         *RFM      `yaml:"rfm" doc:"Built-in RFM score: recency, frequency and monetary quintiles, 1 to 5 each."`
	Type        string    `yaml:"type" doc:"SQL type to cast the result to."`
	At          Positions `yaml:"-"`
}

// RFM configures the built-in recency/frequency/monetary score.
type RFM struct {
	From      string    `yaml:"from" required:"true" doc:"Source of purchases."`
	Amount    string    `yaml:"amount" required:"true" doc:"Column with the purchase amount."`
	Timestamp string    `yaml:"timestamp" doc:"Column with the purchase time; default: the source's timestamp."`
	Where     string    `yaml:"where" doc:"SQL condition selecting purchases to count."`
	At        Positions `yaml:"-"`
}

// Segment is an audience over profiles.
type Segment struct {
	Name        string    `yaml:"name" required:"true" doc:"Segment name."`
	Description string    `yaml:"description" doc:"Free text for humans."`
	Where       string    `yaml:"where" doc:"SQL condition over profile traits. Exactly one of where and sql."`
	SQL         string    `yaml:"sql" doc:"A query returning the profile_id of every member."`
	Exclude     []string  `yaml:"exclude" doc:"Segments whose members are left out of this one."`
	Group       string    `yaml:"group" doc:"Priority group: a profile belongs to at most one segment of a group."`
	Priority    int       `yaml:"priority" doc:"Within a group, the lowest number wins."`
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

// Sync moves a model's rows to a destination.
type Sync struct {
	Name      string    `yaml:"name" required:"true" doc:"Sync name, used on the command line."`
	From      string    `yaml:"from" required:"true" doc:"What to send: profiles, segment.NAME or source.NAME."`
	To        string    `yaml:"to" required:"true" doc:"Destination name."`
	Mode      string    `yaml:"mode" enum:"upsert,update,insert,mirror" doc:"upsert (default), update, insert, or mirror (also remove records that left the model)."`
	Key       string    `yaml:"key" doc:"Field that identifies a record at the destination, e.g. email."`
	List      string    `yaml:"list" doc:"Destination list or audience, for list destinations."`
	Mapping   Mapping   `yaml:"mapping" doc:"Destination field to trait or column."`
	Consent   string    `yaml:"consent" doc:"Boolean trait that must be true for a record to be sent."`
	Schedule  string    `yaml:"schedule" doc:"Cron schedule for sluice run, e.g. */15 * * * * or @hourly."`
	BatchSize int       `yaml:"batch_size" doc:"Records per request; default: the destination's limit."`
	At        Positions `yaml:"-"`
}
