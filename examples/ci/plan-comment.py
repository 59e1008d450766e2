#!/usr/bin/env python3
"""Runs `boma plan --output markdown` (or the command given) and keeps its result as ONE comment
on the pull request, updated in place on every push.

    plan-comment.py [--marker NAME] [--timeout SECONDS] -- boma plan --output markdown
    plan-comment.py [--marker NAME] reviewed-checksum

The comment is found again by a hidden marker on its first line (`<!-- boma-plan -->`) and by
its author, the token's own user; any other comment, a marker comment by someone else too, is
never touched. The forge's REST API is GitHub's or the same shape under Forgejo's and Gitea's
/api/v1:

    GET   /user                                             (the token's own login)
    GET   /repos/{owner}/{repo}/issues/{number}/comments   (paged by Link: rel="next")
    POST  /repos/{owner}/{repo}/issues/{number}/comments   {"body": ...}
    PATCH /repos/{owner}/{repo}/issues/comments/{id}       {"body": ...}
    GET   /repos/{owner}/{repo}/commits/{sha}/pulls         (GitHub; Forgejo, Gitea: .../pull)

`reviewed-checksum` prints the checksum of the plan reviewed for the commit GITHUB_SHA: the pull
request merged as that commit, its plan comment (ours, for the pull request's last commit, a
plan boma made without error), the checksum in its heading. The workflow runs `boma up
--checksum` with it, so merging applies the reviewed plan or nothing. Without one it says why
and exits 1.

Environment (GitHub's and Forgejo's runners set the first two and GITHUB_SHA):
    GITHUB_API_URL       the API's base: https://api.github.com, https://forge.example.org/api/v1
    GITHUB_REPOSITORY    owner/name
    FORGE_TOKEN          a token that may comment (the workflow passes the job's own token)
    PLAN_COMMENT_AUTHOR  optional: the login the token comments as, when GET /user cannot say
                         (GitHub's job token may not read it: its login is github-actions[bot])
    PR_NUMBER            the pull request's number (to comment)
    HEAD_SHA             optional: the commit the plan is for, named in the comment
    GITHUB_SHA           the merged commit (reviewed-checksum)

The token is sent only in the Authorization header, only to the API's own origin (scheme, host
and port): no redirect is followed and a paging link elsewhere is an error. It is never printed.

Exit status: the command's own when it is 2 or more (an invalid catalog fails the check, after
the comment says so), else 1 when the comment could not be written, else 0. boma's exit 1 (a part
it could not read) is shown in the comment and as a warning, not as a failure.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

# GitHub refuses a comment over 65536 characters; the rest of the plan stays in the job's log.
LONGEST_BODY = 60000
LONGEST_COMMENT = 65536
# The most of the command's stderr shown in the comment.
LONGEST_STDERR = 4000
# The tail of the command's stderr shown in the comment when it did not succeed.
STDERR_LINES = 40
LONGEST_PAGE_COUNT = 100
TIMEOUT_SECONDS = 30
# How long the command may run (--timeout), after which it is killed and the check fails.
COMMAND_TIMEOUT_SECONDS = 3600


class ForgeError(Exception):
    """A request the forge refused or could not answer; its text never holds the token."""

    def __init__(self, text, status=None):
        super().__init__(text)
        self.status = status


class NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect could carry the token to another origin: none is followed."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise ForgeError(
            f"{req.get_method()} {req.full_url}: answered {code}, a redirect, not followed"
        )


def origin(url):
    parts = urllib.parse.urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return (parts.scheme, parts.hostname, port)


def next_link(header):
    """The `rel="next"` URL of a Link header, if any."""
    for part in (header or "").split(","):
        pieces = part.split(";")
        url = pieces[0].strip()
        if (
            url.startswith("<")
            and url.endswith(">")
            and any(
                piece.strip().replace(" ", "") in ('rel="next"', "rel=next") for piece in pieces[1:]
            )
        ):
            return url[1:-1]
    return None


class Forge:
    def __init__(self, api, repository, token):
        self.api = api.rstrip("/")
        self.origin = origin(self.api)
        self.repository = repository
        self.token = token
        self.opener = urllib.request.build_opener(NoRedirects())

    def masked(self, text):
        return text.replace(self.token, "[redacted]") if self.token else text

    def request(self, method, url, body=None):
        if origin(url) != self.origin:
            raise ForgeError(
                f"{method} {url}: not the API's origin {self.api}; nothing was sent there"
            )
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Accept", "application/vnd.github+json, application/json")
        request.add_header("User-Agent", "boma-plan-comment")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        request.add_unredirected_header("Authorization", f"Bearer {self.token}")
        try:
            with self.opener.open(request, timeout=TIMEOUT_SECONDS) as answer:
                text = answer.read(32 * 1024 * 1024).decode("utf-8", "replace")
                return (json.loads(text) if text.strip() else None), answer.headers
        except urllib.error.HTTPError as error:
            excerpt = error.read(300).decode("utf-8", "replace").strip()
            raise ForgeError(
                self.masked(f"{method} {url}: {error.code} {error.reason}: {excerpt}"), error.code
            ) from None
        except (urllib.error.URLError, OSError, ValueError) as error:
            raise ForgeError(self.masked(f"{method} {url}: {error}")) from None

    def comments(self, number):
        """Every comment on the pull request, page after page."""
        # GitHub pages by per_page (at most 100), Forgejo and Gitea by limit (at most 50).
        url = f"{self.api}/repos/{self.repository}/issues/{number}/comments?per_page=100&limit=50"
        seen = set()
        for _ in range(LONGEST_PAGE_COUNT):
            page, headers = self.request("GET", url)
            if not isinstance(page, list):
                raise ForgeError(f"GET {url}: the answer is not a list of comments")
            yield from page
            seen.add(url)
            url = next_link(headers.get("Link"))
            if not url or url in seen:
                return
        raise ForgeError(f"more than {LONGEST_PAGE_COUNT} pages of comments")

    def login(self):
        """The login the token comments as: PLAN_COMMENT_AUTHOR, else GET /user's."""
        given = os.environ.get("PLAN_COMMENT_AUTHOR", "").strip()
        if given:
            return given
        try:
            user, _ = self.request("GET", f"{self.api}/user")
        except ForgeError as error:
            raise ForgeError(
                f"cannot tell which user the token comments as ({error}); set PLAN_COMMENT_AUTHOR"
                " to its login"
            ) from None
        login = user.get("login") if isinstance(user, dict) else None
        if not isinstance(login, str) or not login:
            raise ForgeError(f"GET {self.api}/user: the answer has no login")
        return login

    def ours(self, number, marker, login):
        """The first comment that starts with the marker and that `login` wrote, or None."""
        return next(
            (
                c
                for c in self.comments(number)
                if (c.get("body") or "").lstrip().startswith(marker)
                and isinstance(c.get("user"), dict)
                and c["user"].get("login") == login
            ),
            None,
        )

    def merged_pull(self, sha):
        """The pull request merged as commit `sha`, or None."""
        base = f"{self.api}/repos/{self.repository}/commits/{sha}"
        try:
            pulls, _ = self.request("GET", f"{base}/pulls")
        except ForgeError as error:
            if error.status != 404:
                raise
            # Forgejo and Gitea: one pull request, or 404 when there is none.
            try:
                pull, _ = self.request("GET", f"{base}/pull")
            except ForgeError as error:
                if error.status != 404:
                    raise
                return None
            pulls = [pull]
        if not isinstance(pulls, list):
            raise ForgeError(f"GET {base}/pulls: the answer is not a list of pull requests")
        for pull in pulls:
            if (
                isinstance(pull, dict)
                and (pull.get("merged") or pull.get("merged_at"))
                and pull.get("merge_commit_sha") == sha
            ):
                return pull
        return None

    def create(self, number, body):
        url = f"{self.api}/repos/{self.repository}/issues/{number}/comments"
        comment, _ = self.request("POST", url, {"body": body})
        return comment

    def update(self, comment_id, body):
        url = f"{self.api}/repos/{self.repository}/issues/comments/{comment_id}"
        comment, _ = self.request("PATCH", url, {"body": body})
        return comment


def fenced(text):
    """`text` in a code block whose fence no line of it can close."""
    longest = 0
    run = 0
    for character in text:
        run = run + 1 if character == "`" else 0
        longest = max(longest, run)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


def comment_body(marker, command, status, stdout, stderr, commit):
    lines = [marker]
    plan = stdout.strip()
    if status >= 2:
        lines.append(
            f"**`{command}` failed (exit {status})**: the catalog is invalid or a stage could not"
            " be planned."
        )
    elif status == 1:
        lines.append(
            f"**`{command}` could not read every part (exit 1)**: the plan below is incomplete."
        )
    if plan:
        if len(plan) > LONGEST_BODY:
            plan = plan[: cut_at(plan, LONGEST_BODY)]
            plan += "\n\n… the plan is longer than a comment holds: the job's log has all of it."
        lines += ["", plan]
    if status != 0 and stderr.strip():
        tail = "\n".join(stderr.strip().splitlines()[-STDERR_LINES:])
        if len(tail) > LONGEST_STDERR:
            tail = "…" + tail[-LONGEST_STDERR:]
        lines += [
            "",
            f"<details><summary>boma's messages (exit {status})</summary>",
            "",
            fenced(tail),
            "",
            "</details>",
        ]
    if commit:
        lines += [
            "",
            f"<sub>For commit {commit[:12]}; this comment is updated on every push.</sub>",
        ]
    return "\n".join(lines) + "\n"


def cut_at(text, limit):
    """Where to cut `text` to at most `limit` characters: after its last whole line, if any."""
    newline = text.rfind("\n", 0, limit)
    return newline if newline > 0 else limit


CUT_NOTE = (
    "\n\n… this comment was cut to the forge's 65,536 characters: the job's log has all of it.\n"
)


def capped(body):
    """`body` cut to what GitHub takes (65,536 characters), saying so when it was cut."""
    if len(body) <= LONGEST_COMMENT:
        return body
    return body[: cut_at(body, LONGEST_COMMENT - len(CUT_NOTE))] + CUT_NOTE


def reviewed_checksum(forge, marker):
    """The checksum of the plan reviewed for the merged commit GITHUB_SHA; exits 1 without."""
    sha = required("GITHUB_SHA")
    pull = forge.merged_pull(sha)
    if pull is None:
        raise SystemExit(
            f"plan-comment: no reviewed plan: commit {sha[:12]} is no pull request's merge; run"
            " `boma plan` and `boma up --checksum X` by hand"
        )
    number = pull.get("number")
    head = (pull.get("head") or {}).get("sha") or ""
    comment = forge.ours(number, marker, forge.login())
    if comment is None:
        raise SystemExit(
            f"plan-comment: no reviewed plan: pull request #{number} has no plan comment"
        )
    body = comment.get("body") or ""
    found = re.match(
        re.escape(marker) + r"\n\n## boma plan · checksum `([0-9a-f]+)`\n", body.lstrip()
    )
    if not found:
        raise SystemExit(
            f"plan-comment: no reviewed plan: the plan comment of pull request #{number} shows no"
            " complete plan (boma failed or could not read every part)"
        )
    commit = re.search(r"<sub>For commit ([0-9a-f]+);", body)
    if not commit or not head.startswith(commit.group(1)):
        raise SystemExit(
            f"plan-comment: no reviewed plan: the plan comment of pull request #{number} is for"
            f" commit {commit.group(1) if commit else '(none named)'}, not its last commit"
            f" {head[:12]}"
        )
    return found.group(1)


def required(name):
    value = os.environ.get(name, "").strip()
    if not value:
        raise SystemExit(f"plan-comment: {name} is not set")
    return value


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--marker", default="boma-plan", help="the hidden marker's name (default: boma-plan)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=COMMAND_TIMEOUT_SECONDS,
        help=f"seconds the command may run (default: {COMMAND_TIMEOUT_SECONDS})",
    )
    parser.add_argument(
        "command",
        nargs=argparse.REMAINDER,
        help="the command to run, after --; or reviewed-checksum",
    )
    args = parser.parse_args()
    marker = f"<!-- {args.marker} -->"
    forge = Forge(
        required("GITHUB_API_URL"), required("GITHUB_REPOSITORY"), required("FORGE_TOKEN")
    )
    if args.command == ["reviewed-checksum"]:
        try:
            print(reviewed_checksum(forge, marker))
        except ForgeError as error:
            print(f"::error::plan-comment: {forge.masked(str(error))}", file=sys.stderr)
            return 1
        return 0
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command: plan-comment.py -- boma plan --output markdown")

    number = required("PR_NUMBER")
    if not number.isdigit():
        raise SystemExit(f"plan-comment: PR_NUMBER is not a number: {number}")

    # The command's output goes to the job's log once it ends, and into the comment.
    try:
        run = subprocess.run(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            timeout=args.timeout,
        )
        stdout, stderr = run.stdout, run.stderr
        status = run.returncode if run.returncode >= 0 else 128 - run.returncode
    except subprocess.TimeoutExpired:
        # run() has killed the command; what it printed so far is not kept.
        stdout, stderr = "", f"plan-comment: killed after {args.timeout:g} s (--timeout)\n"
        status = 124
    sys.stderr.write(forge.masked(stderr))
    sys.stdout.write(forge.masked(stdout))
    sys.stdout.flush()
    shown = " ".join([os.path.basename(command[0])] + command[1:2])
    body = capped(
        forge.masked(
            comment_body(marker, shown, status, stdout, stderr, os.environ.get("HEAD_SHA", ""))
        )
    )

    failed = False
    try:
        ours = forge.ours(number, marker, forge.login())
        if ours is None:
            created = forge.create(number, body)
            print(f"plan-comment: created comment {created.get('id')}", file=sys.stderr)
        elif ours.get("body") == body:
            print(
                f"plan-comment: comment {ours.get('id')} already shows this plan", file=sys.stderr
            )
        else:
            forge.update(ours["id"], body)
            print(f"plan-comment: updated comment {ours['id']}", file=sys.stderr)
    except ForgeError as error:
        print(f"::error::plan-comment: {forge.masked(str(error))}", file=sys.stderr)
        failed = True

    if status >= 2:
        print(f"::error::{shown} failed with exit {status}", file=sys.stderr)
        return status
    if status == 1:
        print(
            f"::warning::{shown} could not read every part (exit 1); the plan is incomplete",
            file=sys.stderr,
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
