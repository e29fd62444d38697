-- Foundation: helper functions shared by the other migrations.
-- The schema and the schema_migrations table are created by the runner (pipeline/db.py).

-- Create the daily partition of positions that holds `day` (UTC) if it does not exist.
-- Returns 1 when it created one, 0 otherwise. Called by the loader before each COPY.
CREATE OR REPLACE FUNCTION straitwatch.ensure_positions_partition(day date)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    part text := format('positions_%s', to_char(day, 'YYYYMMDD'));
    lo timestamptz := (day::timestamp AT TIME ZONE 'UTC');
    hi timestamptz := ((day + 1)::timestamp AT TIME ZONE 'UTC');
BEGIN
    IF to_regclass(format('straitwatch.%I', part)) IS NOT NULL THEN
        RETURN 0;
    END IF;
    -- Serialise concurrent loaders creating the same partition.
    PERFORM pg_advisory_xact_lock(hashtext('straitwatch.' || part));
    IF to_regclass(format('straitwatch.%I', part)) IS NOT NULL THEN
        RETURN 0;
    END IF;
    EXECUTE format(
        'CREATE TABLE straitwatch.%I PARTITION OF straitwatch.positions FOR VALUES FROM (%L) TO (%L)',
        part, lo, hi);
    RETURN 1;
END;
$$;
