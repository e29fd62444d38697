-- PostGIS geometry (SRID 4326) for QGIS, created only when the server has PostGIS.
--
-- Gates, port points and port areas, crossing points and gap lines are STORED generated columns
-- of their tables (kept up to date by PostgreSQL itself on every INSERT, UPDATE and COPY; loaders
-- must name their columns, which COPY with a column list does), each with a GiST index. Daily
-- track lines are a view over positions, so COPY into positions pays nothing for them.
--
-- Without PostGIS (the embedded server) nothing here fails: the decision is made at run time by
-- straitwatch.postgis_wanted(), and straitwatch.geometry_status() tells what is missing. Setting
-- `straitwatch.postgis = off` (ALTER DATABASE ... SET) makes a database skip PostGIS even where
-- the server has it. After installing PostGIS later, a superuser runs
-- `SELECT straitwatch.enable_geometry();` once (it is idempotent).

CREATE FUNCTION straitwatch.postgis_wanted() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'postgis')
       AND lower(coalesce(nullif(current_setting('straitwatch.postgis', true), ''), 'on'))
           NOT IN ('off', 'false', 'no', '0')
$$;

-- The schema holding PostGIS in this database, or NULL when the extension is not installed.
CREATE FUNCTION straitwatch.postgis_schema() RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT n.nspname::text
    FROM pg_extension AS e JOIN pg_namespace AS n ON n.oid = e.extnamespace
    WHERE e.extname = 'postgis'
$$;

-- 'enabled' when every geometry object exists; otherwise one sentence saying what is missing.
CREATE FUNCTION straitwatch.geometry_status() RETURNS text
LANGUAGE plpgsql STABLE AS $$
DECLARE
    missing text[];
BEGIN
    IF straitwatch.postgis_schema() IS NULL THEN
        IF NOT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'postgis') THEN
            RETURN 'PostGIS is not available on this server (e.g. the embedded PostgreSQL): '
                || 'no geometry columns or track lines for QGIS; every table and view '
                || 'without geometry works. Use a PostGIS server (the docker-compose warehouse) '
                || 'for them.';
        ELSIF NOT straitwatch.postgis_wanted() THEN
            RETURN 'PostGIS is switched off for this database (straitwatch.postgis = off): '
                || 'no geometry columns or track lines for QGIS.';
        END IF;
        RETURN 'PostGIS is available on this server but not installed in this database: '
            || 'a superuser runs SELECT straitwatch.enable_geometry(); to add the geometry '
            || 'for QGIS.';
    END IF;
    SELECT array_agg(format('%s.%s', t.rel, t.col)) INTO missing
    FROM (VALUES ('chokepoint_gates', 'geom'), ('ports', 'geom'), ('ports', 'area_geom'),
                 ('chokepoint_crossings', 'geom'), ('ais_gaps', 'geom'),
                 ('vessel_daily_tracks', 'geom'), ('crossings_map', 'geom'),
                 ('dark_transits_map', 'geom')) AS t (rel, col)
    WHERE NOT EXISTS (
        SELECT 1 FROM information_schema.columns AS c
        WHERE c.table_schema = 'straitwatch' AND c.table_name = t.rel AND c.column_name = t.col);
    IF missing IS NOT NULL THEN
        RETURN 'PostGIS is installed but geometry is missing ('
            || array_to_string(missing, ', ')
            || '): a superuser runs SELECT straitwatch.enable_geometry();';
    END IF;
    RETURN 'enabled';
END;
$$;

-- Create the PostGIS extension (when wanted and allowed) and every geometry object. Idempotent.
-- Returns geometry_status() afterwards.
CREATE FUNCTION straitwatch.enable_geometry() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    ext_schema text := straitwatch.postgis_schema();
    saved_path text := current_setting('search_path');
BEGIN
    IF ext_schema IS NULL THEN
        IF NOT straitwatch.postgis_wanted() THEN
            RAISE NOTICE '%', straitwatch.geometry_status();
            RETURN straitwatch.geometry_status();
        END IF;
        BEGIN
            CREATE EXTENSION IF NOT EXISTS postgis SCHEMA public;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE 'PostGIS is available but % may not create the extension', current_user;
            RETURN straitwatch.geometry_status();
        END;
        ext_schema := straitwatch.postgis_schema();
    END IF;
    -- The geometry type and ST_* functions resolve through the extension's schema.
    PERFORM set_config('search_path', format('straitwatch, %I, public', ext_schema), true);

    ALTER TABLE straitwatch.chokepoint_gates
        ADD COLUMN IF NOT EXISTS geom geometry(LineString, 4326)
        GENERATED ALWAYS AS (ST_GeomFromText(wkt, 4326)) STORED;
    ALTER TABLE straitwatch.ports
        ADD COLUMN IF NOT EXISTS geom geometry(Point, 4326)
        GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED;
    -- The port area is the circle of radius_nm, buffered in metres on the spheroid (geography).
    ALTER TABLE straitwatch.ports
        ADD COLUMN IF NOT EXISTS area_geom geometry(Polygon, 4326)
        GENERATED ALWAYS AS (
            ST_Buffer(ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography, radius_nm * 1852.0)
                ::geometry
        ) STORED;
    ALTER TABLE straitwatch.chokepoint_crossings
        ADD COLUMN IF NOT EXISTS geom geometry(Point, 4326)
        GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED;
    -- The straight line over which the vessel was silent; NULL when it did not move (a line of
    -- one repeated point is not a valid geometry).
    ALTER TABLE straitwatch.ais_gaps
        ADD COLUMN IF NOT EXISTS geom geometry(LineString, 4326)
        GENERATED ALWAYS AS (
            CASE WHEN start_lat <> end_lat OR start_lon <> end_lon THEN
                ST_SetSRID(ST_MakeLine(ST_MakePoint(start_lon, start_lat),
                                       ST_MakePoint(end_lon, end_lat)), 4326)
            END
        ) STORED;

    CREATE INDEX IF NOT EXISTS chokepoint_gates_geom ON straitwatch.chokepoint_gates USING gist (geom);
    CREATE INDEX IF NOT EXISTS ports_geom ON straitwatch.ports USING gist (geom);
    CREATE INDEX IF NOT EXISTS ports_area_geom ON straitwatch.ports USING gist (area_geom);
    CREATE INDEX IF NOT EXISTS chokepoint_crossings_geom
        ON straitwatch.chokepoint_crossings USING gist (geom);
    CREATE INDEX IF NOT EXISTS ais_gaps_geom ON straitwatch.ais_gaps USING gist (geom);

    -- One line per vessel and UTC day through its fixes in time order. Filter on mmsi (index);
    -- days with fewer than two distinct positions have a NULL line. A track across the
    -- antimeridian is drawn the long way round (longitudes are not unwrapped).
    CREATE OR REPLACE VIEW straitwatch.vessel_daily_tracks AS
    SELECT format('%s/%s', t.mmsi, t.day) AS track_id,  -- first and unique: QGIS's feature key
           t.mmsi,
           t.day,
           t.first_ts,
           t.last_ts,
           t.fixes,
           CASE WHEN ST_NPoints(t.line) >= 2 THEN t.line END::geometry(LineString, 4326) AS geom
    FROM (
        SELECT p.mmsi,
               (p.ts AT TIME ZONE 'UTC')::date AS day,
               min(p.ts) AS first_ts,
               max(p.ts) AS last_ts,
               count(*) AS fixes,
               ST_RemoveRepeatedPoints(
                   ST_SetSRID(ST_MakeLine(ST_MakePoint(p.lon, p.lat) ORDER BY p.ts), 4326)
               ) AS line
        FROM straitwatch.positions AS p
        GROUP BY p.mmsi, (p.ts AT TIME ZONE 'UTC')::date
    ) AS t;
    COMMENT ON VIEW straitwatch.vessel_daily_tracks IS
        'One LineString (SRID 4326) per vessel and UTC day through its fixes; filter on mmsi.';

    -- Map layers for QGIS: the analyst views with a geometry column (first column is the key).
    CREATE OR REPLACE VIEW straitwatch.crossings_map AS
    SELECT w.*, c.geom
    FROM straitwatch.crossings_with_identity AS w
    JOIN straitwatch.chokepoint_crossings AS c ON c.crossing_id = w.crossing_id;
    COMMENT ON VIEW straitwatch.crossings_map IS
        'crossings_with_identity with the crossing point (Point, SRID 4326).';

    CREATE OR REPLACE VIEW straitwatch.dark_transits_map AS
    SELECT d.*,
           coalesce(g.geom,
                    CASE WHEN d.lat IS NOT NULL THEN
                        ST_SetSRID(ST_MakeLine(ARRAY[
                            ST_MakePoint(c.prev_lon, c.prev_lat),
                            ST_MakePoint(d.lon, d.lat),
                            ST_MakePoint(c.next_lon, c.next_lat)]), 4326)
                    END)::geometry(LineString, 4326) AS geom
    FROM straitwatch.dark_transits AS d
    JOIN straitwatch.chokepoint_crossings AS c ON c.crossing_id = d.crossing_id
    LEFT JOIN straitwatch.ais_gaps AS g ON g.gap_id = d.gap_id;
    COMMENT ON VIEW straitwatch.dark_transits_map IS
        'dark_transits with the line over which the vessel was silent (LineString, SRID 4326).';

    PERFORM set_config('search_path', saved_path, true);
    RETURN straitwatch.geometry_status();
END;
$$;

SELECT straitwatch.enable_geometry();
