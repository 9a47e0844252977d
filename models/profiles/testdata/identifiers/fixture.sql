CREATE SCHEMA raw;
CREATE TABLE raw.crm_contacts (contact_id VARCHAR, email VARCHAR, phone VARCHAR, updated_at TIMESTAMP);

CREATE SCHEMA sluice;
CREATE TABLE sluice.customer_row_map (source VARCHAR, row_key VARCHAR, profile_id VARCHAR, seen_at TIMESTAMP);
CREATE TABLE sluice.customer_identity_map (profile_id VARCHAR, id_type VARCHAR, id_value VARCHAR,
    first_seen_at TIMESTAMP, last_seen_at TIMESTAMP, seen_count BIGINT);
INSERT INTO sluice.customer_identity_map VALUES
    -- p1: each rule picks differently.
    ('p1', 'email', 'old@a.com',  '2024-01-01', '2024-06-01', 5),
    ('p1', 'email', 'new@a.com',  '2024-03-01', '2025-01-01', 2),
    ('p1', 'phone', '+33600000001', '2024-01-01', '2024-01-01', 1),
    -- p2: every value tied on last_seen_at and seen_count but c@: the
    -- smallest value wins; first_seen picks c@, then ties too.
    ('p2', 'email', 'b@x.com',    '2024-02-01', '2025-01-01', 3),
    ('p2', 'email', 'a@x.com',    '2024-02-01', '2025-01-01', 3),
    ('p2', 'email', 'c@x.com',    '2023-01-01', '2024-01-01', 3),
    -- p3: a value with unknown times never wins a time-based rule.
    ('p3', 'email', 'no-time@x.com', NULL, NULL, 10),
    ('p3', 'email', 'dated@x.com', '2024-05-01', '2024-05-01', 1),
    -- p4: seen_count tie broken by the most recent, not by the value.
    ('p4', 'email', 'a@y.com',    '2024-01-01', '2024-03-01', 4),
    ('p4', 'email', 'z@y.com',    '2024-02-01', '2025-03-01', 4),
    -- p5: no email at all.
    ('p5', 'phone', '+33600000005', '2024-01-01', '2024-01-01', 1),
    ('p5', 'phone', '+33600000006', '2024-01-01', '2024-01-02', 1);
