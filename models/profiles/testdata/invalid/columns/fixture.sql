CREATE SCHEMA raw;
CREATE TABLE raw.crm (id VARCHAR, email VARCHAR, city VARCHAR, first_name VARCHAR, updated_at TIMESTAMP);
CREATE TABLE raw.orders (id VARCHAR, email VARCHAR, sku VARCHAR, amount DOUBLE, ordered_at TIMESTAMP);
