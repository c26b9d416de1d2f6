"""Template source rules that Django does not enforce itself."""

from pathlib import Path

from django.conf import settings

TEMPLATE_DIRS = [Path(settings.BASE_DIR) / "templates"]


def _templates():
    for root in TEMPLATE_DIRS:
        yield from sorted(root.rglob("*.html"))


def test_every_short_comment_closes_on_its_own_line():
    """`{# ... #}` is a one-line comment: one spread over lines is printed on the page as text (it was, on the
    account page). Longer comments use {% comment %}."""
    unclosed = [
        f"{path.relative_to(settings.BASE_DIR)}:{number}"
        for path in _templates()
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if line.count("{#") > line.count("#}")
    ]
    assert unclosed == []


def test_the_rule_sees_the_templates():
    assert sum(1 for _ in _templates()) > 40
