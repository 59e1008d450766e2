# boma host script prelude: the line protocol every host script speaks on stdout. Every protocol
# line starts with the run's frame (`frame`, a setting unique to the run), so nothing else that
# reaches stdout (a shell startup file's greeting, a tool's stray output) is ever read as one.
#   step NAME      what the script is doing now (drives the host's progress line)
#   detail TEXT    a line of a tool's output worth showing (a validation error)
#   KEY VALUE      a fact for boma (`caddy v2.6.2`, `live-sha256 ...`)
#   result STATUS REASON   the last line: how the run ended
#   tick           the connection watcher's heartbeat (see watch_connection)
# Settings arrive as a header of KEY='VALUE' lines between this prelude and the script.
# shellcheck disable=SC2154 # frame comes from the header boma writes
say() { printf '%s %s\n' "$frame" "$*"; }
details() { printf '%s\n' "$1" | tail -n 20 | while IFS= read -r line; do say "detail $line"; done; }
finish() {
    say "result $*"
    exit 0
}
# A long script's watcher: once a second it says `tick`; when that write fails, boma is gone (the
# connection dropped, or boma stopped), and the script's whole process group is told to stop, so
# a push or a check does not run on for nobody and the script's EXIT trap cleans up. The script
# runs as its own process group's leader (a fresh SSH session, or `setsid`-like on this machine).
watch_connection() {
    watched=$$
    (
        trap '' PIPE
        trap - EXIT
        # sleep gets no stdout: the pipe must close as soon as the watcher is stopped.
        while sleep 1 >/dev/null 2>&1 && still_running "$watched"; do
            if ! say tick 2>/dev/null; then
                kill -TERM "-$watched" 2>/dev/null || kill -TERM "$watched" 2>/dev/null
                exit 0
            fi
        done
    ) &
    watcher=$!
}
# Whether process $1 still runs: a zombie (ended, not yet reaped by boma, which first waits for
# stdout to close) does not, or the watcher would hold stdout open for ever.
still_running() {
    kill -0 "$1" 2>/dev/null || return 1
    [ -r "/proc/$1/stat" ] || return 0
    read -r _ _ state _ <"/proc/$1/stat" || return 0
    [ "$state" != Z ]
}
# Ends the watcher (from the script's EXIT trap), so stdout closes as soon as the script ends.
stop_watching() {
    [ -n "${watcher:-}" ] && kill "$watcher" 2>/dev/null
    watcher=
}
