# shellcheck shell=sh disable=SC2154 # the settings come from the header boma writes
# boma's image build on a host (a builder over SSH, or this machine). Settings: tool, work (a
# private folder; made is yes when boma made it, else this script makes it; removed at the end either way), extract (yes: the context arrives as a tar after the
# first line of stdin), build, login and push (shell-quoted argument lists; login and push may be
# empty), registry. stdin's first line is the registry password (empty when none): it reaches
# the tool's stdin through printf, a shell builtin, never an argument.
set -u
say "step prepare"
command -v "$tool" >/dev/null 2>&1 || finish tool-missing "$tool is not installed on $(hostname)"
umask 077
# On this machine boma makes (and removes) the folder itself; on a builder the script does.
if [ "$made" != yes ]; then
    mkdir "$work" 2>/dev/null || finish failed "cannot make the work folder $work"
fi
# The script removes the folder even when boma made it: a boma that was made to exit at once
# (a second Ctrl-C) cannot, and the folder holds the registry login.
trap 'stop_watching; rm -rf "$work"' EXIT
# A signal or a closed connection (PIPE) ends the script through its EXIT trap: the work folder
# (the context, the registry login) never stays behind.
trap 'exit 130' INT TERM HUP PIPE
watch_connection
IFS= read -r password || password=
if [ "$extract" = yes ]; then
    say "step receive"
    { mkdir "$work/context" && tar -x -f - -C "$work/context"; } || finish failed "cannot unpack the context"
fi

# Runs "$@", then says each line of its output as a detail; the exit status is the command's.
# (No pipeline: the tool is the only process started.)
run() {
    "$@" > "$work/out" 2>&1
    status=$?
    while IFS= read -r line; do say "detail $line"; done < "$work/out"
    return "$status"
}

say "step build"
# RUN steps inside a container or sandbox have no user namespaces: isolate with chroot there.
if [ -e /.dockerenv ] || [ -e /run/.containerenv ] || [ -n "${container:-}" ]; then
    BUILDAH_ISOLATION=chroot
    export BUILDAH_ISOLATION
fi
eval "set -- $build"
if ! run "$@"; then
    # The OCI runtime copies itself into a sealed memfd for each RUN step; under load the seal
    # can fail at once with EBUSY. That is the runtime's hiccup, not the Containerfile's: once more.
    grep -q 'sealing memfd' "$work/out" || finish failed "the build failed"
    say "detail (the runtime could not seal its memfd copy: building once more)"
    run "$@" || finish failed "the build failed"
fi
IFS= read -r iid < "$work/iid"
say "image-id $iid"
[ -n "$push" ] || finish built "not pushed"
if [ -n "$login" ]; then
    say "step login"
    eval "set -- $login"
    printf '%s' "$password" | run "$@" || finish failed "login to $registry failed"
fi
password=
say "step push"
eval "set -- $push"
run "$@" || finish failed "the push to $registry failed"
if [ -s "$work/digest" ]; then
    IFS= read -r digest < "$work/digest"
else
    # docker push has no digest file: its last `digest: sha256:...` line says it.
    digest=$(sed -n 's/.*digest: \(sha256:[0-9a-f]*\).*/\1/p' "$work/out" | tail -n 1)
fi
say "digest $digest"
finish pushed ""
