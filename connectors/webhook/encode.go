package webhook

import "github.com/sluicehq/sluice/connectors/internal/jsonenc"

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
		b = append(b, '}')
	}
	return append(b, "]}"...), nil
}
