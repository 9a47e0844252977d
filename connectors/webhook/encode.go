package webhook

import (
	"maps"
	"slices"

	"github.com/sluicehq/sluice/connectors/internal/jsonenc"
)

// appendPayload appends p as JSON, byte for byte as json.Marshal writes it:
// encoding every batch through encoding/json cost more CPU than reading and
// mapping the records.
func appendPayload(b []byte, p *Payload) ([]byte, error) {
	b = append(b, `{"sync":`...)
	b = jsonenc.AppendString(b, p.Sync)
	b = append(b, `,"run_id":`...)
	b = jsonenc.AppendString(b, p.RunID)
	if p.Mode != "" {
		b = append(b, `,"mode":`...)
		b = jsonenc.AppendString(b, p.Mode)
	}
	if p.List != "" {
		b = append(b, `,"list":`...)
		b = jsonenc.AppendString(b, p.List)
	}
	b = append(b, `,"operations":`...)
	if p.Operations == nil {
		return append(b, "null}"...), nil
	}
	b = append(b, '[')
	var err error
	for i, op := range p.Operations {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"op":`...)
		b = jsonenc.AppendString(b, op.Op)
		b = append(b, `,"key":`...)
		b = jsonenc.AppendString(b, op.Key)
		b = append(b, `,"fields":`...)
		if op.Fields == nil {
			b = append(b, "null"...)
		} else if b, err = jsonenc.AppendMap(b, op.Fields); err != nil {
			return nil, err
		}
		b = appendConsent(b, op.Consent)
		b = append(b, '}')
	}
	return append(b, "]}"...), nil
}

// appendConsent writes an operation's consent object, purposes sorted as
// encoding/json sorts map keys; nothing when there is none (omitempty).
func appendConsent(b []byte, c map[string]*bool) []byte {
	if len(c) == 0 {
		return b
	}
	b = append(b, `,"consent":{`...)
	for i, k := range slices.Sorted(maps.Keys(c)) {
		if i > 0 {
			b = append(b, ',')
		}
		b = jsonenc.AppendString(b, k)
		b = append(b, ':')
		switch v := c[k]; {
		case v == nil:
			b = append(b, "null"...)
		case *v:
			b = append(b, "true"...)
		default:
			b = append(b, "false"...)
		}
	}
	return append(b, '}')
}
