"""`/graphql` against the GraphQL-over-HTTP spec, as checked by the reference audit.

`graphql-http` (the spec's reference implementation) ships `auditServer`, which sends a
real server the requests the spec talks about and grades each answer MUST / SHOULD / MAY.
We install a pinned version with npm into a cache directory, start the API under uvicorn
on the test database, and run `audit.mjs` against it: every MUST passes, and the SHOULDs
and MAYs that pass today are pinned so a transport change cannot quietly lose one.

Every SHOULD of the pinned version passes today, so `SHOULD_FAILURES` is empty. If one
has to be given up, move its id there with the reason (the test then insists it still
fails, so fixing it later is noticed too).

Needs `node` (18+, for the global `fetch`) and `npm`; skipped without them. The npm
registry must be reachable the first time (later runs reuse the cache). About 5 s warm.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import pytest

from tests.realtime.support import running_server

GRAPHQL_HTTP_VERSION = "1.23.1"
GRAPHQL_JS_VERSION = "16.9.0"  # graphql-http's peer dependency (its index imports it)
AUDIT_SCRIPT = Path(__file__).with_name("audit.mjs")

# graphql-http 1.23.1's audits, by id (the ids are stable across its releases).
MUSTS = {
    "4655", "82A3", "BF61", "78D5", "2C94", "03D4", "13EE", "B8B3", "0220", "0221", "0222",
    "28B9", "1B7A",
}  # fmt: skip
SHOULD_PASSES = {
    # content negotiation: graphql-response+json honoured, */* and no Accept -> JSON
    "22EB", "47DE", "80D8",
    # POST without Content-Type -> 4xx
    "9ABE",
    # string query / operationName, null and map variables / operationName / extensions,
    # under application/graphql-response+json
    "34A2", "8161", "94B0", "94B1", "94B2", "2EA1", "428F",
    # malformed JSON -> 400 under either media type
    "BCF8", "B7N8",
    # request errors: 200 under application/json (legacy clients) ...
    "572B", "FDE2", "7B9B",
    # ... 400 and no `data` entry under application/graphql-response+json
    "865D", "556A", "D586", "51FE", "74FF", "5E5B", "86EE",
}  # fmt: skip
# id -> why it fails (none today).
SHOULD_FAILURES: dict[str, str] = {}
MAY_PASSES = {
    # GET with URL-encoded variables; mutations refused over GET (405, Allow: POST)
    "5A70", "D6D5", "6A70", "9C48",
    # 400 for a missing body or a malformed query / operationName / variables / extensions
    "A5BF", "423L", "LKJ0", "LKJ1", "LKJ2", "LKJ3", "6C00", "6C01", "6C02", "6C03",
    "4760", "4761", "4762", "4763", "58B0", "58B1", "58B2", "58B3",
    "B6DC", "8764", "3E3A",
}  # fmt: skip


def _node_major(node: str) -> int:
    version = subprocess.run(  # noqa: S603 - the node found on PATH
        [node, "--version"], capture_output=True, text=True, check=True, timeout=30
    ).stdout.strip()
    return int(version.lstrip("v").split(".")[0])


def _installed(prefix: Path) -> bool:
    manifest = prefix / "node_modules" / "graphql-http" / "package.json"
    try:
        return bool(json.loads(manifest.read_text())["version"] == GRAPHQL_HTTP_VERSION)
    except (OSError, ValueError, KeyError):
        return False


def _install(npm: str) -> Path:
    """The pinned packages in `$TMPDIR/prm-graphql-http-<version>`, installed once."""
    prefix = Path(tempfile.gettempdir()) / f"prm-graphql-http-{GRAPHQL_HTTP_VERSION}"
    if _installed(prefix):
        return prefix
    prefix.mkdir(parents=True, exist_ok=True)
    # A manifest of its own keeps npm from walking up into some enclosing project.
    (prefix / "package.json").write_text(
        json.dumps(
            {
                "private": True,
                "dependencies": {
                    "graphql-http": GRAPHQL_HTTP_VERSION,
                    "graphql": GRAPHQL_JS_VERSION,
                },
            }
        )
    )
    result = subprocess.run(  # noqa: S603 - npm from PATH, fixed arguments
        [npm, "install", "--no-audit", "--no-fund", "--no-package-lock", "--loglevel=error"],
        cwd=prefix,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 0, f"npm install failed:\n{result.stderr}"
    assert _installed(prefix), f"npm install left no graphql-http {GRAPHQL_HTTP_VERSION}"
    return prefix


@pytest.fixture(scope="module")
def audit(owner_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The audit's results against a live server, by audit id."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node and npm are needed for graphql-http's audit")
    if _node_major(node) < 18:
        pytest.skip("graphql-http's audit needs node 18+ (global fetch)")
    prefix = _install(npm)
    with running_server(owner_url, tmp_path_factory.mktemp("audit-data")) as base:
        result = subprocess.run(  # noqa: S603 - our script, our server
            [node, str(AUDIT_SCRIPT), f"{base}/graphql", str(prefix)],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "NODE_NO_WARNINGS": "1"},
        )
    assert result.returncode == 0, result.stderr
    return {row["id"]: row for row in json.loads(result.stdout)}


def _failures(results: dict[str, Any], ids: set[str]) -> list[str]:
    return [
        f"{i} {results[i]['name']}: {results[i]['reason']} "
        f"(HTTP {results[i]['httpStatus']}, {results[i]['contentType']})"
        for i in sorted(ids)
        if results[i]["status"] != "ok"
    ]


def test_the_pinned_audit_runs_what_we_pinned(audit: dict[str, Any]) -> None:
    expected = MUSTS | SHOULD_PASSES | set(SHOULD_FAILURES) | MAY_PASSES
    assert set(audit) == expected
    assert {i for i, row in audit.items() if row["name"].startswith("MUST ")} == MUSTS
    shoulds = {i for i, row in audit.items() if row["name"].startswith("SHOULD ")}
    assert shoulds == SHOULD_PASSES | set(SHOULD_FAILURES)


def test_every_must_passes(audit: dict[str, Any]) -> None:
    assert _failures(audit, MUSTS) == []


def test_the_shoulds_that_pass_keep_passing(audit: dict[str, Any]) -> None:
    assert _failures(audit, SHOULD_PASSES) == []


def test_the_known_should_failures_still_fail(audit: dict[str, Any]) -> None:
    fixed = [i for i in SHOULD_FAILURES if audit[i]["status"] == "ok"]
    assert fixed == [], "now passing: move these to SHOULD_PASSES"


def test_the_mays_we_chose_keep_passing(audit: dict[str, Any]) -> None:
    assert _failures(audit, MAY_PASSES) == []
