#!/bin/bash
# The edge machine's entrypoint, rendered by boma: checks the config, runs nginx and fail2ban
# side by side, and stops both (so the machine restarts) when either stops.
set -u
prefix=/srv/edge/
mkdir -p "${prefix}logs" "${prefix}tmp" "${prefix}run" "${prefix}conf/bans"
touch "${prefix}conf/bans/forge.map" "${prefix}logs/forge.access.log"
touch "${prefix}conf/bans/shower.map" "${prefix}logs/shower.access.log"
nginx -t -q -p "$prefix" -c conf/nginx.conf || exit 1
nginx -p "$prefix" -c conf/nginx.conf -g 'daemon off;' &
nginx_pid=$!
fail2ban-server -f -x -c "${prefix}fail2ban" &
fail2ban_pid=$!
stop() { kill -TERM "$nginx_pid" "$fail2ban_pid" 2>/dev/null; }
trap stop TERM INT
wait -n "$nginx_pid" "$fail2ban_pid"
status=$?
stop
wait
exit "$status"
