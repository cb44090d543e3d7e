"""The text of a mediation agreement (调解协议书), as the parties sign it.

`render_agreement` turns a mediator's draft into the exact text the parties sign: the case's
`Agreement.digest` hashes that text with the amount and due date, so any edit changes the hash
and voids every signature. The text is in the case's language (Simplified Chinese unless the
consumer chose English), from the catalogue (`odr.i18n`).
"""

from __future__ import annotations

from odr.domain.agreements import AgreementDraft, AgreementParties
from odr.domain.money import yuan
from odr.i18n import NC_, translate_in
from odr.times import format_last_day

#: The agreement's words, in English; the catalogue (context ``agreement``) translates them.
_TEXT: dict[str, str] = {
    "title": NC_("agreement", "Mediation agreement"),
    "case": NC_("agreement", "Case number: %(number)s"),
    "parties": NC_("agreement", "Parties"),
    "consumer": NC_("agreement", "Applicant (consumer): %(name)s"),
    "insurer": NC_("agreement", "Respondent (insurer): %(name)s"),
    "policies": NC_("agreement", "Policies concerned: %(numbers)s"),
    "mediator": NC_("agreement", "Mediator: %(name)s (%(centre)s)"),
    "facts": NC_("agreement", "1. Facts of the dispute"),
    "terms": NC_("agreement", "2. Terms agreed"),
    "payment": NC_("agreement", "3. Performance"),
    "pay": NC_("agreement", "The respondent pays the applicant CNY %(amount)s by %(due)s."),
    "no_payment": NC_("agreement", "This agreement involves no payment."),
    "confidentiality": NC_("agreement", "4. Confidentiality"),
    "confidential": NC_(
        "agreement",
        "The parties keep the mediation and this agreement confidential, except where the "
        "law requires otherwise.",
    ),
    "open": NC_("agreement", "This agreement is not confidential."),
    "closing": NC_("agreement", "5. Other"),
    "effect": NC_(
        "agreement",
        "This agreement takes effect when every party has signed it and the mediator has "
        "countersigned. The parties may jointly apply to the competent people's court for "
        "judicial confirmation within thirty days of that date.",
    ),
}


def render_agreement(parties: AgreementParties, draft: AgreementDraft, lang: str = "zh-CN") -> str:
    """The agreement's full text, as signed."""
    t = {key: translate_in(lang, "agreement", text) for key, text in _TEXT.items()}
    lines = [
        t["title"],
        t["case"] % {"number": parties.case_number},
        "",
        t["parties"],
        t["consumer"] % {"name": parties.consumer_name},
        t["insurer"] % {"name": parties.insurer_name},
    ]
    if parties.policy_numbers:
        lines.append(t["policies"] % {"numbers": ", ".join(parties.policy_numbers)})
    lines += [
        t["mediator"] % {"name": parties.mediator_name, "centre": parties.centre_name},
        "",
        t["facts"],
        draft.facts,
        "",
        t["terms"],
        draft.terms,
        "",
        t["payment"],
    ]
    if draft.amount_fen and draft.due_on is not None:
        due = format_last_day(draft.due_on, lang)
        lines.append(t["pay"] % {"amount": yuan(draft.amount_fen), "due": due})
    else:
        lines.append(t["no_payment"])
    lines += [
        "",
        t["confidentiality"],
        t["confidential"] if draft.confidential else t["open"],
        "",
        t["closing"],
        t["effect"],
    ]
    return "\n".join(lines)
