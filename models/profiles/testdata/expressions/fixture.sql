CREATE SCHEMA raw;
CREATE TABLE raw.orders (order_id INTEGER, email VARCHAR, amount DOUBLE, ordered_at TIMESTAMP);
INSERT INTO raw.orders VALUES
    (1, 'ann@acme.com', 100, '2025-01-01'),
    (2, 'ann@acme.com', 60,  '2025-02-01'),
    (3, 'bob@other.org', 300, '2025-01-01'),
    (4, 'cy@acme.com', 20, '2025-01-01');
    -- dee@acme.com has no orders.

CREATE SCHEMA sluice;
CREATE TABLE sluice.customer_identity_map (profile_id VARCHAR, id_type VARCHAR, id_value VARCHAR,
    first_seen_at TIMESTAMP, last_seen_at TIMESTAMP, seen_count BIGINT);
INSERT INTO sluice.customer_identity_map VALUES
    ('p1', 'email', 'ann@acme.com',  '2025-01-01', '2025-02-01', 2),
    ('p2', 'email', 'bob@other.org', '2025-01-01', '2025-01-01', 1),
    ('p3', 'email', 'cy@acme.com',   '2025-01-01', '2025-01-01', 1),
    ('p4', 'email', 'dee@acme.com',  '2025-01-01', '2025-01-01', 1);

CREATE TABLE sluice.customer_row_map AS
SELECT 'orders' AS source, CAST(o.order_id AS VARCHAR) AS row_key, m.profile_id, o.ordered_at AS seen_at
FROM raw.orders AS o JOIN sluice.customer_identity_map AS m ON m.id_value = o.email;
