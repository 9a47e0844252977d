-- profiles (profiles, duckdb)
-- Profiles: one row per profile of "sluice"."customer_identity_map" with its 15 trait column(s), the golden record.
-- declared at testdata/rfm/sluice.yml:17:3

CREATE OR REPLACE TABLE "sluice"."customer_profiles" AS
WITH
-- Every profile of the identity map.
profiles AS (
    SELECT DISTINCT profile_id
    FROM "sluice"."customer_identity_map"
),
-- Rows of orders with the profile each belongs to (from "sluice"."customer_row_map").
rows_orders AS (
    SELECT
        r.profile_id AS sluice_profile_id,
        s.*
    FROM "sluice"."src_orders" AS s
    JOIN "sluice"."customer_row_map" AS r
        ON r.source = 'orders'
        AND r.row_key = CAST(s."order_id" AS VARCHAR)
),
-- One pass over orders computes every trait that reads it.
traits_orders AS (
    SELECT
        sluice_profile_id AS profile_id,
        -- rfm: purchases in orders, where status <> 'refunded': last time, count, total amount
        max(CASE WHEN status <> 'refunded' THEN "ordered_at" END) AS "rfm__last_purchase",
        count(CASE WHEN status <> 'refunded' THEN 1 END) AS "rfm__purchases",
        sum(CASE WHEN status <> 'refunded' THEN "amount" END) AS "rfm__spend",
        -- rfm_june: purchases in orders, where ordered_at >= TIMESTAMP '2025-06-01' AND status <> 'refunded': last time, count, total amount
        max(CASE WHEN ordered_at >= TIMESTAMP '2025-06-01' AND status <> 'refunded' THEN "ordered_at" END) AS "rfm_june__last_purchase",
        count(CASE WHEN ordered_at >= TIMESTAMP '2025-06-01' AND status <> 'refunded' THEN 1 END) AS "rfm_june__purchases",
        sum(CASE WHEN ordered_at >= TIMESTAMP '2025-06-01' AND status <> 'refunded' THEN "amount" END) AS "rfm_june__spend"
    FROM rows_orders
    GROUP BY sluice_profile_id
),
-- rfm: quintiles over the profiles with a purchase; 5 = most recent, most frequent, highest spend.
tiles_rfm AS (
    SELECT
        profile_id,
        recency,
        frequency,
        monetary,
        NTILE(5) OVER (ORDER BY recency DESC NULLS FIRST) AS r_tile,
        NTILE(5) OVER (ORDER BY frequency) AS f_tile,
        NTILE(5) OVER (ORDER BY monetary NULLS FIRST) AS m_tile
    FROM (
        SELECT
            profile_id,
            date_diff('day', "rfm__last_purchase", TIMESTAMP '2025-07-01 00:00:00') AS recency,
            "rfm__purchases" AS frequency,
            "rfm__spend" AS monetary
        FROM traits_orders
        WHERE "rfm__purchases" > 0
    ) AS purchasers
),
-- rfm: tied values share a score (the lowest of their group), so equal customers are scored alike.
scores_rfm AS (
    SELECT
        profile_id,
        recency AS "rfm_recency",
        frequency AS "rfm_frequency",
        monetary AS "rfm_monetary",
        min(r_tile) OVER (PARTITION BY recency) AS "rfm_r",
        min(f_tile) OVER (PARTITION BY frequency) AS "rfm_f",
        min(m_tile) OVER (PARTITION BY monetary) AS "rfm_m"
    FROM tiles_rfm
),
-- rfm_june: quintiles over the profiles with a purchase; 5 = most recent, most frequent, highest spend.
tiles_rfm_june AS (
    SELECT
        profile_id,
        recency,
        frequency,
        monetary,
        NTILE(5) OVER (ORDER BY recency DESC NULLS FIRST) AS r_tile,
        NTILE(5) OVER (ORDER BY frequency) AS f_tile,
        NTILE(5) OVER (ORDER BY monetary NULLS FIRST) AS m_tile
    FROM (
        SELECT
            profile_id,
            date_diff('day', "rfm_june__last_purchase", TIMESTAMP '2025-07-01 00:00:00') AS recency,
            "rfm_june__purchases" AS frequency,
            "rfm_june__spend" AS monetary
        FROM traits_orders
        WHERE "rfm_june__purchases" > 0
    ) AS purchasers
),
-- rfm_june: tied values share a score (the lowest of their group), so equal customers are scored alike.
scores_rfm_june AS (
    SELECT
        profile_id,
        recency AS "rfm_june_recency",
        frequency AS "rfm_june_frequency",
        monetary AS "rfm_june_monetary",
        min(r_tile) OVER (PARTITION BY recency) AS "rfm_june_r",
        min(f_tile) OVER (PARTITION BY frequency) AS "rfm_june_f",
        min(m_tile) OVER (PARTITION BY monetary) AS "rfm_june_m"
    FROM tiles_rfm_june
),
-- Traits read from the identity map and sources, one row per profile.
base AS (
    SELECT
        profiles.profile_id AS profile_id,
        -- rfm: RFM code, e.g. 545; NULL without purchases
        (CAST(scores_rfm."rfm_r" AS VARCHAR) || CAST(scores_rfm."rfm_f" AS VARCHAR) || CAST(scores_rfm."rfm_m" AS VARCHAR)) AS "rfm",
        scores_rfm."rfm_recency" AS "rfm_recency",
        -- rfm: no purchase counts 0
        COALESCE(scores_rfm."rfm_frequency", 0) AS "rfm_frequency",
        scores_rfm."rfm_monetary" AS "rfm_monetary",
        scores_rfm."rfm_r" AS "rfm_r",
        scores_rfm."rfm_f" AS "rfm_f",
        scores_rfm."rfm_m" AS "rfm_m",
        -- rfm_june: RFM code, e.g. 545; NULL without purchases
        (CAST(scores_rfm_june."rfm_june_r" AS VARCHAR) || CAST(scores_rfm_june."rfm_june_f" AS VARCHAR) || CAST(scores_rfm_june."rfm_june_m" AS VARCHAR)) AS "rfm_june",
        scores_rfm_june."rfm_june_recency" AS "rfm_june_recency",
        -- rfm_june: no purchase counts 0
        COALESCE(scores_rfm_june."rfm_june_frequency", 0) AS "rfm_june_frequency",
        scores_rfm_june."rfm_june_monetary" AS "rfm_june_monetary",
        scores_rfm_june."rfm_june_r" AS "rfm_june_r",
        scores_rfm_june."rfm_june_f" AS "rfm_june_f",
        scores_rfm_june."rfm_june_m" AS "rfm_june_m"
    FROM profiles
    LEFT JOIN scores_rfm ON scores_rfm.profile_id = profiles.profile_id
    LEFT JOIN scores_rfm_june ON scores_rfm_june.profile_id = profiles.profile_id
),
-- Expressions over the traits above.
expressions_1 AS (
    SELECT
        *,
        -- loyal: rfm_r >= 4 AND rfm_f >= 4
        (rfm_r >= 4 AND rfm_f >= 4) AS "loyal"
    FROM base
)
SELECT
    profile_id,
    "rfm",
    "rfm_recency",
    "rfm_frequency",
    "rfm_monetary",
    "rfm_r",
    "rfm_f",
    "rfm_m",
    "rfm_june",
    "rfm_june_recency",
    "rfm_june_frequency",
    "rfm_june_monetary",
    "rfm_june_r",
    "rfm_june_f",
    "rfm_june_m",
    "loyal"
FROM expressions_1;
