package dialect

import "testing"

func TestDuckDBQuoting(t *testing.T) {
	d := DuckDB{}
	tests := []struct {
		name string
		got  string
		want string
	}{
		{"plain ident", d.Ident("orders"), `"orders"`},
		{"ident with quote", d.Ident(`x"; DROP TABLE y; --`), `"x""; DROP TABLE y; --"`},
		{"table", d.Table("sluice", "customer_profiles"), `"sluice"."customer_profiles"`},
		{"table ref", d.TableRef("raw.orders"), `"raw"."orders"`},
		{"table ref three parts", d.TableRef("db.raw.orders"), `"db"."raw"."orders"`},
		{"string", d.String("O'Brien"), `'O''Brien'`},
		{"string backslash", d.String(`a\b`), `'a\b'`},
		{"empty string", d.String(""), `''`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.got != tc.want {
				t.Errorf("got %s, want %s", tc.got, tc.want)
			}
		})
	}
}

func TestGet(t *testing.T) {
	if _, err := Get("duckdb"); err != nil {
		t.Fatal(err)
	}
	if _, err := Get("oracle"); err == nil {
		t.Fatal("want an error for an unknown dialect")
	}
}
