-- profiles (profiles, duckdb)
-- Profiles: one row per profile of "sluice"."customer_identity_map" with its 4 trait column(s), the golden record.
-- declared at testdata/identifiers/sluice.yml:18:3

CREATE OR REPLACE TABLE "sluice"."customer_profiles__sluice_next" AS
WITH
-- Every profile of the identity map, by its number in this build (profile_no):
-- the passes below group and join on it, cheaper than on profile_id.
profiles AS (
    SELECT profile_no, min(profile_id) AS profile_id
    FROM "sluice"."customer_identity_map"
    GROUP BY profile_no
),
-- Identifier traits: one pass over the identity map picks them all.
identifiers AS (
    SELECT
        profile_no,
        -- email: identifier email, most recent (last seen)
        first(id_value ORDER BY last_seen_at DESC NULLS LAST, id_value ASC NULLS LAST) FILTER (WHERE id_value IS NOT NULL AND (id_type = 'email')) AS "identifiers__email",
        -- email_first: identifier email, first seen
        first(id_value ORDER BY first_seen_at ASC NULLS LAST, id_value ASC NULLS LAST) FILTER (WHERE id_value IS NOT NULL AND (id_type = 'email')) AS "identifiers__email_first",
        -- email_frequent: identifier email, most frequent (seen_count, then last seen)
        first(id_value ORDER BY seen_count DESC NULLS LAST, last_seen_at DESC NULLS LAST, id_value ASC NULLS LAST) FILTER (WHERE id_value IS NOT NULL AND (id_type = 'email')) AS "identifiers__email_frequent",
        -- phone: identifier phone, most recent (last seen)
        first(id_value ORDER BY last_seen_at DESC NULLS LAST, id_value ASC NULLS LAST) FILTER (WHERE id_value IS NOT NULL AND (id_type = 'phone')) AS "identifiers__phone"
    FROM "sluice"."customer_identity_map"
    WHERE id_type IN ('email', 'phone')
    GROUP BY profile_no
),
-- Traits read from the identity map and sources, one row per profile.
base AS (
    SELECT
        joined.profile_id AS profile_id,
        "identifiers__email" AS "email",
        "identifiers__email_first" AS "email_first",
        "identifiers__email_frequent" AS "email_frequent",
        "identifiers__phone" AS "phone"
    FROM (
        SELECT c.*, j."identifiers__email", j."identifiers__email_first", j."identifiers__email_frequent", j."identifiers__phone"
        FROM (
            SELECT profile_no, profile_id FROM profiles
        ) AS c
        LEFT JOIN (SELECT profile_no AS j_profile_no, "identifiers__email", "identifiers__email_first", "identifiers__email_frequent", "identifiers__phone" FROM identifiers) AS j ON j.j_profile_no = c.profile_no
    ) AS joined
)
SELECT
    profile_id,
    "email",
    "email_first",
    "email_frequent",
    "phone"
FROM base;
