# shellcheck shell=sh disable=SC2154 # the settings come from the header boma writes
# boma caddy-push: runs on the host as the SSH user. The prelude (say, details, finish) and a
# header of settings come first:
#   mode         plan (read and compare, change nothing) | push (the new Caddyfile on stdin) |
#                history (list the kept backups, change nothing) | rollback (put one back)
#   back         rollback: which backup, 1 the newest that differs from the live file
#   live         the live Caddyfile's path          use_sudo   0|1
#   want_diff    0|1: send the live file back        lock_wait  seconds to wait for the lock
#   stale_after  seconds after which a lock is taken over
#   holder       user@machine    revision  the catalog's commit, for the audit line
#   expected     sha256 of the new Caddyfile
#   planned      sha256 the plan saw live, `none`, or `any` when a push was under way (push)
#   required     the Caddy modules the file needs    reload     the reload command
#   state_key    the configured live path with `%` and `/` escaped (its state folder's name)
# One push run is the whole push: lock, compare, stage, validate, back up, install, reload, roll
# back, audit, unlock; one rollback run is the same with a kept backup in place of stdin. Each
# step is announced (`step NAME`) so boma can show progress, and a closed connection (boma
# interrupted) ends the script through SIGPIPE with everything cleaned up.
# State (lock, backups, audit log) is kept per live file, so two Caddy instances on one machine
# and user never wait on each other and each rollback restores its own file.
set -u

base_state="${XDG_STATE_HOME:-$HOME/.local/state}/boma/caddy"
state="" lock="" incoming=""
locked=0 staged=0 installed=0 reloaded=0 backup="" installing=$expected


# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    trap - EXIT INT TERM HUP PIPE
    if [ "$installed" = 1 ] && [ "$reloaded" = 0 ]; then
        restore >/dev/null 2>&1
    fi
    [ -n "$incoming" ] && rm -f "$incoming"
    rm -f "$base_state/caddy-build.$$"
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

# What this host's Caddy build is and which modules it has, read once: kept in the state folder
# and read afresh whenever the binary changes (another inode, size or time). Refuses a file that
# needs a module the build lacks.
probe() {
    binary=$(command -v caddy) || finish "failed caddy is not installed (not on PATH)"
    build="$(stat -L -c '%i %s %Y' "$binary") $binary"
    cache="$base_state/caddy-build"
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
        # The one thing a plan may write: this cache of what the binary said, in boma's own folder.
        { [ -d "$base_state" ] || { mkdir -p "$base_state" && chmod 700 "$base_state"; }; } 2>/dev/null &&
            printf '%s\n%s%s\n' "$build" "$version" "$modules" >"$cache.$$" && mv -f "$cache.$$" "$cache"
    fi
    say "caddy $version"
    missing=""
    for module in $required; do
        case "$modules$nl" in *"$nl$module$nl"*) ;; *) missing="$missing $module" ;; esac
    done
    [ -z "$missing" ] || finish "failed this host's caddy lacks module${missing}: build caddy with it (xcaddy --with github.com/caddy-dns/...)"
}

# The live file's backups, oldest first, one path a line in `kept`: names from before they were
# numbered (`BASE.ISO.SHA`) first, then the numbered ones (`BASE.SEQ.ISO.SHA`, all one width, so
# the glob lists them in order); `newest` is the last numbered one.
backups_oldest_first() {
    kept="" numbered="" newest=""
    for file in "$state/backups/$base".*; do
        [ -e "$file" ] || continue
        rest=${file#"$state/backups/$base."}
        case ${rest%%.*} in
            '' | *[!0-9]*) kept="$kept$file$nl" ;;
            *) numbered="$numbered$file$nl" newest=$file ;;
        esac
    done
    kept="$kept$numbered"
}

# Copies the live file to `backup`, the newest backup, numbered after the last (from 100001).
keep_backup() {
    backups_oldest_first
    rest=${newest#"$state/backups/$base."}
    sequence=${rest%%.*}
    case "$sequence" in '' | *[!0-9]*) sequence=100000 ;; esac
    backup="$state/backups/$base.$((sequence + 1)).$iso.${old%"${old#????????????}"}"
    cp "$live" "$backup" || finish "failed cannot back up $live to $backup"
}

# Removes the oldest backups but the last 5.
prune_backups() {
    backups_oldest_first
    set -f
    IFS=$nl
    # shellcheck disable=SC2086 # one path a line
    set -- $kept
    IFS=$blank
    set +f
    while [ "$#" -gt 5 ]; do
        rm -f -- "$1"
        shift
    done
}

# Goes through the backups newest first, numbered as `--rollback N` counts them: a backup equal
# to the live file has no number (putting it back would change nothing). Sets `count`, `others`
# (how many differ from the live file), and `chosen` with `chosen_sha` for number $1 (0: none);
# with $2 = say, says each: `backup N|- SIZE SHA256 NAME`.
list_backups() {
    backups_oldest_first
    newest_first=""
    while [ -n "$kept" ]; do
        newest_first="${kept%%"$nl"*}$nl$newest_first"
        kept=${kept#*"$nl"}
    done
    count=0 others=0 chosen="" chosen_sha=""
    while [ -n "$newest_first" ]; do
        file=${newest_first%%"$nl"*}
        newest_first=${newest_first#*"$nl"}
        sum=$(sha256sum <"$file") || continue
        sum=${sum%% *}
        count=$((count + 1))
        number=-
        if [ "$sum" != "$old" ]; then
            others=$((others + 1))
            number=$others
            [ "$others" = "$1" ] && chosen=$file chosen_sha=$sum
        fi
        [ "${2:-}" = say ] && say "backup $number $(stat -c %s -- "$file") $sum ${file##*/}"
    done
}

# A line of the live file's audit log: what happened ($1), the sha256 that was live and the one
# being installed (the pushed file's, or the backup's a rollback puts back).
audit() {
    printf '%s user=%s rev=%s result=%s old=%s new=%s\n' "$iso" \
        "$holder" "$revision" "$1" "$old" "$installing" >>"$state/audit.log"
}

# `stage FILE WHAT ERROR INVALID`: writes FILE beside the live file as the staged one (with the
# live file's owner and mode) and has the host's Caddy validate it; ERROR and INVALID are the
# audit results of a failed write and of a rejection.
stage() {
    say "step validate"
    staged=1
    if [ -e "$live" ]; then
        out=$(priv cp -p "$live" "$new" 2>&1) || { details "$out"; audit "$3"; finish "failed cannot stage $new"; }
    fi
    out=$(priv tee "$new" <"$1" 2>&1 >/dev/null) || { details "$out"; audit "$3"; finish "failed cannot write $new"; }
    out=$(priv caddy validate --adapter caddyfile --config "$new" 2>&1) || {
        details "$out"
        audit "$4"
        finish "failed caddy validate rejected $2; the live file is untouched"
    }
}

# `install ERROR`: renames the staged file over the live one.
install() {
    say "step install"
    out=$(priv mv -f "$new" "$live" 2>&1) || { details "$out"; audit "$1"; finish "failed cannot install $live"; }
    installed=1 staged=0
}

# `reload_or_restore STEP`: reloads Caddy; if that fails, puts the file that was live back (the
# step announced as STEP) and reloads again. Returns 0 when the new file is live and loaded, 1
# when the old one is back and loaded, 2 when it is back but failed to load, 3 when it could not
# be put back.
reload_or_restore() {
    say "step reload"
    if out=$(run_reload "$reload" 2>&1); then
        reloaded=1
        return 0
    fi
    details "$out"
    say "step $1"
    restore >/dev/null 2>&1 || return 3
    installed=0
    if again=$(run_reload "$reload" 2>&1); then
        reloaded=1
        return 1
    fi
    details "$again"
    return 2
}

# Few processes: each fork costs about a millisecond, and ten hosts may share two cores.
nl='
'
blank=$IFS
now=$(date -u '+%s %Y-%m-%dT%H:%M:%SZ')
epoch=${now% *} iso=${now#* }

configured=$live
if [ -L "$live" ]; then
    # Written through to the target; a link to nothing would stage its temp file anywhere.
    if ! live=$(readlink -f -- "$configured") || [ ! -e "$live" ]; then
        finish "failed $configured is a dangling symlink or a loop; fix it first"
    fi
fi
dir=${live%/*} base=${live##*/}
new="${dir:-/}/.$base.boma-new"
[ -d "${dir:-/}" ] || finish "failed directory ${dir:-/} does not exist"

# Each live file's own state folder: its path with `%` and `/` escaped, so names never collide.
# boma sends the key of the configured path; a symlink is keyed on the file it points to.
[ "$live" = "$configured" ] || state_key=$(printf '%s' "$live" | sed 's/%/%25/g; s|/|%2F|g')
state="$base_state/files/$state_key"
lock="$state/lock"

# The live file's sha256 in `old` (`none` without one), said as `live-sha256`.
read_live() {
    old=none
    if [ -e "$live" ]; then
        [ -r "$live" ] || finish "failed cannot read $live as $(id -un)"
        sum=$(sha256sum "$live")
        old=${sum%% *}
    fi
    say "live-sha256 $old"
}

# History and rollback make no state folder: without one there is no backup.
if [ "$mode" = history ]; then
    read_live
    [ -d "$state/backups" ] && list_backups 0 say
    finish listed
fi
if [ "$mode" = rollback ]; then
    if [ ! -d "$state/backups" ]; then
        read_live
        say "kept 0 0"
        finish "no-backup keeps no backup of $live"
    fi
    say "step lock"
    acquire
    read_live
    list_backups "$back"
    if [ -z "$chosen" ]; then
        say "kept $count $others"
        finish "no-backup keeps $count backups of $live, $others unlike it"
    fi
    name=${chosen##*/} recorded=${chosen##*.}
    # Its name ends with the sha256 it was kept with: a backup edited since is not put back.
    [ "${chosen_sha#"$recorded"}" != "$chosen_sha" ] ||
        finish "failed backup $name no longer matches the sha256 it was kept with; it was changed by hand"
    say "to-backup $name"
    say "to-sha256 $chosen_sha"
    installing=$chosen_sha
    stage "$chosen" "backup $name" rollback-error rollback-invalid
    # The file being replaced is kept too, so a rollback can itself be rolled back.
    [ "$old" = none ] || keep_backup
    install rollback-error
    reload_or_restore restore
    case $? in
        0)
            prune_backups
            audit rollback
            finish rolled-back
            ;;
        1)
            # The file live again is that backup's content: the backups are as they were.
            [ -z "$backup" ] || rm -f -- "$backup"
            audit rollback-reverted
            finish "failed the reload failed; the Caddyfile that was live is back and reloaded"
            ;;
        2)
            audit rollback-revert-reload-failed
            finish "failed the reload failed, the Caddyfile that was live is back but its reload failed too"
            ;;
    esac
    audit rollback-revert-failed
    finish "failed the reload failed and the Caddyfile that was live could not be put back"
fi

# A plan writes nothing there; a push makes the folder on first use.
if [ "$mode" = push ] && [ ! -d "$state/backups" ]; then
    { mkdir -p "$state/backups" && chmod 700 "$base_state"; } || finish "failed cannot create $state"
    # Backups from the layout before per-file state (one folder for the SSH user) move here.
    for legacy in "$base_state/backups/$base".*; do
        [ -e "$legacy" ] && mv -f -- "$legacy" "$state/backups/"
    done
fi
if [ "$mode" = push ]; then
    incoming="$state/incoming.$$"
    cat >"$incoming" || finish "failed cannot store the new Caddyfile in $state"
    sum=$(sha256sum "$incoming")
    actual=${sum%% *}
    [ "$actual" = "$expected" ] || finish "failed the Caddyfile arrived incomplete (sha256 $actual)"
fi

# The plan probed this host's Caddy; a push skips that (ten hosts may share two cores).
if [ "$mode" = plan ]; then
    probe
fi

if [ "$mode" = push ]; then
    say "step lock"
    acquire
fi

read_live
if [ "$mode" = plan ] && held; then
    # Another push is under way: what is live now may still be rolled back. The push waits for
    # the lock and compares again.
    say "busy $info"
    finish "would-change a push is in progress (lock held by ${info:-an unknown holder})"
fi
[ "$old" = "$expected" ] && finish unchanged
if [ "$mode" = plan ]; then
    if [ "$want_diff" = 1 ] && [ "$old" != none ]; then
        say "live-content $(base64 -w 0 <"$live")"
    fi
    finish would-change
fi
# A push applies exactly the plan: a live file changed since then is someone else's change.
[ "$planned" = any ] || [ "$old" = "$planned" ] ||
    finish "failed the live Caddyfile changed since the plan (sha256 ${old%"${old#????????????}"}, planned ${planned%"${planned#????????????}"}); plan again"

stage "$incoming" "the new Caddyfile" failed invalid
if [ "$old" != none ]; then
    keep_backup
    prune_backups
fi
install failed
reload_or_restore rollback
case $? in
    0)
        audit changed
        finish changed
        ;;
    1)
        audit rolled-back
        finish "rolled-back the reload failed; the previous Caddyfile is back and reloaded"
        ;;
    2)
        audit rollback-reload-failed
        finish "failed the reload failed, the previous Caddyfile is back but its reload failed too"
        ;;
esac
audit rollback-failed
finish "failed the reload failed and the previous Caddyfile could not be restored"
