#!/usr/bin/env bash
# Make sure PostgreSQL and RabbitMQ run on localhost (and the notices' Chinese font, promtool and the browser tests'
# chromium are there): install them
# from Debian's packages when missing, start them when stopped, wait until they answer.
set -euo pipefail

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

missing=()
command -v pg_ctlcluster >/dev/null 2>&1 || missing+=(postgresql)
command -v rabbitmq-server >/dev/null 2>&1 || missing+=(rabbitmq-server)
command -v curl >/dev/null 2>&1 || missing+=(curl)
# promtool checks and unit-tests the alert and recording rules in deploy/prometheus (tests/unit/test_prometheus_rules.py).
# Nothing here starts, or waits for, a prometheus daemon (Debian's package may start one on :9090 where services start).
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
# Chinese glyphs for the PDF acceptance notices.
[ -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] || missing+=(fonts-wqy-microhei)
# The browser the console's browser tests drive (tests/e2e/test_console_browser.py, Playwright pointed at this
# binary; Playwright's own browser download is never used). Installing it starts nothing.
[ -x /usr/bin/chromium ] || missing+=(chromium)
# npm installs the console's front-end libraries from package-lock.json (make frontend).
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing ${missing[*]} from Debian's packages"
  $SUDO apt-get update
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local deadline=$((SECONDS + $1)) what=$2; shift 2
  until "$@" >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then echo "!! $what did not come up" >&2; return 1; fi
    sleep 1
  done
}

# Every probe has a time limit: a wedged server must make this script fail or restart it, never hang CI.
pg_up() { timeout 10 pg_isready -h 127.0.0.1 -p 5432 -q; }
pg_login() { timeout 10 psql -h 127.0.0.1 -U postgres -d postgres -Atc 'SELECT 1'; }
if ! pg_up; then
  echo "==> starting PostgreSQL"
  for version in $(ls /etc/postgresql); do
    $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  done
  wait_for 60 PostgreSQL pg_up
fi
# The services connect as postgres over TCP without a password (trust on loopback),
# as on the development machines; a stock Debian install asks for one, so allow it.
if ! pg_login >/dev/null 2>&1; then
  echo "==> allowing local trust connections for PostgreSQL"
  for hba in /etc/postgresql/*/main/pg_hba.conf; do
    $SUDO sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
  done
  for version in $(ls /etc/postgresql); do $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main reload; done
  wait_for 30 "PostgreSQL trust login" pg_login
fi

rabbit_up() { $SUDO timeout 30 rabbitmqctl -q await_startup --timeout 20; }
if ! rabbit_up >/dev/null 2>&1; then
  if $SUDO timeout 10 rabbitmqctl -q ping >/dev/null 2>&1; then
    # The node answers but does not finish starting (seen once after a session was killed): start it afresh.
    echo "==> RabbitMQ is wedged: restarting it"
    $SUDO timeout 60 rabbitmqctl -q stop || $SUDO pkill -9 -f beam.smp || true
  fi
  echo "==> starting RabbitMQ"
  $SUDO rabbitmq-server -detached || true
  wait_for 120 RabbitMQ rabbit_up
fi
# The management API: operations read queue depths there, and the tests create and drop their vhosts through it.
# The Prometheus endpoint (:15692): the operations dashboard's queue depths and consumers, as in deploy/rabbitmq.
if ! timeout 10 curl -sf -u guest:guest http://127.0.0.1:15672/api/overview >/dev/null \
  || ! timeout 10 curl -sf http://127.0.0.1:15692/metrics >/dev/null; then
  echo "==> enabling RabbitMQ's management and prometheus plugins"
  $SUDO timeout 120 rabbitmq-plugins enable rabbitmq_management rabbitmq_prometheus
  wait_for 60 "RabbitMQ management API" curl -sf -u guest:guest http://127.0.0.1:15672/api/overview
  wait_for 60 "RabbitMQ prometheus endpoint" curl -sf http://127.0.0.1:15692/metrics
fi
echo "==> PostgreSQL and RabbitMQ are up"
