// Package incrementaltest checks incremental profiles against full builds
// of the same project, on DuckDB and ClickHouse. It lives apart from the
// profiles tests because it builds the identity tables with the identity
// stage, which the golden tests of the profiles stage must not register.
package incrementaltest
