package models

import (
	"github.com/sluicehq/sluice/config"
)

// Names of the tables sluice builds for the project's entity. They are part
// of the product's contract (users query them), so they live in one place.

// Entity returns the entity name, customer by default.
func (c *Compiler) Entity() string {
	if c.P.Identity != nil && c.P.Identity.Entity != "" {
		return c.P.Identity.Entity
	}
	return config.DefaultEntity
}

// IdentityMapTable is E_identity_map: one row per distinct identifier.
func (c *Compiler) IdentityMapTable() string { return c.Table(c.Entity() + "_identity_map") }

// RowMapTable is E_row_map: the profile of every source row that carries an
// identifier, which is how traits read sources.
func (c *Compiler) RowMapTable() string { return c.Table(c.Entity() + "_row_map") }

// DuplicateKeysTable holds the primary keys of a source that several of its
// rows share (row_key as RowKey gives it, and row_count): the source's key
// check counts them, users see which they are, and the row map folds only
// these rows instead of grouping every row by its key.
func (c *Compiler) DuplicateKeysTable(source string) string {
	return c.Table(DuplicateKeysName(source))
}

// DuplicateKeysName is the name of DuplicateKeysTable in the project
// schema.
func DuplicateKeysName(source string) string { return "src_" + source + "_duplicate_keys" }

// ProfilesTable is E_profiles: one row per profile with its traits.
func (c *Compiler) ProfilesTable() string { return c.Table(c.Entity() + "_profiles") }

// RowKey is the SQL expression that identifies a row of src (through alias)
// as text: the primary key, or for a composite key its parts joined by the
// unit separator, which does not occur in ordinary keys.
func RowKey(c *Compiler, src config.Source, alias string) string {
	parts := make([]string, 0, 2*len(src.PrimaryKey)-1)
	for i, k := range src.PrimaryKey {
		if i > 0 {
			parts = append(parts, c.D.String("\x1f"))
		}
		parts = append(parts, c.D.CastText(alias+"."+c.D.Ident(k)))
	}
	if len(parts) == 1 {
		return parts[0]
	}
	return c.D.Concat(parts...)
}
