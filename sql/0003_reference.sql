-- Reference data loaded from seeds/: chokepoints, their gate lines, ports.

CREATE TABLE straitwatch.chokepoints (
    chokepoint_id     text PRIMARY KEY CHECK (chokepoint_id ~ '^[a-z0-9]+(_[a-z0-9]+)*$'),
    name              text NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('strait', 'canal')),
    first_direction   text NOT NULL,   -- e.g. eastbound (see design notes)
    second_direction  text NOT NULL,   -- e.g. westbound
    aliases           text[] NOT NULL DEFAULT '{}',
    ref_lat           double precision,
    ref_lon           double precision,
    portwatch_id      text             -- IMF PortWatch id when PortWatch counts it
);

-- Gate lines drawn coast to coast. A vessel passes a chokepoint when it crosses every gate in
-- order (seq ascending one way, descending the other). side_a/side_b name the water on each
-- side; first_direction is travel from side_a to side_b.
CREATE TABLE straitwatch.chokepoint_gates (
    chokepoint_id  text NOT NULL REFERENCES straitwatch.chokepoints ON DELETE CASCADE,
    gate           text NOT NULL,
    seq            smallint NOT NULL,
    wkt            text NOT NULL,      -- LINESTRING in lon/lat (EPSG:4326)
    side_a         text NOT NULL,
    side_b         text NOT NULL,
    PRIMARY KEY (chokepoint_id, gate)
);

CREATE TABLE straitwatch.ports (
    port_id          text PRIMARY KEY CHECK (port_id ~ '^[A-Z]{2}[A-Z0-9]{3}$'),
    name             text NOT NULL,
    alternate_names  text[] NOT NULL DEFAULT '{}',
    country          text,
    lat              double precision NOT NULL,
    lon              double precision NOT NULL,
    radius_nm        double precision NOT NULL CHECK (radius_nm > 0),
    harbor_size      text,
    wpi_number       integer
);
