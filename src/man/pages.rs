//! What a manual page says beyond the clap definitions, command by command, in the README's
//! words: a description, the exit statuses, examples and related pages.

/// The parts of one page that `cli.rs` does not hold. Text in backticks is set in bold.
pub struct Extra {
    /// The subcommand as typed (`dns-up`); empty for boma's own page.
    pub command: &'static str,
    /// The DESCRIPTION section, a paragraph each.
    pub description: &'static [&'static str],
    /// The EXIT STATUS section: a status and what it means.
    pub exit: &'static [(&'static str, &'static str)],
    /// The EXAMPLES section: a command line (boma's arguments, then at most a shell redirection or
    /// pipe) and what it does.
    pub examples: &'static [(&'static str, &'static str)],
    /// Other pages worth reading, by name (`boma-up`).
    pub see_also: &'static [&'static str],
}

const ERROR: (&str, &str) = (
    "2",
    "An error: a bad catalog (every mistake printed as `services.toml:LINE:COL: message`), an \
     unreadable file, an unreachable secret, a failed command.",
);

const INTERRUPTED: (&str, &str) = (
    "130",
    "Interrupted by Ctrl-C, SIGTERM or SIGHUP: the run stopped at its next step, closed every SSH \
     connection and reported what it did; a second signal ends boma at once.",
);

/// Every page: boma's own first, then the subcommands in `cli.rs`'s order.
pub const PAGES: &[Extra] = &[
    Extra {
        command: "",
        description: &[
            "boma is an operator toolbox for people who run their own infrastructure. One file, \
             `services.toml` (the catalog), says which hosts and services exist, their private \
             and public names, the edge proxy, images, backups and secret references; boma reads \
             it and derives everything else from it: each host's Caddyfile, the DNS records of \
             every zone, the edge's nginx and fail2ban, image tags and backup checks. A service \
             that is not in the catalog does not exist.",
            "`boma plan` reviews every change the catalog implies in one report with one \
             checksum, and `boma up` applies it in a safe order. The commands underneath run one \
             stage each: `caddy-push`, `dns-preview` and `dns-up`, `fly-deploy` or `edge-push`, \
             `container-build`, `backup-check`. Each has a page of its own, listed below.",
            "Data (rendered files, tables, JSON) goes to stdout; progress, summaries and errors \
             go to stderr. Errors print once, as `error: ...`, then a `caused by: ...` line for \
             each cause and a `hint: ...` line for every hint. Secrets are never printed: every \
             text boma prints masks every secret read in the run.",
        ],
        exit: &[
            ("0", "Success."),
            (
                "1",
                "A check found a problem: drift, a stale backup, a failed host. Each command's \
                 page says when.",
            ),
            ERROR,
            (
                "130",
                "Interrupted by Ctrl-C, SIGTERM or SIGHUP, in a command that reaches hosts or \
                 APIs: the run stopped at its next step and closed every SSH connection.",
            ),
        ],
        examples: &[
            (
                "boma dns-up",
                "Reconcile the shipped catalog's DNS zones: writes `zones/example.org.zone` and \
                 `zones/ops.example.org.zone`; a second run says \"no changes\".",
            ),
            (
                "boma plan",
                "Review every stage of a catalog at once; `boma up --checksum X` applies exactly \
                 that.",
            ),
            (
                "boma --catalog examples/gandi.toml check --secrets",
                "Validate another catalog and read each of its secrets.",
            ),
            (
                "boma render --out rendered",
                "Write every host's Caddyfile and the edge's files into `rendered/`.",
            ),
        ],
        see_also: &[],
    },
    Extra {
        command: "plan",
        description: &[
            "Plans every stage the catalog gives something to do, side by side, and changes \
             nothing: `images` (the registry's tags), `caddy` (each host's live Caddyfile over \
             SSH), `edge` (the rendered nginx and fail2ban, checked with the real tools, and the \
             Fly.io app's machines, or the edge's host), `dns` (every zone at its provider) and \
             `certificates`, plus the `backups` checks that `plan` reports and `up` never \
             applies. A stage with nothing to do is skipped and says why.",
            "It prints a section per stage in the stage's own words, then a total line and one \
             checksum over the stages' checksums, which `boma up --checksum` takes. A stage that \
             cannot be planned (a missing secret, an API refusing) shows its error and the others \
             are still planned. The edge and certificates sections read the Fly.io app, so they \
             need its token; `--skip edge,certificates` plans the rest without it.",
            "`--output json` gives `{checksum, summary, stages, findings}`; `--output markdown` \
             gives a pull-request comment: a table with a row per stage, then each stage's plan \
             folded in `<details>`.",
        ],
        exit: &[
            (
                "0",
                "Planned, whether anything would change or not (unless `--exit-code`).",
            ),
            (
                "1",
                "A stage had parts it could not read (an unreachable host); with `--exit-code`, \
                 also when anything would change or a backup is not fine.",
            ),
            (
                "2",
                "A stage could not be planned, or an error: a bad catalog, an unreadable file.",
            ),
            INTERRUPTED,
        ],
        examples: &[
            (
                "boma plan",
                "Review every stage and note the checksum on its last line.",
            ),
            (
                "boma plan --skip edge,certificates",
                "Plan everything but the Fly.io app, without its token.",
            ),
            (
                "boma plan --output markdown > plan.md",
                "The plan as a pull-request comment (see `examples/ci/` in boma's source).",
            ),
            (
                "boma plan --exit-code --only dns,caddy",
                "Drift detection for cron or CI: exit 1 when DNS or a Caddyfile would change.",
            ),
        ],
        see_also: &["boma-up"],
    },
    Extra {
        command: "up",
        description: &[
            "Plans again and applies nothing unless every stage was planned whole, the plan's \
             checksum is `--checksum` when given (from a reviewed `boma plan` with the same \
             `--only` and `--skip`), and every stage's own refusals pass (DNS conflicts and \
             change limits, checked for every stage before the first is applied).",
            "Then it applies the stages in order, each only when its plan changes something, and \
             stops at the first that fails: `images` (build, push, pin: a new image exists before \
             anything runs it), `caddy` (the hosts serve the names before anything points at \
             them), `edge`, `dns` (a name is published only once something serves it), \
             `certificates` (Fly.io validates a name by the CNAME the DNS stage just published).",
            "It prints the plan, each applied stage's own report, and a table of every stage: \
             `applied`, `unchanged`, `failed`, `interrupted` or `not started`.",
        ],
        exit: &[
            ("0", "Every stage applied or was unchanged."),
            (
                "1",
                "A stage applied with a failed part: a host, a certificate.",
            ),
            (
                "2",
                "A stage failed, or `up` refused: a stage not planned whole, a checksum other than \
                 `--checksum`, a DNS conflict or change limit; or an error such as a bad catalog.",
            ),
            INTERRUPTED,
        ],
        examples: &[
            (
                "boma up --checksum 9f86d081884c7d65",
                "Apply exactly the plan a reviewed `boma plan` showed with that checksum; refuse \
                 if anything changed since.",
            ),
            (
                "boma up --only images,caddy",
                "Build and pin the images and push the Caddyfiles, nothing else.",
            ),
            (
                "boma up --skip edge,certificates --lock-wait 2m",
                "Apply all but the edge, waiting up to two minutes for another push's lock.",
            ),
        ],
        see_also: &["boma-plan"],
    },
    Extra {
        command: "check",
        description: &[
            "Validates the catalog: syntax, keys, types and every cross-reference, and prints a \
             one-line summary. Every mistake is printed at once, one line each, as \
             `services.toml:LINE:COL: message`, with a \"did you mean\" hint where one fits.",
            "With `--secrets` it also reads every `[secrets]` entry (values are never shown) and \
             reports the ones that cannot be read at their line in the catalog, with what to set: \
             the variable, the file or the command.",
            "`--output json` prints `{ok, errors: [{file, line, column, message, hint}], \
             summary}`.",
        ],
        exit: &[
            (
                "0",
                "The catalog is valid (and, with `--secrets`, every secret can be read).",
            ),
            (
                "2",
                "A mistake in the catalog, an unreadable secret, or an unreadable file.",
            ),
        ],
        examples: &[
            ("boma check", "Validate `./services.toml`."),
            (
                "boma check --secrets",
                "Also read every secret, to find a missing variable or file before a deploy.",
            ),
            (
                "boma --catalog examples/gandi.toml check --output json",
                "Validate another catalog and print the result as JSON.",
            ),
        ],
        see_also: &[],
    },
    Extra {
        command: "render",
        description: &[
            "Renders the artifacts the catalog implies: each host's Caddyfile, named \
             `caddy/HOST`, and, when the catalog has an `[edge]`, the edge's files: \
             `edge/nginx.conf`, `edge/deny.geo`, a ban map per service, `edge/fail2ban/...`, \
             `edge/fly.toml`, `edge/Containerfile` and `edge/entrypoint.sh`. Hosts that serve no \
             site get no Caddyfile.",
            "Without `--out` a single artifact prints as is and several print with \
             `==> NAME <==` headers. With `--out DIR` each artifact is written to \
             `DIR/caddy/HOST/Caddyfile` or `DIR/edge/...`, atomically and only when its content \
             changed. The same catalog always gives byte-identical files.",
        ],
        exit: &[("0", "Rendered."), ERROR],
        examples: &[
            (
                "boma render --out rendered",
                "Write every artifact under `rendered/`.",
            ),
            (
                "boma render caddy/indri",
                "Print the Caddyfile of host `indri`.",
            ),
            (
                "boma render edge/nginx.conf --output json",
                "The edge's nginx configuration as `[{name, path, content}]`.",
            ),
        ],
        see_also: &["boma-caddy-push", "boma-fly-deploy"],
    },
    Extra {
        command: "services",
        description: &[
            "A table of the catalog's services: host, private names, public names, exposure \
             (`private`, `edge`, `public`, `none`), and whether each has an image and a backup. \
             `--output json` gives the same as a list.",
        ],
        exit: &[("0", "Listed."), ERROR],
        examples: &[
            ("boma services", "The table."),
            (
                "boma services --output json",
                "The same as JSON, for scripts.",
            ),
        ],
        see_also: &[],
    },
    Extra {
        command: "dns-preview",
        description: &[
            "Derives each zone's records from the catalog, reads every zone from its provider \
             (a zone file, PowerDNS, Gandi or Cloudflare) and prints the plan `dns-up` would \
             apply: `+` create, `~` update (old -> new), `-` delete, `*` only boma's ownership \
             mark written, `!` a declared name held by a record boma does not own; a summary line \
             per zone, then one checksum over all of them. Nothing is written.",
            "boma changes only what it owns, marked with the catalog's `[dns].owner`; records \
             marked by another owner are conflicts, never taken.",
        ],
        exit: &[
            (
                "0",
                "Planned (unless `--exit-code`, whether changes are pending or not).",
            ),
            (
                "1",
                "With `--exit-code`: changes or conflicts are pending (drift detection for cron \
                 and CI).",
            ),
            ERROR,
            INTERRUPTED,
        ],
        examples: &[
            (
                "boma dns-preview",
                "Show what `dns-up` would change, and its checksum.",
            ),
            (
                "boma dns-preview --exit-code --zone ops",
                "Exit 1 when zone `ops` ([dns.zones.ops]) has drifted from the catalog.",
            ),
            (
                "boma dns-preview --output markdown",
                "The plan as Markdown tables, for a pull-request comment.",
            ),
        ],
        see_also: &["boma-dns-up", "boma-dns-import"],
    },
    Extra {
        command: "dns-up",
        description: &[
            "Prints the plan `dns-preview` shows and applies it: records at new names first, so \
             a name never stops resolving, then deletes, updates, and the creates a delete makes \
             room for. It then says what it sent; a second run says \"no changes\" and sends no \
             write.",
            "It refuses, before sending anything, a declared name held by a record no boma marks \
             (until `--adopt`), and updates plus deletes over `max_change_percent` of the records \
             boma owns (until `--force`). A failure part-way lists the changes applied and not \
             applied, and a re-run converges. Tokens are sent only to the configured API's \
             origin.",
        ],
        exit: &[
            ("0", "Applied, or nothing to change."),
            (
                "2",
                "A refusal (a conflict without `--adopt`, a change limit without `--force`, a \
                 checksum other than `--checksum`) or an error; nothing, or only what the report \
                 lists, was applied.",
            ),
            INTERRUPTED,
        ],
        examples: &[
            (
                "boma dns-up",
                "Apply the catalog's records to every zone; with the shipped catalog this writes \
                 `zones/example.org.zone` and `zones/ops.example.org.zone`.",
            ),
            (
                "boma dns-up --checksum 4e1243bd22c66e76",
                "Apply only if the plan is still the one a reviewed `dns-preview` showed.",
            ),
            (
                "boma dns-up --zone public --adopt",
                "Take over names in zone `public` held by records no boma marks.",
            ),
        ],
        see_also: &["boma-dns-preview", "boma-dns-import"],
    },
    Extra {
        command: "dns-import",
        description: &[
            "Reads the live zones (or `--zone NAME`) and prints on stdout a `[[dns.records]]` \
             fragment of the records no service derives and the catalog does not declare, ready \
             to paste into the catalog. SOA, the apex NS and ownership marks are never imported; \
             records another owner holds or the catalog cannot hold are listed as `# skipped:` \
             comments. On stderr it names each derived name whose live records differ.",
            "After pasting the fragment, `dns-preview` shows no record change, only the ownership \
             to take, which `dns-up --adopt` writes.",
        ],
        exit: &[("0", "Printed."), ERROR, INTERRUPTED],
        examples: &[
            (
                "boma dns-import >> services.toml",
                "Append the zones' hand-made records to the catalog.",
            ),
            (
                "boma dns-import --zone public --output json",
                "Zone `public`'s fragment as `{records, skipped, differing}`.",
            ),
        ],
        see_also: &["boma-dns-preview", "boma-dns-up"],
    },
    Extra {
        command: "caddy-push",
        description: &[
            "Renders each host's Caddyfile and brings every host that serves a site (or the \
             named hosts) to it over SSH, in two steps over one connection per host. The plan \
             reads each live file and compares it (`unchanged` or `would change`); `--check` \
             stops there. The push takes the live file's lock, writes the new file beside it, \
             validates it with the host's own `caddy validate`, keeps the previous file as a \
             backup (the last 5), installs the new one atomically and reloads Caddy; a failed \
             reload puts the backup back (`rolled back`). Each push appends an audit line on the \
             host.",
            "`--history` lists the Caddyfiles each host keeps, and `--rollback N` puts the Nth \
             back, validated and reloaded like a push. SSH goes through the system `ssh`, so \
             `~/.ssh/config` applies; the catalog's `ssh` table overrides it. With `sudo = true` \
             only the privileged steps go through `sudo -n` (the README lists the sudoers line).",
        ],
        exit: &[
            (
                "0",
                "Every host changed, unchanged, listed or rolled back as asked.",
            ),
            (
                "1",
                "A host failed or rolled back; with `--check`, a host would change or could not \
                 be read (drift); with `--history`, a host could not be listed.",
            ),
            (
                "2",
                "An error: a checksum other than `--checksum`, a host keeping fewer backups than \
                 `--rollback N`, a bad catalog.",
            ),
            INTERRUPTED,
        ],
        examples: &[
            (
                "boma caddy-push --check --diff",
                "Show which hosts would change, with a unified diff of each live Caddyfile.",
            ),
            ("boma caddy-push", "Push every host that would change."),
            (
                "boma caddy-push --history",
                "List each host's kept Caddyfiles, newest first, with the N `--rollback` takes.",
            ),
            (
                "boma caddy-push indri --rollback",
                "Put back the Caddyfile the last push replaced on `indri`, validated and \
                 reloaded.",
            ),
            ("boma caddy-push indri --rollback 2", "One further back."),
        ],
        see_also: &["boma-render", "boma-up"],
    },
    Extra {
        command: "fly-deploy",
        description: &[
            "Checks the edge and rolls it out to the Fly.io app `[edge].app`. Every time, before \
             anything is sent, the edge's files are run through the real tools (`nginx -t`, \
             `fail2ban-client -t`, `fail2ban-regex` of every service's filter) and compared with \
             the last deployed render in `[edge].dir` (default `fly/`). `--check` stops there: it \
             reads nothing from Fly.io and needs no token.",
            "Otherwise boma reads the app with `[edge].token`: its certificates (each public \
             name without one gets one requested) and machines, then rolls each machine whose \
             config differs, one at a time, through the Machines API or flyctl, and waits for it \
             to run. Only when the roll succeeded is the render kept in `[edge].dir`.",
        ],
        exit: &[
            ("0", "Deployed, or no drift with `--check`."),
            (
                "1",
                "Drift with `--check`, or a certificate request that failed.",
            ),
            (
                "2",
                "A check, an API call, flyctl or a machine failed; or another error.",
            ),
            INTERRUPTED,
        ],
        examples: &[
            (
                "boma fly-deploy --check",
                "Check the shipped edge with the real nginx and fail2ban and compare it with \
                 `fly/`; no credentials needed.",
            ),
            (
                "boma fly-deploy --checksum 2c26b46b68ffc68f",
                "Deploy only the render a reviewed `fly-deploy --check` showed.",
            ),
            (
                "boma fly-deploy --machines-api --machine-timeout 10m",
                "Roll through the Machines API even with flyctl installed, giving each machine \
                 ten minutes to start.",
            ),
        ],
        see_also: &["boma-edge-push", "boma-render"],
    },
    Extra {
        command: "edge-push",
        description: &[
            "Pushes the edge to its host when `[edge] host = \"NAME\"` names one of the \
             catalog's hosts instead of a Fly.io app. The host gets the files a Fly machine gets \
             (nginx's `conf/` and fail2ban's `fail2ban/` under `[edge].prefix`, default \
             `/srv/edge/`); its Caddy terminates TLS for the public names.",
            "One round trip plans (`unchanged` or `would change`, `--diff` shows each file that \
             differs); one round trip pushes, under a lock: the new files are staged, checked \
             with the host's own `nginx -t` and `fail2ban-client -t`, swapped in and reloaded, \
             and swapped back when a reload fails (`rolled back`).",
        ],
        exit: &[
            ("0", "Pushed or unchanged."),
            (
                "1",
                "Rolled back or failed; with `--check`, the host would change.",
            ),
            ERROR,
            INTERRUPTED,
        ],
        examples: &[
            (
                "boma --catalog examples/self-hosted-edge/services.toml edge-push --check --diff",
                "Show what a push would change on the edge's host.",
            ),
            ("boma edge-push", "Push, check, swap in and reload."),
        ],
        see_also: &["boma-fly-deploy", "boma-caddy-push"],
    },
    Extra {
        command: "container-build",
        description: &[
            "Builds, tags, pushes and pins the catalog's images: each service's `container` and \
             each `[images.NAME]`. The tag is `v{version}-{7 hex}` of the last commit that \
             changed the image's context, so other commits leave the image as it was; builds are \
             reproducible. Builds run on this machine or on the image's `builder` host over SSH, \
             with podman, buildah or docker.",
            "After a push every `bump` file follows (kustomization `images[].newTag`, compose \
             `image:` lines). The registry password travels on stdin, never in an argument. \
             `--check` builds nothing: it asks the registry which tags it has.",
        ],
        exit: &[
            ("0", "Built, pushed and pinned, or nothing behind."),
            (
                "1",
                "A build, login or push failed; with `--check`, an image or a pinned file is \
                 behind (or the registry cannot say).",
            ),
            ("2", "A catalog, git or tool problem."),
            INTERRUPTED,
        ],
        examples: &[
            (
                "boma container-build --check",
                "Show what would be built and which pinned files lag.",
            ),
            (
                "boma container-build --all",
                "Build only the images whose tag the registry lacks, pinning the rest.",
            ),
            (
                "boma container-build caddy-gandi --no-push --tool buildah",
                "Build one image with buildah, without pushing or pinning.",
            ),
        ],
        see_also: &["boma-up"],
    },
    Extra {
        command: "backup-check",
        description: &[
            "Checks every service's `backup` (or the named services') where `backup.host` says: \
             the newest archive (borg, borgmatic or restic) is younger than `max_age`, every \
             `paths` entry is readable, every `sqlite` file passes `PRAGMA integrity_check`, and \
             with `--deep` the tool's own check passes. Hosts are checked side by side, over one \
             SSH connection each; one failing service never stops the others.",
            "Statuses, the heaviest first: `secret unreadable`, `host unreachable`, `tool \
             missing`, `no repository`, `wrong passphrase`, `locked`, `error`, `no archives`, \
             `stale`, `check failed`, `corrupt database`, `missing path`, `ok`. `--prometheus` \
             writes a node_exporter textfile; a backup's `ping` tells Healthchecks or Uptime \
             Kuma.",
        ],
        exit: &[
            ("0", "Every backup is fine."),
            ("1", "A check failed: any status but `ok`."),
            ERROR,
            INTERRUPTED,
        ],
        examples: &[
            (
                "boma backup-check grafana --no-ping",
                "Check the shipped catalog's `grafana` backup on this machine, without pinging.",
            ),
            (
                "boma backup-check --deep --prometheus /var/lib/prometheus/node-exporter/boma.prom",
                "Check every backup thoroughly and write metrics for node_exporter.",
            ),
        ],
        see_also: &["boma-plan"],
    },
    Extra {
        command: "doctor",
        description: &[
            "Checks, without changing anything, what each stage of the catalog needs and whether \
             it is there: the tools on this machine, every secret (values are never shown), each \
             host over SSH with its tools, Caddy modules, the folders a push writes in and the \
             sudo commands it runs, and each API token by a read-only call. The checks run side by side, each bounded by \
             `--timeout`; the report lists each stage's checks and the stages that would fail.",
        ],
        exit: &[
            ("0", "Every stage has what it needs."),
            (
                "1",
                "A stage would fail: a missing tool, secret, host, module, sudo line, folder or \
                 token, or a check that failed (a secret that cannot be read, a host that cannot \
                 be reached, a refused token, a check past its timeout).",
            ),
            (
                "2",
                "An error of boma itself: a catalog that does not load (every mistake printed as \
                 `services.toml:LINE:COL: message`), or a check that could not be started.",
            ),
            INTERRUPTED,
        ],
        examples: &[
            (
                "boma doctor",
                "Check every stage's needs before a first `boma up`.",
            ),
            (
                "boma doctor --timeout 30s --parallel 4",
                "Give slow hosts and APIs 30 seconds, four hosts at a time.",
            ),
        ],
        see_also: &["boma-check", "boma-plan"],
    },
    Extra {
        command: "completions",
        description: &[
            "Prints a completion script for bash, zsh, fish, elvish or powershell on stdout.",
        ],
        exit: &[("0", "Printed."), ("2", "An error.")],
        examples: &[
            (
                "boma completions bash > ~/.local/share/bash-completion/completions/boma",
                "Complete boma's commands and options in bash.",
            ),
            (
                "boma completions fish > ~/.config/fish/completions/boma.fish",
                "The same for fish.",
            ),
        ],
        see_also: &["boma-man"],
    },
    Extra {
        command: "schema",
        description: &[
            "Prints the catalog's JSON Schema (draft 2020-12) on stdout, made from the types boma \
             reads the catalog into: every key with its description, type, default and allowed \
             values. Editors that honour a `#:schema` line (taplo, and Even Better TOML in VS \
             Code) complete and check `services.toml` with it; boma's source keeps it as \
             `schema/services.schema.json`. Whether entries fit together stays `boma check`'s \
             job. Needs no catalog.",
        ],
        exit: &[("0", "Printed."), ("2", "An error.")],
        examples: &[(
            "boma schema > services.schema.json",
            "Write the schema beside a catalog whose first line is \
             `#:schema ./services.schema.json`.",
        )],
        see_also: &["boma-check"],
    },
    Extra {
        command: "man",
        description: &[
            "Prints a manual page in roff, boma's own or a command's, made from the same \
             definitions as `--help`; with `--out DIR` it writes every page (`boma.1` and \
             `boma-COMMAND.1`) into DIR, each only when its content changed. boma's source keeps \
             the same pages in `man/`.",
        ],
        exit: &[
            ("0", "Printed or written."),
            ("2", "An unknown command, or a write failed."),
        ],
        examples: &[
            ("boma man dns-up | man -l -", "Read `boma dns-up`'s page."),
            (
                "boma man --out ~/.cargo/share/man/man1",
                "Install every page beside `~/.cargo/bin`, where `cargo install` put boma, so \
                 `man boma-dns-up` finds it.",
            ),
        ],
        see_also: &["boma-completions"],
    },
];
