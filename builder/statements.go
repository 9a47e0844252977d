package builder

import (
	"context"
	"fmt"
	"strings"

	"github.com/sluicehq/sluice/connectors/warehouse"
	"github.com/sluicehq/sluice/models"
	"github.com/sluicehq/sluice/models/sqlfrag"
)

// singleExecer is implemented by warehouses whose driver can refuse a
// string holding more than one statement without running any of it
// (DuckDB).
type singleExecer interface {
	ExecOne(ctx context.Context, query string) error
}

// InjectionError says that a compiled string would run more statements
// than the compiler wrote: SQL the project wrote ends a statement and
// starts another. Nothing of the string ran.
type InjectionError struct {
	Got, Want int
}

func (e *InjectionError) Error() string {
	return fmt.Sprintf("refused to run SQL holding %d statements where the compiler wrote %d: SQL written in the project (a where, expression or sql) ends a statement; nothing of it ran (run sluice validate)", e.Got, e.Want)
}

// statementGuard checks every string against the statement counts the
// compiler recorded.
type statementGuard struct {
	lex sqlfrag.Dialect
	// bindings are substituted for their placeholders right before a
	// statement runs, and taken back out of its errors: the compiled SQL
	// and every message show the placeholder only.
	bindings map[string]string
}

func newGuard(plan *models.Plan) statementGuard {
	return statementGuard{lex: sqlfrag.For(plan.Dialect), bindings: plan.Bindings()}
}

// bind substitutes the bindings in a checked statement.
func (g statementGuard) bind(q string) string {
	for ph, v := range g.bindings {
		q = strings.ReplaceAll(q, ph, v)
	}
	return q
}

// unbind puts the placeholders back into an error of a bound statement.
func (g statementGuard) unbind(err error) error {
	if err == nil || len(g.bindings) == 0 {
		return err
	}
	msg := err.Error()
	for ph, v := range g.bindings {
		msg = strings.ReplaceAll(msg, v, ph)
	}
	return &boundError{msg: msg, err: err}
}

// boundError is a warehouse error with the bound values taken out of its
// message; errors.As still reaches the warehouse's error.
type boundError struct {
	msg string
	err error
}

func (e *boundError) Error() string { return e.msg }
func (e *boundError) Unwrap() error { return e.err }

// check refuses q unless it holds exactly as many statements as the step
// says the compiler wrote (one, unless recorded otherwise).
func (g statementGuard) check(s *models.Step, q string) error {
	want := 1
	if s != nil {
		if n, ok := s.Statements[q]; ok {
			want = n
		}
	}
	got, err := sqlfrag.Statements(g.lex, q)
	if err != nil {
		return fmt.Errorf("refused to run SQL that does not read as whole statements: %w", err)
	}
	if got != want {
		return &InjectionError{Got: got, Want: want}
	}
	return nil
}

// exec runs the strings of a step in order, each checked first; a single
// statement goes through the driver's single-statement path when it has
// one, so that the warehouse's own parser confirms the count.
func (g statementGuard) exec(ctx context.Context, w warehouse.Warehouse, s *models.Step, stmts []string) error {
	for _, q := range stmts {
		if err := g.check(s, q); err != nil {
			return err
		}
		one, ok := w.(singleExecer)
		single := ok && s.Statements[q] == 0 && strings.TrimSpace(q) != ""
		q = g.bind(q)
		if single {
			if err := one.ExecOne(ctx, q); err != nil {
				return g.unbind(err)
			}
			continue
		}
		if err := w.Exec(ctx, q); err != nil {
			return g.unbind(err)
		}
	}
	return nil
}
