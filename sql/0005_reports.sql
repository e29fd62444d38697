-- Claims about vessel movements and the verdicts matching gives them.

CREATE TABLE straitwatch.reported_departures (
    report_id            text PRIMARY KEY,
    source               text,
    published_at         timestamptz,
    vessel_name          text,
    imo                  text,
    mmsi                 integer,
    departure_port_id    text,
    departed_after       timestamptz,
    departed_before      timestamptz,
    via_chokepoint_id    text,
    via_date             date,
    via_direction        text,
    destination_port_id  text,
    claim_text           text,
    imported_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE straitwatch.departure_matches (
    report_id         text NOT NULL REFERENCES straitwatch.reported_departures ON DELETE CASCADE,
    mmsi              integer,             -- NULL when no vessel was found
    verdict           text NOT NULL CHECK (verdict IN ('confirmed', 'date_mismatch', 'contradicted',
                                                       'no_ais_coverage', 'vessel_not_found', 'ambiguous')),
    evidence          jsonb NOT NULL DEFAULT '{}'::jsonb,
    departure_delta   interval,
    crossing_delta    interval,
    matched_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX departure_matches_report_mmsi
    ON straitwatch.departure_matches (report_id, coalesce(mmsi, 0));
