#!/usr/bin/env bash
# A Docker engine for hosts that have the docker CLI but no daemon (CI runners, sandboxes, this test machine):
# Podman's Docker-compatible API service on a unix socket, so that `docker build`, `docker run`, `docker ps`...
# and `bento containerize --backend docker` work unchanged once DOCKER_HOST names the socket. No daemon is
# installed and nothing runs as a system service; `stop` ends it.
#
#   infra/docker-engine.sh start|stop|status|env
#   eval "$(infra/docker-engine.sh start)"      start prints (as env does) the line that sets DOCKER_HOST
#
# It shares the image storage of Buildah (and of `make base-image`): images built by either are visible to docker.
# Settings (environment):
#   DOCKER_ENGINE_DIR [<repo>/.docker-engine]  socket, log, pid file and the generated containers.conf
#   STORAGE_DRIVER [vfs]                         as Buildah's in the rest of the repository
#   CONTAINER_RUNTIME                            OCI runtime (default: crun on a pure cgroup v2 host, else runc:
#                                                crun refuses hybrid cgroup hierarchies such as this machine's)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cmd="${1:-status}"
dir="${DOCKER_ENGINE_DIR:-$root/.docker-engine}"
sock="$dir/docker.sock"
export STORAGE_DRIVER="${STORAGE_DRIVER:-vfs}"

log() { printf '%s\n' "$*" >&2; }
env_line() { echo "export DOCKER_HOST=unix://$sock"; }
alive() { [[ -f "$dir/engine.pid" ]] && kill -0 "$(cat "$dir/engine.pid")" 2>/dev/null; }
answers() { curl -fsS --max-time 2 --unix-socket "$sock" http://docker/_ping >/dev/null 2>&1; }

pick_runtime() {
  if [[ -n ${CONTAINER_RUNTIME:-} ]]; then echo "$CONTAINER_RUNTIME"; return; fi
  if [[ "$(stat -fc %T /sys/fs/cgroup)" == cgroup2fs ]] && command -v crun >/dev/null; then echo crun; return; fi
  command -v runc >/dev/null || { log "this host's cgroups are v1 or hybrid, which crun refuses: apt-get install runc"; exit 1; }
  echo runc
}

# Podman asks for nofile 1048576 by default, which a container may not raise past the host's hard limit
# (crun and runc then fail with "setrlimit: Operation not permitted"): ask for what this host allows.
write_conf() {
  local nofile nproc
  nofile="$(ulimit -Hn)"; [[ $nofile == unlimited || $nofile -gt 1048576 ]] && nofile=1048576
  # Podman runs conmon with at most 32768 processes here (seen in /proc/<conmon>/limits), and a container may
  # not exceed its conmon's limit.
  nproc="$(ulimit -Hu)"; [[ $nproc == unlimited || $nproc -gt 32768 ]] && nproc=32768
  cat >"$dir/containers.conf" <<EOF
# Written by infra/docker-engine.sh for this host.
[containers]
default_ulimits = ["nofile=$nofile:$nofile", "nproc=$nproc:$nproc"]

[engine]
runtime = "$1"
EOF
}

start() {
  if alive && answers; then log "docker engine already running on unix://$sock"; env_line; return; fi
  command -v podman >/dev/null || { log "podman is missing: apt-get install podman"; exit 1; }
  mkdir -p "$dir"
  rm -f "$sock"
  local runtime; runtime="$(pick_runtime)"
  write_conf "$runtime"
  CONTAINERS_CONF="$dir/containers.conf" setsid podman --runtime "$runtime" --storage-driver "$STORAGE_DRIVER" \
    system service --time=0 "unix://$sock" >>"$dir/engine.log" 2>&1 </dev/null &
  echo $! >"$dir/engine.pid"
  for _ in $(seq 1 100); do
    if answers; then log "docker engine (podman $(podman --version | awk '{print $3}'), $runtime) on unix://$sock"; env_line; return; fi
    alive || break
    sleep 0.2
  done
  log "the docker engine did not start; the end of $dir/engine.log:"
  tail -n 20 "$dir/engine.log" >&2 || true
  exit 1
}

stop() {
  alive || { rm -f "$dir/engine.pid"; return; }
  local pid; pid="$(cat "$dir/engine.pid")"
  # Containers it started keep running under their conmon otherwise, holding ports.
  if answers; then
    DOCKER_HOST="unix://$sock" docker ps -q 2>/dev/null | xargs -r env DOCKER_HOST="unix://$sock" docker stop -t 10 >/dev/null 2>&1 || true
  fi
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -f "$dir/engine.pid" "$sock"
  log "docker engine stopped"
}

case "$cmd" in
  start) start ;;
  stop) stop ;;
  status) if alive && answers; then echo "running: DOCKER_HOST=unix://$sock"; else echo "stopped"; exit 1; fi ;;
  env) env_line ;;
  -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' ;;
  *) log "unknown command \"$cmd\" (start, stop, status or env)"; exit 2 ;;
esac
