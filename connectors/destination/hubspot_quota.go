package destination

import "time"

// HubSpotQuotas are HubSpot's announced limits, for HTTPOptions.Quotas:
// the daily quota (X-HubSpot-RateLimit-Daily and -Daily-Remaining, reset
// at midnight in the account's time zone loc; nil: UTC), the rolling
// 10-second window (-Max, -Remaining, -Interval-Milliseconds; paced as a
// sliding log of the client's requests while they are all it counts), and a
// 429 naming the per-second policy. HubSpot still announces a per-second
// pair (-Secondly, -Secondly-Remaining) but documents it as no longer
// enforced: pacing by it halved the rate achieved (10.6 requests a second
// against 19), so it is not read. The daily quota stops
// requests only once used up (NoSpread): a run that cannot finish today
// should say so, not crawl. A 429 says which quota it hit in its body's
// policyName: DAILY stops the run with the reset time, TEN_SECONDLY_ROLLING
// and SECONDLY are retried after the window.
func HubSpotQuotas(loc *time.Location) []*QuotaHeaders {
	const p = "X-HubSpot-RateLimit-"
	return []*QuotaHeaders{
		{Name: "daily", Limit: p + "Daily", Remaining: p + "Daily-Remaining", ResetAt: NextMidnight(loc),
			PolicyField: "policyName", Policies: []string{"DAILY"}, NoSpread: true},
		{Name: "10-second", Limit: p + "Max", Remaining: p + "Remaining", Interval: p + "Interval-Milliseconds",
			Window: 10 * time.Second, PolicyField: "policyName", Policies: []string{"TEN_SECONDLY_ROLLING"}},
		{Name: "per-second", Window: time.Second, PolicyField: "policyName", Policies: []string{"SECONDLY"}},
	}
}
