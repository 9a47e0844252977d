#!/usr/bin/env bash
# Starts a local ClickHouse server for the tests and the ClickHouse
# quickstart, installing Debian's package when it is missing.
#
# Source it (". .ci/clickhouse.sh") to get SLUICE_CLICKHOUSE_DSN exported;
# run it to have the DSN printed. The server listens on the native port
# 9000 on 127.0.0.1 only, keeps its data under a temporary directory and is
# left running in the background (its pid is in $CLICKHOUSE_DIR/pid). When
# something already answers on that port it is reused.
set -euo pipefail

ch_port="${CLICKHOUSE_PORT:-9000}"
ch_dsn="clickhouse://default@127.0.0.1:${ch_port}/default"

ch_answers() {
  clickhouse-client --host 127.0.0.1 --port "$ch_port" --query "SELECT 1" >/dev/null 2>&1
}

ch_install() {
  if command -v clickhouse-server >/dev/null && command -v clickhouse-client >/dev/null; then
    return
  fi
  echo "installing clickhouse-server and clickhouse-client (Debian package)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq clickhouse-server clickhouse-client >/dev/null
}

ch_start() {
  CLICKHOUSE_DIR="${CLICKHOUSE_DIR:-$(mktemp -d "${TMPDIR:-/tmp}/clickhouse.XXXXXX")}"
  mkdir -p "$CLICKHOUSE_DIR/data" "$CLICKHOUSE_DIR/tmp" "$CLICKHOUSE_DIR/user_files" "$CLICKHOUSE_DIR/format_schemas"
  # A minimal configuration: only the native protocol, on loopback. The
  # package's default config also opens HTTP and interserver ports, which
  # parallel runs and other services could already hold.
  cat >"$CLICKHOUSE_DIR/config.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <logger>
        <level>warning</level>
        <log>$CLICKHOUSE_DIR/server.log</log>
        <errorlog>$CLICKHOUSE_DIR/server.err.log</errorlog>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>$ch_port</tcp_port>
    <max_concurrent_queries>100</max_concurrent_queries>
    <mark_cache_size>536870912</mark_cache_size>
    <path>$CLICKHOUSE_DIR/data/</path>
    <tmp_path>$CLICKHOUSE_DIR/tmp/</tmp_path>
    <user_files_path>$CLICKHOUSE_DIR/user_files/</user_files_path>
    <format_schema_path>$CLICKHOUSE_DIR/format_schemas/</format_schema_path>
    <users_config>$CLICKHOUSE_DIR/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <timezone>UTC</timezone>
    <mlock_executable>false</mlock_executable>
</yandex>
XML
  cat >"$CLICKHOUSE_DIR/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <profiles>
        <default>
            <max_memory_usage>8000000000</max_memory_usage>
        </default>
    </profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas>
        <default>
            <interval><duration>3600</duration><queries>0</queries><errors>0</errors><result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval>
        </default>
    </quotas>
</yandex>
XML
  nohup clickhouse-server --config-file="$CLICKHOUSE_DIR/config.xml" >"$CLICKHOUSE_DIR/stdout.log" 2>&1 &
  echo $! >"$CLICKHOUSE_DIR/pid"
  for _ in $(seq 1 120); do
    if ch_answers; then
      return
    fi
    if ! kill -0 "$(cat "$CLICKHOUSE_DIR/pid")" 2>/dev/null; then
      echo "clickhouse-server exited; its log:" >&2
      tail -n 30 "$CLICKHOUSE_DIR/server.err.log" "$CLICKHOUSE_DIR/stdout.log" >&2 || true
      return 1
    fi
    sleep 0.5
  done
  echo "clickhouse-server did not answer on 127.0.0.1:$ch_port within 60 s" >&2
  return 1
}

ch_install
if ch_answers; then
  echo "clickhouse: reusing the server on 127.0.0.1:$ch_port" >&2
else
  ch_start
  echo "clickhouse: started on 127.0.0.1:$ch_port (data in $CLICKHOUSE_DIR)" >&2
fi
echo "clickhouse: $(clickhouse-client --host 127.0.0.1 --port "$ch_port" --query 'SELECT version()')" >&2
export SLUICE_CLICKHOUSE_DSN="$ch_dsn"
echo "SLUICE_CLICKHOUSE_DSN=$SLUICE_CLICKHOUSE_DSN"
