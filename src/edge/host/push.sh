# shellcheck shell=sh disable=SC2154 # the settings come from the header boma writes
# boma edge-push: the edge's nginx and fail2ban files on a host of the catalog, run there as the
# SSH user, after the prelude, a header of settings and remote/push.sh (the lock, priv, run_reload):
#   mode         plan (compare, change nothing) | push (the new files on stdin, `PATH BASE64` lines)
#   prefix       where nginx runs from (`nginx -p PREFIX -c conf/nginx.conf`), ending in `/`
#   manifest     the new files as `sha256sum` lists them (`SHA256  PATH`), sorted by path
#   expected     sha256 of the manifest; the live files' listing hashes the same way
#   bans         fail2ban's ban maps (under conf/bans/): state, carried over, never pushed
#   logs         the access logs the jails read: made when missing (`fail2ban-client -t` needs them)
#   use_sudo     0|1: the checks and reloads run through `sudo -n`
#   reload_nginx, reload_fail2ban   the reload commands
#   want_diff    0|1: send back the live files that differ
#   lock_wait, stale_after, holder, revision, planned (the live sha256 the plan saw, none or any)
#   state_key    the prefix with `%` and `/` escaped (its state folder's name)
# boma owns PREFIX/conf and PREFIX/fail2ban whole: a push stages both in PREFIX/.boma-new, checks
# them with the host's own `nginx -t` and `fail2ban-client -t`, moves the live ones aside to
# PREFIX/.boma-previous and the new ones in, reloads nginx and then fail2ban, and puts the previous
# ones back (and reloads again) when a reload fails. A plan only reads.
set -u

base_state="${XDG_STATE_HOME:-$HOME/.local/state}/boma/edge"
state="$base_state/prefixes/$state_key"
lock="$state/lock"
staging="${prefix}.boma-new"
previous="${prefix}.boma-previous"
locked=0 staged=0 swapped=0 reloaded=0
nl='
'
now=$(date -u '+%s %Y-%m-%dT%H:%M:%SZ')
epoch=${now% *} iso=${now#* }

# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    trap - EXIT INT TERM HUP PIPE
    if [ "$swapped" = 1 ] && [ "$reloaded" = 0 ]; then
        swap_back >/dev/null 2>&1
    fi
    [ "$staged" = 1 ] && rm -rf "$staging"
    [ "$locked" = 1 ] && rm -rf "$lock"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

# The sha256 of a folder's listing of what boma owns (bans excepted), in `digest`; `none` when
# neither folder is there. `sums` keeps the listing.
listing() {
    digest=none sums=""
    [ -d "$1/conf" ] || [ -d "$1/fail2ban" ] || return 0
    sums=$(cd "$1" && find conf fail2ban -type f ! -path 'conf/bans/*' 2>/dev/null | LC_ALL=C sort |
        xargs -r -d "$nl" sha256sum --) || finish "failed cannot read the files under $1 as $(id -un)"
    digest=$(printf '%s\n' "$sums" | sha256sum)
    digest=${digest%% *}
}

audit() {
    printf '%s user=%s rev=%s result=%s old=%s new=%s\n' "$iso" "$holder" "$revision" "$1" \
        "$old" "$expected" >>"$state/audit.log"
}

# Puts the previous folders back in place of the new ones.
swap_back() {
    for part in conf fail2ban; do
        rm -rf "${prefix}$part"
        [ -d "$previous/$part" ] && mv "$previous/$part" "${prefix}$part"
    done
    swapped=0
}

# Reloads nginx, then fail2ban. Returns 0 when both took the new files; otherwise the previous
# files are back, and it returns 1 when both reloaded them, 2 when a reload of them failed too.
reload_or_swap_back() {
    say "step reload"
    if out=$(run_reload "$reload_nginx" 2>&1); then
        if out=$(run_reload "$reload_fail2ban" 2>&1); then
            reloaded=1
            return 0
        fi
        details "fail2ban: $out"
    else
        details "nginx: $out"
    fi
    say "step rollback"
    swap_back
    again=0
    out=$(run_reload "$reload_nginx" 2>&1) || { details "nginx again: $out"; again=2; }
    out=$(run_reload "$reload_fail2ban" 2>&1) || { details "fail2ban again: $out"; again=2; }
    reloaded=1
    return $((again > 0 ? 2 : 1))
}

[ -d "$prefix" ] || finish "failed $prefix does not exist on this host; create it, owned by $(id -un)"
listing "$prefix"
old=$digest
say "live-sha256 $old"

if [ "$mode" = plan ]; then
    [ "$old" = "$expected" ] && finish unchanged
    if [ "$want_diff" = 1 ] && [ -n "$sums" ]; then
        # Each live file the manifest does not list as it is: changed, or no longer rendered.
        printf '%s\n' "$sums" | while IFS= read -r line; do
            path=${line#*  }
            say "live-path $path"
            case "$nl$manifest$nl" in
                *"$nl$line$nl"*) ;;
                *) say "live-file $path $(base64 -w 0 <"${prefix}$path")" ;;
            esac
        done
    fi
    [ -d "$lock" ] && held && say "busy $info"
    finish would-change
fi

{ [ -d "$state" ] || { mkdir -p "$state" && chmod 700 "$base_state"; }; } ||
    finish "failed cannot create $state"
say "step lock"
acquire
listing "$prefix"
old=$digest
[ "$old" = "$expected" ] && finish unchanged
[ "$planned" = any ] || [ "$old" = "$planned" ] ||
    finish "failed the edge's files changed since the plan (sha256 ${old%"${old#????????????}"}, planned ${planned%"${planned#????????????}"}); plan again"

say "step stage"
rm -rf "$staging"
staged=1
mkdir -p "$staging" || finish "failed cannot create $staging"
while IFS=' ' read -r path data; do
    case "$path" in
        conf/*/../* | fail2ban/*/../* | *..*) finish "failed refused the path $path" ;;
        conf/* | fail2ban/*) ;;
        *) finish "failed refused the path $path" ;;
    esac
    if ! { mkdir -p "$staging/${path%/*}" && printf '%s' "$data" | base64 -d >"$staging/$path"; }; then
        finish "failed cannot write $staging/$path"
    fi
done
listing "$staging"
[ "$digest" = "$expected" ] || finish "failed the edge's files arrived incomplete (sha256 $digest)"
mkdir -p "${prefix}logs" "${prefix}tmp" "${prefix}run" "${prefix}state" "${prefix}cache" ||
    finish "failed cannot create the folders nginx and fail2ban use under $prefix"
for log in $logs; do
    [ -e "${prefix}$log" ] || : >"${prefix}$log" || finish "failed cannot create ${prefix}$log"
done
# Bans made until now stay: each map is carried over (fail2ban also bans again from its database).
mkdir -p "$staging/conf/bans"
for map in $bans; do
    if [ -f "${prefix}$map" ]; then
        cp "${prefix}$map" "$staging/$map"
    else
        : >"$staging/$map"
    fi
done

say "step validate"
out=$(priv nginx -t -q -p "$prefix" -c .boma-new/conf/nginx.conf 2>&1) || {
    details "$out"
    audit invalid
    finish "failed nginx -t rejected the new files; the live ones are untouched"
}
out=$(priv fail2ban-client -c "$staging/fail2ban" -t 2>&1) || {
    details "$out"
    audit invalid
    finish "failed fail2ban-client -t rejected the new files; the live ones are untouched"
}

say "step install"
{ rm -rf "$previous" && mkdir "$previous"; } || finish "failed cannot create $previous"
swapped=1
for part in conf fail2ban; do
    if [ -d "${prefix}$part" ]; then
        mv "${prefix}$part" "$previous/$part" || finish "failed cannot move ${prefix}$part aside"
    fi
    mv "$staging/$part" "${prefix}$part" || finish "failed cannot install ${prefix}$part"
done
staged=0
rm -rf "$staging"

reload_or_swap_back
case $? in
    0)
        audit changed
        finish changed
        ;;
    1)
        audit rolled-back
        finish "rolled-back a reload failed; the previous files are back and reloaded"
        ;;
esac
audit rollback-reload-failed
finish "failed a reload failed, the previous files are back but reloading them failed too"
