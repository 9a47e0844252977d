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
            recency AS v,
            CASE WHEN recency IS NULL THEN 1 ELSE 0 END AS v_null,
            coalesce(recency, 0) AS v_key
        FROM purchasers_rfm
    ) AS unnumbered
),
-- the score of each value: NTILE(5) of its group's first row; with q = n / 5 and r = n % 5,
-- the first r tiles hold q + 1 rows, the others q
tiles_r_rfm AS (
    SELECT v_null AS t_null, v_key AS t_key, CAST(CASE WHEN min(rn) <= (((SELECT count(*) FROM purchasers_rfm) - 5 * floor((SELECT count(*) FROM purchasers_rfm) / 5)) * (floor((SELECT count(*) FROM purchasers_rfm) / 5) + 1)) THEN floor((min(rn) - 1) / (floor((SELECT count(*) FROM purchasers_rfm) / 5) + 1)) + 1 ELSE ((SELECT count(*) FROM purchasers_rfm) - 5 * floor((SELECT count(*) FROM purchasers_rfm) / 5)) + floor((min(rn) - 1 - (((SELECT count(*) FROM purchasers_rfm) - 5 * floor((SELECT count(*) FROM purchasers_rfm) / 5)) * (floor((SELECT count(*) FROM purchasers_rfm) / 5) + 1))) / floor((SELECT count(*) FROM purchasers_rfm) / 5)) + 1 END AS BIGINT) AS t_score
        FROM ranked_r_rfm
        GROUP BY v_null, v_key
),
-- rfm: purchasers in order of frequency (5 = best), NULLs grouped under a key.
ranked_f_rfm AS (
    SELECT row_number() OVER (ORDER BY v NULLS LAST) AS rn, unnumbered.*
    FROM (
        SELECT
            frequency AS v,
            CASE WHEN frequency IS NULL THEN 1 ELSE 0 END AS v_null,
            coalesce(frequency, 0) AS v_key
        FROM purchasers_rfm
    ) AS unnumbered
),
-- the score of each value: NTILE(5) of its group's first row; with q = n / 5 and r = n % 5,
-- the first r tiles hold q + 1 rows, the others q
tiles_f_rfm AS (
    SELECT v_null AS t_null, v_key AS t_key, CAST(CASE WHEN min(rn) <= (((SELECT count(*) FROM purchasers_rfm) - 5 * floor((SELECT count(*) FROM purchasers_rfm) / 5)) * (floor((SELECT count(*) FROM purchasers_rfm) / 5) + 1)) THEN floor((min(rn) - 1) / (floor((SELECT count(*) FROM purchasers_rfm) / 5) + 1)) + 1 ELSE ((SELECT count(*) FROM purchasers_rfm) - 5 * floor((SELECT count(*) FROM purchasers_rfm) / 5)) + floor((min(rn) - 1 - (((SELECT count(*) FROM purchasers_rfm) - 5 * floor((SELECT count(*) FROM purchasers_rfm) / 5)) * (floor((SELECT count(*) FROM purchasers_rfm) / 5) + 1))) / floor((SELECT count(*) FROM purchasers_rfm) / 5)) + 1 END AS BIGINT) AS t_score
        FROM ranked_f_rfm
        GROUP BY v_null, v_key
),
-- rfm: purchasers in order of monetary (5 = best), NULLs grouped under a key.
ranked_m_rfm AS (
    SELECT row_number() OVER (ORDER BY v NULLS FIRST) AS rn, unnumbered.*
    FROM (
        SELECT
            monetary AS v,
            CASE WHEN monetary IS NULL THEN 1 ELSE 0 END AS v_null,
            coalesce(monetary, 0) AS v_key
        FROM purchasers_rfm
    ) AS unnumbered
),
-- the score of each value: NTILE(5) of its group's first row; with q = n / 5 and r = n % 5,
-- the first r tiles hold q + 1 rows, the others q
tiles_m_rfm AS (
    SELECT v_null AS t_null, v_key AS t_key, CAST(CASE WHEN min(rn) <= (((SELECT count(*) FROM purchasers_rfm) - 5 * floor((SELECT count(*) FROM purchasers_rfm) / 5)) * (floor((SELECT count(*) FROM purchasers_rfm) / 5) + 1)) THEN floor((min(rn) - 1) / (floor((SELECT count(*) FROM purchasers_rfm) / 5) + 1)) + 1 ELSE ((SELECT count(*) FROM purchasers_rfm) - 5 * floor((SELECT count(*) FROM purchasers_rfm) / 5)) + floor((min(rn) - 1 - (((SELECT count(*) FROM purchasers_rfm) - 5 * floor((SELECT count(*) FROM purchasers_rfm) / 5)) * (floor((SELECT count(*) FROM purchasers_rfm) / 5) + 1))) / floor((SELECT count(*) FROM purchasers_rfm) / 5)) + 1 END AS BIGINT) AS t_score
        FROM ranked_m_rfm
        GROUP BY v_null, v_key
),
-- rfm: quintiles over the profiles with a purchase; 5 = most recent, most frequent, highest spend.
scores_rfm AS (
    SELECT
            pid AS profile_no,
            recency AS "scores_rfm__rfm_recency",
            frequency AS "scores_rfm__rfm_frequency",
            monetary AS "scores_rfm__rfm_monetary",
            r_score AS "scores_rfm__rfm_r",
            f_score AS "scores_rfm__rfm_f",
            m_score AS "scores_rfm__rfm_m"
        FROM (
            SELECT c.*, j.m_score
            FROM (
                SELECT c.*, j.f_score
                FROM (
                    SELECT c.*, j.r_score
                    FROM (
                        SELECT c.*, CASE WHEN recency IS NULL THEN 1 ELSE 0 END AS "sluice_rfm_r_null", coalesce(recency, 0) AS "sluice_rfm_r_key", CASE WHEN frequency IS NULL THEN 1 ELSE 0 END AS "sluice_rfm_f_null", coalesce(frequency, 0) AS "sluice_rfm_f_key", CASE WHEN monetary IS NULL THEN 1 ELSE 0 END AS "sluice_rfm_m_null", coalesce(monetary, 0) AS "sluice_rfm_m_key"
                        FROM (
                            SELECT * FROM purchasers_rfm
                        ) AS c
                    ) AS c
                    LEFT JOIN (SELECT t_null AS j_null, t_key AS j_key, t_score AS r_score FROM tiles_r_rfm) AS j ON j.j_null = c."sluice_rfm_r_null" AND j.j_key = c."sluice_rfm_r_key"
                ) AS c
                LEFT JOIN (SELECT t_null AS j_null, t_key AS j_key, t_score AS f_score FROM tiles_f_rfm) AS j ON j.j_null = c."sluice_rfm_f_null" AND j.j_key = c."sluice_rfm_f_key"
            ) AS c
            LEFT JOIN (SELECT t_null AS j_null, t_key AS j_key, t_score AS m_score FROM tiles_m_rfm) AS j ON j.j_null = c."sluice_rfm_m_null" AND j.j_key = c."sluice_rfm_m_key"
        ) AS tiled
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
            recency AS v,
            CASE WHEN recency IS NULL THEN 1 ELSE 0 END AS v_null,
            coalesce(recency, 0) AS v_key
        FROM purchasers_rfm_june
    ) AS unnumbered
),
-- the score of each value: NTILE(5) of its group's first row; with q = n / 5 and r = n % 5,
-- the first r tiles hold q + 1 rows, the others q
tiles_r_rfm_june AS (
    SELECT v_null AS t_null, v_key AS t_key, CAST(CASE WHEN min(rn) <= (((SELECT count(*) FROM purchasers_rfm_june) - 5 * floor((SELECT count(*) FROM purchasers_rfm_june) / 5)) * (floor((SELECT count(*) FROM purchasers_rfm_june) / 5) + 1)) THEN floor((min(rn) - 1) / (floor((SELECT count(*) FROM purchasers_rfm_june) / 5) + 1)) + 1 ELSE ((SELECT count(*) FROM purchasers_rfm_june) - 5 * floor((SELECT count(*) FROM purchasers_rfm_june) / 5)) + floor((min(rn) - 1 - (((SELECT count(*) FROM purchasers_rfm_june) - 5 * floor((SELECT count(*) FROM purchasers_rfm_june) / 5)) * (floor((SELECT count(*) FROM purchasers_rfm_june) / 5) + 1))) / floor((SELECT count(*) FROM purchasers_rfm_june) / 5)) + 1 END AS BIGINT) AS t_score
        FROM ranked_r_rfm_june
        GROUP BY v_null, v_key
),
-- rfm_june: purchasers in order of frequency (5 = best), NULLs grouped under a key.
ranked_f_rfm_june AS (
    SELECT row_number() OVER (ORDER BY v NULLS LAST) AS rn, unnumbered.*
    FROM (
        SELECT
            frequency AS v,
            CASE WHEN frequency IS NULL THEN 1 ELSE 0 END AS v_null,
            coalesce(frequency, 0) AS v_key
        FROM purchasers_rfm_june
    ) AS unnumbered
),
-- the score of each value: NTILE(5) of its group's first row; with q = n / 5 and r = n % 5,
-- the first r tiles hold q + 1 rows, the others q
tiles_f_rfm_june AS (
    SELECT v_null AS t_null, v_key AS t_key, CAST(CASE WHEN min(rn) <= (((SELECT count(*) FROM purchasers_rfm_june) - 5 * floor((SELECT count(*) FROM purchasers_rfm_june) / 5)) * (floor((SELECT count(*) FROM purchasers_rfm_june) / 5) + 1)) THEN floor((min(rn) - 1) / (floor((SELECT count(*) FROM purchasers_rfm_june) / 5) + 1)) + 1 ELSE ((SELECT count(*) FROM purchasers_rfm_june) - 5 * floor((SELECT count(*) FROM purchasers_rfm_june) / 5)) + floor((min(rn) - 1 - (((SELECT count(*) FROM purchasers_rfm_june) - 5 * floor((SELECT count(*) FROM purchasers_rfm_june) / 5)) * (floor((SELECT count(*) FROM purchasers_rfm_june) / 5) + 1))) / floor((SELECT count(*) FROM purchasers_rfm_june) / 5)) + 1 END AS BIGINT) AS t_score
        FROM ranked_f_rfm_june
        GROUP BY v_null, v_key
),
-- rfm_june: purchasers in order of monetary (5 = best), NULLs grouped under a key.
ranked_m_rfm_june AS (
    SELECT row_number() OVER (ORDER BY v NULLS FIRST) AS rn, unnumbered.*
    FROM (
        SELECT
            monetary AS v,
            CASE WHEN monetary IS NULL THEN 1 ELSE 0 END AS v_null,
            coalesce(monetary, 0) AS v_key
        FROM purchasers_rfm_june
    ) AS unnumbered
),
-- the score of each value: NTILE(5) of its group's first row; with q = n / 5 and r = n % 5,
-- the first r tiles hold q + 1 rows, the others q
tiles_m_rfm_june AS (
    SELECT v_null AS t_null, v_key AS t_key, CAST(CASE WHEN min(rn) <= (((SELECT count(*) FROM purchasers_rfm_june) - 5 * floor((SELECT count(*) FROM purchasers_rfm_june) / 5)) * (floor((SELECT count(*) FROM purchasers_rfm_june) / 5) + 1)) THEN floor((min(rn) - 1) / (floor((SELECT count(*) FROM purchasers_rfm_june) / 5) + 1)) + 1 ELSE ((SELECT count(*) FROM purchasers_rfm_june) - 5 * floor((SELECT count(*) FROM purchasers_rfm_june) / 5)) + floor((min(rn) - 1 - (((SELECT count(*) FROM purchasers_rfm_june) - 5 * floor((SELECT count(*) FROM purchasers_rfm_june) / 5)) * (floor((SELECT count(*) FROM purchasers_rfm_june) / 5) + 1))) / floor((SELECT count(*) FROM purchasers_rfm_june) / 5)) + 1 END AS BIGINT) AS t_score
        FROM ranked_m_rfm_june
        GROUP BY v_null, v_key
),
-- rfm_june: quintiles over the profiles with a purchase; 5 = most recent, most frequent, highest spend.
scores_rfm_june AS (
    SELECT
            pid AS profile_no,
            recency AS "scores_rfm_june__rfm_june_recency",
            frequency AS "scores_rfm_june__rfm_june_frequency",
            monetary AS "scores_rfm_june__rfm_june_monetary",
            r_score AS "scores_rfm_june__rfm_june_r",
            f_score AS "scores_rfm_june__rfm_june_f",
            m_score AS "scores_rfm_june__rfm_june_m"
        FROM (
            SELECT c.*, j.m_score
            FROM (
                SELECT c.*, j.f_score
                FROM (
                    SELECT c.*, j.r_score
                    FROM (
                        SELECT c.*, CASE WHEN recency IS NULL THEN 1 ELSE 0 END AS "sluice_rfm_june_r_null", coalesce(recency, 0) AS "sluice_rfm_june_r_key", CASE WHEN frequency IS NULL THEN 1 ELSE 0 END AS "sluice_rfm_june_f_null", coalesce(frequency, 0) AS "sluice_rfm_june_f_key", CASE WHEN monetary IS NULL THEN 1 ELSE 0 END AS "sluice_rfm_june_m_null", coalesce(monetary, 0) AS "sluice_rfm_june_m_key"
                        FROM (
                            SELECT * FROM purchasers_rfm_june
                        ) AS c
                    ) AS c
                    LEFT JOIN (SELECT t_null AS j_null, t_key AS j_key, t_score AS r_score FROM tiles_r_rfm_june) AS j ON j.j_null = c."sluice_rfm_june_r_null" AND j.j_key = c."sluice_rfm_june_r_key"
                ) AS c
                LEFT JOIN (SELECT t_null AS j_null, t_key AS j_key, t_score AS f_score FROM tiles_f_rfm_june) AS j ON j.j_null = c."sluice_rfm_june_f_null" AND j.j_key = c."sluice_rfm_june_f_key"
            ) AS c
            LEFT JOIN (SELECT t_null AS j_null, t_key AS j_key, t_score AS m_score FROM tiles_m_rfm_june) AS j ON j.j_null = c."sluice_rfm_june_m_null" AND j.j_key = c."sluice_rfm_june_m_key"
        ) AS tiled
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
