# boma's developer tasks. `scripts/test` is what CI runs.

# run the whole test suite (installs the Debian packages it needs when run as root)
test *ARGS:
    scripts/test {{ARGS}}

# what CI runs, in the same script: the tests (installing the Debian packages they need), then
# formatting, clippy with warnings as errors, shellcheck (installed when missing, as root) and
# the examples checked by actionlint, just and mise (scripts/check-examples)
ci:
    bash .ci/run

# medians of `boma check` and `boma render --out` on 2,000 services over 50 hosts
bench:
    scripts/bench

# first-build time of the release and dist profiles from empty target folders, and both binaries' check/render side by side
bench-profiles:
    scripts/bench-profiles

# fuzz catalog parsing, the zone-file reader and TXT/CAA quoting (not in CI); SECONDS for each target
fuzz SECONDS="60":
    scripts/fuzz {{SECONDS}}

# boma, octoDNS and the curl floor on 5,000 services, a local PowerDNS each (first sync, no-op, 100 changes)
bench-dns:
    scripts/bench-dns

# caddy-push to 10 loopback hosts: boma vs Ansible vs parallel plain ssh (changed and unchanged)
bench-caddy:
    scripts/bench-caddy

# fly-deploy --check on the shipped catalog and on 30 edge services, against the plain tool calls
bench-edge:
    scripts/bench-edge

# boma container-build vs the same buildah build typed by hand (a small image, no push)
bench-build:
    scripts/bench-build

# backup-check of 20 services over 4 loopback hosts vs the same commands by plain ssh
bench-backups:
    scripts/bench-backups

# boma plan and a no-op boma up on a catalog with every stage, against each stage's own preview and their sum
bench-up:
    scripts/bench-up

# the lab: PowerDNS, three sshd hosts with Caddy (one the edge), a registry, borg and restic, and lab/services.toml, on 127.0.0.1
lab:
    scripts/lab up

# stop everything `just lab` started (by its recorded pids) and remove lab/
lab-down:
    scripts/lab down

# boma plan and up on the lab, the result read with dig and curl, backups checked, then one change planned and applied
demo:
    scripts/demo

# regenerate schema/services.schema.json from the catalog's types (a test fails when it drifts)
schema:
    cargo run --quiet -- schema > schema/services.schema.json.new
    mv schema/services.schema.json.new schema/services.schema.json

# regenerate the manual pages in man/ from the clap definitions (after a change to src/cli.rs or src/man/; a test fails when they drift)
man:
    #!/usr/bin/env bash
    set -euo pipefail
    # Into a temp folder first: a build that fails leaves man/ as it was.
    new=$(mktemp -d)
    trap 'rm -rf "$new"' EXIT
    cargo run --quiet -- man --out "$new"
    rm -f man/*.1
    cp "$new"/*.1 man/
