"""The outcome documents laid out as PDFs: the signed agreement (its text, every signature
and the hash of the text signed) and the letter of a referral or judicial-confirmation package.
Pure: data in, bytes out."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from odr.domain.money import yuan
from odr.i18n import LANGUAGES, NC_, translate_in
from odr.services.pdf import Heading, Table, Text, record_hash, render_pdf
from odr.times import format_day, format_deadline, format_stored

# --- the agreement as a PDF --------------------------------------------------------------------

#: The agreement PDF's words, in English; the catalogue (context ``agreement``) translates
#: them.
_PDF_LABELS: dict[str, str] = {
    "title": NC_("agreement", "Mediation agreement"),
    "subtitle": NC_("agreement", "Case %(number)s · text SHA-256 %(sha)s"),
    "signatures": NC_("agreement", "Signatures"),
    "party": NC_("agreement", "Party"),
    "name": NC_("agreement", "Signed by"),
    "at": NC_("agreement", "Time"),
    "method": NC_("agreement", "Method"),
    "hash": NC_("agreement", "SHA-256 of the text signed"),
    "none": NC_("agreement", "Not signed yet."),
    "consumer": NC_("agreement", "Consumer"),
    "insurer": NC_("agreement", "Insurer"),
    "mediator": NC_("agreement", "Mediator (countersignature)"),
    "password": NC_("agreement", "Password"),
    "password+totp": NC_("agreement", "Password + one-time code"),
    "sms_code": NC_("agreement", "SMS code"),
    "sms_code+totp": NC_("agreement", "SMS code + one-time code"),
    "amount": NC_("agreement", "Amount: CNY %(amount)s; due by %(due)s"),
}


def agreement_pdf(number: str, data: dict[str, Any], zone: ZoneInfo) -> bytes:
    """The agreement in its language; signing times in ``zone``, a deadline as its last day."""
    agreement = data["agreement"]
    lang = agreement.get("language")
    t = {key: translate_in(lang, "agreement", text) for key, text in _PDF_LABELS.items()}
    lines = agreement["text"].split("\n")
    body = "\n".join(lines[1:])  # the first line is the title
    rows = [[t["party"], t["name"], t["at"], t["method"], t["hash"]]]
    for sig in data["signatures"]:
        rows.append(
            [
                t.get(sig["party"], sig["party"]),
                sig["name"],
                format_stored(sig["at"], lang, zone),
                t.get(sig["method"], sig["method"]),
                sig["sha256"] or "",
            ]
        )
    blocks: list[Any] = [Text(body)]
    if agreement.get("amount_fen"):
        blocks.append(
            Text(
                t["amount"]
                % {
                    "amount": yuan(agreement["amount_fen"]),
                    "due": format_stored(agreement["due_on"], lang, zone, deadline=True),
                }
            )
        )
    blocks.append(Heading(t["signatures"]))
    blocks.append(
        Table(rows, widths=(0.16, 0.14, 0.2, 0.14, 0.36)) if len(rows) > 1 else Text(t["none"])
    )
    return render_pdf(
        t["title"],
        blocks,
        lang=lang,
        subtitle=t["subtitle"] % {"number": number, "sha": agreement["sha256"]},
        footer=f"{number} · SHA-256 {agreement['sha256']}",
    )


#: The package letters' words, in English; each letter says them in Chinese, then in English
#: (catalogue context ``package letter``).
_LETTER: dict[str, dict[str, str]] = {
    "referral": {
        "title": NC_("package letter", "Referral after mediation"),
        "body": NC_(
            "package letter",
            "Case %(number)s was not settled in mediation (reason: %(reason)s). It is referred "
            "to %(forum)s, with the parties' details and the evidence bundle "
            "(evidence-bundle.zip, verifiable offline with odr verify-bundle).",
        ),
    },
    "confirmation": {
        "title": NC_("package letter", "Judicial confirmation package"),
        "body": NC_(
            "package letter",
            "The agreement of case %(number)s took effect on %(effective)s. The parties may "
            "jointly apply to the competent people's court for judicial confirmation until "
            "%(ends)s. Enclosed: the agreement, the parties' details and the evidence bundle. "
            "Agreement text SHA-256: %(sha)s",
        ),
    },
}
#: Where a case not settled is referred.
_FORUMS = {
    "arbitration": NC_("package letter", "arbitration"),
    "court": NC_("package letter", "a court"),
}
_APPLICANT = NC_("package letter", "Applicant")
_RESPONDENT = NC_("package letter", "Respondent")
_MEDIATOR = NC_("package letter", "Mediator")
_PARTIES = NC_("package letter", "Parties")


def _both(separator: str, message: str, **variables: Any) -> str:
    """``message`` in Chinese, then in English (`LANGUAGES`, in order)."""
    return separator.join(
        translate_in(lang, "package letter", message, **variables) for lang in LANGUAGES
    )


def package_letter(
    kind: str,
    data: dict[str, Any],
    parties: dict[str, Any],
    window: dict[str, Any] | None,
    forum: str,
    zone: ZoneInfo,
) -> bytes:
    t = _LETTER[kind]
    number = data["case"]["number"]
    o = data["outcome"]
    if kind == "referral":
        reason = o["not_settled_reason"] or ""
        body = "\n".join(
            translate_in(
                lang,
                "package letter",
                t["body"],
                number=number,
                reason=reason,
                forum=translate_in(lang, "package letter", _FORUMS[forum]),
            )
            for lang in LANGUAGES
        )
    else:
        assert window is not None
        body = "\n".join(
            translate_in(
                lang,
                "package letter",
                t["body"],
                number=number,
                effective=format_day(window["effective_on"], lang, zone),
                ends=format_deadline(window["ends_on"], lang, zone),
                sha=o["agreement_sha256"],
            )
            for lang in LANGUAGES
        )
    rows = [
        [
            _both(" ", _APPLICANT),
            parties["applicant"]["name"],
            parties["applicant"]["mobile"] or "",
        ],
        [_both(" ", _RESPONDENT), parties["respondent"]["name"], ""],
        [
            _both(" ", _MEDIATOR),
            parties["mediator"]["name"],
            f"{parties['mediator']['organisation']} {parties['mediator']['badge_number'] or ''}",
        ],
    ]
    return render_pdf(
        _both(" / ", t["title"]),
        [
            Text(body),
            Heading(_both(" ", _PARTIES)),
            Table(rows, header=False, widths=(0.3, 0.3, 0.4)),
        ],
        lang=None,
        subtitle=number,
        footer=f"{number} · {record_hash(None, data['chain_head'])}",
    )
