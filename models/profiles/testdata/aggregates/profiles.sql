-- profiles (profiles, duckdb)
-- Profiles: one row per profile of "sluice"."customer_identity_map" with its 11 trait column(s), the golden record.
-- declared at testdata/aggregates/sluice.yml:17:3

CREATE OR REPLACE TABLE "sluice"."customer_profiles__sluice_next" AS
WITH
-- Every profile of the identity map, by its number in this build (profile_no):
-- the passes below group and join on it, cheaper than on profile_id.
profiles AS (
    SELECT profile_no, min(profile_id) AS profile_id
    FROM "sluice"."customer_identity_map"
    GROUP BY profile_no
),
-- Rows of orders with the profile each belongs to (from "sluice"."customer_row_map").
rows_orders AS (
    SELECT
        r.rm_profile AS sluice_profile_no,
        s.*
    FROM "sluice"."src_orders" AS s
    JOIN (SELECT row_key AS rm_key, profile_no AS rm_profile FROM "sluice"."customer_row_map" WHERE source = 'orders') AS r
        ON r.rm_key = (CAST(s."shop" AS VARCHAR) || '' || CAST(s."order_no" AS VARCHAR))
),
-- One pass over orders computes every trait that reads it.
traits_orders AS (
    SELECT
        sluice_profile_no AS profile_no,
        -- order_count: count(*) over orders
        count(*) AS "traits_orders__order_count",
        -- paid_orders: count(*) over orders, where status = 'paid'
        count(CASE WHEN status = 'paid' THEN 1 END) AS "traits_orders__paid_orders",
        -- skus: count(distinct sku) over orders
        count(DISTINCT sku) AS "traits_orders__skus",
        -- orders_with_sku: count(sku) over orders
        count(sku) AS "traits_orders__orders_with_sku",
        -- revenue: sum(amount) over orders
        sum(amount) AS "traits_orders__revenue",
        -- first_order_at: min(ordered_at) over orders
        min(ordered_at) AS "traits_orders__first_order_at",
        -- last_order_at: max(ordered_at) over orders
        max(ordered_at) AS "traits_orders__last_order_at",
        -- avg_paid_basket: avg(amount) over orders, where status = 'paid'
        avg(CASE WHEN status = 'paid' THEN amount END) AS "traits_orders__avg_paid_basket",
        -- orders_90d: count(*) over orders, within 90d
        count(CASE WHEN "ordered_at" >= TIMESTAMP '2025-07-01 00:00:00' - INTERVAL 90 DAY THEN 1 END) AS "traits_orders__orders_90d",
        -- paid_revenue_90d: sum(amount) over orders, where status = 'paid', within 90d
        sum(CASE WHEN (status = 'paid') AND ("ordered_at" >= TIMESTAMP '2025-07-01 00:00:00' - INTERVAL 90 DAY) THEN amount END) AS "traits_orders__paid_revenue_90d",
        -- skus_90d: COUNT(DISTINCT sku) over orders, within 90d
        count(DISTINCT CASE WHEN "ordered_at" >= TIMESTAMP '2025-07-01 00:00:00' - INTERVAL 90 DAY THEN sku END) AS "traits_orders__skus_90d"
    FROM rows_orders
    GROUP BY sluice_profile_no
),
-- Traits read from the identity map and sources, one row per profile.
base AS (
    SELECT
        joined.profile_id AS profile_id,
        -- order_count: a profile without rows counts 0
        COALESCE("traits_orders__order_count", 0) AS "order_count",
        -- paid_orders: a profile without rows counts 0
        COALESCE("traits_orders__paid_orders", 0) AS "paid_orders",
        -- skus: a profile without rows counts 0
        COALESCE("traits_orders__skus", 0) AS "skus",
        -- orders_with_sku: a profile without rows counts 0
        COALESCE("traits_orders__orders_with_sku", 0) AS "orders_with_sku",
        "traits_orders__revenue" AS "revenue",
        "traits_orders__first_order_at" AS "first_order_at",
        "traits_orders__last_order_at" AS "last_order_at",
        CAST("traits_orders__avg_paid_basket" AS decimal(10,2)) AS "avg_paid_basket",
        -- orders_90d: a profile without rows counts 0
        COALESCE("traits_orders__orders_90d", 0) AS "orders_90d",
        "traits_orders__paid_revenue_90d" AS "paid_revenue_90d",
        -- skus_90d: a profile without rows counts 0
        COALESCE("traits_orders__skus_90d", 0) AS "skus_90d"
    FROM (
        SELECT c.*, j."traits_orders__order_count", j."traits_orders__paid_orders", j."traits_orders__skus", j."traits_orders__orders_with_sku", j."traits_orders__revenue", j."traits_orders__first_order_at", j."traits_orders__last_order_at", j."traits_orders__avg_paid_basket", j."traits_orders__orders_90d", j."traits_orders__paid_revenue_90d", j."traits_orders__skus_90d"
        FROM (
            SELECT profile_no, profile_id FROM profiles
        ) AS c
        LEFT JOIN (SELECT profile_no AS j_profile_no, "traits_orders__order_count", "traits_orders__paid_orders", "traits_orders__skus", "traits_orders__orders_with_sku", "traits_orders__revenue", "traits_orders__first_order_at", "traits_orders__last_order_at", "traits_orders__avg_paid_basket", "traits_orders__orders_90d", "traits_orders__paid_revenue_90d", "traits_orders__skus_90d" FROM traits_orders) AS j ON j.j_profile_no = c.profile_no
    ) AS joined
)
SELECT
    profile_id,
    "order_count",
    "paid_orders",
    "skus",
    "orders_with_sku",
    "revenue",
    "first_order_at",
    "last_order_at",
    "avg_paid_basket",
    "orders_90d",
    "paid_revenue_90d",
    "skus_90d"
FROM base;
