# shellcheck shell=sh disable=SC2154 # the settings come from the header boma writes
# boma doctor: what one host (or this machine) has for the stages that use it, run as the SSH
# user. It reads and lists; it writes nothing and runs no privileged command (sudo is only asked
# what it would allow, `sudo -n -l` and `sudo -n -ll`). The prelude (say, finish) and a header of settings first:
#   tools          one line a tool: `LABEL CANDIDATES VERSION-ARGS...`, CANDIDATES comma-separated
#                  in the order a stage picks them (the first found counts)
#   limit          seconds each command here may take (a version, caddy list-modules)
#   caddy_live     the live Caddyfile (empty: the host serves no site)
#   caddy_modules  the Caddy modules the host's Caddyfile needs
#   caddy_reload   Caddy's reload command
#   use_sudo       0|1: the pushes' privileged steps go through `sudo -n`
#   edge_prefix    the edge's prefix (empty: the edge does not run here)
#   edge_reload_nginx, edge_reload_fail2ban   the edge's reload commands
# Facts it says:
#   user NAME
#   tool.LABEL PROGRAM on-path|off-path STATUS VERSION-LINE (STATUS: the version command's exit
#   status, 124 or 137 when it timed out), with tool-path.LABEL PATH; tool.LABEL - missing
#   caddy-live readable|absent|unreadable|dangling
#   caddy-module MODULE present|absent; caddy-modules failed FIRST-LINE
#   caddy-dir writable|present|absent       the live file's folder
#   edge-prefix writable|present|absent     the edge's prefix
#   sudo.caddy, sudo.edge: `permitted REAL-PATH ARGS...` (the rules permit it: whether without a
#     password boma tells from the rules) or `refused COMMAND` (one a command), or unavailable
#   sudo-said.caddy, sudo-said.edge: what sudo said when it refused
#   sudo-ll LINE (each line of `sudo -n -ll`: the rules, long format), or sudo-ll-failed FIRST-LINE;
#   sudo-real PATH REAL-PATH for each command path the rules name
# The sudo commands are the ones caddy-push (src/caddy/push.sh) and edge-push
# (src/edge/host/push.sh) run, word for word, with the same paths.
set -u
nl='
'

say "user $(id -un 2>/dev/null || echo unknown)"

# Runs a command for at most `limit` seconds (where coreutils' timeout exists).
bounded() {
    if command -v timeout >/dev/null 2>&1; then
        timeout -k 1 "$limit" "$@"
    else
        "$@"
    fi
}

# `locate PROGRAM`: its path in `found`, with `place` on-path, or off-path for an sbin folder a
# non-root PATH lacks.
locate() {
    if found=$(command -v "$1" 2>/dev/null); then
        case $found in /*)
            place=on-path
            return 0
            ;;
        esac
    fi
    for dir in /usr/local/sbin /usr/sbin /sbin; do
        if [ -x "$dir/$1" ]; then
            found="$dir/$1" place=off-path
            return 0
        fi
    done
    return 1
}

while IFS= read -r line; do
    [ -n "$line" ] || continue
    set -f
    # shellcheck disable=SC2086 # a label, the candidates and the version's arguments, as boma wrote them
    set -- $line
    label=$1 candidates=$2
    shift 2
    program=""
    IFS=,
    for candidate in $candidates; do
        if locate "$candidate"; then
            program=$candidate
            break
        fi
    done
    IFS=" 	$nl"
    set +f
    if [ -z "$program" ]; then
        say "tool.$label - missing"
        continue
    fi
    said=$(bounded "$found" "$@" 2>&1 </dev/null)
    status=$?
    case $status in
        124 | 137) said="no answer within ${limit}s" ;;
    esac
    say "tool-path.$label $found"
    say "tool.$label $program $place $status $(printf '%.200s' "${said%%"$nl"*}")"
done <<EOF
$tools
EOF

# `allowed WHAT COMMAND...`: whether sudo's rules permit exactly this command, with the real path
# sudo would run it by; whether they need a password for it, boma reads from the rules (`sudo -l
# COMMAND` says yes for a rule that needs one as soon as any rule needs none).
allowed() {
    what=$1
    shift
    if out=$(sudo -n -l -- "$@" 2>&1 </dev/null); then
        path=${out%%[ "$nl"]*}
        real=$(readlink -f -- "$path" 2>/dev/null) || real=$path
        shift
        say "sudo.$what permitted ${real:-$path} $*"
        rules
    else
        say "sudo.$what refused $*"
        [ -n "$out" ] && say "sudo-said.$what $(printf '%.200s' "${out%%"$nl"*}")"
    fi
}

# `rules`: sudo's rules for the SSH user, once, each command path with its real path.
rules() {
    [ -z "${rules_said-}" ] || return 0
    rules_said=1
    if listed=$(sudo -n -ll 2>&1 </dev/null); then
        printf '%s\n' "$listed" | while IFS= read -r rule; do
            say "sudo-ll $rule"
            case $rule in
                "	"/* | "	!"/*)
                    word=${rule#"	"}
                    word=${word#!}
                    word=${word%% *}
                    say "sudo-real $word $(readlink -f -- "$word" 2>/dev/null || printf '%s' "$word")"
                    ;;
            esac
        done
    else
        say "sudo-ll-failed $(printf '%.200s' "${listed%%"$nl"*}")"
    fi
}

live=$caddy_live
if [ -n "$caddy_live" ]; then
    # As caddy-push does: written through a symlink to its target.
    if [ -L "$caddy_live" ] && ! { live=$(readlink -f -- "$caddy_live") && [ -e "$live" ]; }; then
        say "caddy-live dangling"
        live=$caddy_live
    elif [ ! -e "$live" ]; then
        say "caddy-live absent"
    elif [ -r "$live" ]; then
        say "caddy-live readable"
    else
        say "caddy-live unreadable"
    fi
    # A push writes beside the live file: through sudo, or as the SSH user.
    folder=${live%/*}
    folder=${folder:-/}
    if [ ! -d "$folder" ]; then
        say "caddy-dir absent"
    elif [ -w "$folder" ]; then
        say "caddy-dir writable"
    else
        say "caddy-dir present"
    fi
    if [ -n "$caddy_modules" ] && binary=$(command -v caddy 2>/dev/null); then
        if listed=$(bounded "$binary" list-modules 2>&1 </dev/null); then
            for module in $caddy_modules; do
                case "$nl$listed$nl" in
                    *"$nl$module$nl"*) say "caddy-module $module present" ;;
                    *) say "caddy-module $module absent" ;;
                esac
            done
        else
            say "caddy-modules failed $(printf '%.200s' "${listed%%"$nl"*}")"
        fi
    fi
fi

# edge-push stages and moves folders inside the prefix as the SSH user, with sudo or without.
if [ -n "$edge_prefix" ]; then
    if [ ! -d "$edge_prefix" ]; then
        say "edge-prefix absent"
    elif [ -w "$edge_prefix" ]; then
        say "edge-prefix writable"
    else
        say "edge-prefix present"
    fi
fi

if [ "$use_sudo" = 1 ] && { [ -n "$caddy_live" ] || [ -n "$edge_prefix" ]; }; then
    if ! command -v sudo >/dev/null 2>&1; then
        [ -n "$caddy_live" ] && say "sudo.caddy unavailable"
        [ -n "$edge_prefix" ] && say "sudo.edge unavailable"
        finish ok
    fi
fi

if [ "$use_sudo" = 1 ] && [ -n "$caddy_live" ]; then
    dir=${live%/*} base=${live##*/}
    new="${dir:-/}/.$base.boma-new"
    # A push copies the live file only when there is one (to give the new one its owner and mode).
    [ -e "$live" ] && allowed caddy cp -p "$live" "$new"
    allowed caddy tee "$new"
    allowed caddy caddy validate --adapter caddyfile --config "$new"
    allowed caddy mv -f "$new" "$live"
    allowed caddy rm -f "$new"
    set -f
    # shellcheck disable=SC2086 # the reload's words, as the push runs them through sudo
    allowed caddy $caddy_reload
    set +f
fi

if [ "$use_sudo" = 1 ] && [ -n "$edge_prefix" ]; then
    allowed edge nginx -t -q -p "$edge_prefix" -c .boma-new/conf/nginx.conf
    allowed edge fail2ban-client -c "${edge_prefix}.boma-new/fail2ban" -t
    set -f
    # shellcheck disable=SC2086 # the reloads' words, as the push runs them through sudo
    allowed edge $edge_reload_nginx
    # shellcheck disable=SC2086
    allowed edge $edge_reload_fail2ban
    set +f
fi

finish ok
