-- Daily track lines as a table, with a GiST index, instead of the view of 0062.
--
-- QGIS asks for a layer's rows in the map's bounding box (`geom && <box>`). Against the view of
-- 0062 each such query built every line from every `positions` partition and then filtered
-- them, and there was no spatial index. Now `vessel_daily_tracks` is a table with the same
-- columns, a GiST index on geom and a primary key on track_id, so QGIS lists and draws it like
-- the other layers. `detect` keeps it up to date: every window rebuilds the lines of the whole
-- UTC days it touches from `positions` (straitwatch.refresh_daily_tracks, in detect's
-- transaction), so a rerun gives the same rows and a day detected in pieces ends with one line
-- per vessel through all its fixes. As in the view, every fix in `positions` counts, the ones
-- detect flags (flagged_positions) included. One difference: a day without two distinct
-- positions now has a NULL line, as 0062 said, where the view gave an invalid line of length 0.
--
-- Same PostGIS / no-PostGIS split as 0062: the table and its indexes are created by
-- straitwatch.enable_geometry() (redefined here; idempotent, and it replaces the view where one
-- exists, filling the table from the positions already loaded), only when PostGIS is installed.
-- Without PostGIS there is no table and refresh_daily_tracks() does nothing and returns 0.

-- Rebuild the lines of every UTC day that [from_ts, to_ts) touches, from all of those days'
-- positions; returns the number of lines (vessel-days) written. 0 without PostGIS.
CREATE FUNCTION straitwatch.refresh_daily_tracks(from_ts timestamptz, to_ts timestamptz)
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    ext_schema text := straitwatch.postgis_schema();
    saved_path text := current_setting('search_path');
    first_day date;
    last_day date;
    written integer;
BEGIN
    IF ext_schema IS NULL OR from_ts IS NULL OR to_ts IS NULL OR from_ts >= to_ts
       OR NOT EXISTS (SELECT 1 FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
                      WHERE n.nspname = 'straitwatch' AND c.relname = 'vessel_daily_tracks'
                        AND c.relkind = 'r') THEN
        RETURN 0;
    END IF;
    first_day := (from_ts AT TIME ZONE 'UTC')::date;
    last_day := ((to_ts - interval '1 microsecond') AT TIME ZONE 'UTC')::date;  -- to_ts excluded
    -- The geometry type and ST_* functions resolve through the extension's schema.
    PERFORM set_config('search_path', format('straitwatch, %I, public', ext_schema), true);

    DELETE FROM straitwatch.vessel_daily_tracks WHERE day BETWEEN first_day AND last_day;
    -- One line per vessel and UTC day through its fixes in time order. A day with fewer than
    -- two distinct positions (a vessel at its berth all day) has a NULL line: there
    -- ST_RemoveRepeatedPoints keeps two equal points, a line of length 0 that is not valid
    -- (0062's view returned it). A track across the antimeridian is drawn the long way round
    -- (longitudes are not unwrapped).
    INSERT INTO straitwatch.vessel_daily_tracks (track_id, mmsi, day, first_ts, last_ts, fixes,
                                                 geom)
    SELECT format('%s/%s', t.mmsi, to_char(t.day, 'YYYY-MM-DD')),
           t.mmsi,
           t.day,
           t.first_ts,
           t.last_ts,
           t.fixes,
           CASE WHEN ST_Length(t.line) > 0 THEN t.line END
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
        WHERE p.ts >= first_day::timestamp AT TIME ZONE 'UTC'
          AND p.ts < (last_day + 1)::timestamp AT TIME ZONE 'UTC'
        GROUP BY p.mmsi, (p.ts AT TIME ZONE 'UTC')::date
    ) AS t;
    GET DIAGNOSTICS written = ROW_COUNT;

    PERFORM set_config('search_path', saved_path, true);
    RETURN written;
END;
$$;

-- 0062's function with the view of daily tracks replaced by the table; everything else as there.
CREATE OR REPLACE FUNCTION straitwatch.enable_geometry() RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    ext_schema text := straitwatch.postgis_schema();
    saved_path text := current_setting('search_path');
    tracks_kind "char";
    first_day date;
    last_day date;
    owner name;
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

    -- One line per vessel and UTC day through its fixes, written by refresh_daily_tracks (which
    -- detect calls for the days of its window). Replaces the view of 0062, same columns.
    SELECT c.relkind INTO tracks_kind
    FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE n.nspname = 'straitwatch' AND c.relname = 'vessel_daily_tracks';
    IF tracks_kind = 'v' THEN
        DROP VIEW straitwatch.vessel_daily_tracks;
    END IF;
    IF tracks_kind IS DISTINCT FROM 'r' THEN
        CREATE TABLE straitwatch.vessel_daily_tracks (
            track_id  text        PRIMARY KEY,  -- 'mmsi/YYYY-MM-DD': first, QGIS's feature key
            mmsi      integer     NOT NULL,
            day       date        NOT NULL,     -- UTC
            first_ts  timestamptz NOT NULL,
            last_ts   timestamptz NOT NULL,
            fixes     bigint      NOT NULL,
            geom      geometry(LineString, 4326)  -- NULL: fewer than two distinct positions
        );
        CREATE UNIQUE INDEX vessel_daily_tracks_mmsi_day
            ON straitwatch.vessel_daily_tracks (mmsi, day);
        CREATE INDEX vessel_daily_tracks_day ON straitwatch.vessel_daily_tracks (day);
        CREATE INDEX vessel_daily_tracks_geom
            ON straitwatch.vessel_daily_tracks USING gist (geom);
        COMMENT ON TABLE straitwatch.vessel_daily_tracks IS
            'One LineString (SRID 4326) per vessel and UTC day through its fixes; rebuilt by '
            'detect for the days of its window (refresh_daily_tracks).';
        -- the lines of the positions already loaded, a day at a time (one partition each)
        SELECT (min(ts) AT TIME ZONE 'UTC')::date, (max(ts) AT TIME ZONE 'UTC')::date
        INTO first_day, last_day
        FROM straitwatch.positions;
        WHILE first_day <= last_day LOOP
            PERFORM straitwatch.refresh_daily_tracks(first_day::timestamp AT TIME ZONE 'UTC',
                                                     (first_day + 1)::timestamp AT TIME ZONE 'UTC');
            first_day := first_day + 1;
        END LOOP;
    END IF;

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

    -- What is made here belongs to the warehouse's owner, whoever runs this (a superuser, after
    -- installing PostGIS): detect, running as that owner, rewrites the track lines, and later
    -- migrations, run by that owner too, replace the views.
    SELECT pg_get_userbyid(nspowner) INTO owner FROM pg_namespace WHERE nspname = 'straitwatch';
    IF owner <> current_user THEN
        EXECUTE format('ALTER TABLE straitwatch.vessel_daily_tracks OWNER TO %I', owner);
        EXECUTE format('ALTER VIEW straitwatch.crossings_map OWNER TO %I', owner);
        EXECUTE format('ALTER VIEW straitwatch.dark_transits_map OWNER TO %I', owner);
    END IF;

    PERFORM set_config('search_path', saved_path, true);
    RETURN straitwatch.geometry_status();
END;
$$;

-- Where a superuser enabled geometry before (0062's function, which left its views to that
-- superuser), the owner migrating now may not replace them: the warehouse keeps 0062's view of
-- daily tracks (detect then writes no lines) until a superuser runs enable_geometry() again.
-- So does one whose own views depend on the old view.
DO $$
BEGIN
    PERFORM straitwatch.enable_geometry();
EXCEPTION WHEN insufficient_privilege OR dependent_objects_still_exist THEN
    RAISE WARNING 'vessel_daily_tracks stays a view (%): run SELECT straitwatch.enable_geometry(); '
                  'as a superuser to make it a table that detect keeps', SQLERRM;
END;
$$;
