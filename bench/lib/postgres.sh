# A throwaway PostgreSQL 15 (Debian's postgresql package) for the benchmark scripts, as the tests
# start theirs (tests/support/postgres.cc): a cluster made by initdb in a temporary directory,
# trust authentication, served on a free 127.0.0.1 port and a unix socket in that directory.
# Unlike the tests' server it keeps PostgreSQL's durable defaults (fsync, synchronous_commit on),
# as a production one would, so that a commit costs what it costs SQLite's synchronous=FULL.
# initdb refuses to run as root: as root the cluster belongs to the postgres user and its
# programs run as that user (setpriv).
#
#   source bench/lib/postgres.sh
#   pg_start || echo "no PostgreSQL: $PG_ERROR"   # sets PG_URL (database "postgres") and PG_PORT
#   pg_createdb NAME                               # prints the new database's URL
#   pg_stop                                        # fast shutdown, removes the cluster (also: trap)
PG_BIN=${PRESCALE_PG_BIN:-/usr/lib/postgresql/15/bin}
PG_DIR=""
PG_PID=""
PG_PORT=""
PG_URL=""
PG_ERROR=""

# The command prefix that runs a program as the cluster's owner, from its directory.
_pg_owner() {
  _PG_AS=()
  [[ $(id -u) == 0 ]] && _PG_AS=(setpriv --reuid=postgres --regid=postgres --init-groups)
  _PG_AS+=(env -C "$PG_DIR")
}

# Starts the server; 1 with PG_ERROR saying why when it cannot.
pg_start() {
  local p
  for p in initdb postgres pg_isready psql; do
    [[ -x "$PG_BIN/$p" ]] || { PG_ERROR="PostgreSQL 15 is not installed ($PG_BIN/$p missing; Debian package postgresql, or set PRESCALE_PG_BIN)"; return 1; }
  done
  if [[ $(id -u) == 0 ]] && ! id postgres >/dev/null 2>&1; then
    PG_ERROR="running as root, and the postgres user (which initdb needs) does not exist"; return 1
  fi
  PG_DIR=$(mktemp -d /tmp/prescale-bench-pg.XXXXXX)
  [[ $(id -u) == 0 ]] && chown postgres:postgres "$PG_DIR"
  _pg_owner
  if ! "${_PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 --locale=C \
      >"$PG_DIR/initdb.log" 2>&1; then
    PG_ERROR="initdb failed: $(tail -n 3 "$PG_DIR/initdb.log")"; return 1
  fi
  PG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
  # A simple command, and setpriv and env exec: $! is the postmaster itself.
  "${_PG_AS[@]}" "$PG_BIN/postgres" -D "$PG_DIR/data" -k "$PG_DIR" -p "$PG_PORT" \
    -c listen_addresses=127.0.0.1 -c max_connections=50 >"$PG_DIR/server.log" 2>&1 &
  PG_PID=$!
  local _
  for _ in $(seq 1 300); do
    "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && break
    kill -0 "$PG_PID" 2>/dev/null || { PG_ERROR="postgres exited: $(tail -n 3 "$PG_DIR/server.log")"; PG_PID=""; return 1; }
    sleep 0.1
  done
  "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" || { PG_ERROR="postgres did not become ready on port $PG_PORT"; return 1; }
  PG_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
}

# A new, empty database; prints its URL.
pg_createdb() {
  "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
    -c "CREATE DATABASE \"$1\"" >/dev/null
  echo "postgresql://postgres@127.0.0.1:$PG_PORT/$1"
}

# The server's version, e.g. "15.18".
pg_version() { "$PG_BIN/postgres" --version | awk '{print $3}'; }

pg_stop() {
  # The postmaster's own record of its pid, in case $! was not it.
  if [[ -n "$PG_DIR" && -f "$PG_DIR/data/postmaster.pid" ]]; then
    PG_PID=$(head -n 1 "$PG_DIR/data/postmaster.pid")
  fi
  if [[ -n "$PG_PID" ]]; then
    kill -INT "$PG_PID" 2>/dev/null || true  # fast shutdown: the backends end too
    local _
    for _ in $(seq 1 300); do kill -0 "$PG_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$PG_PID" 2>/dev/null || true
    wait "$PG_PID" 2>/dev/null || true
    PG_PID=""
  fi
  [[ -n "$PG_DIR" ]] && rm -rf "$PG_DIR"
  PG_DIR=""
}
