package profiles

import (
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/models"
)

// CheckColumns reports trait references to columns their source lacks: the
// picked column, the column inside an aggregate, and the amount and
// timestamp of an rfm trait. Where conditions and expressions are SQL and
// left to the warehouse.
func CheckColumns(p *config.Project, cat models.Catalog, report func(config.Pos, string, ...any)) {
	for _, t := range p.Traits {
		switch t.Kind() {
		case config.TraitColumn:
			models.RequireColumn(cat, t.From, t.Pick, t.At.Of("pick"), report)
		case config.TraitSourcePriority:
			for _, s := range t.Priority {
				models.RequireColumn(cat, s, t.Pick, t.At.Of("pick"), report)
			}
		case config.TraitAggregate:
			if a, ok := config.ParseAggregate(t.Aggregate); ok && a.Column() != "" {
				models.RequireColumn(cat, t.From, a.Column(), t.At.Of("aggregate"), report)
			}
		case config.TraitRFM:
			models.RequireColumn(cat, t.RFM.From, t.RFM.Amount, t.RFM.At.Of("amount"), report)
			if t.RFM.Timestamp != "" {
				models.RequireColumn(cat, t.RFM.From, t.RFM.Timestamp, t.RFM.At.Of("timestamp"), report)
			}
		}
	}
}
