-- The cockpit's facts (no names, no ID numbers: students are known by a
-- pseudonym) and the rollups every dashboard reads instead of the facts.
-- Region codes are leaf codes of cockpit/region's tree.

CREATE TABLE cockpit_schools (
    id          BIGINT PRIMARY KEY,
    code        TEXT NOT NULL UNIQUE,
    region_code TEXT NOT NULL,
    name        TEXT NOT NULL
);

CREATE TABLE cockpit_students (
    id          BIGINT PRIMARY KEY,
    anon_id     TEXT NOT NULL UNIQUE,
    region_code TEXT NOT NULL,
    school_id   BIGINT NOT NULL,
    stage       TEXT NOT NULL
);
CREATE INDEX cockpit_students_region ON cockpit_students (region_code);

-- One identification (家庭经济困难学生认定) per student and school year;
-- level 1 特别困难, 2 比较困难, 3 一般困难; categories is a bit set
-- (cockpit/catalog.Categories).
CREATE TABLE cockpit_identifications (
    student_id BIGINT NOT NULL,
    year       INTEGER NOT NULL,
    level      INTEGER NOT NULL,
    categories BIGINT NOT NULL,
    PRIMARY KEY (student_id, year)
);

-- Region and stage are copied from the student so rollups group the
-- records without a join.
CREATE TABLE cockpit_aid_records (
    id          BIGINT PRIMARY KEY,
    student_id  BIGINT NOT NULL,
    year        INTEGER NOT NULL,
    region_code TEXT NOT NULL,
    stage       TEXT NOT NULL,
    programme   TEXT NOT NULL,
    source      TEXT NOT NULL,
    amount      BIGINT NOT NULL,
    paid_on     TEXT NOT NULL
);
CREATE INDEX cockpit_aid_records_student ON cockpit_aid_records (student_id, year);
CREATE INDEX cockpit_aid_records_region ON cockpit_aid_records (region_code, year);

CREATE TABLE cockpit_enrolment (
    region_code TEXT NOT NULL,
    year        INTEGER NOT NULL,
    stage       TEXT NOT NULL,
    students    BIGINT NOT NULL,
    PRIMARY KEY (region_code, year, stage)
);

CREATE TABLE cockpit_allocations (
    id           BIGINT PRIMARY KEY,
    region_code  TEXT NOT NULL,
    year         INTEGER NOT NULL,
    segment      TEXT NOT NULL,
    programme    TEXT NOT NULL,
    source       TEXT NOT NULL,
    amount       BIGINT NOT NULL,
    allocated_on TEXT NOT NULL,
    due_on       TEXT NOT NULL
);
CREATE INDEX cockpit_allocations_region ON cockpit_allocations (region_code, year);

CREATE TABLE cockpit_disbursements (
    id            BIGINT PRIMARY KEY,
    allocation_id BIGINT NOT NULL,
    amount        BIGINT NOT NULL,
    paid_on       TEXT NOT NULL
);
CREATE INDEX cockpit_disbursements_allocation ON cockpit_disbursements (allocation_id);

-- Rollups: one row per region of every level (nation 000000, provinces,
-- cities, counties), so a dashboard reads a handful of rows by key.
CREATE TABLE cockpit_rollup_aid (
    region_code TEXT NOT NULL,
    year        INTEGER NOT NULL,
    segment     TEXT NOT NULL,
    stage       TEXT NOT NULL,
    programme   TEXT NOT NULL,
    source      TEXT NOT NULL,
    records     BIGINT NOT NULL,
    amount      BIGINT NOT NULL,
    PRIMARY KEY (region_code, year, segment, stage, programme, source)
);

CREATE TABLE cockpit_rollup_students (
    region_code      TEXT NOT NULL,
    year             INTEGER NOT NULL,
    segment          TEXT NOT NULL,
    stage            TEXT NOT NULL,
    enrolled         BIGINT NOT NULL,
    identified       BIGINT NOT NULL,
    level1           BIGINT NOT NULL,
    level2           BIGINT NOT NULL,
    level3           BIGINT NOT NULL,
    aided            BIGINT NOT NULL,
    aided_identified BIGINT NOT NULL,
    PRIMARY KEY (region_code, year, segment, stage)
);

CREATE TABLE cockpit_rollup_categories (
    region_code TEXT NOT NULL,
    year        INTEGER NOT NULL,
    segment     TEXT NOT NULL,
    category    TEXT NOT NULL,
    students    BIGINT NOT NULL,
    PRIMARY KEY (region_code, year, segment, category)
);

CREATE TABLE cockpit_rollup_funds (
    region_code TEXT NOT NULL,
    year        INTEGER NOT NULL,
    segment     TEXT NOT NULL,
    programme   TEXT NOT NULL,
    source      TEXT NOT NULL,
    allocations BIGINT NOT NULL,
    allocated   BIGINT NOT NULL,
    disbursed   BIGINT NOT NULL,
    late_count  BIGINT NOT NULL,
    late_amount BIGINT NOT NULL,
    PRIMARY KEY (region_code, year, segment, programme, source)
);

-- A warning groups the anomalies of one rule in one leaf region, year,
-- segment and severity (3 high, 2 medium, 1 low); its records are found
-- again by the rule's drill query.
CREATE TABLE cockpit_warnings (
    id            BIGINT PRIMARY KEY,
    rule          TEXT NOT NULL,
    severity      INTEGER NOT NULL,
    region_code   TEXT NOT NULL,
    province_code TEXT NOT NULL,
    city_code     TEXT NOT NULL,
    year          INTEGER NOT NULL,
    segment       TEXT NOT NULL,
    programme     TEXT NOT NULL,
    subjects      BIGINT NOT NULL,
    amount        BIGINT NOT NULL,
    detail        TEXT NOT NULL
);
CREATE INDEX cockpit_warnings_year ON cockpit_warnings (year, severity, subjects);
CREATE INDEX cockpit_warnings_province ON cockpit_warnings (province_code, year);
CREATE INDEX cockpit_warnings_city ON cockpit_warnings (city_code, year);
CREATE INDEX cockpit_warnings_region ON cockpit_warnings (region_code, year);

CREATE TABLE cockpit_rollup_warnings (
    region_code TEXT NOT NULL,
    year        INTEGER NOT NULL,
    segment     TEXT NOT NULL,
    rule        TEXT NOT NULL,
    severity    INTEGER NOT NULL,
    warnings    BIGINT NOT NULL,
    subjects    BIGINT NOT NULL,
    PRIMARY KEY (region_code, year, segment, rule, severity)
);

-- When the rollups were last rebuilt, and as of which day lateness was
-- judged.
CREATE TABLE cockpit_refresh (
    id           INTEGER PRIMARY KEY,
    refreshed_at BIGINT NOT NULL,
    as_of        TEXT NOT NULL,
    records      BIGINT NOT NULL
);
