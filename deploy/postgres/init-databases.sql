-- Runs once, when the PostgreSQL volume is initialised (/docker-entrypoint-initdb.d), as POSTGRES_USER.
-- One database per service; no service ever reads another's. (Each service also creates its own
-- database on start when it is missing, so a volume initialised before a service existed still works.)
CREATE DATABASE qs_intake;
CREATE DATABASE qs_dispatch;
CREATE DATABASE qs_tracking;
CREATE DATABASE qs_evaluation;
CREATE DATABASE qs_archive;
