package sqlfrag

import "strings"

// clockWords are functions whose value changes from build to build with
// the same data: the clock and random numbers.
var clockWords = map[string]bool{
	"now": true, "now64": true, "current_date": true, "current_timestamp": true, "current_time": true,
	"current_datetime": true, "localtimestamp": true, "localtime": true, "today": true, "yesterday": true,
	"getdate": true, "sysdate": true, "sysdatetime": true, "systimestamp": true, "unix_timestamp": true,
	"utc_timestamp": true, "random": true, "rand": true, "rand64": true, "uuid": true,
	"gen_random_uuid": true, "generateuuidv4": true,
}

// Volatile tells why a SQL fragment may give another result on the same
// data ("" when it cannot): it reads the clock or random numbers, or reads
// tables through a subquery, which change detection does not watch.
func Volatile(dialect, fragment string) string {
	if strings.TrimSpace(fragment) == "" {
		return ""
	}
	toks, issue := Lex(For(dialect), fragment)
	if issue != nil {
		return "cannot be read"
	}
	for _, t := range toks {
		if t.Kind != Word {
			continue
		}
		w := strings.ToLower(t.Text)
		switch {
		case clockWords[w]:
			return "reads " + w
		case w == "select":
			return "reads a table through a subquery"
		}
	}
	return ""
}
