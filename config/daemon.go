package config

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Daemon configures `sluice run`, the scheduler daemon (in sluice.yml).
type Daemon struct {
	TriggerToken    Secret    `yaml:"trigger_token" doc:"Bearer token that POST /syncs/NAME/run must present to start a sync now; without it (or when it is empty), triggering over HTTP is off. At least 16 characters. **Secret:** write it as a ${VAR} reference."`
	ShutdownTimeout Duration  `yaml:"shutdown_timeout" doc:"On SIGTERM or SIGINT, how long running syncs may take to finish their batches in flight before they are cancelled (what was accepted is committed either way). Default: 1m."`
	Concurrency     int       `yaml:"concurrency" min:"1" max:"1024" doc:"Syncs running at once. Default: 4."`
	At              Positions `yaml:"-"`
}

// Daemon defaults.
const (
	DefaultShutdownTimeout   = time.Minute
	DefaultDaemonConcurrency = 4
	minTriggerTokenLength    = 16
)

// Shutdown is the configured shutdown timeout, or the default.
func (d Daemon) Shutdown() time.Duration {
	if d.ShutdownTimeout.IsZero() {
		return DefaultShutdownTimeout
	}
	return d.ShutdownTimeout.D
}

// Workers is the configured concurrency, or the default.
func (d Daemon) Workers() int {
	if d.Concurrency <= 0 {
		return DefaultDaemonConcurrency
	}
	return d.Concurrency
}

// Alert sends notices about syncs to a webhook: a sync that failed, a run
// whose share of rejected records is above a threshold, a sync without a
// success for too long. Each condition is announced once when it starts,
// and once more when it clears.
type Alert struct {
	Name           string    `yaml:"name" required:"true" doc:"Alert name, shown in notices and logs."`
	Type           string    `yaml:"type" enum:"webhook,slack" doc:"webhook (default): POST a JSON document; slack: POST a Slack-compatible message ({\"text\": ...}) to an incoming webhook."`
	URL            Secret    `yaml:"url" required:"true" doc:"Where notices are POSTed (http or https). Alert URLs often carry a token (Slack's do), so it is a secret: write it as a ${VAR} reference."`
	BearerToken    Secret    `yaml:"bearer_token" doc:"webhook: sent as Authorization: Bearer TOKEN. **Secret:** write it as a ${VAR} reference."`
	Syncs          []string  `yaml:"syncs" doc:"Syncs this alert watches. Default: every sync."`
	Events         []string  `yaml:"events" doc:"Conditions announced: failed (a run failed, or the removal guard refused it), rejections (a run's rejected share is above rejected_share), stale (no successful run for stale_intervals of the schedule), erasure_overdue (an erasure request still open past erasure.deadline; about the project, whatever syncs lists). Default: all four."`
	RejectedShare  string    `yaml:"rejected_share" doc:"Share of a run's sent records that may be rejected before the rejections condition starts, e.g. 5% (the default)."`
	StaleIntervals int       `yaml:"stale_intervals" min:"1" max:"1000" doc:"A scheduled sync whose last success is older than this many of its schedule's intervals is stale. Default: 3."`
	At             Positions `yaml:"-"`
}

// Alert conditions.
const (
	AlertFailed     = "failed"
	AlertRejections = "rejections"
	AlertStale      = "stale"
	// AlertErasureOverdue is about the project, not a sync.
	AlertErasureOverdue = "erasure_overdue"
)

// AlertEvents lists the alert conditions.
var AlertEvents = []string{AlertFailed, AlertRejections, AlertStale, AlertErasureOverdue}

// Alert defaults.
const (
	DefaultRejectedShare  = "5%"
	DefaultStaleIntervals = 3
)

// Watches reports whether the alert watches a sync.
func (a Alert) Watches(sync string) bool {
	return len(a.Syncs) == 0 || slices.Contains(a.Syncs, sync)
}

// On reports whether the alert announces a condition.
func (a Alert) On(event string) bool {
	return len(a.Events) == 0 || slices.Contains(a.Events, event)
}

// Share is the rejected share threshold, between 0 and 1.
func (a Alert) Share() float64 {
	s, err := parseShare(cmpOr(a.RejectedShare, DefaultRejectedShare))
	if err != nil {
		s, _ = parseShare(DefaultRejectedShare)
	}
	return s
}

// Intervals is stale_intervals, or the default.
func (a Alert) Intervals() int {
	if a.StaleIntervals <= 0 {
		return DefaultStaleIntervals
	}
	return a.StaleIntervals
}

// Kind is the alert's type, webhook by default.
func (a Alert) Kind() string { return cmpOr(a.Type, "webhook") }

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func parseShare(s string) (float64, error) {
	pct, ok := strings.CutSuffix(strings.TrimSpace(s), "%")
	f, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
	// Written so that NaN, which compares false with everything, fails.
	if !ok || err != nil || !(f >= 0 && f <= 100) {
		return 0, errShare
	}
	return f / 100, nil
}

var errShare = shareError{}

type shareError struct{}

func (shareError) Error() string { return "write a percentage between 0% and 100%, such as 5%" }

// Secret is a string that must come from the environment: written as a
// ${VAR} reference, never as a literal, so that it stays out of version
// control.
type Secret string

var secretType = reflect.TypeFor[Secret]()

func init() {
	special[secretType] = func(d *decoder, n *yaml.Node, v reflect.Value) {
		if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
			d.typeErrorf(n, "expected a ${VAR} reference, got %s", kindName(n))
			return
		}
		if !d.secrets[n] {
			d.errorf(n, "%s is a secret: write it as a ${VAR} reference to an environment variable, not a literal", quote(d.key))
		} else {
			d.sink.literalSecret(d.pos(n), d.key)
		}
		v.SetString(n.Value)
	}
	customSchemas[secretType] = func(b *schemaBuilder) *jsonObject {
		return b.ref("Secret", secretType, func() *jsonObject {
			return (&jsonObject{}).
				set("description", "A secret: a ${VAR} reference to an environment variable.").
				set("type", "string").
				set("pattern", secretPattern)
		})
	}
	typeDocs[reflect.TypeFor[Daemon]()] = "Settings of `sluice run`, the scheduler daemon: the token that lets a sync be started over HTTP, how long shutdown may take, how many syncs run at once. See the README, Running in production."
	typeDocs[reflect.TypeFor[Alert]()] = "A webhook that hears about syncs in trouble: a failed or refused run, too many rejected records, no success for too long, an erasure request past its deadline. Each condition is announced when it starts and when it clears (a recovery notice), never repeated in between. `sluice run` sends them."
	refExamples[reflect.TypeFor[Daemon]()] = refExample{ProjectSchema, `version: 1
name: shop
warehouse: {type: duckdb, path: shop.duckdb}
daemon:
  trigger_token: ${SLUICE_TRIGGER_TOKEN}
  shutdown_timeout: 2m
  concurrency: 2
`}
	refExamples[reflect.TypeFor[Alert]()] = refExample{SectionsSchema, `alerts:
  - name: data_team
    type: slack
    url: ${SLACK_ALERTS_URL}
    events: [failed, stale]
  - name: pager
    url: ${PAGER_WEBHOOK_URL}
    bearer_token: ${PAGER_TOKEN}
    syncs: [vip_to_klaviyo]
    rejected_share: 10%
    stale_intervals: 2
`}
}

// daemonAndAlerts validates the daemon settings and the alerts.
func (v *validator) daemonAndAlerts() {
	d := v.p.Daemon
	// An empty token (the variable set to "") turns triggering off.
	if n := len(d.TriggerToken); n > 0 && n < minTriggerTokenLength {
		v.add(d.At.Of("trigger_token"), "trigger_token is too short: use at least %d random characters (e.g. openssl rand -hex 24)", minTriggerTokenLength)
	}
	syncs := make([]string, 0, len(v.p.Syncs))
	for _, s := range v.p.Syncs {
		syncs = append(syncs, s.Name)
	}
	unique(v, "alert", v.p.Alerts, func(a Alert) string { return a.Name }, func(a Alert) Pos { return a.At.Of("name") })
	for _, a := range v.p.Alerts {
		v.name("alert", a.Name, a.At.Of("name"))
		if a.URL != "" {
			// The URL came from the environment: never echo it.
			if msg := checkURL(string(a.URL), false); msg != "" {
				v.add(a.At.Of("url"), "invalid url (value from environment): %s", msg)
			}
		}
		if a.Kind() == "slack" && a.BearerToken != "" {
			v.add(a.At.Of("bearer_token"), "bearer_token applies to type webhook; a Slack incoming webhook URL carries its own token")
		}
		for _, s := range a.Syncs {
			if !slices.Contains(syncs, s) {
				v.add(a.At.Of("syncs"), "unknown sync %s%s", quote(s), didYouMean(s, syncs))
			}
		}
		for _, e := range a.Events {
			if !slices.Contains(AlertEvents, e) {
				v.add(a.At.Of("events"), "unknown event %s%s (available: %s)", quote(e), didYouMean(e, AlertEvents), strings.Join(AlertEvents, ", "))
			}
		}
		if a.RejectedShare != "" {
			if _, err := parseShare(a.RejectedShare); err != nil {
				v.add(a.At.Of("rejected_share"), "invalid rejected_share %s: %v", quote(a.RejectedShare), err)
			}
		}
	}
}
