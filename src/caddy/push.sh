# boma caddy-push: runs on the host as the SSH user, the new Caddyfile on stdin.
# One run is the whole push: lock, compare, stage, validate, back up, install, reload, roll back,
# audit, unlock. Each step is announced on stdout (`step NAME`) so boma can show progress, and a
# closed connection (boma interrupted) ends the script through SIGPIPE with everything cleaned up.
# Arguments: mode (push|check) live-path sudo(0|1) diff(0|1) lock-wait-seconds stale-seconds
#            holder revision expected-sha256 required-modules reload-command
set -u
mode=$1 live_arg=$2 use_sudo=$3 want_diff=$4 lock_wait=$5 stale_after=$6
holder=$7 revision=$8 expected=$9
shift 9
required=$1 reload=$2

state="${XDG_STATE_HOME:-$HOME/.local/state}/boma/caddy"
lock="$state/lock"
incoming="$state/incoming.$$"
locked=0 staged=0 installed=0 reloaded=0 backup=""

say() { printf '%s\n' "$*"; }
details() { printf '%s\n' "$1" | tail -n 20 | while IFS= read -r line; do say "detail $line"; done; }
finish() { say "result $*"; exit 0; }

# Privileged steps, each an exact command a sudoers entry can allow.
priv() { if [ "$use_sudo" = 1 ]; then sudo -n -- "$@"; else "$@"; fi; }
run_reload() {
    if [ "$use_sudo" = 1 ]; then
        set -f
        # shellcheck disable=SC2086 # the command's words, as sudoers lists them
        sudo -n -- $reload
        status=$?
        set +f
        return $status
    fi
    sh -c "$reload"
}

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    trap - EXIT INT TERM HUP PIPE
    if [ "$installed" = 1 ] && [ "$reloaded" = 0 ]; then
        restore >/dev/null 2>&1
    fi
    rm -f "$incoming" "$state/caddy-build.$$"
    [ "$staged" = 1 ] && priv rm -f "$new" >/dev/null 2>&1
    [ "$locked" = 1 ] && rm -rf "$lock"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

# Puts the backup back in place of the live file (or removes a first install).
restore() {
    if [ -n "$backup" ]; then
        priv cp -p "$live" "$new" && priv tee "$new" <"$backup" >/dev/null && priv mv -f "$new" "$live"
    else
        priv rm -f "$live"
    fi
}

acquire() {
    waited=0
    while ! mkdir "$lock" 2>/dev/null; do
        now=$((epoch + waited))
        info=""
        IFS= read -r info <"$lock/holder" 2>/dev/null
        pid="" since=""
        case "$info" in *" pid="*" since="*)
            rest=${info#* pid=}
            pid=${rest%% *}
            since=${info##* since=}
            ;;
        esac
        [ -n "$since" ] || since=$(stat -c %Y "$lock" 2>/dev/null) || since=$now
        if { [ -n "$pid" ] && [ ! -d "/proc/$pid" ]; } || [ $((now - since)) -ge "$stale_after" ]; then
            say "step stale-lock ${info:-unknown holder}"
            rm -rf "$lock"
            continue
        fi
        if [ "$waited" -ge "$lock_wait" ]; then
            finish "locked held by ${info:-an unknown holder} for $((now - since))s (waited ${lock_wait}s)"
        fi
        say "step waiting for lock held by ${info:-an unknown holder}"
        sleep 1
        waited=$((waited + 1))
    done
    locked=1
    printf '%s pid=%s since=%s\n' "$holder" "$$" "$((epoch + waited))" >"$lock/holder"
}

# Few processes: each fork costs about a millisecond, and ten hosts may share two cores.
nl='
'
now=$(date -u '+%s %Y-%m-%dT%H:%M:%SZ')
epoch=${now% *} iso=${now#* }
[ -d "$state/backups" ] || { mkdir -p "$state/backups" && chmod 700 "$state"; } ||
    finish "failed cannot create $state"
if [ "$mode" = push ]; then
    cat >"$incoming" || finish "failed cannot store the new Caddyfile in $state"
    sum=$(sha256sum "$incoming")
else
    sum=$(sha256sum)
fi
actual=${sum%% *}
[ "$actual" = "$expected" ] || finish "failed the Caddyfile arrived incomplete (sha256 $actual)"

# What this host's Caddy build is and which modules it has, read once: kept in the state folder
# and read afresh whenever the binary changes (another inode, size or time).
binary=$(command -v caddy) || finish "failed caddy is not installed (not on PATH)"
build="$(stat -L -c '%i %s %Y' "$binary") $binary"
cache="$state/caddy-build"
cached="" version="" modules=""
if [ -r "$cache" ]; then
    {
        IFS= read -r cached
        IFS= read -r version
        while IFS= read -r line; do modules="$modules$nl$line"; done
    } <"$cache"
fi
if [ "$cached" != "$build" ]; then
    version=$(caddy version 2>&1)
    version=${version%%"$nl"*}
    modules=$(caddy list-modules 2>&1) || { details "$modules"; finish "failed caddy list-modules failed"; }
    modules="$nl$modules"
    printf '%s\n%s%s\n' "$build" "$version" "$modules" >"$cache.$$" && mv -f "$cache.$$" "$cache"
fi
say "caddy $version"
missing=""
for module in $required; do
    case "$modules$nl" in *"$nl$module$nl"*) ;; *) missing="$missing $module" ;; esac
done
[ -z "$missing" ] || finish "failed this host's caddy lacks module${missing}: build caddy with it (xcaddy --with github.com/caddy-dns/...)"

live=$live_arg
[ -L "$live" ] && live=$(readlink -f -- "$live_arg")
dir=${live%/*} base=${live##*/}
new="${dir:-/}/.$base.boma-new"
[ -d "${dir:-/}" ] || finish "failed directory ${dir:-/} does not exist"

if [ "$mode" = push ]; then
    say "step lock"
    acquire
fi

old=none
if [ -e "$live" ]; then
    [ -r "$live" ] || finish "failed cannot read $live as $(id -un)"
    sum=$(sha256sum "$live")
    old=${sum%% *}
fi
say "live-sha256 $old"
[ "$old" = "$expected" ] && finish unchanged
if [ "$want_diff" = 1 ] && [ "$old" != none ]; then
    say "live-content $(base64 -w 0 <"$live")"
fi
[ "$mode" = check ] && finish would-change

audit() {
    printf '%s user=%s rev=%s result=%s old=%s new=%s\n' "$iso" \
        "$holder" "$revision" "$1" "$old" "$expected" >>"$state/audit.log"
}

say "step validate"
staged=1
if [ -e "$live" ]; then
    out=$(priv cp -p "$live" "$new" 2>&1) || { details "$out"; audit failed; finish "failed cannot stage $new"; }
fi
out=$(priv tee "$new" <"$incoming" 2>&1 >/dev/null) || { details "$out"; audit failed; finish "failed cannot write $new"; }
out=$(priv caddy validate --adapter caddyfile --config "$new" 2>&1) || {
    details "$out"
    audit invalid
    finish "failed caddy validate rejected the new Caddyfile; the live file is untouched"
}

if [ "$old" != none ]; then
    # Numbered from 100001 (same width, so the glob lists them oldest first); the last 5 are kept.
    sequence=100000
    for previous in "$state/backups/$base".*; do
        [ -e "$previous" ] || continue
        previous=${previous#"$state/backups/$base."}
        sequence=${previous%%.*}
    done
    case "$sequence" in '' | *[!0-9]*) sequence=100000 ;; esac
    backup="$state/backups/$base.$((sequence + 1)).$iso.${old%"${old#????????????}"}"
    cp "$live" "$backup" || finish "failed cannot back up $live to $backup"
    set -- "$state/backups/$base".*
    excess=$(($# - 5))
    while [ "$excess" -gt 0 ]; do
        rm -f -- "$1"
        shift
        excess=$((excess - 1))
    done
fi

say "step install"
out=$(priv mv -f "$new" "$live" 2>&1) || { details "$out"; audit failed; finish "failed cannot install $live"; }
installed=1 staged=0

say "step reload"
if out=$(run_reload 2>&1); then
    reloaded=1
    audit changed
    finish changed
fi
details "$out"
say "step rollback"
if restore >/dev/null 2>&1; then
    installed=0
    if again=$(run_reload 2>&1); then
        reloaded=1
        audit rolled-back
        finish "rolled-back the reload failed; the previous Caddyfile is back and reloaded"
    fi
    details "$again"
    audit rollback-reload-failed
    finish "failed the reload failed, the previous Caddyfile is back but its reload failed too"
fi
audit rollback-failed
finish "failed the reload failed and the previous Caddyfile could not be restored"
