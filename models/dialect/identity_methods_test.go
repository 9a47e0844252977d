package dialect

import "testing"

// The methods identity stitching uses quote their patterns and messages
// like any literal.
func TestDuckDBIdentityMethods(t *testing.T) {
	d := DuckDB{}
	tests := []struct{ got, want string }{
		{d.TryCast("x", "TIMESTAMP"), `TRY_CAST(x AS TIMESTAMP)`},
		{d.RegexpFullMatch("v", `it's`), `regexp_full_match(v, 'it''s')`},
		{d.RegexpMatches("v", `^\s`), `regexp_matches(v, '^\s')`},
		{d.RegexpReplace("v", `^0`, `+33\1`), `regexp_replace(v, '^0', '+33\1', 'g')`},
		{d.RegexpFullMatchOrNull("v", `a|b`), `nullif(regexp_extract(v, '^(?:a|b)$'), '')`},
		{d.Hash64("a", "b"), `hash(a, b)`},
		{d.HexDigest("v"), `md5(v)`},
		{d.ArgMin("a", "k"), `arg_min(a, k)`},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("got %s, want %s", tc.got, tc.want)
		}
	}
}
