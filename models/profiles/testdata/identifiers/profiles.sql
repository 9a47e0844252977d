-- profiles (profiles, duckdb)
-- Profiles: one row per profile of "sluice"."customer_identity_map" with its 4 trait column(s), the golden record.
-- declared at testdata/identifiers/sluice.yml:18:3

CREATE OR REPLACE TABLE "sluice"."customer_profiles" AS
WITH
-- Every profile of the identity map.
profiles AS (
    SELECT DISTINCT profile_id
    FROM "sluice"."customer_identity_map"
),
-- Identifier traits: one pass over the identity map picks them all.
identifiers AS (
    SELECT
        profile_id,
        -- email: identifier email, most recent (last seen)
        first(id_value ORDER BY last_seen_at DESC NULLS LAST, id_value ASC NULLS LAST) FILTER (WHERE id_value IS NOT NULL AND (id_type = 'email')) AS "email",
        -- email_first: identifier email, first seen
        first(id_value ORDER BY first_seen_at ASC NULLS LAST, id_value ASC NULLS LAST) FILTER (WHERE id_value IS NOT NULL AND (id_type = 'email')) AS "email_first",
        -- email_frequent: identifier email, most frequent (seen_count, then last seen)
        first(id_value ORDER BY seen_count DESC NULLS LAST, last_seen_at DESC NULLS LAST, id_value ASC NULLS LAST) FILTER (WHERE id_value IS NOT NULL AND (id_type = 'email')) AS "email_frequent",
        -- phone: identifier phone, most recent (last seen)
        first(id_value ORDER BY last_seen_at DESC NULLS LAST, id_value ASC NULLS LAST) FILTER (WHERE id_value IS NOT NULL AND (id_type = 'phone')) AS "phone"
    FROM "sluice"."customer_identity_map"
    WHERE id_type IN ('email', 'phone')
    GROUP BY profile_id
),
-- Traits read from the identity map and sources, one row per profile.
base AS (
    SELECT
        profiles.profile_id AS profile_id,
        identifiers."email" AS "email",
        identifiers."email_first" AS "email_first",
        identifiers."email_frequent" AS "email_frequent",
        identifiers."phone" AS "phone"
    FROM profiles
    LEFT JOIN identifiers ON identifiers.profile_id = profiles.profile_id
)
SELECT
    profile_id,
    "email",
    "email_first",
    "email_frequent",
    "phone"
FROM base;
