package clickhouse_test

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sluicehq/sluice/connectors/warehouse"
)

// AppendRows stores every value as given, whatever bytes it holds: on
// 18.16 the rows travel as one escaped text literal (the server takes no
// native batches), so quotes, backslashes, the separators and the markers
// of that literal are what could go wrong.
func TestAppendRows(t *testing.T) {
	w := open(t)
	defer w.Close()
	ctx := context.Background()
	db := fmt.Sprintf("sluice_append_test_%d", rand.Uint32())
	d := w.Dialect()
	if err := w.Exec(ctx, "CREATE DATABASE "+d.Ident(db)); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := w.Exec(ctx, "DROP DATABASE IF EXISTS "+d.Ident(db)); err != nil {
			t.Error(err)
		}
	}()
	ts, ok := d.(interface{ TimestampType() string })
	if !ok {
		t.Fatalf("dialect %T", d)
	}
	if err := w.Exec(ctx, "CREATE TABLE "+d.Table(db, "t")+" (id Int64, s Nullable(String), n Nullable(UInt64), b Nullable(UInt8), at "+ts.TimestampType()+") ENGINE = MergeTree ORDER BY id"); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 2, 28, 23, 59, 58, 0, time.UTC)
	values := []any{
		"plain", "", nil, "N", "it's", `back\slash`, `\'`, "row\x1esep", "field\x1fsep", "nul\x00byte",
		"\x01starts with the hex mark", "\x02", "\x02more", "ünïcödé ✓", `{"phone":"+33"}`, "trailing \\",
	}
	rows := make([][]any, len(values))
	for i, v := range values {
		rows[i] = []any{int64(i), v, uint64(math.MaxUint64 - uint64(i)), i%2 == 0, at}
	}
	rows = append(rows, []any{int64(len(values)), nil, nil, nil, at})
	appender, ok := w.(warehouse.RowAppender)
	if !ok {
		t.Fatal("the ClickHouse warehouse should append rows in bulk")
	}
	// Twice: the first call finds out how this server takes rows.
	for range 2 {
		if err := w.Exec(ctx, "TRUNCATE TABLE "+d.Table(db, "t")); err != nil {
			t.Fatal(err)
		}
		if err := appender.AppendRows(ctx, db, "t", rows); err != nil {
			t.Fatal(err)
		}
		got, err := w.Query(ctx, "SELECT id, s, n, b, at FROM "+d.Table(db, "t")+" ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		i := 0
		for got.Next() {
			var id int64
			var s *string
			var n *uint64
			var b *uint8
			var tm time.Time
			if err := got.Scan(&id, &s, &n, &b, &tm); err != nil {
				t.Fatal(err)
			}
			want := rows[i]
			switch {
			case want[1] == nil && s != nil, want[1] != nil && (s == nil || *s != want[1]):
				t.Errorf("row %d: s = %q, want %q", i, deref(s), want[1])
			case want[2] == nil && n != nil, want[2] != nil && (n == nil || *n != want[2]):
				t.Errorf("row %d: n = %v, want %v", i, n, want[2])
			case want[3] != nil && (b == nil || (*b == 1) != want[3]):
				t.Errorf("row %d: b = %v, want %v", i, b, want[3])
			case !tm.Equal(at):
				t.Errorf("row %d: at = %s, want %s", i, tm, at)
			}
			i++
		}
		if err := got.Err(); err != nil {
			t.Fatal(err)
		}
		if i != len(rows) {
			t.Errorf("%d rows read back, %d appended", i, len(rows))
		}
	}
}

func deref(s *string) string {
	if s == nil {
		return "<NULL>"
	}
	return *s
}
