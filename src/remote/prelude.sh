# boma host script prelude: the line protocol every host script speaks on stdout.
#   step NAME      what the script is doing now (drives the host's progress line)
#   detail TEXT    a line of a tool's output worth showing (a validation error)
#   KEY VALUE      a fact for boma (`caddy v2.6.2`, `live-sha256 ...`)
#   result STATUS REASON   the last line: how the run ended
# Settings arrive as a header of KEY='VALUE' lines between this prelude and the script.
say() { printf '%s\n' "$*"; }
details() { printf '%s\n' "$1" | tail -n 20 | while IFS= read -r line; do say "detail $line"; done; }
finish() {
    say "result $*"
    exit 0
}
