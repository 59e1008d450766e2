# shellcheck shell=sh disable=SC2154 # the settings come from the header boma writes
# What the push scripts share (caddy-push, edge-push): each starts with this file.
# The lock, one a live file (or folder): a directory made with mkdir, holding
# `USER@MACHINE pid=PID since=EPOCH`. A lock whose holder is gone or older than `stale_after`
# seconds is taken over. Needs: lock (the directory), holder, epoch, lock_wait, stale_after, and
# the prelude's say and finish.
# The privileged steps: `priv CMD...` and `run_reload COMMAND` go through `sudo -n` when
# use_sudo is 1, each an exact command a sudoers entry can allow (a reload as its plain words).

# `priv CMD...`: CMD, through sudo -n on a sudo host.
priv() { if [ "$use_sudo" = 1 ]; then sudo -n -- "$@"; else "$@"; fi; }

# `run_reload COMMAND`: a reload command, as its words through sudo -n on a sudo host, else by sh.
run_reload() {
    if [ "$use_sudo" = 1 ]; then
        set -f
        # shellcheck disable=SC2086 # the command's words, as sudoers lists them
        sudo -n -- $1
        status=$?
        set +f
        return $status
    fi
    sh -c "$1"
}

# Whether the lock is held by a live, fresh holder; sets `info` (who) and `since`.
held() {
    info="" pid="" since=""
    [ -d "$lock" ] || return 1
    IFS= read -r info <"$lock/holder" 2>/dev/null
    case "$info" in *" pid="*" since="*)
        rest=${info#* pid=}
        pid=${rest%% *}
        since=${info##* since=}
        ;;
    esac
    now=$(date +%s)
    [ -n "$since" ] || since=$(stat -c %Y "$lock" 2>/dev/null) || since=$now
    if { [ -n "$pid" ] && [ ! -d "/proc/$pid" ]; } || [ $((now - since)) -ge "$stale_after" ]; then
        return 1
    fi
    return 0
}

acquire() {
    deadline=$((epoch + lock_wait))
    announced=""
    while ! mkdir "$lock" 2>/dev/null; do
        if ! held; then
            [ -d "$lock" ] && say "step stale-lock ${info:-unknown holder}"
            rm -rf "$lock"
            continue
        fi
        if [ "$now" -ge "$deadline" ]; then
            finish "locked held by ${info:-an unknown holder} for $((now - since))s (waited ${lock_wait}s)"
        fi
        if [ "$announced" != "$info" ]; then
            say "step waiting for lock held by ${info:-an unknown holder}"
            announced=$info
        fi
        # Polled five times a second: a released lock is taken within 200 ms.
        sleep 0.2
    done
    locked=1
    printf '%s pid=%s since=%s\n' "$holder" "$$" "$epoch" >"$lock/holder"
}

