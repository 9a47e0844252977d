-- Profiles (reference time 2025-07-01; the 90d window starts 2025-04-02):
--   p1  ltv 1500  orders_90d 3  opt-in true   FR
--   p2  ltv  600  orders_90d 0  opt-in true   DE
--   p3  ltv  600  orders_90d 2  opt-in false  FR
--   p4  ltv  100  orders_90d 0  opt-in NULL   US
--   p5  no orders               opt-in true   (no country)
--   p6  ltv   50  orders_90d 1  opt-in false  DE
CREATE SCHEMA raw;
CREATE TABLE raw.orders (order_id INTEGER, customer_id VARCHAR, amount DOUBLE, ordered_at TIMESTAMP);
INSERT INTO raw.orders VALUES
    (1, 'c1', 500, '2025-06-01'), (2, 'c1', 500, '2025-05-01'), (3, 'c1', 500, '2025-04-15'),
    (4, 'c2', 600, '2024-12-01'),
    (5, 'c3', 300, '2025-06-20'), (6, 'c3', 300, '2025-06-21'),
    (7, 'c4', 100, '2024-01-01'),
    (8, 'c6', 50,  '2025-06-30');
CREATE TABLE raw.crm_contacts (contact_id VARCHAR, customer_id VARCHAR, email_consent BOOLEAN, country VARCHAR, updated_at TIMESTAMP);
INSERT INTO raw.crm_contacts VALUES
    ('k1', 'c1', true,  'FR', '2025-01-01'),
    ('k2', 'c2', true,  'DE', '2025-01-01'),
    ('k3', 'c3', false, 'FR', '2025-01-01'),
    ('k4', 'c4', NULL,  'US', '2025-01-01'),
    ('k5', 'c5', true,  NULL, '2025-01-01'),
    ('k6', 'c6', false, 'DE', '2025-01-01');

CREATE SCHEMA sluice;
CREATE TABLE sluice.customer_identity_map (profile_id VARCHAR, id_type VARCHAR, id_value VARCHAR,
    first_seen_at TIMESTAMP, last_seen_at TIMESTAMP, seen_count BIGINT);
INSERT INTO sluice.customer_identity_map
SELECT 'p' || substr(id, 2), 'customer_id', id, NULL, NULL, 1
FROM (VALUES ('c1'), ('c2'), ('c3'), ('c4'), ('c5'), ('c6')) AS v(id);

CREATE TABLE sluice.customer_row_map AS
SELECT 'orders' AS source, CAST(order_id AS VARCHAR) AS row_key, 'p' || substr(customer_id, 2) AS profile_id, ordered_at AS seen_at
FROM raw.orders
UNION ALL
SELECT 'crm_contacts', contact_id, 'p' || substr(customer_id, 2), updated_at FROM raw.crm_contacts;
