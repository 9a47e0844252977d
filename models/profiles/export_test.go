package profiles

// AggregateExpr exposes aggregateExpr to the tests.
var AggregateExpr = aggregateExpr
