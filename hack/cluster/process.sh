# The processes of the local cluster (sourced by hack/cluster.sh). Every process we start
# has a pid file in $PIDS; we only ever signal pids from those files, after checking that
# the pid still runs the binary we started.
# shellcheck shell=bash

pid_of() {  # name -> pid if running, else nothing
    local f="$PIDS/$1.pid" pid exe
    [[ -f "$f" ]] || return 0
    pid="$(cat "$f")"
    [[ -n "$pid" && -d "/proc/$pid" ]] || return 0
    exe="$(readlink "/proc/$pid/exe" 2>/dev/null || true)"
    [[ "$(basename "${exe% (deleted)}")" == "$(cat "$PIDS/$1.bin" 2>/dev/null)" ]] && echo "$pid"
    return 0
}

running() { [[ -n "$(pid_of "$1")" ]]; }

start() {  # name binary args... : start detached, log to $LOGS/name.log
    local name="$1" bin="$2"; shift 2
    if running "$name"; then log "$name already running (pid $(pid_of "$name"))"; return; fi
    local path; path="$(command -v "$bin")" || die "$bin not found"
    basename "$path" > "$PIDS/$name.bin"
    setsid "$path" "$@" >>"$LOGS/$name.log" 2>&1 < /dev/null &
    echo $! > "$PIDS/$name.pid"
    log "started $name (pid $!, log $LOGS/$name.log)"
}

stop() {  # name... : SIGTERM all, wait up to $STOP_TIMEOUT s, then SIGKILL what is left
    local name pid i pids=()
    for name in "$@"; do
        pid="$(pid_of "$name")"
        if [[ -n "$pid" ]]; then
            kill -TERM "$pid" 2>/dev/null || true
            pids+=("$pid")
        fi
    done
    for ((i = 0; i < ${STOP_TIMEOUT:-30} * 10; i++)); do
        local alive=0
        for pid in "${pids[@]}"; do [[ -d "/proc/$pid" ]] && alive=1; done
        ((alive)) || break
        sleep 0.1
    done
    for pid in "${pids[@]}"; do
        if [[ -d "/proc/$pid" ]]; then
            log "pid $pid did not stop in time; killing"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    for name in "$@"; do
        rm -f "$PIDS/$name.pid" "$PIDS/$name.bin"
    done
    ((${#pids[@]})) && log "stopped $*"
    return 0
}

wait_for() {  # description timeout command...
    local what="$1" timeout="$2"; shift 2
    local deadline=$((SECONDS + timeout))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= deadline)); then
            die "timed out after ${timeout}s waiting for $what (logs: $LOGS)"
        fi
        sleep 0.5
    done
}
