package matchkeys

import (
	"errors"
	"strings"
	"testing"
)

// Vectors whose hash is written out, so a change in hashing itself (not
// only in normalisation) is caught. Computed with `printf %s VALUE | sha256sum`.
const (
	hashDana           = "07e2f1394b0ea80e2adca010ea8318df697001a005ba7452720edda4b0ce57b3" // dana@example.com
	hashTestGmail      = "87924606b4131a8aceeeae8868531fbb9712aaa07a5d3a756b26ce0f5d6ca674" // test@gmail.com
	hashJaneDoeGmail   = "d6117306485ed0e50afab3ac871e98f81699151f30281527d63ff5f233656c69" // janedoe@gmail.com
	hashJaneDotPlus    = "3eebe8d734dcf3f0bec40704e5ca2c3e48b513ad4af65ed70dcd168f425f4f4c" // jane.doe+x@gmail.com
	hashPhoneFRGoogle  = "42d573cfc315801d4cd8eddd5416b416a0bf298b9b9e12d6b07442c91db42bd8" // +33612345678
	hashPhoneFRMeta    = "8a3e7886c9335e82e02299fa3e87b46e2de3b0c63d56003e30a5029394a47661" // 33612345678
	alreadyHashedUpper = "07E2F1394B0EA80E2ADCA010EA8318DF697001A005BA7452720EDDA4B0CE57B3"
)

func TestPrepareVectors(t *testing.T) {
	tests := []struct {
		name   string
		v      Vendor
		k      Key
		raw    string
		region string
		want   string
	}{
		{"dana meta", Meta, Email, "dana@example.com", "", hashDana},
		{"dana google", Google, Email, "dana@example.com", "", hashDana},
		{"dana trimmed and lower-cased", Meta, Email, "  Dana@Example.COM\t", "", hashDana},
		{"gmail capitals google", Google, Email, "Test@gmail.com", "", hashTestGmail},
		{"gmail capitals meta", Meta, Email, "Test@gmail.com", "", hashTestGmail},
		{"gmail dots and plus google", Google, Email, "Jane.Doe+x@gmail.com", "", hashJaneDoeGmail},
		{"gmail dots and plus meta keeps them", Meta, Email, "Jane.Doe+x@gmail.com", "", hashJaneDotPlus},
		{"french national phone google", Google, Phone, "06 12 34 56 78", "FR", hashPhoneFRGoogle},
		{"french national phone meta", Meta, Phone, "06 12 34 56 78", "FR", hashPhoneFRMeta},
		{"already hashed upper-case hex passes through lower-cased", Meta, Email, alreadyHashedUpper, "", hashDana},
		{"already hashed google phone", Google, Phone, " " + alreadyHashedUpper + " ", "", hashDana},
		{"google country stays clear", Google, Country, "fr", "", "FR"},
		{"google postal code stays clear", Google, PostalCode, "94043-1351", "US", "94043"},
		{"meta external id stays clear", Meta, ExternalID, " CRM-00042 ", "", "CRM-00042"},
		{"unhashed key is not taken for a hash", Google, Country, "gb", "", "GB"},
		{"meta country hashed lower-case", Meta, Country, "FR", "", Hash("fr")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Prepare(tt.v, tt.k, tt.raw, tt.region)
			if err != nil {
				t.Fatalf("Prepare(%s, %s, %q, %q): %v", tt.v, tt.k, tt.raw, tt.region, err)
			}
			if got != tt.want {
				t.Errorf("Prepare(%s, %s, %q, %q) = %s, want %s", tt.v, tt.k, tt.raw, tt.region, got, tt.want)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		name   string
		v      Vendor
		k      Key
		raw    string
		region string
		want   string
	}{
		// E-mail.
		{"google gmail rule", Google, Email, "Jane.Doe+x@gmail.com", "", "janedoe@gmail.com"},
		{"google googlemail rule keeps the domain", Google, Email, "J.Doe+news@GoogleMail.com", "", "jdoe@googlemail.com"},
		{"google other domain keeps dots and plus", Google, Email, "User.Name+NYC@Example.com", "", "user.name+nyc@example.com"},
		{"google drops inner whitespace", Google, Email, " jane doe@example.com ", "", "janedoe@example.com"},
		{"meta no gmail rule", Meta, Email, "Jane.Doe+x@gmail.com", "", "jane.doe+x@gmail.com"},
		{"meta unicode local part lower-cased", Meta, Email, "ÉLODIE@Example.fr", "", "élodie@example.fr"},
		// Phone.
		{"google plus prefix", Google, Phone, "+33 6 12 34 56 78", "", "+33612345678"},
		{"meta plus prefix", Meta, Phone, "+33 (0)6 12 34 56 78", "", "33612345678"},
		{"00 prefix in a region that dials it", Google, Phone, "0033 6 12 34 56 78", "FR", "+33612345678"},
		{"00 prefix with no region", Meta, Phone, "0033612345678", "", "33612345678"},
		{"00 prefix in a region dialling 011", Google, Phone, "0044 20 7183 8750", "US", "+442071838750"},
		{"us national with punctuation", Google, Phone, "(650) 253-0000", "US", "+16502530000"},
		{"us national meta", Meta, Phone, "650.253.0000", "us", "16502530000"},
		{"uk national", Meta, Phone, "020 7183 8750", "GB", "442071838750"},
		{"region UK read as GB", Google, Phone, "020 7183 8750", "uk", "+442071838750"},
		{"international number wins over region", Google, Phone, "+49 30 901820", "FR", "+4930901820"},
		{"extension dropped", Google, Phone, "+1 650-253-0000 ext. 12", "", "+16502530000"},
		// Names.
		{"meta name keeps accents", Meta, FirstName, "  Zoë ", "", "zoë"},
		{"meta name drops punctuation and spaces", Meta, LastName, "O'Brien-Smith Jr.", "", "obriensmithjr"},
		{"meta name upper-case accents", Meta, FirstName, "ÉLODIE", "", "élodie"},
		{"google name keeps accents", Google, FirstName, "Zoë", "", "zoë"},
		{"google name keeps one inner space", Google, FirstName, "  Mary   Ann ", "", "mary ann"},
		{"google name drops punctuation", Google, LastName, "O'Brien-Smith", "", "obriensmith"},
		{"google name dot and comma", Google, LastName, "St. John,", "", "st john"},
		// Country.
		{"meta country", Meta, Country, " FR ", "", "fr"},
		{"google country", Google, Country, "fr", "", "FR"},
		{"country UK is GB", Meta, Country, "UK", "", "gb"},
		// Postal code.
		{"meta us zip+4", Meta, PostalCode, "94043-1351", "US", "94043"},
		{"meta us zip+4 without region", Meta, PostalCode, "94043-1351", "", "94043"},
		{"meta us 9 digits", Meta, PostalCode, "940431351", "US", "94043"},
		{"meta uk area district sector", Meta, PostalCode, "SW1A 1AA", "GB", "sw1a1"},
		{"meta uk short postcode", Meta, PostalCode, "M1 1AE", "GB", "m11"},
		{"meta canada lower-case no space", Meta, PostalCode, "K1A 0B1", "CA", "k1a0b1"},
		{"meta france", Meta, PostalCode, " 75001 ", "FR", "75001"},
		{"google us zip+4", Google, PostalCode, "94043-1351", "US", "94043"},
		{"google canada", Google, PostalCode, " k1a   0b1 ", "CA", "K1A 0B1"},
		{"google brazil keeps its dash", Google, PostalCode, "01310-100", "BR", "01310-100"},
		// City and state (Meta only).
		{"meta city", Meta, City, "San Francisco", "", "sanfrancisco"},
		{"meta city folds accents", Meta, City, "São Paulo", "BR", "saopaulo"},
		{"meta city punctuation", Meta, City, "Saint-Étienne", "FR", "saintetienne"},
		{"meta state us code", Meta, State, "CA", "US", "ca"},
		{"meta state us name", Meta, State, "New York", "US", "ny"},
		{"meta state us name without region", Meta, State, "California", "", "ca"},
		{"meta state outside us", Meta, State, "Île-de-France", "FR", "iledefrance"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalize(tt.v, tt.k, tt.raw, tt.region)
			if err != nil {
				t.Fatalf("Normalize(%s, %s, %q, %q): %v", tt.v, tt.k, tt.raw, tt.region, err)
			}
			if got != tt.want {
				t.Errorf("Normalize(%s, %s, %q, %q) = %q, want %q", tt.v, tt.k, tt.raw, tt.region, got, tt.want)
			}
			if !Hashed(tt.v, tt.k) {
				return
			}
			// Prepare hashes exactly the normal form.
			h, err := Prepare(tt.v, tt.k, tt.raw, tt.region)
			if err != nil || h != Hash(tt.want) {
				t.Errorf("Prepare = %s, %v; want Hash(%q) = %s", h, err, tt.want, Hash(tt.want))
			}
		})
	}
}

func TestSkip(t *testing.T) {
	tests := []struct {
		name   string
		v      Vendor
		k      Key
		raw    string
		region string
	}{
		{"empty email", Meta, Email, "", ""},
		{"whitespace email", Google, Email, " \t\n", ""},
		{"email without at", Meta, Email, "dana.example.com", ""},
		{"email without domain", Google, Email, "dana@", ""},
		{"email without local part", Meta, Email, "@example.com", ""},
		{"email inner whitespace meta", Meta, Email, "dana smith@example.com", ""},
		{"gmail local part only dots", Google, Email, "..+x@gmail.com", ""},
		{"empty phone", Google, Phone, "  ", "FR"},
		{"junk phone", Meta, Phone, "n/a", "FR"},
		{"too short phone", Google, Phone, "123", "FR"},
		{"invalid phone for its region", Meta, Phone, "06 12 34", "FR"},
		{"national phone without region", Google, Phone, "06 12 34 56 78", ""},
		{"invalid country code in phone", Google, Phone, "+999 123456789", ""},
		{"name of punctuation", Meta, FirstName, " -.' ", ""},
		{"empty google name", Google, LastName, "   ", ""},
		{"empty country", Meta, Country, " ", ""},
		{"country name", Google, Country, "France", ""},
		{"alpha-3 country", Meta, Country, "FRA", ""},
		{"empty postal code", Meta, PostalCode, "  ", "US"},
		{"empty postal code google", Google, PostalCode, "", ""},
		{"city of digits", Meta, City, "75001", ""},
		{"unknown us state", Meta, State, "Bavaria", "US"},
		{"empty external id", Meta, ExternalID, "\t", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Prepare(tt.v, tt.k, tt.raw, tt.region)
			if !errors.Is(err, ErrSkip) {
				t.Fatalf("Prepare(%s, %s, %q, %q) = %q, %v; want ErrSkip", tt.v, tt.k, tt.raw, tt.region, got, err)
			}
			if got != "" {
				t.Errorf("skipped value returned %q", got)
			}
			if errors.Is(err, ErrUnsupported) {
				t.Errorf("skip also reads as unsupported: %v", err)
			}
			// The reason names the key, never the value.
			if raw := strings.TrimSpace(tt.raw); len(raw) > 2 && strings.Contains(err.Error(), raw) {
				t.Errorf("error %q quotes the raw value", err)
			}
		})
	}
}

func TestUnsupported(t *testing.T) {
	tests := []struct {
		name string
		v    Vendor
		k    Key
	}{
		{"google city", Google, City},
		{"google state", Google, State},
		{"google external id", Google, ExternalID},
		{"unknown key", Meta, Key("birthday")},
		{"unknown vendor", Vendor("tiktok"), Email},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if Supports(tt.v, tt.k) {
				t.Errorf("Supports(%s, %s) = true", tt.v, tt.k)
			}
			if Hashed(tt.v, tt.k) {
				t.Errorf("Hashed(%s, %s) = true", tt.v, tt.k)
			}
			for name, f := range map[string]func(Vendor, Key, string, string) (string, error){"Prepare": Prepare, "Normalize": Normalize} {
				_, err := f(tt.v, tt.k, "dana@example.com", "")
				if !errors.Is(err, ErrUnsupported) || errors.Is(err, ErrSkip) {
					t.Errorf("%s(%s, %s) error = %v, want ErrUnsupported and not ErrSkip", name, tt.v, tt.k, err)
				}
			}
		})
	}
	_, err := Prepare(Google, City, "x", "")
	if want := "supported: email, phone, first_name, last_name, country, postal_code"; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("unsupported error %v does not list %q", err, want)
	}
}

func TestSupportAndHashing(t *testing.T) {
	type cell struct{ supported, hashed bool }
	want := map[Vendor]map[Key]cell{
		Meta: {
			Email: {true, true}, Phone: {true, true}, FirstName: {true, true}, LastName: {true, true},
			Country: {true, true}, PostalCode: {true, true}, City: {true, true}, State: {true, true},
			ExternalID: {true, false},
		},
		Google: {
			Email: {true, true}, Phone: {true, true}, FirstName: {true, true}, LastName: {true, true},
			Country: {true, false}, PostalCode: {true, false},
			City: {false, false}, State: {false, false}, ExternalID: {false, false},
		},
	}
	for v, keys := range want {
		for _, k := range Keys() {
			c := keys[k]
			if got := Supports(v, k); got != c.supported {
				t.Errorf("Supports(%s, %s) = %v, want %v", v, k, got, c.supported)
			}
			if got := Hashed(v, k); got != c.hashed {
				t.Errorf("Hashed(%s, %s) = %v, want %v", v, k, got, c.hashed)
			}
		}
	}
	if got := len(SupportedKeys(Google)); got != 6 {
		t.Errorf("SupportedKeys(google) has %d keys, want 6", got)
	}
	if got := len(SupportedKeys(Meta)); got != 9 {
		t.Errorf("SupportedKeys(meta) has %d keys, want 9", got)
	}
}

func TestIsHash(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{hashDana, true},
		{alreadyHashedUpper, true},
		{hashDana[:63], false},
		{hashDana + "0", false},
		{strings.Replace(hashDana, "e", "g", 1), false},
		{"", false},
	}
	for _, tt := range tests {
		if got := IsHash(tt.s); got != tt.want {
			t.Errorf("IsHash(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}

// FuzzPrepare: no input panics, and every answer is either a skip or, for a
// hashed key, 64 lower-case hex characters.
func FuzzPrepare(f *testing.F) {
	for _, s := range []string{
		"dana@example.com", "Jane.Doe+x@gmail.com", "06 12 34 56 78", "0033612345678",
		"+1 650-253-0000", "Zoë O'Brien", "94043-1351", "SW1A 1AA", "São Paulo", "",
		alreadyHashedUpper, "@", "+", "00", "\xff\xfe", "..+@gmail.com",
	} {
		f.Add(s, "FR")
		f.Add(s, "")
	}
	f.Fuzz(func(t *testing.T, raw, region string) {
		for _, v := range []Vendor{Meta, Google} {
			for _, k := range SupportedKeys(v) {
				got, err := Prepare(v, k, raw, region)
				if err != nil {
					if !errors.Is(err, ErrSkip) {
						t.Fatalf("Prepare(%s, %s, %q, %q): error %v does not wrap ErrSkip", v, k, raw, region, err)
					}
					continue
				}
				if Hashed(v, k) && (!IsHash(got) || strings.ToLower(got) != got) {
					t.Fatalf("Prepare(%s, %s, %q, %q) = %q, not 64 lower-case hex", v, k, raw, region, got)
				}
				if !Hashed(v, k) && got == "" {
					t.Fatalf("Prepare(%s, %s, %q, %q) = empty without an error", v, k, raw, region)
				}
			}
		}
	})
}

func BenchmarkPrepare(b *testing.B) {
	cases := []struct {
		name   string
		k      Key
		raw    string
		region string
	}{
		{"email", Email, "Jane.Doe+x@gmail.com", ""},
		{"phone", Phone, "06 12 34 56 78", "FR"},
		{"phone_e164", Phone, "+33612345678", "FR"},
		{"phone_international", Phone, "+33 6 12 34 56 78", "FR"},
		{"first_name", FirstName, "Zoë", ""},
		{"country", Country, "fr", ""},
		{"postal_code", PostalCode, "94043-1351", "US"},
		{"city", City, "São Paulo", "BR"},
		{"hashed", Email, alreadyHashedUpper, ""},
	}
	for _, c := range cases {
		for _, v := range []Vendor{Meta, Google} {
			if !Supports(v, c.k) {
				continue
			}
			b.Run(string(v)+"/"+c.name, func(b *testing.B) {
				// The region tables the phone rules compile once per
				// process are not a cost per identifier.
				_, _ = Prepare(v, c.k, c.raw, c.region)
				b.ReportAllocs()
				for b.Loop() {
					if _, err := Prepare(v, c.k, c.raw, c.region); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
