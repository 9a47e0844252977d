package matchkeys

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/nyaruka/phonenumbers"
)

func TestFastE164(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		want      string
		valid, ok bool
	}{
		{"e164", "+33612345678", "+33612345678", true, true},
		{"spaced", "+33 6 12 34 56 78", "+33612345678", true, true},
		{"us punctuated", "+1 (650) 253-0000", "+16502530000", true, true},
		{"dotted", "+44.20.7183.8750", "+442071838750", true, true},
		{"invalid number is still answered", "+33 1", "", false, false},
		{"invalid length", "+3361234567", "", false, true},
		{"national prefix after the country code takes Parse", "+33 (0)6 12 34 56 78", "", false, false},
		{"national form takes Parse", "06 12 34 56 78", "", false, false},
		{"00 prefix takes Parse", "0033612345678", "", false, false},
		{"extension takes Parse", "+1 650-253-0000 ext. 12", "", false, false},
		{"unknown country code", "+999 123456789", "", false, false},
		{"non-geographic code takes Parse", "+800 1234 5678", "", false, false},
		{"letters take Parse", "+1 800 FLOWERS", "", false, false},
		{"too long", "+3361234567812345678901234", "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, valid, ok := fastE164(tt.in)
			if got != tt.want || valid != tt.valid || ok != tt.ok {
				t.Errorf("fastE164(%q) = %q, %t, %t; want %q, %t, %t", tt.in, got, valid, ok, tt.want, tt.valid, tt.ok)
			}
		})
	}
}

func TestFastNational(t *testing.T) {
	tests := []struct {
		name, in, region string
		want             string
		valid, ok        bool
	}{
		{"french mobile", "06 12 34 56 78", "FR", "+33612345678", true, true},
		{"french without its national prefix", "612345678", "FR", "+33612345678", true, true},
		{"uk", "020 7183 8750", "GB", "+442071838750", true, true},
		{"us takes the library's validity", "(650) 253-0000", "US", "+16502530000", true, true},
		{"german", "030 901820", "DE", "+4930901820", true, true},
		{"invalid for its region", "07 00 00 00 00", "FR", "", false, true},
		{"too short to lose its national prefix takes Parse", "06 12 34", "FR", "", false, false},
		{"no region", "06 12 34 56 78", "", "", false, false},
		{"international form is not national", "+33 6 12 34 56 78", "FR", "", false, false},
		{"00 prefix takes Parse", "0033 6 12 34 56 78", "FR", "", false, false},
		{"country code without + takes Parse", "33 6 12 34 56 78", "FR", "", false, false},
		{"letters take Parse", "06 12 34 56 78 ext 2", "FR", "", false, false},
		{"italian leading zero takes Parse", "02 1234 5678", "IT", "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, valid, ok := fastNational(tt.in, tt.region)
			if got != tt.want || valid != tt.valid || ok != tt.ok {
				t.Errorf("fastNational(%q, %q) = %q, %t, %t; want %q, %t, %t", tt.in, tt.region, got, valid, ok, tt.want, tt.valid, tt.ok)
			}
		})
	}
}

// TestFastPathsMatchParse: wherever a fast path answers, it answers as
// phonenumbers.Parse and IsValidNumber do, on every region's example
// number of every type in E.164, international and national form, with
// digits changed, added and removed, and on random input, international
// and national in every region.
func TestFastPathsMatchParse(t *testing.T) {
	type input struct{ s, region string }
	var inputs []input
	variants := func(s, region string) {
		inputs = append(inputs, input{s, region})
		for i := 1; i < len(s); i++ {
			inputs = append(inputs, input{s[:i] + s[i+1:], region}, input{s[:i] + "0" + s[i:], region}, input{s[:i] + "9" + s[i+1:], region})
		}
	}
	types := []phonenumbers.PhoneNumberType{phonenumbers.FIXED_LINE, phonenumbers.MOBILE, phonenumbers.TOLL_FREE,
		phonenumbers.PREMIUM_RATE, phonenumbers.SHARED_COST, phonenumbers.VOIP, phonenumbers.PERSONAL_NUMBER,
		phonenumbers.PAGER, phonenumbers.UAN, phonenumbers.VOICEMAIL}
	rng := rand.New(rand.NewPCG(1, 2))
	random := func(prefix string, n int) string {
		var b strings.Builder
		b.WriteString(prefix)
		for range n {
			b.WriteByte(byte('0' + rng.IntN(10)))
			if rng.IntN(6) == 0 {
				b.WriteByte(" -.()"[rng.IntN(5)])
			}
		}
		return b.String()
	}
	for region := range phonenumbers.GetSupportedRegions() {
		for _, typ := range types {
			if n := phonenumbers.GetExampleNumberForType(region, typ); n != nil {
				variants(phonenumbers.Format(n, phonenumbers.E164), "")
				variants(phonenumbers.NormalizeDigitsOnly(phonenumbers.Format(n, phonenumbers.NATIONAL)), region)
				inputs = append(inputs, input{phonenumbers.Format(n, phonenumbers.INTERNATIONAL), region},
					input{phonenumbers.Format(n, phonenumbers.NATIONAL), region})
			}
		}
		for range 40 {
			inputs = append(inputs, input{random("", 4+rng.IntN(10)), region}, input{random("0", 4+rng.IntN(10)), region})
		}
	}
	for range 20000 {
		inputs = append(inputs, input{random("+", 4+rng.IntN(14)), ""})
	}
	answered := 0
	for _, in := range inputs {
		got, valid, ok := fastE164(in.s)
		if !ok {
			got, valid, ok = fastNational(in.s, in.region)
		}
		if !ok {
			continue
		}
		answered++
		want, err := parseE164(in.s, in.region)
		if err != nil && !errors.Is(err, ErrSkip) {
			t.Fatalf("parseE164(%q, %q): %v", in.s, in.region, err)
		}
		if valid != (err == nil) || valid && got != want {
			t.Errorf("fast path (%q, %q) = %q, valid %t; Parse gives %q, %v", in.s, in.region, got, valid, want, err)
		}
	}
	if answered < len(inputs)/2 {
		t.Errorf("the fast paths answered %d of %d inputs only", answered, len(inputs))
	}
	t.Logf("the fast paths answered %d of %d inputs as Parse does", answered, len(inputs))
}

// FuzzFastPaths: on any input, a fast path that answers agrees with Parse.
func FuzzFastPaths(f *testing.F) {
	for _, s := range []string{"+33612345678", "06 12 34 56 78", "+1 (650) 253-0000", "(650) 253-0000", "020 7183 8750", "0033612345678", "+33 (0)6 12 34 56 78", "612345678"} {
		for _, r := range []string{"FR", "US", "GB", "IT", "AR", "MX", "BR", ""} {
			f.Add(s, r)
		}
	}
	f.Fuzz(func(t *testing.T, s, region string) {
		region = cleanRegion(region)
		got, valid, ok := fastE164(s)
		if !ok {
			got, valid, ok = fastNational(s, region)
		}
		if !ok {
			return
		}
		want, err := parseE164(s, region)
		if valid != (err == nil) || valid && got != want {
			t.Fatalf("fast path (%q, %q) = %q, valid %t; Parse gives %q, %v", s, region, got, valid, want, err)
		}
	})
}
