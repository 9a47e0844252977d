-- profiles (profiles, duckdb)
-- Profiles: one row per profile of "sluice"."customer_identity_map" with its 10 trait column(s), the golden record.
-- declared at testdata/column_picks/sluice.yml:22:3

CREATE OR REPLACE TABLE "sluice"."customer_profiles__sluice_next" AS
WITH
-- Every profile of the identity map, by its number in this build (profile_no):
-- the passes below group and join on it, cheaper than on profile_id.
profiles AS (
    SELECT profile_no, min(profile_id) AS profile_id
    FROM "sluice"."customer_identity_map"
    GROUP BY profile_no
),
-- Rows of crm_contacts with the profile each belongs to (from "sluice"."customer_row_map").
rows_crm_contacts AS (
    SELECT
        r.rm_profile AS sluice_profile_no,
        s.*
    FROM "sluice"."src_crm_contacts" AS s
    JOIN (SELECT row_key AS rm_key, profile_no AS rm_profile FROM "sluice"."customer_row_map" WHERE source = 'crm_contacts') AS r
        ON r.rm_key = CAST(s."contact_id" AS VARCHAR)
),
-- One pass over crm_contacts computes every trait that reads it.
traits_crm_contacts AS (
    SELECT
        sluice_profile_no AS profile_no,
        -- first_name: crm_contacts.first_name, most recent non-NULL value
        first("first_name" ORDER BY "updated_at" DESC NULLS LAST, "first_name" ASC NULLS LAST) FILTER (WHERE "first_name" IS NOT NULL) AS "traits_crm_contacts__first_name",
        -- first_name_first: crm_contacts.first_name, first seen non-NULL value
        first("first_name" ORDER BY "updated_at" ASC NULLS LAST, "first_name" ASC NULLS LAST) FILTER (WHERE "first_name" IS NOT NULL) AS "traits_crm_contacts__first_name_first",
        -- active_city: crm_contacts.city, most recent non-NULL value, where status = 'active' OR status IS NULL
        first("city" ORDER BY "updated_at" DESC NULLS LAST, "city" ASC NULLS LAST) FILTER (WHERE "city" IS NOT NULL AND (status = 'active' OR status IS NULL)) AS "traits_crm_contacts__active_city",
        -- best_name: priority 2 of 3, crm_contacts.first_name, most recent non-NULL value
        first("first_name" ORDER BY "updated_at" DESC NULLS LAST, "first_name" ASC NULLS LAST) FILTER (WHERE "first_name" IS NOT NULL) AS "traits_crm_contacts__best_name",
        -- email_opt_in: crm_contacts.email_consent, most recent non-NULL value
        first("email_consent" ORDER BY "updated_at" DESC NULLS LAST, "email_consent" ASC NULLS LAST) FILTER (WHERE "email_consent" IS NOT NULL) AS "traits_crm_contacts__email_opt_in",
        -- email_opt_in_at: crm_contacts.email_consent_at, most recent non-NULL value
        first("email_consent_at" ORDER BY "updated_at" DESC NULLS LAST, "email_consent_at" ASC NULLS LAST) FILTER (WHERE "email_consent_at" IS NOT NULL) AS "traits_crm_contacts__email_opt_in_at",
        -- signup_date: crm_contacts.updated_at, first seen non-NULL value
        first("updated_at" ORDER BY "updated_at" ASC NULLS LAST) FILTER (WHERE "updated_at" IS NOT NULL) AS "traits_crm_contacts__signup_date"
    FROM rows_crm_contacts
    GROUP BY sluice_profile_no
),
-- Rows of web_events with the profile each belongs to (from "sluice"."customer_row_map").
rows_web_events AS (
    SELECT
        r.rm_profile AS sluice_profile_no,
        s.*
    FROM "sluice"."src_web_events" AS s
    JOIN (SELECT row_key AS rm_key, profile_no AS rm_profile FROM "sluice"."customer_row_map" WHERE source = 'web_events') AS r
        ON r.rm_key = CAST(s."event_id" AS VARCHAR)
),
-- One pass over web_events computes every trait that reads it.
traits_web_events AS (
    SELECT
        sluice_profile_no AS profile_no,
        -- recent_city: web_events.city, most recent non-NULL value, within 30d
        first("city" ORDER BY "occurred_at" DESC NULLS LAST, "city" ASC NULLS LAST) FILTER (WHERE "city" IS NOT NULL AND ("occurred_at" >= TIMESTAMP '2025-07-01 00:00:00' - INTERVAL 30 DAY)) AS "traits_web_events__recent_city",
        -- best_name: priority 3 of 3, web_events.first_name, most recent non-NULL value
        first("first_name" ORDER BY "occurred_at" DESC NULLS LAST, "first_name" ASC NULLS LAST) FILTER (WHERE "first_name" IS NOT NULL) AS "traits_web_events__best_name"
    FROM rows_web_events
    GROUP BY sluice_profile_no
),
-- Rows of support_tickets with the profile each belongs to (from "sluice"."customer_row_map").
rows_support_tickets AS (
    SELECT
        r.rm_profile AS sluice_profile_no,
        s.*
    FROM "sluice"."src_support_tickets" AS s
    JOIN (SELECT row_key AS rm_key, profile_no AS rm_profile FROM "sluice"."customer_row_map" WHERE source = 'support_tickets') AS r
        ON r.rm_key = CAST(s."ticket_id" AS VARCHAR)
),
-- One pass over support_tickets computes every trait that reads it.
traits_support_tickets AS (
    SELECT
        sluice_profile_no AS profile_no,
        -- best_name: priority 1 of 3, support_tickets.first_name, smallest non-NULL value (the source has no timestamp)
        first("first_name" ORDER BY "first_name" ASC NULLS LAST) FILTER (WHERE "first_name" IS NOT NULL) AS "traits_support_tickets__best_name"
    FROM rows_support_tickets
    GROUP BY sluice_profile_no
),
-- city_frequent: how often each non-NULL value of web_events.city occurs per profile.
counts_city_frequent AS (
    SELECT
            sluice_profile_no,
            "city" AS value,
            count(*) AS occurrences,
            max("occurred_at") AS last_seen_at
        FROM rows_web_events
        WHERE "city" IS NOT NULL
        GROUP BY sluice_profile_no, "city"
),
-- city_frequent: the most frequent value (ties: most recent, then smallest value).
pick_city_frequent AS (
    SELECT
            sluice_profile_no AS profile_no,
            first(value ORDER BY occurrences DESC NULLS LAST, last_seen_at DESC NULLS LAST, value ASC NULLS LAST) FILTER (WHERE value IS NOT NULL) AS "pick_city_frequent__city_frequent"
        FROM counts_city_frequent
        GROUP BY sluice_profile_no
),
-- preferred_channel: how often each non-NULL value of support_tickets.channel occurs per profile.
counts_preferred_channel AS (
    SELECT
            sluice_profile_no,
            "channel" AS value,
            count(*) AS occurrences
        FROM rows_support_tickets
        WHERE "channel" IS NOT NULL
        GROUP BY sluice_profile_no, "channel"
),
-- preferred_channel: the most frequent value (ties: smallest value, the source has no timestamp).
pick_preferred_channel AS (
    SELECT
            sluice_profile_no AS profile_no,
            first(value ORDER BY occurrences DESC NULLS LAST, value ASC NULLS LAST) FILTER (WHERE value IS NOT NULL) AS "pick_preferred_channel__preferred_channel"
        FROM counts_preferred_channel
        GROUP BY sluice_profile_no
),
-- Traits read from the identity map and sources, one row per profile.
base AS (
    SELECT
        joined.profile_id AS profile_id,
        "traits_crm_contacts__first_name" AS "first_name",
        "traits_crm_contacts__first_name_first" AS "first_name_first",
        "traits_crm_contacts__active_city" AS "active_city",
        "pick_city_frequent__city_frequent" AS "city_frequent",
        "traits_web_events__recent_city" AS "recent_city",
        "pick_preferred_channel__preferred_channel" AS "preferred_channel",
        -- best_name: first source with a value, in order: support_tickets, crm_contacts, web_events
        COALESCE("traits_support_tickets__best_name", "traits_crm_contacts__best_name", "traits_web_events__best_name") AS "best_name",
        "traits_crm_contacts__email_opt_in" AS "email_opt_in",
        "traits_crm_contacts__email_opt_in_at" AS "email_opt_in_at",
        CAST("traits_crm_contacts__signup_date" AS date) AS "signup_date"
    FROM (
        SELECT c.*, j."traits_support_tickets__best_name"
        FROM (
            SELECT c.*, j."pick_preferred_channel__preferred_channel"
            FROM (
                SELECT c.*, j."traits_web_events__recent_city", j."traits_web_events__best_name"
                FROM (
                    SELECT c.*, j."pick_city_frequent__city_frequent"
                    FROM (
                        SELECT c.*, j."traits_crm_contacts__first_name", j."traits_crm_contacts__first_name_first", j."traits_crm_contacts__active_city", j."traits_crm_contacts__best_name", j."traits_crm_contacts__email_opt_in", j."traits_crm_contacts__email_opt_in_at", j."traits_crm_contacts__signup_date"
                        FROM (
                            SELECT profile_no, profile_id FROM profiles
                        ) AS c
                        LEFT JOIN (SELECT profile_no AS j_profile_no, "traits_crm_contacts__first_name", "traits_crm_contacts__first_name_first", "traits_crm_contacts__active_city", "traits_crm_contacts__best_name", "traits_crm_contacts__email_opt_in", "traits_crm_contacts__email_opt_in_at", "traits_crm_contacts__signup_date" FROM traits_crm_contacts) AS j ON j.j_profile_no = c.profile_no
                    ) AS c
                    LEFT JOIN (SELECT profile_no AS j_profile_no, "pick_city_frequent__city_frequent" FROM pick_city_frequent) AS j ON j.j_profile_no = c.profile_no
                ) AS c
                LEFT JOIN (SELECT profile_no AS j_profile_no, "traits_web_events__recent_city", "traits_web_events__best_name" FROM traits_web_events) AS j ON j.j_profile_no = c.profile_no
            ) AS c
            LEFT JOIN (SELECT profile_no AS j_profile_no, "pick_preferred_channel__preferred_channel" FROM pick_preferred_channel) AS j ON j.j_profile_no = c.profile_no
        ) AS c
        LEFT JOIN (SELECT profile_no AS j_profile_no, "traits_support_tickets__best_name" FROM traits_support_tickets) AS j ON j.j_profile_no = c.profile_no
    ) AS joined
)
SELECT
    profile_id,
    "first_name",
    "first_name_first",
    "active_city",
    "city_frequent",
    "recent_city",
    "preferred_channel",
    "best_name",
    "email_opt_in",
    "email_opt_in_at",
    "signup_date"
FROM base;
