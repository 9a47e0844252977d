// Package identity compiles the identity section of a project into SQL that
// stitches identifiers into profiles inside the warehouse. Importing the
// package registers its build stage (after seeds and sources) and the check
// of the edge columns; docs/identity.md is the user-facing version of this
// documentation.
//
// # Tables
//
// For entity E (default customer), in the project schema:
//
//	E_identity_map(profile_id, id_type, id_value, first_seen_at, last_seen_at, seen_count, profile_no, id_no, component)
//	    one row per distinct valid identifier; every identifier in exactly one profile;
//	    profile_no numbers the profile and id_no the identifier (as E_identity_edges.id),
//	    component the connected component before limit guards split it; these
//	    numbers are unique within the current tables only, not comparable across
//	    builds (cheap to join on). A full build numbers identifiers by first
//	    sighting; an incremental one numbers those it re-stitches after the
//	    largest kept number
//	E_row_map(source, row_key, profile_id, seen_at, profile_no)
//	    one row per edge-source row carrying at least one valid identifier;
//	    row_key is RowKey (models.RowKey): how traits join sources to profiles
//	E_identity_rows     (row_id, edge, row_key, seen_at): the rows of the edge sources;
//	                    edge is the position of the edge in identity.edges, from 1;
//	                    row_id is unique within the current tables only
//	E_identity_edges    (row_id, id, t): which row carries which identifier; identity
//	                    explain walks it
//	E_identity_stats    per id type: values ok, rejected, junk, blocklisted (counted
//	                    from the edges and rejects: erased people's rows are not)
//	E_identity_sizes    (size, profiles): how many profiles hold each number of
//	                    identifiers (the build summary's profiles and largest profile)
//	E_identity_rejects  every value that was not stitched, with its row and why
//	E_identity_limit_conflicts  components over a limit (only with limit_per_profile)
//
// # Steps
//
// identity_normalise reads every edge source once and normalises each
// identifier value (see NormalizeExpr): junk values (blank, 'null',
// 'undefined', 'none', 'n/a', 'nil', 'nan', only zeros and separators) and
// blocklisted ones are skipped and counted, values the type's rule cannot
// read (an e-mail without @, a phone number of the wrong length) are
// rejected and counted; nothing crashes the build. identity_edges numbers
// the distinct identifiers by first sighting (first_seen_at, then id_type,
// then id_value): the graph work uses these compact BIGINT numbers, never
// strings. A row carrying several identifiers links them: it enters the
// graph as a star around its smallest number (same connectivity, linear
// size).
//
// identity_components finds the connected components. A first, cheap
// contraction pass points every identifier to the smallest one it is linked
// to (rows are stars around their smallest identifier, so every row and most
// small profiles collapse there). Then each round of the loop draws fresh
// random priorities (a hash of the supernode and the round
// number, so a build is reproducible); every live supernode points to the
// supernode of smallest priority within two links (itself included);
// pointers are followed twice more (pointer jumping); then the graph is
// contracted along the pointers (each link is replaced by the link between
// its ends' targets; links inside a supernode vanish) and components left
// without links move out of the working set. A pointer never leaves its
// component, so the result is exactly the partition union-find gives,
// whatever the priorities. A supernode survives a round only if it holds the
// smallest priority within two links (probability 1/|N²(v)|, at most 1/2,
// at most 1/3 in components of three or more) or if its pointer chain is
// longer than four (rare with random priorities): the live graph shrinks by
// a constant factor per round in expectation on any graph shape, long
// chains and stars included, so the expected number of rounds is O(log n)
// and no round reads finished components. Convergence is detected in SQL
// (no link left); identity.max_rounds caps the loop with a clear error.
// Measured (loop rounds, after the first pass): 8 for chains of 200,000 and
// 1,000,000 identifiers, 1 for a 20,000-leaf star, 1 on realistic data
// (docs/benchmarks.md).
//
// identity_guards (only with limit_per_profile) splits the components that
// hold more values of a limited type than its limit, deterministically:
//
//  1. every value of a type over its limit in that component (an anchor)
//     heads its own profile;
//  2. an identifier that shares a source row with anchors joins the
//     earliest-seen of those anchors;
//  3. the remaining identifiers are cut into regions (connected through
//     rows once anchors and the identifiers of 2 are set aside, found with
//     the same components loop) and each region joins the earliest-seen
//     anchor among those of the identifiers of 2 it shares a row with.
//
// So the value seen first keeps the shared identifiers (a shared device, a
// shared e-mail), and a later conflicting value keeps its own profile with
// the identifiers only it is linked to. Guarantees: every profile respects
// every limit (it holds exactly one anchor, and limited types that were
// within their limit stay within it); every profile is connected through
// its own rows (so identity explain can always show a chain); the result
// does not depend on row order or numbering; components within their limits
// are exactly union-find's. With a limit N > 1, a component over it is split
// to one value per profile, which is stricter than N. With no limit
// configured the step is absent and profiles are exactly union-find's
// components. The build summary reports, per limited type, the merges
// blocked: the values beyond the first in each component over the limit.
//
// identity_map names the profiles and builds the identity map;
// identity_row_map gives every edge-source row its profile.
//
// # Stable profile ids
//
// A profile is named after its earliest-seen identifier: the smallest
// first_seen_at, then id_type, then id_value, and profile_id =
// md5(id_type || ':' || id_value) of it, 32 hexadecimal digits. The name
// depends only on the data, not on row order, numbering or build history,
// so a profile keeps its id from build to build unless that identifier
// changes: when two profiles merge, the merged one keeps the id of the one
// seen first; when a profile splits, the part holding the earliest
// identifier keeps the id and the other part is named after its own
// earliest identifier; backfilling data older than a profile's first
// identifier can rename it. Adding rows that do not touch a profile never
// changes its id. The id is a pseudonymous digest of an identifier, not a
// secret.
//
// # Row map
//
// Without limits all identifiers of a row are in one profile, which is the
// row's. When a limit split a row's identifiers, the row goes with its
// identifier of the type with the strictest limit (types without a limit
// last), the earliest seen among equals: a web event carrying a logged-in
// user_id belongs to that user even if its anonymous id went to another.
//
// # Incremental builds
//
// IncrementalStage (in place of Stage) re-stitches only what changed and
// publishes the same tables as a full build of the same data, row for row,
// except for the build-local numbers (profile_no, id_no, component,
// row_id). It reads the previous build's published tables and, per edge
// source, the hashes of the primary keys whose row was added, changed or
// deleted (ChangedKeysTable; a superset is fine):
//
//  1. identity_affected finds the affected components (before guards, by
//     E_identity_map.component): those of the identifiers the changed rows
//     carried (through E_identity_rows and E_identity_edges) and of the
//     identifiers their current versions carry (normalised, looked up in
//     the map). Rows without a key, or sharing one, are always treated as
//     changed: no key names them alone. The rows to re-read are the changed
//     ones and every row carrying an identifier of an affected component.
//  2. The stitching steps run unchanged on those rows only (each edge reads
//     a restricted relation instead of the source view), writing work
//     tables. A component holds the same rows as in a full build (every
//     row carrying one of its identifiers is re-read, and a row re-read
//     brings in its whole component), so first and last sightings, counts,
//     guards, numbering order and so profile ids come out the same.
//  3. identity_merge writes each published table: the previous rows outside
//     the affected components and re-read rows, as they were, then the
//     re-stitched rows, whose numbers start after the largest kept one.
//     The stats are counted from the identity map (each identifier's
//     seen_count is its number of edges) and the rejects, to the figures
//     a full build counts from the edges; the profile sizes are the last
//     build's, less the re-stitched profiles as they were, plus them as
//     they are.
//
// A source read by several edges has each row's readings folded into one
// row map entry: their components are re-stitched together (a loop follows
// such ties until none is added). A full build is needed (the caller
// decides) when there is no previous build or it predates
// E_identity_map.component, and when the identity section, the sources'
// keys or the erasure suppression list changed.
//
// # Explain
//
// Explain answers "why are these identifiers one profile?": it normalises
// the given value like the build, finds its profile, and for every other
// identifier of the profile the shortest chain of source rows linking the
// two (breadth-first search over that profile's rows only), plus the rows
// where a limit kept this profile apart from another.
package identity
