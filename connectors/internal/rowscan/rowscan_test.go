package rowscan

import (
	"database/sql"
	"math/big"
	"strings"
	"testing"
	"time"
)

func TestAssign(t *testing.T) {
	at := time.Date(2024, 6, 15, 9, 30, 0, 0, time.UTC)
	type named string
	tests := []struct {
		name  string
		v     any
		dest  func() any
		check func(d any) bool
		err   string
	}{
		{"any", int64(3), func() any { return new(any) }, func(d any) bool { return *d.(*any) == int64(3) }, ""},
		{"number text to int", "42", func() any { return new(int64) }, func(d any) bool { return *d.(*int64) == 42 }, ""},
		{"int to string", int64(7), func() any { return new(string) }, func(d any) bool { return *d.(*string) == "7" }, ""},
		{"rat to string exact", big.NewRat(10251, 20), func() any { return new(string) }, func(d any) bool { return *d.(*string) == "512.55" }, ""},
		{"rat to float", big.NewRat(1, 4), func() any { return new(float64) }, func(d any) bool { return *d.(*float64) == 0.25 }, ""},
		{"bool text", "true", func() any { return new(bool) }, func(d any) bool { return *d.(*bool) }, ""},
		{"time", at, func() any { return new(time.Time) }, func(d any) bool { return d.(*time.Time).Equal(at) }, ""},
		{"null into NullString", nil, func() any { return new(sql.NullString) }, func(d any) bool { return !d.(*sql.NullString).Valid }, ""},
		{"text into NullString", "x", func() any { return new(sql.NullString) }, func(d any) bool { return d.(*sql.NullString).String == "x" }, ""},
		{"rat into NullFloat64", big.NewRat(5, 2), func() any { return new(sql.NullFloat64) }, func(d any) bool { return d.(*sql.NullFloat64).Float64 == 2.5 }, ""},
		{"named string", "v", func() any { return new(named) }, func(d any) bool { return *d.(*named) == "v" }, ""},
		{"int32 by reflection", int64(5), func() any { return new(int32) }, func(d any) bool { return *d.(*int32) == 5 }, ""},
		{"null into pointer", nil, func() any { p := new(string); return &p }, func(d any) bool { return *d.(**string) == nil }, ""},
		{"time into pointer", at, func() any { return new(*time.Time) }, func(d any) bool { p := *d.(**time.Time); return p != nil && p.Equal(at) }, ""},
		{"int into uint pointer", int64(1 << 62), func() any { return new(*uint64) }, func(d any) bool { p := *d.(**uint64); return p != nil && *p == 1<<62 }, ""},
		{"text into uint64", "18446744073709551615", func() any { return new(uint64) }, func(d any) bool { return *d.(*uint64) == 1<<64-1 }, ""},
		{"negative into uint64", int64(-1), func() any { return new(uint64) }, nil, "converting -1 to uint64"},
		{"null into int", nil, func() any { return new(int64) }, nil, "NullInt64"},
		{"fraction into int", 2.5, func() any { return new(int64) }, nil, "fraction"},
		{"overflow", int64(1 << 40), func() any { return new(int32) }, nil, "overflows"},
		{"not a pointer", "x", func() any { return "x" }, nil, "not a non-nil pointer"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.dest()
			err := Assign(d, tc.v)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %v, want an error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(d) {
				t.Errorf("wrong value stored: %#v", d)
			}
		})
	}
}
