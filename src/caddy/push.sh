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

cleanup() {
    trap - EXIT INT TERM HUP PIPE
    if [ "$installed" = 1 ] && [ "$reloaded" = 0 ]; then
        restore >/dev/null 2>&1
    fi
    rm -f "$incoming"
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
        now=$(date +%s)
        info=$(cat "$lock/holder" 2>/dev/null) || info=""
        pid=$(printf '%s\n' "$info" | sed -n 's/.* pid=\([0-9]*\).*/\1/p')
        since=$(printf '%s\n' "$info" | sed -n 's/.* since=\([0-9]*\).*/\1/p')
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
    printf '%s pid=%s since=%s\n' "$holder" "$$" "$(date +%s)" >"$lock/holder"
}

if [ "$mode" = push ]; then
    mkdir -p "$state/backups" && chmod 700 "$state" || finish "failed cannot create $state"
    cat >"$incoming" || finish "failed cannot store the new Caddyfile in $state"
    actual=$(sha256sum <"$incoming" | cut -c1-64)
else
    actual=$(sha256sum | cut -c1-64)
fi
[ "$actual" = "$expected" ] || finish "failed the Caddyfile arrived incomplete (sha256 $actual)"

command -v caddy >/dev/null 2>&1 || finish "failed caddy is not installed (not on PATH)"
say "caddy $(caddy version 2>&1 | head -n 1)"
modules=$(caddy list-modules 2>&1) || { details "$modules"; finish "failed caddy list-modules failed"; }
missing=""
for module in $required; do
    printf '%s\n' "$modules" | grep -qxF "$module" || missing="$missing $module"
done
[ -z "$missing" ] || finish "failed this host's caddy lacks module${missing}: build caddy with it (xcaddy --with github.com/caddy-dns/...)"

live=$(readlink -f -- "$live_arg") || live=$live_arg
dir=$(dirname -- "$live")
new="$dir/.$(basename -- "$live").boma-new"
[ -d "$dir" ] || finish "failed directory $dir does not exist"

if [ "$mode" = push ]; then
    say "step lock"
    acquire
fi

old=none
if [ -e "$live" ]; then
    [ -r "$live" ] || finish "failed cannot read $live as $(id -un)"
    old=$(sha256sum <"$live" | cut -c1-64)
fi
say "live-sha256 $old"
[ "$old" = "$expected" ] && finish unchanged
if [ "$want_diff" = 1 ] && [ "$old" != none ]; then
    say "live-content $(base64 -w 0 <"$live")"
fi
[ "$mode" = check ] && finish would-change

audit() {
    printf '%s user=%s rev=%s result=%s old=%s new=%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
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
    backup="$state/backups/$(basename -- "$live").$(date -u +%Y%m%dT%H%M%SZ).$(printf '%.12s' "$old")"
    cp "$live" "$backup" || finish "failed cannot back up $live to $backup"
    ls -1t "$state/backups" | tail -n +6 | while IFS= read -r stale; do rm -f "$state/backups/$stale"; done
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
