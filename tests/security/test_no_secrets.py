"""No secrets in the repository: keys, tokens and passwords live in the environment, never in tracked files.

The only passwords in the code are documented throwaway logins: the demo password (README), the bench
database's, the tests' and build-time placeholders. Anything else shaped like a secret fails this test.
"""

import re
import shutil
import subprocess
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
THIS_FILE = Path(__file__).resolve()

# Documented throwaway values (README "demo logins", scoring/benchdata.py, tests/factories.py, Dockerfile,
# .ci/run and the local/test settings' fallback key).
ALLOWED_VALUES = {
    "demo-pass-2026",
    "bench-only-password",
    "correct-horse-battery",
    "ci-placeholder",
    "build-only-placeholder-build-only-placeholder-build-only",
    "local-only-insecure-key-never-use-in-production",
}

ALWAYS_SECRET = {
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |DSA |OPENSSH |PGP |ENCRYPTED )?PRIVATE KEY"),
    "AWS access key": re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\bgh[pousr]_[A-Za-z0-9]{36,}\b"),
    "Slack token": re.compile(r"\bxox[abpr]-[A-Za-z0-9-]{10,}"),
    "KAM API key": re.compile(r"\bkam_[0-9a-f]{12}_[A-Za-z0-9_-]{40,}"),
    "webhook signing secret": re.compile(r"\bwhsec_[A-Za-z0-9_-]{40,}"),
    # The README's "postgres://user:pass@host" is the one placeholder allowed.
    "password in a URL": re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]+:(?!\$\{|pass@)[^@\s/'\"]{3,}@"),
}
# NAME = "value" where NAME says it is a secret; checked outside tests, where fake passwords are the point.
ASSIGNED_SECRET = re.compile(
    r"""(?ix)\b[\w.]*(?:password|passwd|secret|token|api_?key|private_?key)\w*
        \s*(?:=|:)\s*["']([^"'\s]{6,})["']"""
)
SECRET_FILE_NAMES = re.compile(r"(^|/)(\.env(\..+)?|id_rsa|id_ed25519|.*\.pem|.*\.key|.*\.p12|.*\.pfx)$")
SKIPPED_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".ico", ".xlsx", ".woff", ".woff2", ".pdf", ".svg"}


def tracked_files() -> list[Path]:
    git = shutil.which("git")
    if git and (PROJECT / ".git").exists():
        listed = subprocess.run(  # noqa: S603 (git with fixed arguments)
            [git, "ls-files", "--cached", "--others", "--exclude-standard"],
            cwd=PROJECT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        return [PROJECT / name for name in listed if (PROJECT / name).is_file()]
    ignored = {".venv", ".git", "staticfiles", "screenshots", "node_modules", "__pycache__", "htmlcov"}
    return [p for p in PROJECT.rglob("*") if p.is_file() and not ignored & set(p.relative_to(PROJECT).parts)]


def findings() -> list[str]:
    found = []
    for path in tracked_files():
        relative = path.relative_to(PROJECT).as_posix()
        if SECRET_FILE_NAMES.search(relative) and not relative.endswith(".env.example"):
            found.append(f"{relative}: a file of the kind that holds secrets is in the repository")
            continue
        if path.suffix.lower() in SKIPPED_SUFFIXES or path.resolve() == THIS_FILE:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        in_tests = relative.startswith("tests/")
        for number, line in enumerate(text.splitlines(), start=1):
            for kind, pattern in ALWAYS_SECRET.items():
                if pattern.search(line):
                    found.append(f"{relative}:{number}: {kind}")
            if in_tests:
                continue
            for match in ASSIGNED_SECRET.finditer(line):
                value = match.group(1)
                if value in ALLOWED_VALUES or value.startswith(("${", "$", "<", "urn:")) or "{" in value:
                    continue
                found.append(f"{relative}:{number}: a literal value for {match.group(0).split()[0]!r}")
    return found


def test_no_secrets_in_the_repository():
    problems = findings()
    assert not problems, "Secrets belong in the environment, not the repository:\n" + "\n".join(problems)


def test_the_scan_finds_what_it_looks_for(tmp_path, monkeypatch):
    """The test above can fail: a planted key, token and password are all reported."""
    planted = tmp_path / "settings.py"
    planted.write_text(
        'DB_PASSWORD = "hunter2-for-real"\n'
        "-----BEGIN RSA PRIVATE KEY-----\n"
        'URL = "postgres://kam:s3cr3tpass@db:5432/kam"\n'
        'KEY = "kam_0123456789ab_' + "x" * 43 + '"\n'
    )
    (tmp_path / ".env").write_text("SECRET_KEY=x\n")
    monkeypatch.setattr(f"{__name__}.PROJECT", tmp_path)
    monkeypatch.setattr(f"{__name__}.tracked_files", lambda: [planted, tmp_path / ".env"])
    problems = "\n".join(findings())
    assert "settings.py:1: a literal value for 'DB_PASSWORD'" in problems
    assert "settings.py:2: private key" in problems
    assert "settings.py:3: password in a URL" in problems
    assert "settings.py:4: KAM API key" in problems
    assert ".env: a file of the kind that holds secrets" in problems
