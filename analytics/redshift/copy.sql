-- Loads one event type's day into analytics.{table}, idempotently: loading a day again
-- replaces its rows instead of adding a second copy. One statement per semicolon, all sent
-- as one Redshift Data API batch, which runs as one transaction.
-- A template: {table}, {columns}, {manifest_url} and {role_arn} are filled in by
-- analytics.redshift.loader.copy_statements.

-- The day's files, listed by a manifest (with each file's content_length, which Parquet
-- manifests need). COPY maps Parquet columns by position: the files and the table both hold
-- the schema's columns in schema order.
CREATE TEMP TABLE {table}_staging (LIKE analytics.{table});

COPY {table}_staging
FROM '{manifest_url}'
IAM_ROLE '{role_arn}'
FORMAT AS PARQUET
MANIFEST;

-- Events loaded before (a day loaded again, or an event exported on two days) are replaced.
DELETE FROM analytics.{table}
WHERE event_id IN (SELECT event_id FROM {table}_staging);

-- Until a day is compacted, an event may be in two of its files: keep one row per event_id,
-- the earliest, as the local DuckDB views do.
INSERT INTO analytics.{table} ({columns})
SELECT {columns}
FROM (
    SELECT
        {columns},
        ROW_NUMBER() OVER (PARTITION BY event_id ORDER BY occurred_at) AS copy_number
    FROM {table}_staging
) AS ranked
WHERE ranked.copy_number = 1;

DROP TABLE {table}_staging;
