CREATE SCHEMA raw;
CREATE TABLE raw.crm_contacts (contact_id VARCHAR, email VARCHAR);
CREATE SCHEMA sluice;
CREATE TABLE sluice.person_identity_map (profile_id VARCHAR, id_type VARCHAR, id_value VARCHAR,
    first_seen_at TIMESTAMP, last_seen_at TIMESTAMP, seen_count BIGINT);
INSERT INTO sluice.person_identity_map VALUES ('p1', 'email', 'a@b.c', NULL, NULL, 1);
CREATE TABLE sluice.person_row_map (source VARCHAR, row_key VARCHAR, profile_id VARCHAR, seen_at TIMESTAMP);
