# shellcheck shell=sh disable=SC2154 # the settings come from the header boma writes
# boma host scripts' lock, one a live file (or folder): a directory made with mkdir, holding
# `USER@MACHINE pid=PID since=EPOCH`. A lock whose holder is gone or older than `stale_after`
# seconds is taken over. Needs: lock (the directory), holder, epoch, lock_wait, stale_after, and
# the prelude's say and finish. Scripts that take it start with this file.

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

