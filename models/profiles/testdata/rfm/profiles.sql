-- profiles (profiles, duckdb)
-- Profiles: one row per profile of "sluice"."customer_identity_map" with its 15 trait column(s), the golden record.
-- declared at testdata/rfm/sluice.yml:17:3

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
        ON r.rm_key = CAST(s."order_id" AS VARCHAR)
),
-- One pass over orders computes every trait that reads it.
traits_orders AS (
    SELECT
        sluice_profile_no AS profile_no,
        -- rfm: purchases in orders, where status <> 'refunded': last time, count, total amount
        max(CASE WHEN status <> 'refunded' THEN "ordered_at" END) AS "traits_orders__rfm__last_purchase",
        count(CASE WHEN status <> 'refunded' THEN 1 END) AS "traits_orders__rfm__purchases",
        sum(CASE WHEN status <> 'refunded' THEN "amount" END) AS "traits_orders__rfm__spend",
        -- rfm_june: purchases in orders, where ordered_at >= TIMESTAMP '2025-06-01' AND status <> 'refunded': last time, count, total amount
        max(CASE WHEN ordered_at >= TIMESTAMP '2025-06-01' AND status <> 'refunded' THEN "ordered_at" END) AS "traits_orders__rfm_june__last_purchase",
        count(CASE WHEN ordered_at >= TIMESTAMP '2025-06-01' AND status <> 'refunded' THEN 1 END) AS "traits_orders__rfm_june__purchases",
        sum(CASE WHEN ordered_at >= TIMESTAMP '2025-06-01' AND status <> 'refunded' THEN "amount" END) AS "traits_orders__rfm_june__spend"
    FROM rows_orders
    GROUP BY sluice_profile_no
),
-- rfm: the profiles with a purchase, with recency (days), frequency and monetary.
purchasers_rfm AS (
    SELECT
            profile_no AS pid,
            (CAST(TIMESTAMP '2025-07-01 00:00:00' AS DATE) - CAST("traits_orders__rfm__last_purchase" AS DATE)) AS recency,
            "traits_orders__rfm__purchases" AS frequency,
            "traits_orders__rfm__spend" AS monetary
        FROM traits_orders
        WHERE "traits_orders__rfm__purchases" > 0
),
-- rfm: purchasers in order of recency (5 = best), NULLs grouped under a key.
ranked_r_rfm AS (
    SELECT row_number() OVER (ORDER BY v DESC NULLS FIRST) AS rn, unnumbered.*
    FROM (
        SELECT
            pid,
            recency AS v,
            CASE WHEN recency IS NULL THEN 1 ELSE 0 END AS v_null,
            coalesce(recency, 0) AS v_key
        FROM purchasers_rfm
    ) AS unnumbered
),
-- the first row number of each group of tied values
firsts_r_rfm AS (
    SELECT v_null AS g_null, v_key AS g_key, min(rn) AS g_first
        FROM ranked_r_rfm
        GROUP BY v_null, v_key
),
-- NTILE(5) of each group's first row: with q = n / 5 and r = n % 5, the first r tiles hold q + 1 rows, the others q
score_r_rfm AS (
    SELECT k.pid AS s_pid, CAST(CASE WHEN g.g_first <= (((SELECT count(*) FROM purchasers_rfm) - 5 * floor((SELECT count(*) FROM purchasers_rfm) / 5)) * (floor((SELECT count(*) FROM purchasers_rfm) / 5) + 1)) THEN floor((g.g_first - 1) / (floor((SELECT count(*) FROM purchasers_rfm) / 5) + 1)) + 1 ELSE ((SELECT count(*) FROM purchasers_rfm) - 5 * floor((SELECT count(*) FROM purchasers_rfm) / 5)) + floor((g.g_first - 1 - (((SELECT count(*) FROM purchasers_rfm) - 5 * floor((SELECT count(*) FROM purchasers_rfm) / 5)) * (floor((SELECT count(*) FROM purchasers_rfm) / 5) + 1))) / floor((SELECT count(*) FROM purchasers_rfm) / 5)) + 1 END AS BIGINT) AS s_score
        FROM ranked_r_rfm AS k
        JOIN firsts_r_rfm AS g ON g.g_null = k.v_null AND g.g_key = k.v_key
),
-- rfm: purchasers in order of frequency (5 = best), NULLs grouped under a key.
ranked_f_rfm AS (
    SELECT row_number() OVER (ORDER BY v NULLS LAST) AS rn, unnumbered.*
    FROM (
        SELECT
            pid,
            frequency AS v,
            CASE WHEN frequency IS NULL THEN 1 ELSE 0 END AS v_null,
            coalesce(frequency, 0) AS v_key
        FROM purchasers_rfm
    ) AS unnumbered
),
-- the first row number of each group of tied values
firsts_f_rfm AS (
    SELECT v_null AS g_null, v_key AS g_key, min(rn) AS g_first
        FROM ranked_f_rfm
        GROUP BY v_null, v_key
),
-- NTILE(5) of each group's first row: with q = n / 5 and r = n % 5, the first r tiles hold q + 1 rows, the others q
score_f_rfm AS (
    SELECT k.pid AS s_pid, CAST(CASE WHEN g.g_first <= (((SELECT count(*) FROM purchasers_rfm) - 5 * floor((SELECT count(*) FROM purchasers_rfm) / 5)) * (floor((SELECT count(*) FROM purchasers_rfm) / 5) + 1)) THEN floor((g.g_first - 1) / (floor((SELECT count(*) FROM purchasers_rfm) / 5) + 1)) + 1 ELSE ((SELECT count(*) FROM purchasers_rfm) - 5 * floor((SELECT count(*) FROM purchasers_rfm) / 5)) + floor((g.g_first - 1 - (((SELECT count(*) FROM purchasers_rfm) - 5 * floor((SELECT count(*) FROM purchasers_rfm) / 5)) * (floor((SELECT count(*) FROM purchasers_rfm) / 5) + 1))) / floor((SELECT count(*) FROM purchasers_rfm) / 5)) + 1 END AS BIGINT) AS s_score
        FROM ranked_f_rfm AS k
        JOIN firsts_f_rfm AS g ON g.g_null = k.v_null AND g.g_key = k.v_key
),
-- rfm: purchasers in order of monetary (5 = best), NULLs grouped under a key.
ranked_m_rfm AS (
    SELECT row_number() OVER (ORDER BY v NULLS FIRST) AS rn, unnumbered.*
    FROM (
        SELECT
            pid,
            monetary AS v,
            CASE WHEN monetary IS NULL THEN 1 ELSE 0 END AS v_null,
            coalesce(monetary, 0) AS v_key
        FROM purchasers_rfm
    ) AS unnumbered
),
-- the first row number of each group of tied values
firsts_m_rfm AS (
    SELECT v_null AS g_null, v_key AS g_key, min(rn) AS g_first
        FROM ranked_m_rfm
        GROUP BY v_null, v_key
),
-- NTILE(5) of each group's first row: with q = n / 5 and r = n % 5, the first r tiles hold q + 1 rows, the others q
score_m_rfm AS (
    SELECT k.pid AS s_pid, CAST(CASE WHEN g.g_first <= (((SELECT count(*) FROM purchasers_rfm) - 5 * floor((SELECT count(*) FROM purchasers_rfm) / 5)) * (floor((SELECT count(*) FROM purchasers_rfm) / 5) + 1)) THEN floor((g.g_first - 1) / (floor((SELECT count(*) FROM purchasers_rfm) / 5) + 1)) + 1 ELSE ((SELECT count(*) FROM purchasers_rfm) - 5 * floor((SELECT count(*) FROM purchasers_rfm) / 5)) + floor((g.g_first - 1 - (((SELECT count(*) FROM purchasers_rfm) - 5 * floor((SELECT count(*) FROM purchasers_rfm) / 5)) * (floor((SELECT count(*) FROM purchasers_rfm) / 5) + 1))) / floor((SELECT count(*) FROM purchasers_rfm) / 5)) + 1 END AS BIGINT) AS s_score
        FROM ranked_m_rfm AS k
        JOIN firsts_m_rfm AS g ON g.g_null = k.v_null AND g.g_key = k.v_key
),
-- rfm: quintiles over the profiles with a purchase; 5 = most recent, most frequent, highest spend.
scores_rfm AS (
    SELECT
            pm.pid AS profile_no,
            pm.recency AS "scores_rfm__rfm_recency",
            pm.frequency AS "scores_rfm__rfm_frequency",
            pm.monetary AS "scores_rfm__rfm_monetary",
            pm.r_score AS "scores_rfm__rfm_r",
            pm.f_score AS "scores_rfm__rfm_f",
            sm.s_score AS "scores_rfm__rfm_m"
        FROM (
            SELECT pf.*, sf.s_score AS f_score
            FROM (
                SELECT p.*, sr.s_score AS r_score
                FROM purchasers_rfm AS p
                JOIN score_r_rfm AS sr ON sr.s_pid = p.pid
            ) AS pf
            JOIN score_f_rfm AS sf ON sf.s_pid = pf.pid
        ) AS pm
        JOIN score_m_rfm AS sm ON sm.s_pid = pm.pid
),
-- rfm_june: the profiles with a purchase, with recency (days), frequency and monetary.
purchasers_rfm_june AS (
    SELECT
            profile_no AS pid,
            (CAST(TIMESTAMP '2025-07-01 00:00:00' AS DATE) - CAST("traits_orders__rfm_june__last_purchase" AS DATE)) AS recency,
            "traits_orders__rfm_june__purchases" AS frequency,
            "traits_orders__rfm_june__spend" AS monetary
        FROM traits_orders
        WHERE "traits_orders__rfm_june__purchases" > 0
),
-- rfm_june: purchasers in order of recency (5 = best), NULLs grouped under a key.
ranked_r_rfm_june AS (
    SELECT row_number() OVER (ORDER BY v DESC NULLS FIRST) AS rn, unnumbered.*
    FROM (
        SELECT
            pid,
            recency AS v,
            CASE WHEN recency IS NULL THEN 1 ELSE 0 END AS v_null,
            coalesce(recency, 0) AS v_key
        FROM purchasers_rfm_june
    ) AS unnumbered
),
-- the first row number of each group of tied values
firsts_r_rfm_june AS (
    SELECT v_null AS g_null, v_key AS g_key, min(rn) AS g_first
        FROM ranked_r_rfm_june
        GROUP BY v_null, v_key
),
-- NTILE(5) of each group's first row: with q = n / 5 and r = n % 5, the first r tiles hold q + 1 rows, the others q
score_r_rfm_june AS (
    SELECT k.pid AS s_pid, CAST(CASE WHEN g.g_first <= (((SELECT count(*) FROM purchasers_rfm_june) - 5 * floor((SELECT count(*) FROM purchasers_rfm_june) / 5)) * (floor((SELECT count(*) FROM purchasers_rfm_june) / 5) + 1)) THEN floor((g.g_first - 1) / (floor((SELECT count(*) FROM purchasers_rfm_june) / 5) + 1)) + 1 ELSE ((SELECT count(*) FROM purchasers_rfm_june) - 5 * floor((SELECT count(*) FROM purchasers_rfm_june) / 5)) + floor((g.g_first - 1 - (((SELECT count(*) FROM purchasers_rfm_june) - 5 * floor((SELECT count(*) FROM purchasers_rfm_june) / 5)) * (floor((SELECT count(*) FROM purchasers_rfm_june) / 5) + 1))) / floor((SELECT count(*) FROM purchasers_rfm_june) / 5)) + 1 END AS BIGINT) AS s_score
        FROM ranked_r_rfm_june AS k
        JOIN firsts_r_rfm_june AS g ON g.g_null = k.v_null AND g.g_key = k.v_key
),
-- rfm_june: purchasers in order of frequency (5 = best), NULLs grouped under a key.
ranked_f_rfm_june AS (
    SELECT row_number() OVER (ORDER BY v NULLS LAST) AS rn, unnumbered.*
    FROM (
        SELECT
            pid,
            frequency AS v,
            CASE WHEN frequency IS NULL THEN 1 ELSE 0 END AS v_null,
            coalesce(frequency, 0) AS v_key
        FROM purchasers_rfm_june
    ) AS unnumbered
),
-- the first row number of each group of tied values
firsts_f_rfm_june AS (
    SELECT v_null AS g_null, v_key AS g_key, min(rn) AS g_first
        FROM ranked_f_rfm_june
        GROUP BY v_null, v_key
),
-- NTILE(5) of each group's first row: with q = n / 5 and r = n % 5, the first r tiles hold q + 1 rows, the others q
score_f_rfm_june AS (
    SELECT k.pid AS s_pid, CAST(CASE WHEN g.g_first <= (((SELECT count(*) FROM purchasers_rfm_june) - 5 * floor((SELECT count(*) FROM purchasers_rfm_june) / 5)) * (floor((SELECT count(*) FROM purchasers_rfm_june) / 5) + 1)) THEN floor((g.g_first - 1) / (floor((SELECT count(*) FROM purchasers_rfm_june) / 5) + 1)) + 1 ELSE ((SELECT count(*) FROM purchasers_rfm_june) - 5 * floor((SELECT count(*) FROM purchasers_rfm_june) / 5)) + floor((g.g_first - 1 - (((SELECT count(*) FROM purchasers_rfm_june) - 5 * floor((SELECT count(*) FROM purchasers_rfm_june) / 5)) * (floor((SELECT count(*) FROM purchasers_rfm_june) / 5) + 1))) / floor((SELECT count(*) FROM purchasers_rfm_june) / 5)) + 1 END AS BIGINT) AS s_score
        FROM ranked_f_rfm_june AS k
        JOIN firsts_f_rfm_june AS g ON g.g_null = k.v_null AND g.g_key = k.v_key
),
-- rfm_june: purchasers in order of monetary (5 = best), NULLs grouped under a key.
ranked_m_rfm_june AS (
    SELECT row_number() OVER (ORDER BY v NULLS FIRST) AS rn, unnumbered.*
    FROM (
        SELECT
            pid,
            monetary AS v,
            CASE WHEN monetary IS NULL THEN 1 ELSE 0 END AS v_null,
            coalesce(monetary, 0) AS v_key
        FROM purchasers_rfm_june
    ) AS unnumbered
),
-- the first row number of each group of tied values
firsts_m_rfm_june AS (
    SELECT v_null AS g_null, v_key AS g_key, min(rn) AS g_first
        FROM ranked_m_rfm_june
        GROUP BY v_null, v_key
),
-- NTILE(5) of each group's first row: with q = n / 5 and r = n % 5, the first r tiles hold q + 1 rows, the others q
score_m_rfm_june AS (
    SELECT k.pid AS s_pid, CAST(CASE WHEN g.g_first <= (((SELECT count(*) FROM purchasers_rfm_june) - 5 * floor((SELECT count(*) FROM purchasers_rfm_june) / 5)) * (floor((SELECT count(*) FROM purchasers_rfm_june) / 5) + 1)) THEN floor((g.g_first - 1) / (floor((SELECT count(*) FROM purchasers_rfm_june) / 5) + 1)) + 1 ELSE ((SELECT count(*) FROM purchasers_rfm_june) - 5 * floor((SELECT count(*) FROM purchasers_rfm_june) / 5)) + floor((g.g_first - 1 - (((SELECT count(*) FROM purchasers_rfm_june) - 5 * floor((SELECT count(*) FROM purchasers_rfm_june) / 5)) * (floor((SELECT count(*) FROM purchasers_rfm_june) / 5) + 1))) / floor((SELECT count(*) FROM purchasers_rfm_june) / 5)) + 1 END AS BIGINT) AS s_score
        FROM ranked_m_rfm_june AS k
        JOIN firsts_m_rfm_june AS g ON g.g_null = k.v_null AND g.g_key = k.v_key
),
-- rfm_june: quintiles over the profiles with a purchase; 5 = most recent, most frequent, highest spend.
scores_rfm_june AS (
    SELECT
            pm.pid AS profile_no,
            pm.recency AS "scores_rfm_june__rfm_june_recency",
            pm.frequency AS "scores_rfm_june__rfm_june_frequency",
            pm.monetary AS "scores_rfm_june__rfm_june_monetary",
            pm.r_score AS "scores_rfm_june__rfm_june_r",
            pm.f_score AS "scores_rfm_june__rfm_june_f",
            sm.s_score AS "scores_rfm_june__rfm_june_m"
        FROM (
            SELECT pf.*, sf.s_score AS f_score
            FROM (
                SELECT p.*, sr.s_score AS r_score
                FROM purchasers_rfm_june AS p
                JOIN score_r_rfm_june AS sr ON sr.s_pid = p.pid
            ) AS pf
            JOIN score_f_rfm_june AS sf ON sf.s_pid = pf.pid
        ) AS pm
        JOIN score_m_rfm_june AS sm ON sm.s_pid = pm.pid
),
-- Traits read from the identity map and sources, one row per profile.
base AS (
    SELECT
        joined.profile_id AS profile_id,
        -- rfm: RFM code, e.g. 545; NULL without purchases
        (CAST("scores_rfm__rfm_r" AS VARCHAR) || CAST("scores_rfm__rfm_f" AS VARCHAR) || CAST("scores_rfm__rfm_m" AS VARCHAR)) AS "rfm",
        "scores_rfm__rfm_recency" AS "rfm_recency",
        -- rfm: no purchase counts 0
        COALESCE("scores_rfm__rfm_frequency", 0) AS "rfm_frequency",
        "scores_rfm__rfm_monetary" AS "rfm_monetary",
        "scores_rfm__rfm_r" AS "rfm_r",
        "scores_rfm__rfm_f" AS "rfm_f",
        "scores_rfm__rfm_m" AS "rfm_m",
        -- rfm_june: RFM code, e.g. 545; NULL without purchases
        (CAST("scores_rfm_june__rfm_june_r" AS VARCHAR) || CAST("scores_rfm_june__rfm_june_f" AS VARCHAR) || CAST("scores_rfm_june__rfm_june_m" AS VARCHAR)) AS "rfm_june",
        "scores_rfm_june__rfm_june_recency" AS "rfm_june_recency",
        -- rfm_june: no purchase counts 0
        COALESCE("scores_rfm_june__rfm_june_frequency", 0) AS "rfm_june_frequency",
        "scores_rfm_june__rfm_june_monetary" AS "rfm_june_monetary",
        "scores_rfm_june__rfm_june_r" AS "rfm_june_r",
        "scores_rfm_june__rfm_june_f" AS "rfm_june_f",
        "scores_rfm_june__rfm_june_m" AS "rfm_june_m"
    FROM (
        SELECT c.*, j."scores_rfm_june__rfm_june_r", j."scores_rfm_june__rfm_june_f", j."scores_rfm_june__rfm_june_m", j."scores_rfm_june__rfm_june_recency", j."scores_rfm_june__rfm_june_frequency", j."scores_rfm_june__rfm_june_monetary"
        FROM (
            SELECT c.*, j."scores_rfm__rfm_r", j."scores_rfm__rfm_f", j."scores_rfm__rfm_m", j."scores_rfm__rfm_recency", j."scores_rfm__rfm_frequency", j."scores_rfm__rfm_monetary"
            FROM (
                SELECT profile_no, profile_id FROM profiles
            ) AS c
            LEFT JOIN (SELECT profile_no AS j_profile_no, "scores_rfm__rfm_r", "scores_rfm__rfm_f", "scores_rfm__rfm_m", "scores_rfm__rfm_recency", "scores_rfm__rfm_frequency", "scores_rfm__rfm_monetary" FROM scores_rfm) AS j ON j.j_profile_no = c.profile_no
        ) AS c
        LEFT JOIN (SELECT profile_no AS j_profile_no, "scores_rfm_june__rfm_june_r", "scores_rfm_june__rfm_june_f", "scores_rfm_june__rfm_june_m", "scores_rfm_june__rfm_june_recency", "scores_rfm_june__rfm_june_frequency", "scores_rfm_june__rfm_june_monetary" FROM scores_rfm_june) AS j ON j.j_profile_no = c.profile_no
    ) AS joined
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
