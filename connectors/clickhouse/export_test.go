package clickhouse

// CheckSeedLoad is checkSeedLoad, for the chDB tests of package
// clickhouse_test.
var CheckSeedLoad = checkSeedLoad
