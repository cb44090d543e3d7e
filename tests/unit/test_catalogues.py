"""Every text the pages show is in the Chinese catalogue."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[2]
METHODS = [("web/**.py", "python"), ("web/templates/**.html", "jinja2")]
OPTIONS = {"web/templates/**.html": {"extensions": "jinja2.ext.i18n"}}


def extracted() -> set[str]:
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    found = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(ROOT), METHODS, OPTIONS, keywords=keywords
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_message_has_a_chinese_translation() -> None:
    with (ROOT / "web/translations/zh_CN/LC_MESSAGES/messages.po").open("rb") as fh:
        catalog = read_po(fh)
    translated = {
        m.id if isinstance(m.id, str) else m.id[0]  # a plural entry is named by its singular
        for m in catalog
        if m.id and m.string and not m.fuzzy and (isinstance(m.string, str) or all(m.string))
    }
    messages = extracted()
    assert len(messages) > 50
    missing = sorted(messages - translated)
    assert missing == [], f"untranslated: {missing}"
