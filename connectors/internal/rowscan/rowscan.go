// Package rowscan copies values that a warehouse client decoded itself
// (BigQuery's row values, Snowflake's VARIANT scalars) into the
// destinations callers pass to Rows.Scan, with the conversions
// database/sql's Scan makes: a number into a string, a numeric string into
// an int64, and so on.
package rowscan

import (
	"database/sql"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// Decimal is an exact decimal number (Snowflake NUMBER with a scale,
// BigQuery NUMERIC): it prints as its digits and stays a number in JSON.
type Decimal struct {
	Rat   *big.Rat
	Scale int // digits after the point to print at least (the column's scale)
}

// String is the number's decimal digits.
func (d Decimal) String() string { return d.Rat.FloatString(max(d.Scale, scale(d.Rat))) }

// Float64 is the nearest float.
func (d Decimal) Float64() float64 { f, _ := d.Rat.Float64(); return f }

// MarshalJSON writes the digits as a JSON number.
func (d Decimal) MarshalJSON() ([]byte, error) { return []byte(d.String()), nil }

// ParseDecimal reads decimal digits ("-512.50"), keeping their scale.
func ParseDecimal(s string) (Decimal, bool) {
	r, ok := new(big.Rat).SetString(s)
	sc := 0
	if i := strings.IndexByte(s, '.'); i >= 0 {
		sc = len(s) - i - 1
	}
	return Decimal{Rat: r, Scale: sc}, ok
}

// Assign stores v into dest, a pointer. v is nil, bool, int64, float64,
// string, []byte, time.Time, *big.Rat or anything a *any may hold.
func Assign(dest, v any) error {
	if sc, ok := dest.(sql.Scanner); ok {
		return sc.Scan(normalize(v))
	}
	switch d := dest.(type) {
	case *any:
		*d = v
		return nil
	case *string:
		if v == nil {
			return fmt.Errorf("converting NULL to string is unsupported (scan into sql.NullString)")
		}
		*d = asString(v)
		return nil
	case *[]byte:
		if v == nil {
			*d = nil
			return nil
		}
		*d = []byte(asString(v))
		return nil
	case *bool:
		switch x := v.(type) {
		case bool:
			*d = x
			return nil
		case string:
			b, err := strconv.ParseBool(x)
			if err != nil {
				return fmt.Errorf("converting %q to bool: %w", x, err)
			}
			*d = b
			return nil
		case int64:
			*d = x != 0
			return nil
		}
	case *int64:
		n, err := asInt(v)
		if err != nil {
			return err
		}
		*d = n
		return nil
	case *int:
		n, err := asInt(v)
		if err != nil {
			return err
		}
		*d = int(n)
		return nil
	case *float64:
		f, err := asFloat(v)
		if err != nil {
			return err
		}
		*d = f
		return nil
	case *time.Time:
		if t, ok := v.(time.Time); ok {
			*d = t
			return nil
		}
	}
	// Other pointer kinds (named types, *int32...) through reflection.
	rv := reflect.ValueOf(dest)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("destination %T is not a non-nil pointer", dest)
	}
	e := rv.Elem()
	switch e.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := asInt(v)
		if err != nil {
			return err
		}
		if e.OverflowInt(n) {
			return fmt.Errorf("value %d overflows %s", n, e.Type())
		}
		e.SetInt(n)
		return nil
	case reflect.String:
		if v != nil {
			e.SetString(asString(v))
			return nil
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		// Through text, so that the whole unsigned range survives.
		if v == nil {
			break
		}
		n, err := strconv.ParseUint(asString(v), 10, 64)
		if err != nil {
			return fmt.Errorf("converting %v to %s: %w", v, e.Type(), err)
		}
		if e.OverflowUint(n) {
			return fmt.Errorf("value %d overflows %s", n, e.Type())
		}
		e.SetUint(n)
		return nil
	case reflect.Pointer:
		// A pointer destination (*string, *time.Time...) is how callers
		// read a nullable column, as database/sql allows: nil for NULL.
		if v == nil {
			e.SetZero()
			return nil
		}
		p := reflect.New(e.Type().Elem())
		if err := Assign(p.Interface(), v); err != nil {
			return err
		}
		e.Set(p)
		return nil
	}
	return fmt.Errorf("cannot store %T in %T", v, dest)
}

// normalize turns values into the kinds database/sql hands to Scanners.
func normalize(v any) any {
	switch x := v.(type) {
	case Decimal:
		return x.String()
	case *big.Rat:
		return x.FloatString(scale(x))
	case int:
		return int64(x)
	}
	return v
}

func asString(v any) string {
	switch x := v.(type) {
	case Decimal:
		return x.String()
	case string:
		return x
	case []byte:
		return string(x)
	case time.Time:
		return x.Format(time.RFC3339Nano)
	case *big.Rat:
		return x.FloatString(scale(x))
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	}
	return fmt.Sprint(v)
}

// scale is the number of decimals that print a rational exactly (BigQuery
// NUMERIC has at most 9, BIGNUMERIC 38).
func scale(r *big.Rat) int {
	if r.IsInt() {
		return 0
	}
	d := new(big.Int).Set(r.Denom())
	n := 0
	ten := big.NewInt(10)
	for n < 38 {
		if new(big.Int).Mod(new(big.Int).Exp(ten, big.NewInt(int64(n)), nil), d).Sign() == 0 {
			break
		}
		n++
	}
	return n
}

func asInt(v any) (int64, error) {
	if d, ok := v.(Decimal); ok {
		v = d.Rat
	}
	switch x := v.(type) {
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case float64:
		if x != math.Trunc(x) || math.IsInf(x, 0) || math.IsNaN(x) {
			return 0, fmt.Errorf("converting %v to an integer would lose its fraction", x)
		}
		return int64(x), nil
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("converting %q to an integer: %w", x, err)
		}
		return n, nil
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case *big.Rat:
		if !x.IsInt() || !x.Num().IsInt64() {
			return 0, fmt.Errorf("converting %s to int64: not a 64-bit integer", x.FloatString(scale(x)))
		}
		return x.Num().Int64(), nil
	case nil:
		return 0, fmt.Errorf("converting NULL to an integer is unsupported (scan into sql.NullInt64)")
	}
	return 0, fmt.Errorf("cannot convert %T to an integer", v)
}

func asFloat(v any) (float64, error) {
	if d, ok := v.(Decimal); ok {
		v = d.Rat
	}
	switch x := v.(type) {
	case float64:
		return x, nil
	case int64:
		return float64(x), nil
	case string:
		f, err := strconv.ParseFloat(x, 64)
		if err != nil {
			return 0, fmt.Errorf("converting %q to a float: %w", x, err)
		}
		return f, nil
	case *big.Rat:
		f, _ := x.Float64()
		return f, nil
	case nil:
		return 0, fmt.Errorf("converting NULL to a float is unsupported (scan into sql.NullFloat64)")
	}
	return 0, fmt.Errorf("cannot convert %T to a float", v)
}
