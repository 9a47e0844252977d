-- segment_champions (segment, duckdb)
-- Segment champions: profiles matching where.
-- Group lifecycle, priority 1: a profile belongs to the first segment of the group that selects it (lowest priority, then name).
-- declared at testdata/segments/sluice.yml:34:13

CREATE OR REPLACE TABLE "sluice"."customer_segment_champions__sluice_next" AS
SELECT profile_id
FROM "sluice"."customer_profiles__sluice_next"
WHERE
    -- where
    (ltv >= 1000);

-- segment_at_risk (segment, duckdb)
-- Segment at_risk: profiles matching where.
-- Group lifecycle, priority 2: a profile belongs to the first segment of the group that selects it (lowest priority, then name); ranked before this one: champions.
-- declared at testdata/segments/sluice.yml:36:13

CREATE OR REPLACE TABLE "sluice"."customer_segment_at_risk__sluice_next" AS
SELECT profile_id
FROM "sluice"."customer_profiles__sluice_next"
WHERE
    -- where
    (ltv > 0 AND ltv < 600)
    -- group lifecycle: held by champions, which ranks before at_risk
    AND profile_id NOT IN (SELECT profile_id FROM "sluice"."customer_segment_champions__sluice_next");

-- segment_loyal (segment, duckdb)
-- Segment loyal: profiles matching where.
-- Group lifecycle, priority 2: a profile belongs to the first segment of the group that selects it (lowest priority, then name); ranked before this one: champions, at_risk.
-- declared at testdata/segments/sluice.yml:35:13

CREATE OR REPLACE TABLE "sluice"."customer_segment_loyal__sluice_next" AS
SELECT profile_id
FROM "sluice"."customer_profiles__sluice_next"
WHERE
    -- where
    (orders_90d >= 1)
    -- group lifecycle: held by champions, which ranks before loyal
    AND profile_id NOT IN (SELECT profile_id FROM "sluice"."customer_segment_champions__sluice_next")
    -- group lifecycle: held by at_risk, which ranks before loyal
    AND profile_id NOT IN (SELECT profile_id FROM "sluice"."customer_segment_at_risk__sluice_next");

-- segment_casual (segment, duckdb)
-- Segment casual: profiles matching where, minus members of champions, loyal.
-- declared at testdata/segments/sluice.yml:25:13

CREATE OR REPLACE TABLE "sluice"."customer_segment_casual__sluice_next" AS
SELECT profile_id
FROM "sluice"."customer_profiles__sluice_next"
WHERE
    -- where
    (ltv > 0)
    -- exclude: members of champions
    AND profile_id NOT IN (SELECT profile_id FROM "sluice"."customer_segment_champions__sluice_next")
    -- exclude: members of loyal
    AND profile_id NOT IN (SELECT profile_id FROM "sluice"."customer_segment_loyal__sluice_next");

-- segment_vip (segment, duckdb)
-- Segment vip: profiles matching where.
-- declared at testdata/segments/sluice.yml:26:13

CREATE OR REPLACE TABLE "sluice"."customer_segment_vip__sluice_next" AS
SELECT profile_id
FROM "sluice"."customer_profiles__sluice_next"
WHERE
    -- where
    (ltv >= 500 AND email_opt_in);

-- segment_lapsed (segment, duckdb)
-- Segment lapsed: profiles matching where, minus members of vip.
-- declared at testdata/segments/sluice.yml:27:13

CREATE OR REPLACE TABLE "sluice"."customer_segment_lapsed__sluice_next" AS
SELECT profile_id
FROM "sluice"."customer_profiles__sluice_next"
WHERE
    -- where
    (orders_90d = 0 AND ltv > 0)
    -- exclude: members of vip
    AND profile_id NOT IN (SELECT profile_id FROM "sluice"."customer_segment_vip__sluice_next");

-- segment_french (segment, duckdb)
-- Segment french: profiles returned by sql.
-- Customers whose CRM country is France.
-- declared at testdata/segments/sluice.yml:28:11

CREATE OR REPLACE TABLE "sluice"."customer_segment_french__sluice_next" AS
SELECT profile_id
FROM "sluice"."customer_profiles__sluice_next"
WHERE
    -- returned by the segment's sql
    profile_id IN (
        SELECT CAST(q.profile_id AS VARCHAR)
        FROM (
            SELECT profile_id FROM "sluice"."customer_profiles__sluice_next" WHERE country = 'FR'
            UNION ALL SELECT 'p_unknown'   -- not a profile: left out, counted by a check
            UNION ALL SELECT NULL
        ) AS q
    );

-- Check: sql of segment french (profile ids returned that are not profiles (left out))

SELECT count(*)
FROM (
    SELECT DISTINCT CAST(q.profile_id AS VARCHAR) AS id
    FROM (
        SELECT profile_id FROM "sluice"."customer_profiles__sluice_next" WHERE country = 'FR'
        UNION ALL SELECT 'p_unknown'   -- not a profile: left out, counted by a check
        UNION ALL SELECT NULL
    ) AS q
) AS ids
WHERE id IS NULL OR id NOT IN (SELECT profile_id FROM "sluice"."customer_profiles__sluice_next");

-- segment_prospects (segment, duckdb)
-- Segment prospects: profiles returned by sql, minus members of french.
-- Group lifecycle, priority 3: a profile belongs to the first segment of the group that selects it (lowest priority, then name); ranked before this one: champions, at_risk, loyal.
-- declared at testdata/segments/sluice.yml:37:13

CREATE OR REPLACE TABLE "sluice"."customer_segment_prospects__sluice_next" AS
SELECT profile_id
FROM "sluice"."customer_profiles__sluice_next"
WHERE
    -- returned by the segment's sql
    profile_id IN (
        SELECT CAST(q.profile_id AS VARCHAR)
        FROM (
            SELECT profile_id FROM "sluice"."customer_profiles__sluice_next"
        ) AS q
    )
    -- exclude: members of french
    AND profile_id NOT IN (SELECT profile_id FROM "sluice"."customer_segment_french__sluice_next")
    -- group lifecycle: held by champions, which ranks before prospects
    AND profile_id NOT IN (SELECT profile_id FROM "sluice"."customer_segment_champions__sluice_next")
    -- group lifecycle: held by at_risk, which ranks before prospects
    AND profile_id NOT IN (SELECT profile_id FROM "sluice"."customer_segment_at_risk__sluice_next")
    -- group lifecycle: held by loyal, which ranks before prospects
    AND profile_id NOT IN (SELECT profile_id FROM "sluice"."customer_segment_loyal__sluice_next");

-- Check: sql of segment prospects (profile ids returned that are not profiles (left out))

SELECT count(*)
FROM (
    SELECT DISTINCT CAST(q.profile_id AS VARCHAR) AS id
    FROM (
        SELECT profile_id FROM "sluice"."customer_profiles__sluice_next"
    ) AS q
) AS ids
WHERE id IS NULL OR id NOT IN (SELECT profile_id FROM "sluice"."customer_profiles__sluice_next");

-- segment_optin_not_vip (segment, duckdb)
-- Segment optin_not_vip: profiles matching where, minus members of vip, french.
-- declared at testdata/segments/sluice.yml:38:13

CREATE OR REPLACE TABLE "sluice"."customer_segment_optin_not_vip__sluice_next" AS
SELECT profile_id
FROM "sluice"."customer_profiles__sluice_next"
WHERE
    -- where
    (email_opt_in)
    -- exclude: members of vip
    AND profile_id NOT IN (SELECT profile_id FROM "sluice"."customer_segment_vip__sluice_next")
    -- exclude: members of french
    AND profile_id NOT IN (SELECT profile_id FROM "sluice"."customer_segment_french__sluice_next");

-- segment_membership (segment, duckdb)
-- Every segment's members: one row per segment and profile.

CREATE OR REPLACE TABLE "sluice"."customer_segment_membership__sluice_next" AS
SELECT 'casual' AS segment, profile_id FROM "sluice"."customer_segment_casual__sluice_next"
UNION ALL
SELECT 'vip' AS segment, profile_id FROM "sluice"."customer_segment_vip__sluice_next"
UNION ALL
SELECT 'lapsed' AS segment, profile_id FROM "sluice"."customer_segment_lapsed__sluice_next"
UNION ALL
SELECT 'french' AS segment, profile_id FROM "sluice"."customer_segment_french__sluice_next"
UNION ALL
SELECT 'champions' AS segment, profile_id FROM "sluice"."customer_segment_champions__sluice_next"
UNION ALL
SELECT 'loyal' AS segment, profile_id FROM "sluice"."customer_segment_loyal__sluice_next"
UNION ALL
SELECT 'at_risk' AS segment, profile_id FROM "sluice"."customer_segment_at_risk__sluice_next"
UNION ALL
SELECT 'prospects' AS segment, profile_id FROM "sluice"."customer_segment_prospects__sluice_next"
UNION ALL
SELECT 'optin_not_vip' AS segment, profile_id FROM "sluice"."customer_segment_optin_not_vip__sluice_next";

