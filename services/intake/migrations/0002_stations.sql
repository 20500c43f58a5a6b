-- The station registry: a tree (city → district → station → enterprise station, 002 §4.3).
-- Ids are paths of GB/T 2260 division codes plus the station's own code, so a city or
-- district is a prefix of every station below it.
CREATE TABLE stations (
    station_id  text PRIMARY KEY,
    name        text NOT NULL,
    address     text NOT NULL DEFAULT '',
    level       integer NOT NULL CHECK (level BETWEEN 1 AND 4),
    parent_id   text REFERENCES stations (station_id),
    has_window  boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO stations (station_id, name, address, level, parent_id, has_window) VALUES
    ('210100/shenyang', '沈阳市一站式质量服务中心', '沈阳市沈河区市府大路 260 号', 1, NULL, true),
    ('210100/210112/hunnan-01', '沈阳市浑南区一站式质量服务站', '沈阳市浑南区创新路 155 号', 2, '210100/shenyang', true),
    ('210100/210112/hunnan-xinsong', '新松机器人重点企业质量服务站', '沈阳市浑南区金辉街 16 号', 4, '210100/210112/hunnan-01', false),
    ('210100/210106/tiexi-01', '沈阳市铁西区一站式质量服务站', '沈阳市铁西区北二中路 6 号', 2, '210100/shenyang', true),
    ('440100/guangzhou', '广州市质量基础设施一站式服务中心', '广州市越秀区东风中路 455 号', 1, NULL, true),
    ('440100/440113/panyu-01', '广州市番禺区工业园区质量服务工作站', '广州市番禺区市桥街番禺大道北 383 号', 2, '440100/guangzhou', true),
    ('440100/440113/panyu-shiqiao', '番禺珠宝产业质量服务站', '广州市番禺区沙湾镇福涌工业区', 3, '440100/440113/panyu-01', true);

-- The registry is not confidential: every signed-in user may read it; only the service writes.
CREATE POLICY registry_read ON stations FOR SELECT USING (true);
