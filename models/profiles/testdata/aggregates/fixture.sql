CREATE SCHEMA raw;
-- A composite primary key: the row map keys rows by shop and order_no
-- joined with the unit separator.
CREATE TABLE raw.orders (shop VARCHAR, order_no INTEGER, customer_id VARCHAR, sku VARCHAR,
    amount DECIMAL(10, 2), status VARCHAR, ordered_at TIMESTAMP);
INSERT INTO raw.orders VALUES
    -- p1: a bit of everything; the 90d window starts at 2025-04-02 00:00:00, inclusive.
    ('fr', 1, 'c1', 'A',  10.00, 'paid',      '2025-06-30'),
    ('fr', 2, 'c1', 'A',  20.00, 'paid',      '2025-04-02 00:00:00'),
    ('de', 2, 'c1', 'B',  30.00, 'cancelled', '2025-05-01'),
    ('fr', 3, 'c1', NULL, 40.00, 'paid',      '2025-04-01 23:59:59'),
    ('fr', 4, 'c1', 'C',  NULL,  'paid',      '2024-01-01'),
    -- p2: only a cancelled order: counted, but nothing paid.
    ('fr', 5, 'c2', 'A',  15.00, 'cancelled', '2025-06-01'),
    -- p3: old orders only, outside the window.
    ('de', 6, 'c3', 'D',  99.99, 'paid',      '2023-03-01'),
    ('de', 7, 'c3', 'D',   0.01, 'paid',      '2023-03-02');
    -- p4: no orders at all.

CREATE SCHEMA sluice;
CREATE TABLE sluice.customer_identity_map (profile_id VARCHAR, id_type VARCHAR, id_value VARCHAR,
    first_seen_at TIMESTAMP, last_seen_at TIMESTAMP, seen_count BIGINT);
INSERT INTO sluice.customer_identity_map
SELECT 'p' || substr(id, 2), 'customer_id', id, NULL, NULL, 1
FROM (VALUES ('c1'), ('c2'), ('c3'), ('c4')) AS v(id);

CREATE TABLE sluice.customer_row_map AS
SELECT 'orders' AS source, shop || chr(31) || CAST(order_no AS VARCHAR) AS row_key,
    'p' || substr(customer_id, 2) AS profile_id, ordered_at AS seen_at
FROM raw.orders;
