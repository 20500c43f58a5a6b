-- Service categories (服务项目大类, domain.md §3): data, not code; the time limit is the
-- committed number of working days (限时办结) a demand of that category gets by default.
CREATE TABLE categories (
    code            text PRIMARY KEY,
    label           text NOT NULL,
    time_limit_days integer NOT NULL CHECK (time_limit_days > 0),
    sort_order      integer NOT NULL
);
INSERT INTO categories (code, label, time_limit_days, sort_order) VALUES
    ('training',          '教育培训',             10,  1),
    ('diagnosis',         '体检诊断与技术攻关',   15,  2),
    ('quality_mgmt',      '质量管理',             10,  3),
    ('standardization',   '标准化',               10,  4),
    ('metrology',         '计量',                 10,  5),
    ('testing',           '检验检测',             15,  6),
    ('special_equipment', '特种设备',             10,  7),
    ('certification',     '认证认可',             10,  8),
    ('ip',                '知识产权',             10,  9),
    ('market_access',     '市场准入',              5, 10),
    ('brand',             '品牌培育',             15, 11),
    ('equipment_sharing', '设备共享',              5, 12),
    ('innovation',        '质量创新',             20, 13),
    ('other',             '其他/政策咨询',         5, 14);

-- Per-station, per-year serial of tracking numbers. Incremented in the submitting
-- transaction: the row lock serializes submissions of one station, a rollback
-- returns the number, so serials have no gaps and no duplicates.
CREATE TABLE tracking_counters (
    station_id  text NOT NULL,
    year        integer NOT NULL,
    last_serial integer NOT NULL,
    PRIMARY KEY (station_id, year)
);

CREATE TABLE demands (
    demand_id        uuid PRIMARY KEY,
    station_id       text NOT NULL,
    tracking_no      text NOT NULL,
    enterprise_name  text NOT NULL,
    credit_code      text NOT NULL,
    contact_name     text NOT NULL,
    contact_phone    text NOT NULL,
    categories       jsonb NOT NULL,
    description      text NOT NULL,
    channel          text NOT NULL,
    first_responder  text NOT NULL,
    time_limit_days  integer NOT NULL,
    submitted_at     timestamptz NOT NULL,
    correlation_id   uuid NOT NULL,
    status           text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'archived')),
    archive_no       text,
    archived_at      timestamptz,
    UNIQUE (station_id, tracking_no)
);
CREATE INDEX demands_by_station ON demands (station_id, submitted_at DESC);
CREATE INDEX demands_by_credit_code ON demands (credit_code);
