CREATE SCHEMA raw;
-- Customer i has 1 + i % 7 orders; every 50th has no amounts, every 61st
-- no timestamps, every 89th only refunds. Amounts and days repeat, so
-- values tie across quintile edges.
CREATE TABLE raw.orders AS
SELECT
    'c' || c.i || '-' || t.j AS order_id,
    'c' || c.i AS customer_id,
    CASE WHEN c.i % 50 = 0 THEN NULL ELSE CAST((c.i * 37) % 200 AS DOUBLE) END AS amount,
    CASE WHEN c.i % 89 = 0 THEN 'refunded' ELSE 'paid' END AS status,
    CASE WHEN c.i % 61 = 0 THEN NULL
         ELSE TIMESTAMP '2025-06-30' - to_days(CAST((c.i * 13) % 400 + t.j AS INTEGER)) END AS ordered_at
FROM range(1, 998) AS c(i), range(1, 8) AS t(j)
WHERE t.j <= 1 + c.i % 7;

CREATE SCHEMA sluice;
CREATE TABLE sluice.customer_identity_map (profile_id VARCHAR, id_type VARCHAR, id_value VARCHAR,
    first_seen_at TIMESTAMP, last_seen_at TIMESTAMP, seen_count BIGINT);
INSERT INTO sluice.customer_identity_map
SELECT 'p' || i, 'customer_id', 'c' || i, NULL, NULL, 1 FROM range(1, 998) AS c(i);

CREATE TABLE sluice.customer_row_map AS
SELECT 'orders' AS source, order_id AS row_key, 'p' || substr(customer_id, 2) AS profile_id, ordered_at AS seen_at
FROM raw.orders;
