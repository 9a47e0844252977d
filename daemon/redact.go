package daemon

import "regexp"

// Error texts from destinations and warehouses may quote a record (an
// e-mail address in a 400 answer, say); logs, alerts and the status page
// show them with e-mail addresses and international phone numbers masked.
var (
	emailRE = regexp.MustCompile(`[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}`)
	phoneRE = regexp.MustCompile(`\+[1-9][0-9]{7,14}\b`)
)

// Redact masks personal data in an error text.
func Redact(s string) string {
	return redactPersonal(s)
}

// redact masks personal data and values from the environment (webhook
// URLs, tokens: config.Redactor) in an error text before it is logged,
// stored in run history or shown on the status page.
func (d *Daemon) redact(s string) string { return redactPersonal(d.env.Redact(s)) }

func redactPersonal(s string) string {
	s = emailRE.ReplaceAllString(s, "[email]")
	return phoneRE.ReplaceAllString(s, "[phone]")
}
