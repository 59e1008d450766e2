# shellcheck shell=bash
# Debian packages for the scripts that start real components (scripts/test, scripts/lab):
# which are missing, and installing them as root without starting or enabling their services.
# Sourced (bash), not run.

# The packages of "$@" that are not installed, one a line.
missing_packages() {
  local package
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || echo "$package"
  done
}

# Installs "$@" (as root). Debian's policy layer keeps every package from starting its service
# (policy-rc.d answering 101, unless the machine has its own), and on a machine that runs systemd
# the services these packages would enable are disabled again: the scripts start their own copies
# on loopback, so none is left running or enabled.
install_packages() {
  local -A units=([caddy]=caddy [bind9]=named [nginx-light]=nginx [pdns-server]=pdns [fail2ban]=fail2ban [docker-registry]=docker-registry [openssh-server]=ssh)
  local own_policy=0 status=0 package unit
  echo "installing $*" >&2
  apt-get update -qq
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d && own_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null || status=$?
  if [ "$own_policy" = 1 ]; then rm -f /usr/sbin/policy-rc.d; fi
  [ "$status" = 0 ] || return "$status"
  if [ -d /run/systemd/system ]; then
    for package in "$@"; do
      unit=${units[$package]:-}
      if [ -n "$unit" ]; then
        systemctl disable --now "$unit" >/dev/null 2>&1 && echo "installed $package without starting or enabling $unit" >&2
      fi
    done
  fi
  return 0
}
