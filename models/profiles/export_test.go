package profiles

// AggregateExpr exposes aggregateExpr to the tests.
var AggregateExpr = aggregateExpr

// CalendarDays exposes calendarDays to the tests.
var CalendarDays = calendarDays
