#!/bin/bash
# The edge machine's entrypoint, rendered by boma: joins the tailnet, waits until its resolver
# answers for the first upstream name, checks the config and runs nginx and fail2ban side by side.
# nginx stopping stops the machine (Fly restarts it); fail2ban stopping is logged and nginx keeps
# serving, with its rate limits and deny rules.
set -u
prefix=/srv/edge/
state="${prefix}state"
log() { printf 'boma-edge: %s\n' "$*" >&2; }
cd "$prefix" || exit 1
mkdir -p logs tmp run cache conf/bans "$state"
touch "conf/bans/forge.map" "logs/forge.access.log"
touch "conf/bans/shower.map" "logs/shower.access.log"
pids=()

# The auth key arrives as the Fly app secret TS_AUTHKEY. It goes to tailscale through a file only
# root can read (never a command line), leaves the environment before anything starts, and is
# removed once used.
secrets=/run/boma-edge
mkdir -p "$secrets" && chmod 0700 "$secrets"
key_file="$secrets/auth-key"
if [ -n "${TS_AUTHKEY:-}" ]; then
  (umask 077 && printf '%s' "$TS_AUTHKEY" >"$key_file")
fi
unset TS_AUTHKEY
socket="$secrets/tailscaled.sock"
# The node's state is kept in ${state}/tailscale: on [edge].volume it survives restarts and deploys.
tailscaled --statedir="$state/tailscale" --socket="$socket" &
pids+=($!)
# `tailscale status` says "failed to connect" until tailscaled listens on its socket.
tries=0
while tailscale --socket="$socket" status 2>&1 | grep -q 'failed to connect'; do
  tries=$((tries + 1))
  if [ "$tries" -ge 300 ]; then
    log "tailscaled did not start within 30s; stopping"
    kill -TERM "${pids[@]}" 2>/dev/null
    rm -f "$key_file"
    exit 1
  fi
  sleep 0.1
done
# Bounded: without a key or a saved node, `tailscale up` would wait for an interactive login.
up=(up --hostname=example-proxy --accept-dns=false --timeout=60s --advertise-tags=tag:edge)
if [ -f "$key_file" ]; then
  up+=("--auth-key=file:$key_file")
fi
if ! tailscale --socket="$socket" "${up[@]}"; then
  rm -f "$key_file"
  log "cannot join the tailnet as example-proxy (is the Fly secret TS_AUTHKEY a valid auth key?); stopping"
  kill -TERM "${pids[@]}" 2>/dev/null
  exit 1
fi
rm -f "$key_file"
log "joined the tailnet as example-proxy"
# nginx resolves upstream names when requests come; wait (bounded) until the resolver answers
# for the first one, so the first requests do not fail.
log "waiting up to 60s for 100.100.100.100:53 to answer for forge.ops.example.org"
deadline=$((SECONDS + 60))
# One of the two lines below is always logged, also when a slow answer comes past the deadline.
answered=yes
until dig +short +time=2 +tries=1 -p 53 @100.100.100.100 forge.ops.example.org A forge.ops.example.org AAAA \
  | grep -qE '^[0-9.]+$|^[0-9a-fA-F:]+:[0-9a-fA-F:.]*$'; do
  if [ "$SECONDS" -ge "$deadline" ]; then
    log "100.100.100.100:53 did not answer for forge.ops.example.org within 60s; starting nginx anyway (its requests get 502 until the name resolves)"
    answered=""
    break
  fi
  sleep 1
done
if [ -n "$answered" ]; then
  log "100.100.100.100:53 answers for forge.ops.example.org; starting nginx"
fi

nginx -t -q -p "$prefix" -c conf/nginx.conf || exit 1
nginx -p "$prefix" -c conf/nginx.conf -g 'daemon off;' &
nginx_pid=$!
fail2ban-server -f -x -c "${prefix}fail2ban" &
fail2ban_pid=$!
pids+=("$nginx_pid" "$fail2ban_pid")
stopping=""
stop() {
  stopping=yes
  kill -TERM "${pids[@]}" 2>/dev/null
}
trap stop TERM INT
while :; do
  exited=""
  wait -n -p exited "${pids[@]}"
  status=$?
  if [ -n "$stopping" ]; then
    wait
    exit 0
  fi
  case "$exited" in
    "")
      log "waiting for the services failed (status $status); stopping the machine"
      stop
      wait
      exit 1
      ;;
    "$nginx_pid")
      log "nginx stopped (status $status); stopping the machine"
      stop
      wait
      exit "$status"
      ;;
    "$fail2ban_pid")
      log "fail2ban stopped (status $status): no new bans until the machine restarts; nginx keeps serving"
      ;;
    "${pids[0]}")
      log "tailscaled stopped (status $status): the tailnet is unreachable; stopping the machine"
      stop
      wait
      exit 1
      ;;
  esac
  remaining=()
  for pid in "${pids[@]}"; do
    [ "$pid" = "$exited" ] || remaining+=("$pid")
  done
  pids=("${remaining[@]}")
done
