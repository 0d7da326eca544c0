#!/usr/bin/env bash
# The MLflow stack of the seed guide, without Docker:
#   basic  MLflow tracking server, SQLite backend store, local artifacts behind --serve-artifacts
#   full   MLflow + PostgreSQL (backend store) + MinIO (S3-compatible artifact store)
#
#   infra/stack.sh start|stop|status|logs [basic|full]      (or STACK=full)
#
# Environment (defaults in brackets):
#   STACK_DIR [<repo>/.stack]   state: databases, artifacts, logs, pid files
#   MLFLOW_HOST [127.0.0.1] MLFLOW_PORT [5001] PG_PORT [5432] S3_PORT [9000]
#   AWS_ACCESS_KEY_ID [minio] AWS_SECRET_ACCESS_KEY [minio123]   MinIO's root credentials
#   MLFLOW_AUTH=basic   run MLflow's basic-auth app; admin = MLFLOW_TRACKING_USERNAME [admin] /
#                       MLFLOW_TRACKING_PASSWORD [password1234]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cmd="${1:-status}"
mode="${2:-${STACK:-basic}}"
dir="${STACK_DIR:-$root/.stack}"
venv="${BENTO_VENV:-$root/.venv}"
mlflow_host="${MLFLOW_HOST:-127.0.0.1}"
mlflow_port="${MLFLOW_PORT:-5001}"
pg_port="${PG_PORT:-5432}"
s3_port="${S3_PORT:-9000}"
s3_user="${AWS_ACCESS_KEY_ID:-minio}"
s3_secret="${AWS_SECRET_ACCESS_KEY:-minio123}"
minio_bin="${MINIO_BIN:-$root/.stack-bin/minio}"
pg_bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"

case "$mode" in basic|full) ;; *) echo "unknown stack \"$mode\" (basic or full)" >&2; exit 2 ;; esac

log() { printf '%s\n' "$*" >&2; }

source "$root/infra/lib/daemons.sh"

start_postgres() {
  [[ -n "$pg_bin" ]] || { log "PostgreSQL is not installed: run infra/install.sh"; exit 1; }
  local data="$dir/postgres"
  # PostgreSQL refuses to run as root: the cluster belongs to the postgres user.
  local as=(); [[ $(id -u) -eq 0 ]] && as=(runuser -u postgres --)
  if [[ ! -f "$data/PG_VERSION" ]]; then
    mkdir -p "$data"; touch "$dir/postgres.log"
    if [[ ${#as[@]} -gt 0 ]]; then chown postgres "$data" "$dir/postgres.log"; chmod o+x "$dir"; fi
    "${as[@]}" "$pg_bin/initdb" -D "$data" -U postgres --auth=trust >>"$dir/postgres.log" 2>&1
  fi
  "${as[@]}" "$pg_bin/pg_ctl" -D "$data" -l "$dir/postgres.log" -o "-p $pg_port -k $data -c listen_addresses=127.0.0.1" -w start >/dev/null
  "${as[@]}" head -1 "$data/postmaster.pid" > "$dir/postgres.pid"
  local psql=("${as[@]}" "$pg_bin/psql" -h 127.0.0.1 -p "$pg_port" -U postgres -v ON_ERROR_STOP=1 -qtA)
  if [[ -z "$("${psql[@]}" -c "select 1 from pg_roles where rolname='mlflow'")" ]]; then
    "${psql[@]}" -c "create user mlflow with password 'mlflow'" -c "create database mlflow owner mlflow"
  fi
}

start_minio() {
  [[ -x "$minio_bin" ]] || { log "MinIO is not installed at $minio_bin: run infra/install.sh"; exit 1; }
  mkdir -p "$dir/s3/mlflow"   # a directory at the top of MinIO's data dir is a bucket
  MINIO_ROOT_USER="$s3_user" MINIO_ROOT_PASSWORD="$s3_secret" MINIO_BROWSER=off MINIO_UPDATE=off \
    setsid nohup "$minio_bin" server "$dir/s3" --address "127.0.0.1:$s3_port" --quiet >"$dir/s3.log" 2>&1 &
  echo $! > "$dir/s3.pid"
  wait_for s3 120 curl -fsS "http://127.0.0.1:$s3_port/minio/health/ready"
}

start_mlflow() {
  [[ -x "$venv/bin/mlflow" ]] || "$root/infra/venv.sh"
  local args=(server --host "$mlflow_host" --port "$mlflow_port" --workers 1 --serve-artifacts)
  local env=()
  if [[ "$mode" == full ]]; then
    args+=(--backend-store-uri "postgresql+psycopg2://mlflow:mlflow@127.0.0.1:$pg_port/mlflow" --artifacts-destination "s3://mlflow/artifacts")
    env+=(MLFLOW_S3_ENDPOINT_URL="http://127.0.0.1:$s3_port" AWS_ACCESS_KEY_ID="$s3_user" AWS_SECRET_ACCESS_KEY="$s3_secret" AWS_DEFAULT_REGION=us-east-1)
  else
    args+=(--backend-store-uri "sqlite:///$dir/mlflow.db" --artifacts-destination "$dir/artifacts")
  fi
  if [[ "${MLFLOW_AUTH:-}" == basic ]]; then
    cat > "$dir/basic_auth.ini" <<INI
[mlflow]
default_permission = READ
database_uri = sqlite:///$dir/basic_auth.db
admin_username = ${MLFLOW_TRACKING_USERNAME:-admin}
admin_password = ${MLFLOW_TRACKING_PASSWORD:-password1234}
authorization_function = mlflow.server.auth:authenticate_request_basic_auth
INI
    args+=(--app-name basic-auth)
    # The auth app signs CSRF tokens with this key; it must stay the same across restarts of one stack.
    [[ -f "$dir/flask_secret" ]] || head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$dir/flask_secret"
    env+=(MLFLOW_AUTH_CONFIG_PATH="$dir/basic_auth.ini" MLFLOW_FLASK_SERVER_SECRET_KEY="${MLFLOW_FLASK_SERVER_SECRET_KEY:-$(cat "$dir/flask_secret")}")
  fi
  # The server answers Host headers of loopback and private addresses; a docker-compose or k8s service name needs
  # MLFLOW_SERVER_ALLOWED_HOSTS (see infra/README.md).
  # Its own process group (setsid), so that stop reaches uvicorn's workers too. MLflow 3's background job runner
  # (GenAI evaluation jobs) is not needed to track and serve models: off, which saves seven processes.
  env MLFLOW_SERVE_ARTIFACTS=true MLFLOW_SERVER_ENABLE_JOB_EXECUTION="${MLFLOW_SERVER_ENABLE_JOB_EXECUTION:-false}" "${env[@]}" \
    setsid nohup "$venv/bin/mlflow" "${args[@]}" >"$dir/mlflow.log" 2>&1 &
  echo $! > "$dir/mlflow.pid"
  wait_for mlflow 120 curl -fsS "http://127.0.0.1:$mlflow_port/health"
}

stop_one() { # name
  local name="$1"
  [[ -f "$dir/$name.pid" ]] || return 0
  local pid; pid="$(cat "$dir/$name.pid")"
  if [[ "$name" == postgres ]]; then
    local as=(); [[ $(id -u) -eq 0 ]] && as=(runuser -u postgres --)
    "${as[@]}" "$pg_bin/pg_ctl" -D "$dir/postgres" -m fast -w stop >/dev/null 2>&1 || true
  elif kill -0 "$pid" 2>/dev/null; then
    # Each server leads its own process group (setsid): signal the group, so uvicorn's workers go too.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 -- "-$pid" 2>/dev/null || break; sleep 0.25; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  rm -f "$dir/$name.pid"
}

case "$cmd" in
  start)
    mkdir -p "$dir"
    if alive mlflow; then
      # Asked again for what already runs: nothing to do. Another stack than the one running: stop it first.
      if [[ "$(cat "$dir/mode" 2>/dev/null)" == "$mode" ]]; then echo "MLflow ($mode) already runs: http://localhost:$mlflow_port"; exit 0; fi
      log "MLflow already runs as the $(cat "$dir/mode" 2>/dev/null || echo other) stack (pid $(cat "$dir/mlflow.pid")); infra/stack.sh stop first"; exit 1
    fi
    t0=$(date +%s)
    if [[ "$mode" == full ]]; then start_postgres; start_minio; fi
    start_mlflow
    echo "$mode" > "$dir/mode"
    echo "MLflow ($mode) ready in $(( $(date +%s) - t0 )) s: http://localhost:$mlflow_port"
    if [[ "$mode" == full ]]; then echo "PostgreSQL: 127.0.0.1:$pg_port (mlflow/mlflow)  S3 (MinIO): http://127.0.0.1:$s3_port bucket mlflow"; fi
    ;;
  stop)
    for name in mlflow s3 postgres; do stop_one "$name"; done
    echo "stack stopped"
    ;;
  status)
    for name in mlflow s3 postgres; do
      if alive "$name"; then echo "$name: running (pid $(cat "$dir/$name.pid"))"; elif [[ -f "$dir/$name.log" ]]; then echo "$name: stopped"; fi
    done
    ;;
  logs)
    for name in mlflow s3 postgres; do
      if [[ -f "$dir/$name.log" ]]; then echo "== $dir/$name.log"; tail -n "${LINES_SHOWN:-40}" "$dir/$name.log"; fi
    done
    ;;
  *) echo "usage: infra/stack.sh start|stop|status|logs [basic|full]" >&2; exit 2 ;;
esac
