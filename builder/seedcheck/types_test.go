package seedcheck

import "testing"

// TestValueChecks pins each type's rules to what DuckDB's read_csv accepts
// and rejects (observed with DuckDB 1.5): nothing DuckDB loads may be
// reported.
func TestValueChecks(t *testing.T) {
	cases := []struct {
		typ      string
		ok, fail []string
	}{
		{"INTEGER", []string{"12", " 12", "12 ", "+5", "-0", "1.5", ".5", "1.", "1e3", "1e-1", "1_000", "0x10", "0X1f", "0b101", "00012", "2147483647", "-2147483648"},
			[]string{"abc", "NULL", "1,000", "2147483648", "1__0", "_1", "1_", "-0x10", "١٢", "1e", "e3", ".", "-", "1e99999", "1/2"}},
		{"tinyint", []string{"127", "-128", "126.5"}, []string{"128", "127.5", "-129"}},
		{"UBIGINT", []string{"18446744073709551615", "0"}, []string{"-1", "18446744073709551616"}},
		{"HUGEINT", []string{"170141183460469231731687303715884105727"}, []string{"170141183460469231731687303715884105728"}},
		{"Int16", []string{"32767"}, []string{"32768"}},
		{"DOUBLE", []string{"1.5", " 1.5 ", "+1.5", ".5", "5.", "1e400", "inf", "-inf", "Infinity", "nan", "1_0.5"},
			[]string{"0x1p3", "1,5", "1e", "one", "", "."}},
		{"DECIMAL(4,2)", []string{"12.34", "12.345", "99.994", "-12.3", " 1.2", ".5", "1e1", "1_2.3"},
			[]string{"123.4", "99.999", "abc", "inf"}},
		{"decimal", []string{"123456789012345.123", "0.0005"}, []string{"1234567890123456.1"}},
		{"BOOLEAN", []string{"true", "TRUE", "t", "T", "f", "yes", "Yes", "no", "y", "n", "N", "1", "0"},
			[]string{" true", "2", "on", "off", "tru", "NULL"}},
		{"DATE", []string{"2026-12-01", "2026-1-5", "2026-12-1", "2026/12/01", "2026.12.01", "2026-12-01 00:00:00", "2026-12-01T10:00:00",
			" 2026-12-01", "2026-12-01 ", "0001-01-01", "12026-01-01", "26-12-01", "2026-12-01 (BC)", "infinity", "01/12/2026", "13/01/2026",
			"01/13/2026", "2024-02-29"},
			[]string{"2026-02-30", "20261201", "2026-13-01", "2026-12-01X", "2025-02-29", "yesterday", "2026-12/01"}},
		{"TIMESTAMP", []string{"2026-12-01", "2026-12-01 10:00:00", "2026-12-01T10:00:00", "2026-12-01T10:00:00Z", "2026-12-01 10:00:00+02",
			"2026-12-01 10:00:00+02:00", "2026-12-01T10:00:00+0200", "2026-12-01 10:00:00-02:30", "2026-12-01 10:00", "2026-12-01T10:00",
			"2026-12-01 10:00:00.123456789", "2026-12-01 10:00:00.", "2026-12-01 1:2:3", "2026-12-01 24:00:00", "2026/12/01 10:00:00",
			"2026-12-01 10:00:00 UTC", "2026-12-01 10:00:00 utc", "2026-12-01 10:00:00Z", " 2026-12-01 10:00:00", "infinity"},
			[]string{"2026-12-01 10", "2026-12-01 25:00:00", "2026-12-01 10:00:60", "2026-12-01 10:00:00 Europe/Paris", "2026-12-01 10:00:00 GMT",
				"2026-12-01 10:00:00 garbage", "2026-12-01 10:00:00+2", "2026-12-01 10:00:00 +02", "2026-12-01 10:00:00.5 +02:00", "10:00",
				"13/01/2026 10:00", "2026-02-30 10:00:00"}},
		{"TIMESTAMPTZ", []string{"2026-12-01 10:00:00 Europe/Paris", "2026-12-01 10:00:00+02", "2026-12-01"}, []string{"2026-12-01 10:00:00 +02"}},
		{"DateTime64(6)", []string{"2026-12-01 10:00:00.5"}, []string{"2026-12-01 10:00:61"}},
	}
	for _, tc := range cases {
		t.Run(tc.typ, func(t *testing.T) {
			check := checkFor(tc.typ)
			if check == nil {
				t.Fatalf("no check for %s", tc.typ)
			}
			for _, v := range tc.ok {
				if why := check(v); why != "" {
					t.Errorf("%q rejected: %s", v, why)
				}
			}
			for _, v := range tc.fail {
				if why := check(v); why == "" {
					t.Errorf("%q accepted", v)
				}
			}
		})
	}
}

func TestUncheckedTypes(t *testing.T) {
	for _, typ := range []string{"VARCHAR", "text", "String", "UUID", "JSON", "TIME", "DECIMAL(0,0)", "BLOB"} {
		if checkFor(typ) != nil {
			t.Errorf("%s is checked; its values should be left to the warehouse", typ)
		}
	}
}
