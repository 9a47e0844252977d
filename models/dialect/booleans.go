package dialect

// IntegerBooleans is implemented by dialects of warehouses that store
// booleans as integers 0 and 1 (ClickHouse's UInt8): values read back
// cannot tell a boolean from a number, so syncs use what the project says
// about its columns (models.BooleanColumns) to send true and false.
type IntegerBooleans interface {
	IntegerBooleans() bool
}
