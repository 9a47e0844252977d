package fake

import (
	"net/http"

	"github.com/sluicehq/sluice/connectors/internal/apispec"
)

// LoadSpec reads Klaviyo's OpenAPI file (klaviyo-openapi-stable.json) as
// an Options.Validator. It exists for programs outside connectors/, such
// as `sluice sandbox --spec`, which cannot import the internal apispec
// package.
func LoadSpec(path string) (interface{ ValidateRequest(*http.Request) error }, error) {
	s, err := apispec.Load(path)
	if err != nil {
		return nil, err
	}
	return s, nil
}
