CREATE SCHEMA raw;
-- Each purchaser's orders go back one day at a time from its last order.
-- Reference time: 2025-07-01.
CREATE TABLE raw.orders AS
SELECT
    v.customer_id || '-' || t.i AS order_id,
    v.customer_id,
    CAST(v.amount AS DOUBLE) AS amount,
    'paid' AS status,
    v.last_at - to_days(CAST(t.i - 1 AS INTEGER)) AS ordered_at
FROM (VALUES
    --          orders  per order   last order       recency  frequency  monetary
    ('c01', 10, 100.0, TIMESTAMP '2025-06-30'), --  1   10  1000
    ('c02',  8, 100.0, TIMESTAMP '2025-06-30'), --  1    8   800
    ('c03',  6, 100.0, TIMESTAMP '2025-06-20'), -- 11    6   600
    ('c04',  5, 100.0, TIMESTAMP '2025-06-01'), -- 30    5   500
    ('c05',  4, 100.0, TIMESTAMP '2025-05-01'), -- 61    4   400
    ('c06',  2, 150.0, TIMESTAMP '2025-04-01'), -- 91    2   300
    ('c07',  2, 100.0, TIMESTAMP '2025-01-01'), -- 181   2   200
    ('c08',  2, 100.0, TIMESTAMP '2024-07-01'), -- 365   2   200
    ('c09',  1, 100.0, TIMESTAMP '2024-01-01'), -- 547   1   100
    ('c10',  1,  50.0, TIMESTAMP '2023-01-01')  -- 912   1    50
) AS v(customer_id, n, amount, last_at), range(1, v.n + 1) AS t(i);
-- Refunds are not purchases: c01's does not count, and c12 bought nothing.
INSERT INTO raw.orders VALUES
    ('c01-r', 'c01', 5000.0, 'refunded', TIMESTAMP '2025-06-30'),
    ('c12-r', 'c12', 70.0,   'refunded', TIMESTAMP '2025-06-30');

CREATE SCHEMA sluice;
CREATE TABLE sluice.customer_identity_map (profile_id VARCHAR, id_type VARCHAR, id_value VARCHAR,
    first_seen_at TIMESTAMP, last_seen_at TIMESTAMP, seen_count BIGINT);
-- c11 has no orders.
INSERT INTO sluice.customer_identity_map
SELECT 'p' || substr(id, 2), 'customer_id', id, NULL, NULL, 1
FROM (VALUES ('c01'), ('c02'), ('c03'), ('c04'), ('c05'), ('c06'), ('c07'), ('c08'), ('c09'), ('c10'), ('c11'), ('c12')) AS v(id);

CREATE TABLE sluice.customer_row_map AS
SELECT 'orders' AS source, order_id AS row_key, 'p' || substr(customer_id, 2) AS profile_id, ordered_at AS seen_at
FROM raw.orders;
