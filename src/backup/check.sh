# shellcheck shell=sh disable=SC2154 # the settings come from the header boma writes
# boma's backup checks on one host, every service on it in one run. Settings: work (a folder this
# script makes and removes: borg's and restic's caches and keys live there, never in the user's
# home), lock_wait (seconds), deep (yes: the tool's own check of the newest archive too).
# stdin: one block of `KEY VALUE` lines a service, ended by `end`: service, tool, repository,
# passphrase, glob, config, tag, path, sqlite. The passphrase reaches only the tool's environment.
# Facts said back, `SERVICE.KEY VALUE`: listing (the tool's JSON, one line), error (KIND message),
# missing, unreadable, corrupt (PATH: reason), ok-path, ok-db, deep (ok | message), ms (duration).
set -u
umask 077
mkdir "$work" 2>/dev/null || finish failed "cannot make the work folder $work"
trap 'stop_watching; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM HUP PIPE
watch_connection
export BORG_BASE_DIR="$work/borg" RESTIC_CACHE_DIR="$work/restic" TZ=UTC
export BORG_RELOCATED_REPO_ACCESS_IS_OK=yes BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK=yes
nl='
'
now_ms() { date +%s%3N 2>/dev/null || echo 0; }

# The first line of what a tool said that explains a failure.
first_line() { sed -n '/[^[:space:]]/{p;q}' "$work/err" | cut -c1-300; }

# KIND of a failed tool run, from its words.
kind_of() {
    if grep -qiE 'passphrase supplied.*incorrect|wrong password|no key found' "$work/err"; then echo wrong-passphrase
    elif grep -qiE 'does not exist|is not a valid repository|unable to open config file|repository not found|no such file or directory' "$work/err"; then echo no-repository
    elif grep -qiE 'acquire the lock|already locked|LockTimeout|LockFailed' "$work/err"; then echo locked
    else echo failed
    fi
}

list_borg() {
    set -- list --json --last 1 --lock-wait "$lock_wait"
    [ -n "$glob" ] && set -- "$@" --glob-archives "$glob"
    BORG_PASSPHRASE="$passphrase" borg "$@" "$repository" > "$work/out" 2> "$work/err" </dev/null
}

list_borgmatic() {
    if [ -n "$glob" ]; then set -- rlist --json; else set -- rlist --json --last 1; fi
    if [ -n "$passphrase" ]; then
        BORG_PASSPHRASE="$passphrase" borgmatic -c "$config" --log-file /dev/null "$@" > "$work/out" 2> "$work/err" </dev/null
    else
        borgmatic -c "$config" --log-file /dev/null "$@" > "$work/out" 2> "$work/err" </dev/null
    fi
}

list_restic() {
    set -- snapshots --json --latest 1
    [ -n "$tags" ] && set -- "$@" --tag "$tags"
    waited=0
    while :; do
        RESTIC_REPOSITORY="$repository" RESTIC_PASSWORD="$passphrase" restic "$@" > "$work/out" 2> "$work/err" </dev/null && return 0
        grep -q 'already locked' "$work/err" && [ "$waited" -lt "$lock_wait" ] || return 1
        sleep 1
        waited=$((waited + 1))
    done
}

deep_check() {
    case "$tool" in
        borg)
            set -- check --archives-only --last 1 --lock-wait "$lock_wait"
            [ -n "$glob" ] && set -- "$@" --glob-archives "$glob"
            BORG_PASSPHRASE="$passphrase" borg "$@" "$repository" > /dev/null 2> "$work/err" </dev/null ;;
        borgmatic)
            BORG_PASSPHRASE="$passphrase" borgmatic -c "$config" --log-file /dev/null check --only archives > /dev/null 2> "$work/err" </dev/null ;;
        restic)
            RESTIC_REPOSITORY="$repository" RESTIC_PASSWORD="$passphrase" restic check --read-data-subset=5% > /dev/null 2> "$work/err" </dev/null ;;
    esac
}

check_service() {
    started=$(now_ms)
    say "step $service"
    if ! command -v "$tool" >/dev/null 2>&1; then
        say "$service.error tool-missing $tool is not installed on $(hostname)"
    elif "list_$tool"; then
        say "$service.listing $(tr -d '\n' < "$work/out")"
        if [ "$deep" = yes ]; then
            if deep_check; then say "$service.deep ok"; else say "$service.deep $(first_line)"; fi
        fi
    else
        say "$service.error $(kind_of) $(first_line)"
    fi
    printf '%s' "$paths" | while IFS= read -r path; do
        if [ ! -e "$path" ]; then say "$service.missing $path"
        elif [ ! -r "$path" ] || { [ -d "$path" ] && [ ! -x "$path" ]; }; then say "$service.unreadable $path"
        else say "$service.ok-path $path"
        fi
    done
    if [ -n "$databases" ] && ! command -v sqlite3 >/dev/null 2>&1; then
        say "$service.error tool-missing sqlite3 is not installed on $(hostname)"
        databases=
    fi
    printf '%s' "$databases" | while IFS= read -r db; do
        if [ ! -e "$db" ]; then say "$service.missing $db"; continue; fi
        # A zero-length or foreign file is no database; sqlite3 would call it `ok` (and create a
        # missing one): read the header first, then check read-only.
        if [ "$(head -c 15 "$db" 2>/dev/null)" != "SQLite format 3" ]; then
            say "$service.corrupt $db: not an SQLite database ($(wc -c < "$db") bytes)"
            continue
        fi
        answer=$(sqlite3 -readonly -cmd ".timeout 10000" "$db" 'PRAGMA integrity_check' 2>&1 | head -n 1)
        if [ "$answer" = ok ]; then say "$service.ok-db $db"; else say "$service.corrupt $db: $answer"; fi
    done
    say "$service.ms $(( $(now_ms) - started ))"
}

reset() { service='' tool='' repository='' passphrase='' glob='' config='' tags='' paths='' databases=''; }
reset
while IFS= read -r line; do
    key=${line%% *}
    value=${line#* }
    case "$key" in
        service) service=$value ;;
        tool) tool=$value ;;
        repository) repository=$value ;;
        passphrase) passphrase=$value ;;
        glob) glob=$value ;;
        config) config=$value ;;
        tag) tags=${tags:+$tags,}$value ;;
        path) paths="$paths$value$nl" ;;
        sqlite) databases="$databases$value$nl" ;;
        end) check_service; reset ;;
    esac
done
finish checked ""
