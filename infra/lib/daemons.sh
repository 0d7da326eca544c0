# Sourced by the infra scripts that run daemons in the background: each has a pid file and a log in "$dir".
# The sourcing script sets $dir and defines log().

# alive NAME: its pid file names a running process.
alive() { [[ -f "$dir/$1.pid" ]] && kill -0 "$(cat "$dir/$1.pid")" 2>/dev/null; }

# wait_for NAME SECONDS COMMAND...: until COMMAND succeeds; gives up early if NAME's process has exited, and then
# shows the end of its log.
wait_for() {
  local name="$1" seconds="$2"; shift 2
  local deadline=$((SECONDS + seconds))
  while ((SECONDS < deadline)); do
    "$@" >/dev/null 2>&1 && return 0
    if [[ -f "$dir/$name.pid" ]] && ! kill -0 "$(cat "$dir/$name.pid")" 2>/dev/null; then break; fi
    sleep 0.5
  done
  log "$name did not start; the end of $dir/$name.log:"
  tail -n 30 "$dir/$name.log" >&2 || true
  return 1
}
