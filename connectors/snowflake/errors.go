package snowflake

import (
	"context"
	"errors"
	"fmt"

	sf "github.com/snowflakedb/gosnowflake"
)

// Snowflake's login error codes (the code field of a failed login
// response) that a user can act on.
const (
	codeBadPassword     = 390100 // incorrect username or password
	codeUserLocked      = 390101 // user temporarily locked
	codeUserDisabled    = 390102
	codeJWTInvalid      = 390144 // JWT token is invalid: the key does not match
	codeNoSuchDatabase  = 390201 // requested database does not exist or not authorized
	codeNoSuchWarehouse = 390202
	codeRoleNotGranted  = 390189
	codeNoSuchSchema    = 390203
)

// explain wraps a driver error with what sluice was doing and, for the
// errors a user can fix, what to check. Messages carry no secret: the
// driver's own never do, and sluice adds only names.
func (w *Warehouse) explain(doing string, err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("snowflake: %s: %w", doing, err)
	}
	var se *sf.SnowflakeError
	if !errors.As(err, &se) {
		return fmt.Errorf("snowflake: %s: %w", doing, err)
	}
	who := fmt.Sprintf("as user %q on account %q", w.user, w.account)
	switch se.Number {
	case codeBadPassword:
		return fmt.Errorf("snowflake: logging in %s: incorrect user name or password; check warehouse.user and the environment variable that warehouse.password refers to: %w", who, err)
	case codeJWTInvalid:
		return fmt.Errorf("snowflake: logging in %s with a key pair: Snowflake rejected the signed token; check that the user's RSA_PUBLIC_KEY matches warehouse.private_key_file: %w", who, err)
	case codeUserLocked, codeUserDisabled:
		return fmt.Errorf("snowflake: logging in %s: the user is locked or disabled: %w", who, err)
	case codeNoSuchDatabase, codeNoSuchSchema, codeNoSuchWarehouse, codeRoleNotGranted:
		return fmt.Errorf("snowflake: logging in %s: check warehouse.database, warehouse.warehouse and warehouse.role, and what the role is granted: %w", who, err)
	case sf.ErrCodeFailedToConnect:
		return fmt.Errorf("snowflake: connecting to account %q: check warehouse.account (the identifier before .snowflakecomputing.com): %w", w.account, err)
	}
	if se.QueryID != "" {
		return fmt.Errorf("snowflake: %s: %w (query id %s)", doing, err, se.QueryID)
	}
	return fmt.Errorf("snowflake: %s: %w", doing, err)
}
