"""Every text people read (pages, PDFs, notifications, invitations) is in the Chinese
catalogue."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
METHODS = [
    ("odr/**.py", "python"),
    ("web/**.py", "python"),
    ("signaling/**.py", "python"),
    ("web/templates/**.html", "jinja2"),
]
OPTIONS = {"web/templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def extracted() -> set[tuple[str | None, str]]:
    """(context, message) of every marked text."""
    keywords = {
        "_": None,
        "gettext": None,
        "ngettext": (1, 2),
        "ngettext_": (1, 2),
        "N_": None,
        "NC_": ((1, "c"), 2),
    }
    found = set()
    for _file, _line, message, _comments, context in extract_from_dir(
        str(ROOT), METHODS, OPTIONS, keywords=keywords
    ):
        found.add((context, message if isinstance(message, str) else message[0]))
    return found


def test_every_message_has_a_chinese_translation() -> None:
    with (ROOT / "odr/translations/zh_CN/LC_MESSAGES/messages.po").open("rb") as fh:
        catalog = read_po(fh)
    translated = {
        (m.context, m.id if isinstance(m.id, str) else m.id[0])  # a plural by its singular
        for m in catalog
        if m.id and m.string and not m.fuzzy and (isinstance(m.string, str) or all(m.string))
    }
    messages = extracted()
    assert len(messages) > 50
    missing = sorted(messages - translated)
    assert missing == [], f"untranslated: {missing}"
