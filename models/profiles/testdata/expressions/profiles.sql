-- profiles (profiles, duckdb)
-- Profiles: one row per profile of "sluice"."customer_identity_map" with its 8 trait column(s), the golden record.
-- declared at testdata/expressions/sluice.yml:16:3

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
        first(id_value ORDER BY last_seen_at DESC NULLS LAST, id_value ASC NULLS LAST) FILTER (WHERE id_value IS NOT NULL AND (id_type = 'email')) AS "identifiers__email"
    FROM "sluice"."customer_identity_map"
    WHERE id_type IN ('email')
    GROUP BY profile_no
),
-- Rows of orders with the profile each belongs to (from "sluice"."customer_row_map").
rows_orders AS (
    SELECT
        r.rm_profile AS sluice_profile_no,
        s.*
    FROM "sluice"."src_orders" AS s
    JOIN (SELECT row_key AS rm_key, profile_no AS rm_profile FROM "sluice"."customer_row_map" WHERE source = 'orders') AS r
        ON r.rm_key = CAST(s."order_id" AS VARCHAR)
),
-- One pass over orders computes every trait that reads it.
traits_orders AS (
    SELECT
        sluice_profile_no AS profile_no,
        -- lifetime_value: sum(amount) over orders
        sum(amount) AS "traits_orders__lifetime_value",
        -- orders: count(*) over orders
        count(*) AS "traits_orders__orders"
    FROM rows_orders
    GROUP BY sluice_profile_no
),
-- Traits read from the identity map and sources, one row per profile.
base AS (
    SELECT
        joined.profile_id AS profile_id,
        "identifiers__email" AS "email",
        "traits_orders__lifetime_value" AS "lifetime_value",
        -- orders: a profile without rows counts 0
        COALESCE("traits_orders__orders", 0) AS "orders"
    FROM (
        SELECT c.*, j."traits_orders__lifetime_value", j."traits_orders__orders"
        FROM (
            SELECT c.*, j."identifiers__email"
            FROM (
                SELECT profile_no, profile_id FROM profiles
            ) AS c
            LEFT JOIN (SELECT profile_no AS j_profile_no, "identifiers__email" FROM identifiers) AS j ON j.j_profile_no = c.profile_no
        ) AS c
        LEFT JOIN (SELECT profile_no AS j_profile_no, "traits_orders__lifetime_value", "traits_orders__orders" FROM traits_orders) AS j ON j.j_profile_no = c.profile_no
    ) AS joined
),
-- Expressions over the traits above.
expressions_1 AS (
    SELECT
        *,
        -- aov: lifetime_value / nullif(orders, 0)
        CAST((lifetime_value / nullif(orders, 0)) AS decimal(10,2)) AS "aov",
        -- email_domain: split_part(email, '@', 2)
        (split_part(email, '@', 2)) AS "email_domain"
    FROM base
),
-- Expressions that use the expressions above.
expressions_2 AS (
    SELECT
        *,
        -- big_spender: aov > 50
        (aov > 50) AS "big_spender"
    FROM expressions_1
),
-- Expressions that use the expressions above.
expressions_3 AS (
    SELECT
        *,
        -- vip: big_spender AND email_domain = 'acme.com'
        (big_spender AND email_domain = 'acme.com') AS "vip"
    FROM expressions_2
),
-- Expressions that use the expressions above.
expressions_4 AS (
    SELECT
        *,
        -- tier: CASE WHEN vip THEN 'gold' WHEN big_spender THEN 'silver' ELSE 'bronze' END
        (CASE WHEN vip THEN 'gold' WHEN big_spender THEN 'silver' ELSE 'bronze' END) AS "tier"
    FROM expressions_3
)
SELECT
    profile_id,
    "tier",
    "vip",
    "big_spender",
    "aov",
    "email",
    "email_domain",
    "lifetime_value",
    "orders"
FROM expressions_4;
