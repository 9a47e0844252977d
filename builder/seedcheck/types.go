package seedcheck

import (
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// valueCheck says why a non-empty CSV value does not fit a column type ("" when
// it fits). The rules follow DuckDB's casts (the default warehouse), erring
// on the lax side: a value DuckDB loads is never reported, so the check
// cannot break a build that works; what it reports, DuckDB rejects too, and
// ClickHouse would silently turn into NULL.
type valueCheck func(v string) string

// checkFor returns the check of a SQL type as a project writes it in
// column_types (DuckDB or ClickHouse spelling, any case), or nil for types
// whose values are not checked (text, UUID, JSON...).
func checkFor(typ string) valueCheck {
	norm := strings.ToUpper(strings.Join(strings.Fields(typ), " "))
	base, args := norm, ""
	if i := strings.IndexByte(norm, '('); i >= 0 {
		base, args = strings.TrimSpace(norm[:i]), strings.Trim(norm[i:], "() ")
	}
	if r, ok := integerRanges[base]; ok {
		return integerCheck(r)
	}
	switch base {
	case "DECIMAL", "NUMERIC":
		return decimalCheck(args)
	case "DOUBLE", "FLOAT8", "DOUBLE PRECISION", "FLOAT64", "FLOAT", "REAL", "FLOAT4", "FLOAT32":
		return floatCheck
	case "BOOLEAN", "BOOL", "LOGICAL":
		return boolCheck
	case "DATE", "DATE32":
		return dateCheck
	case "TIMESTAMP", "DATETIME", "DATETIME64", "TIMESTAMP WITHOUT TIME ZONE", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS", "TIMESTAMP_US":
		return timestampCheck(false)
	case "TIMESTAMPTZ", "TIMESTAMP WITH TIME ZONE":
		return timestampCheck(true)
	}
	return nil
}

type intRange struct{ min, max *big.Int }

func bitsRange(bits uint, signed bool) intRange {
	one := big.NewInt(1)
	if !signed {
		return intRange{new(big.Int), new(big.Int).Sub(new(big.Int).Lsh(one, bits), one)}
	}
	limit := new(big.Int).Lsh(one, bits-1)
	return intRange{new(big.Int).Neg(limit), new(big.Int).Sub(limit, one)}
}

// integerRanges maps integer type names to their ranges. INT1..INT8 are
// DuckDB's byte widths (INT8 is BIGINT), as the ClickHouse dialect reads
// them too; Int16..Int128 and UInt8..UInt64 are bit widths.
var integerRanges = map[string]intRange{
	"TINYINT": bitsRange(8, true), "INT1": bitsRange(8, true),
	"SMALLINT": bitsRange(16, true), "INT2": bitsRange(16, true), "SHORT": bitsRange(16, true), "INT16": bitsRange(16, true),
	"INTEGER": bitsRange(32, true), "INT": bitsRange(32, true), "INT4": bitsRange(32, true), "SIGNED": bitsRange(32, true), "INT32": bitsRange(32, true),
	"BIGINT": bitsRange(64, true), "INT8": bitsRange(64, true), "LONG": bitsRange(64, true), "INT64": bitsRange(64, true),
	"HUGEINT": bitsRange(128, true), "INT128": bitsRange(128, true),
	"UTINYINT": bitsRange(8, false), "UINT8": bitsRange(8, false),
	"USMALLINT": bitsRange(16, false), "UINT16": bitsRange(16, false),
	"UINTEGER": bitsRange(32, false), "UINT32": bitsRange(32, false),
	"UBIGINT": bitsRange(64, false), "UINT64": bitsRange(64, false),
	"UHUGEINT": bitsRange(128, false), "UINT128": bitsRange(128, false),
}

var (
	// decimalText is a number as DuckDB reads one: sign, digits with single
	// underscores between them, a fraction, an exponent.
	decimalText = regexp.MustCompile(`^[+-]?(?:[0-9]+(?:_[0-9]+)*)?(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?$`)
	hexText     = regexp.MustCompile(`^\+?0[xX][0-9a-fA-F]+$`)
	binaryText  = regexp.MustCompile(`^\+?0[bB][01]+$`)
)

// maxNumberLen bounds the text parsed as an exact number, so that a
// hostile value cannot make big-number parsing slow; no column type holds
// a longer number.
const maxNumberLen = 100

// exactNumber parses decimal text into a rational; ok is false when it is
// not a number. Exponents are bounded for the same reason as the length.
func exactNumber(v string) (*big.Rat, bool) {
	if len(v) > maxNumberLen || !decimalText.MatchString(v) || !strings.ContainsAny(v, "0123456789") {
		return nil, false
	}
	mant, exp := v, 0
	if i := strings.IndexAny(v, "eE"); i >= 0 {
		e, err := strconv.Atoi(v[i+1:])
		if err != nil || e > 1000 || e < -1000 {
			return nil, false
		}
		mant, exp = v[:i], e
	}
	mant = strings.ReplaceAll(mant, "_", "")
	if strings.HasSuffix(mant, ".") {
		mant += "0"
	}
	r, ok := new(big.Rat).SetString(mant)
	if !ok {
		return nil, false
	}
	scale := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(abs(exp))), nil))
	if exp < 0 {
		return r.Quo(r, scale), true
	}
	return r.Mul(r, scale), true
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// roundHalfAway rounds to an integer, halves away from zero, as DuckDB
// rounds 1.5 to 2 when it loads it into an integer column.
func roundHalfAway(r *big.Rat) *big.Int {
	q, m := new(big.Int).QuoRem(r.Num(), r.Denom(), new(big.Int))
	if new(big.Int).Mul(new(big.Int).Abs(m), big.NewInt(2)).Cmp(r.Denom()) >= 0 {
		q.Add(q, big.NewInt(int64(r.Sign())))
	}
	return q
}

func integerCheck(rg intRange) valueCheck {
	fast := rg.min.IsInt64() && rg.max.IsInt64()
	lo, hi := rg.min.Int64(), rg.max.Int64()
	return func(v string) string {
		v = strings.TrimSpace(v)
		// Plain digits, by far the common case, skip the exact parse.
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && fast {
			if n < lo || n > hi {
				return "out of range (" + rg.min.String() + " to " + rg.max.String() + ")"
			}
			return ""
		}
		var n *big.Int
		switch {
		case hexText.MatchString(v), binaryText.MatchString(v):
			n, _ = new(big.Int).SetString(strings.TrimPrefix(v, "+"), 0)
		default:
			r, ok := exactNumber(v)
			if !ok {
				return "not a whole number"
			}
			n = roundHalfAway(r)
		}
		if n == nil {
			return "not a whole number"
		}
		if n.Cmp(rg.min) < 0 || n.Cmp(rg.max) > 0 {
			return "out of range (" + rg.min.String() + " to " + rg.max.String() + ")"
		}
		return ""
	}
}

// decimalCheck checks DECIMAL(p,s): values are rounded to s digits after
// the point and must then have at most p-s before it. DECIMAL alone is
// DECIMAL(18,3), as in DuckDB.
func decimalCheck(args string) valueCheck {
	p, s := 18, 3
	if args != "" {
		parts := strings.Split(args, ",")
		p, _ = strconv.Atoi(strings.TrimSpace(parts[0]))
		s = 0
		if len(parts) > 1 {
			s, _ = strconv.Atoi(strings.TrimSpace(parts[1]))
		}
	}
	if p <= 0 || s < 0 || s > p || p > 76 {
		return nil // an odd declaration: leave it to the warehouse
	}
	limit := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(p)), nil)
	shift := new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(s)), nil))
	return func(v string) string {
		v = strings.TrimSpace(v)
		if plainDecimalFits(v, p, s) {
			return ""
		}
		r, ok := exactNumber(v)
		if !ok {
			return "not a number"
		}
		if roundHalfAway(r.Mul(r, shift)).CmpAbs(limit) >= 0 {
			return "too large: at most " + strconv.Itoa(p-s) + " digits before the point"
		}
		return ""
	}
}

// plainDecimalFits is the fast path of DECIMAL(p,s): digits with at most s
// after the point, which need no rounding, and at most p-s before it.
func plainDecimalFits(v string, p, s int) bool {
	v = strings.TrimLeft(strings.TrimPrefix(strings.TrimPrefix(v, "-"), "+"), "0")
	intDigits, fracDigits, point := 0, 0, false
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '.' && !point:
			point = true
		case c >= '0' && c <= '9' && point:
			fracDigits++
		case c >= '0' && c <= '9':
			intDigits++
		default:
			return false
		}
	}
	return (intDigits > 0 || fracDigits > 0) && fracDigits <= s && intDigits <= p-s
}

func floatCheck(v string) string {
	v = strings.TrimSpace(v)
	if _, err := strconv.ParseFloat(v, 64); err == nil && !strings.ContainsAny(v, "xXpP_") {
		return "" // the common case; inf, nan and underscores come below
	}
	switch strings.ToLower(strings.TrimLeft(v, "+-")) {
	case "inf", "infinity", "nan":
		return ""
	}
	if len(v) > maxNumberLen || !decimalText.MatchString(v) || !strings.ContainsAny(v, "0123456789") {
		return "not a number"
	}
	return "" // out-of-range values load as infinity
}

// boolCheck accepts what DuckDB and the ClickHouse loader both read, in any
// case; DuckDB does not trim spaces here.
func boolCheck(v string) string {
	switch strings.ToLower(v) {
	case "true", "false", "t", "f", "yes", "no", "y", "n", "1", "0":
		return ""
	}
	return "not a boolean (write true/false, t/f, yes/no, y/n or 1/0)"
}

var (
	// isoDate is year-month-day with -, / or . between the parts; year
	// and day-month-year orders are told apart by the digits.
	isoDate = regexp.MustCompile(`^(-?[0-9]{1,6})([-/.])([0-9]{1,2})([-/.])([0-9]{1,2})`)
	dmyDate = regexp.MustCompile(`^([0-9]{1,2})/([0-9]{1,2})/([0-9]{4})$`)
	// clock is the time of a timestamp, then an optional zone: Z, an
	// offset written against the time, UTC, or (TIMESTAMPTZ) a zone name.
	clock   = regexp.MustCompile(`^([0-9]{1,2}):([0-9]{1,2})(?::([0-9]{1,2})(?:\.[0-9]*)?)?(Z|[+-][0-9]{2}(?::?[0-9]{2})?| (?i:utc)| [A-Za-z_]+(?:/[A-Za-z0-9_+-]+)*)?$`)
	bcEra   = regexp.MustCompile(`(?i) \(BC\)$`)
	special = map[string]bool{"infinity": true, "-infinity": true, "+infinity": true, "epoch": true}
)

const dateHint = " (write YYYY-MM-DD)"

// commonTimestamps are layouts that DuckDB reads as timestamps and Go
// parses as strictly, tried first because they are most of the data.
var commonTimestamps = []string{"2006-01-02 15:04:05", time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05", time.DateOnly}

func dateCheck(v string) string {
	v = strings.TrimSpace(v)
	if _, err := time.Parse(time.DateOnly, v); err == nil {
		return ""
	}
	if special[strings.ToLower(v)] {
		return ""
	}
	v = bcEra.ReplaceAllString(v, "")
	if m := dmyDate.FindStringSubmatch(v); m != nil {
		y, _ := strconv.Atoi(m[3])
		a, _ := strconv.Atoi(m[1])
		b, _ := strconv.Atoi(m[2])
		if validDate(y, a, b) || validDate(y, b, a) {
			return ""
		}
		return "not a valid date" + dateHint
	}
	rest, why := datePrefix(v)
	if why != "" {
		return why
	}
	// DuckDB reads the date of a timestamp and ignores its time.
	if rest != "" && rest[0] != ' ' && rest[0] != 'T' {
		return "not a valid date" + dateHint
	}
	return ""
}

// datePrefix checks the date at the start of v and returns what follows.
func datePrefix(v string) (rest, why string) {
	m := isoDate.FindStringSubmatch(v)
	if m == nil || m[2] != m[4] {
		return "", "not a valid date" + dateHint
	}
	y, _ := strconv.Atoi(m[1])
	mo, _ := strconv.Atoi(m[3])
	d, _ := strconv.Atoi(m[5])
	if !validDate(y, mo, d) {
		return "", "not a real date" + dateHint
	}
	return v[len(m[0]):], ""
}

func validDate(y, m, d int) bool {
	if m < 1 || m > 12 || d < 1 {
		return false
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	return t.Day() == d
}

func timestampCheck(zoneNames bool) valueCheck {
	const hint = " (write YYYY-MM-DD HH:MM:SS, optionally with a zone offset such as +02:00 or Z)"
	return func(v string) string {
		v = strings.TrimSpace(v)
		if special[strings.ToLower(v)] {
			return ""
		}
		for _, layout := range commonTimestamps {
			if _, err := time.Parse(layout, v); err == nil {
				return "" // the common forms, without the regular expressions
			}
		}
		v = bcEra.ReplaceAllString(v, "")
		rest, why := datePrefix(v)
		if strings.HasPrefix(why, "not a real") {
			return "not a real date" + hint
		} else if why != "" {
			return "not a valid timestamp" + hint
		}
		if rest == "" {
			return "" // a date alone is midnight
		}
		if rest[0] != ' ' && rest[0] != 'T' {
			return "not a valid timestamp" + hint
		}
		m := clock.FindStringSubmatch(rest[1:])
		if m == nil || (!zoneNames && m[4] != "" && m[4][0] == ' ' && !strings.EqualFold(m[4], " utc")) {
			return "not a valid timestamp" + hint
		}
		h, _ := strconv.Atoi(m[1])
		mi, _ := strconv.Atoi(m[2])
		s, _ := strconv.Atoi(m[3])
		if h > 24 || mi > 59 || s > 59 || h == 24 && (mi > 0 || s > 0) {
			return "not a real time of day" + hint
		}
		return ""
	}
}
