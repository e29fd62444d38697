-- Orchestration: lets the ingest DAG find the time span of the positions one file loaded
-- (to trigger detection over exactly those days) without scanning every partition.
-- A BRIN index stays tiny and cheap to maintain because a file's rows are appended together.
CREATE INDEX positions_file_id_brin ON straitwatch.positions
    USING brin (file_id) WITH (autosummarize = on);
