package identity

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"

	"github.com/sluicehq/sluice/config"
)

// phoneCases are realistic ways of writing numbers, per default region;
// match marks inputs libphonenumber reads as valid that sluice must read
// too (the others may be NULL, never a different number).
var phoneCases = map[string][]string{
	"FR": {
		"06 12 34 56 78", "06.12.34.56.78", "06-12-34-56-78", "0612345678", "06/12/34/56/78", " 06 12 34 56 78 ",
		"01 45 67 89 01", "07 56 78 90 12", "09 72 12 34 56", "+33 6 12 34 56 78", "+33612345678", "+33 (0)6 12 34 56 78",
		"0033 6 12 34 56 78", "0033612345678", "33612345678", "+330612345678", "(+33) 6 12 34 56 78", "06\u00a012\u00a034\u00a056\u00a078",
		"6 12 34 56 78", "0800 12 34 56", "04 91 23 45 67",
	},
	"GB": {
		"07123 456789", "07123456789", "+44 7123 456789", "+44 (0)7123 456789", "0044 7123 456789", "447123456789",
		"020 7946 0018", "(020) 7946 0018", "0161 496 0000", "+44 161 496 0000", "07700 900123", "0800 123 456", "01632 960001",
	},
	"US": {
		"(415) 234-5678", "415-234-5678", "415.234.5678", "4152345678", "1-415-234-5678", "1 (415) 234-5678", "+1 415 234 5678",
		"+1 (415) 234-5678", "212 555 0123", "(800) 555-1212", "011 33 6 12 34 56 78", "011 44 20 7946 0018", "0033 6 12 34 56 78",
		"234-5678",
	},
	"CA": {"(416) 234-5678", "604.555.0199", "+1 514 234 5678", "1-613-234-5678"},
	"DE": {
		"0151 23456789", "01512 3456789", "+49 151 23456789", "+49 (0)151 23456789", "0049 151 23456789", "030 1234567",
		"030 12345678", "+49 30 12345678", "089 1234567", "0176 12345678", "04915123456789", "15123456789", "0221 1234567",
	},
	"ES": {"612 34 56 78", "612345678", "+34 612 345 678", "0034 612 345 678", "34612345678", "91 234 56 78", "+34 91 234 56 78", "712 345 678"},
	"IT": {
		"06 1234 5678", "+39 06 1234 5678", "0039 06 1234 5678", "312 345 6789", "+39 312 345 6789", "3123456789", "02 12345678",
		"+39 02 1234 5678", "0039 312 345 6789",
	},
	"BE": {"0470 12 34 56", "+32 470 12 34 56", "0032 470 12 34 56", "02 123 45 67", "+32 2 123 45 67", "04 123 45 67", "32470123456", "09 123 45 67"},
	"NL": {"06 12345678", "06-12345678", "+31 6 12345678", "0031 6 12345678", "020 123 4567", "+31 20 123 4567", "010-1234567", "31612345678"},
	"CH": {"079 123 45 67", "+41 79 123 45 67", "0041 79 123 45 67", "044 123 45 67", "+41 44 123 45 67", "41791234567"},
}

// phoneEverywhere are tried in every region: international numbers of
// other countries, and junk.
var phoneEverywhere = []string{
	"+44 7700 900123", "+1 415 234 5678", "+353 87 123 4567", "+353 087 123 4567", "+7 912 345 67 89", "+81 90 1234 5678",
	"+86 138 0013 8000", "+61 412 345 678", "+55 11 91234 5678", "+48 512 345 678", "+33 6 12 34 56 78", "+49 30 12345678",
	"0000000000", "00 00 00 00 00", "000-000-0000", "+0", "123", "06 12", "12345", "0612345678901234", "abc", "06 12 34 56 78 ext 12",
	"tel:+33612345678", "+33 6 12 34 56 78 9", "++33612345678", "+0033612345678", "N/A", "null", "undefined", "", "  ", "+",
	"+999 123 456 789", "+1 234", "06 12 34 56 7", "+33 1", "0612345678 / 0698765432", "+12 345 678 901", "1",
}

func TestPhoneAgainstLibphonenumber(t *testing.T) {
	w := openDuckDB(t)
	total, agree := 0, 0
	for _, region := range PhoneRegions() {
		inputs := append(append([]string{}, phoneCases[region]...), phoneEverywhere...)
		typ := config.IDType{Name: "phone", Normalize: "phone_e164", DefaultRegion: region}
		got := normalizeSQL(t, w, typ, inputs)
		for i, in := range inputs {
			ours := got[i]
			var lib string
			libValid, libPossible := false, false
			if n, err := phonenumbers.Parse(in, region); err == nil {
				lib = phonenumbers.Format(n, phonenumbers.E164)
				libValid, libPossible = phonenumbers.IsValidNumber(n), phonenumbers.IsPossibleNumber(n)
			}
			mustMatch := i < len(phoneCases[region]) && libValid
			if libValid {
				total++
				if ours.Valid && ours.String == lib {
					agree++
				}
			}
			switch {
			case !ours.Valid && mustMatch:
				t.Errorf("%s %q: sluice NULL, libphonenumber %s", region, in, lib)
			case !ours.Valid:
				if libValid {
					t.Logf("%s %q: sluice NULL, libphonenumber %s", region, in, lib)
				}
			case ours.String != lib:
				t.Errorf("%s %q: sluice %s, libphonenumber %q (valid %v): a different number", region, in, ours.String, lib, libValid)
			case !libPossible:
				t.Errorf("%s %q: sluice %s, libphonenumber says it is not even a possible number", region, in, ours.String)
			}
			// The Go mirror agrees with the SQL.
			goV, st := Normalize(typ, in)
			if (st == StatusOK) != ours.Valid || (ours.Valid && goV != ours.String) {
				t.Errorf("%s %q: SQL %v, Go mirror %q (%s)", region, in, ours, goV, st)
			}
		}
	}
	t.Logf("sluice equals libphonenumber on %d of %d inputs libphonenumber reads as valid", agree, total)
}

// TestNormalizeGolden shows what each rule makes of tricky values; the Go
// mirror must agree with the SQL on every one.
func TestNormalizeGolden(t *testing.T) {
	w := openDuckDB(t)
	types := []config.IDType{
		{Name: "email", Normalize: "email", Blocklist: []string{" Test@Example.COM "}, BlocklistPatterns: []string{`.*@mailinator\.com`, `noreply@.*`}},
		{Name: "user_id", Normalize: "trim", Blocklist: []string{"guest"}},
		{Name: "handle", Normalize: "lower"},
		{Name: "raw", Normalize: "none"},
		{Name: "phone_fr", Normalize: "phone_e164", DefaultRegion: "FR", Blocklist: []string{"01 23 45 67 89"}},
		{Name: "phone_us", Normalize: "phone_e164", DefaultRegion: "US"},
	}
	inputs := []string{
		"Jane.Doe@Example.com", "  jane.doe@example.com\t", "jane doe@example.com", "jane@@example.com", "jane@example", "@example.com",
		"test@example.com", "x@MAILINATOR.com", "noreply@shop.com", "jane@example.com\u00a0",
		"", "   ", "null", "NULL", " Undefined ", "none", "N/A", "nil", "NaN", "0", "000-000", "00000000-0000-0000-0000-000000000000", "-", "+0",
		"C000123", " C000123 ", "guest", "Guest", "MiXeD",
		"06 12 34 56 78", "+33 1 23 45 67 89", "(415) 234-5678", "+1 415 234 5678", "0033612345678", "abc", "12",
		// fast paths (already normal) and their neighbours
		"+33612345678", " +33612345678", "+330612345678", "+390612345678", "jané@example.com", "JANÉ@EXAMPLE.COM", "Éric", "éric", "a", "A", "a b",
	}
	var b strings.Builder
	for _, typ := range types {
		got := normalizeSQL(t, w, typ, inputs)
		fmt.Fprintf(&b, "== %s (normalize: %s%s)\n", typ.Name, typ.Normalize, map[bool]string{true: ", default_region: " + typ.DefaultRegion}[typ.DefaultRegion != ""])
		for i, in := range inputs {
			goV, st := Normalize(typ, in)
			if (st == StatusOK) != got[i].Valid || (got[i].Valid && goV != got[i].String) {
				t.Errorf("%s %q: SQL %v, Go mirror %q (%s)", typ.Name, in, got[i], goV, st)
			}
			out := string(st)
			if got[i].Valid {
				out = fmt.Sprintf("%q", got[i].String)
			}
			fmt.Fprintf(&b, "%-42q -> %s\n", in, out)
		}
		b.WriteString("\n")
	}
	golden(t, "normalize.golden", b.String())
}
