package benchkit

import "fmt"

// AudienceModels is the project the ad audiences' benchmarks share: one
// source of people with every match key, each person a profile, and a
// segment of those who consent to ad use (all of them). A benchmark adds
// its destination and a sync of segment.audience.
const AudienceModels = `sources:
  - {name: people, table: raw.people, primary_key: id}
identity:
  id_types: {email: {normalize: email}}
  edges: [{source: people, ids: {email: email}}]
traits:
  email: {pick: email}
  phone: {from: people, pick: phone, rule: most_frequent}
  first_name: {from: people, pick: first_name, rule: most_frequent}
  last_name: {from: people, pick: last_name, rule: most_frequent}
  country: {from: people, pick: country, rule: most_frequent}
  postal_code: {from: people, pick: postal_code, rule: most_frequent}
  ads_opt_in: {from: people, pick: ads_opt_in, rule: most_frequent}
segments:
  - {name: audience, where: "ads_opt_in"}
`

// AudiencePeople creates raw.people with n people for AudienceModels:
// half the phones in E.164, half written the French national way (their
// country is then FR), all valid numbers.
func AudiencePeople(n int) []string {
	return []string{"CREATE SCHEMA IF NOT EXISTS raw", fmt.Sprintf(`CREATE TABLE raw.people AS SELECT i AS id, 'person' || i || '@example.com' AS email,
	CASE WHEN i %% 2 = 0 THEN '+336' || lpad(CAST(10000000 + i AS VARCHAR), 8, '0')
		ELSE '06 ' || lpad(CAST(10000000 + i AS VARCHAR), 8, '0') END AS phone,
	'First' || i AS first_name, 'Last' || i AS last_name,
	CASE WHEN i %% 2 = 1 THEN 'FR' WHEN i %% 4 = 0 THEN 'DE' ELSE 'US' END AS country,
	lpad(CAST(10000 + i %% 89999 AS VARCHAR), 5, '0') AS postal_code, true AS ads_opt_in
	FROM range(%d) t(i)`, n)}
}
