"""Notifications: the in-app inbox, and e-mail and SMS through the outbox.

Texts exist in both languages; each recipient gets theirs (the language saved on the account,
else Chinese). The outbox row is written in the same transaction as the change it reports, so a
message is never lost; `odr.services.outbox` sends it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from odr.storage.models import Membership, Notification, OutboxMessage, User

DEFAULT_LANGUAGE = "zh-CN"

#: kind -> language -> (subject, body); bodies are str.format templates over the params.
TEXTS: dict[str, dict[str, tuple[str, str]]] = {
    "case_received": {
        "zh-CN": (
            "已收到您的投诉 {number}",
            "您的投诉已登记，案件编号 {number}。保险公司须在 {due} 前答复，我们会及时通知您进展。",
        ),
        "en": (
            "Complaint {number} received",
            "Your complaint is registered as {number}. The insurer must answer by {due}; "
            "we will tell you as soon as anything happens.",
        ),
    },
    "case_new": {
        "zh-CN": ("新投诉待答复 {number}", "投诉 {number} 已分配给贵公司，请在 {due} 前答复。"),
        "en": (
            "New complaint to answer: {number}",
            "Complaint {number} is waiting for your answer, due by {due}.",
        ),
    },
    "case_answered": {
        "zh-CN": (
            "保险公司已答复 {number}",
            "保险公司已答复您的投诉 {number}。请登录查看，并选择接受、不接受或申请调解。",
        ),
        "en": (
            "The insurer answered {number}",
            "The insurer answered complaint {number}. Log in to read it and accept it, "
            "reject it or ask for mediation.",
        ),
    },
    "extension_approved": {
        "zh-CN": (
            "处理期限已延长 {number}",
            "投诉 {number} 的处理期限已延长至 {due}。原因：{reason}",
        ),
        "en": (
            "Deadline extended for {number}",
            "The deadline for complaint {number} is now {due}. Reason: {reason}",
        ),
    },
    "reminder": {
        "zh-CN": ("催办：{number} 即将到期", "投诉 {number} 将于 {due} 到期，请尽快处理。"),
        "en": ("Reminder: {number} is due soon", "Complaint {number} is due by {due}."),
    },
    "escalated": {
        "zh-CN": (
            "投诉已升级 {number}",
            "投诉 {number} 已超过处理期限（{due}），已升级至监管人员。",
        ),
        "en": (
            "Complaint {number} escalated",
            "Complaint {number} passed its deadline ({due}) and was escalated to supervisors.",
        ),
    },
    "message_received": {
        "zh-CN": ("新消息 {number}", "案件 {number} 有一条新消息，请登录查看。"),
        "en": ("New message on {number}", "There is a new message on case {number}."),
    },
    "cluster_warning": {
        "zh-CN": (
            "风险预警：{insurer} 相似投诉聚集",
            "近期针对 {insurer} 的相似投诉已达 {count} 件（类别：{category}），请关注。",
        ),
        "en": (
            "Early warning: similar complaints against {insurer}",
            "{count} similar complaints against {insurer} ({category}) arrived recently.",
        ),
    },
    "state_changed": {
        "zh-CN": ("案件进展 {number}", "案件 {number} 有新进展，请登录查看。"),
        "en": ("Update on {number}", "Case {number} has moved on. Log in to see what changed."),
    },
    # `odr.services.callbacks`: the number is masked here, shown whole in the inbox
    "callback_requested": {
        "zh-CN": (
            "回电请求 {number}",
            "{name}（案件 {number}）请求回电，时间：{time_zh}，电话 {phone_masked}。"
            "请登录查看完整号码并尽快联系。",
        ),
        "en": (
            "Call-back request on {number}",
            "{name} (case {number}) asks to be called back {time_en} on {phone_masked}. "
            "Log in to see the whole number.",
        ),
    },
    "callback_requested_general": {
        "zh-CN": (
            "回电请求",
            "{name} 请求回电，时间：{time_zh}，电话 {phone_masked}。请登录查看完整号码并尽快联系。",
        ),
        "en": (
            "Call-back request",
            "{name} asks to be called back {time_en} on {phone_masked}. "
            "Log in to see the whole number.",
        ),
    },
    # hearings (odr.services.invitations)
    "hearing_proposed": {
        "zh-CN": (
            "请选择听证会时间 {number}",
            "调解员为案件 {number} 提出了听证会时间，请登录选择您能参加的时间：{url}",
        ),
        "en": (
            "Choose your hearing times for {number}",
            "The mediator proposed times for the hearing of case {number}. "
            "Log in and tick the times you can attend: {url}",
        ),
    },
    "hearing_invitation": {
        "zh-CN": (
            "听证会邀请 {number}：{when}",
            "案件 {number} 的视频听证会定于 {when}（{zone}），时长约 {minutes} 分钟。"
            "开始前 30 分钟起可进入。附件为日历邀请。请提前检查摄像头和麦克风：{url}",
        ),
        "en": (
            "Hearing invitation {number}: {when}",
            "The video hearing of case {number} is set for {when} ({zone}) and lasts about "
            "{minutes} minutes. You can come in from 30 minutes before. The calendar "
            "invitation is attached. Please check your camera and microphone beforehand: {url}",
        ),
    },
    "hearing_rescheduled": {
        "zh-CN": (
            "听证会改期 {number}",
            "案件 {number} 的听证会需要改期，原定时间不再有效。原因：{reason}。"
            "请登录选择新的时间：{url}",
        ),
        "en": (
            "Hearing of {number} to be rescheduled",
            "The hearing of case {number} is being rescheduled; the earlier time no longer "
            "holds. Reason: {reason}. Log in and tick the new times you can attend: {url}",
        ),
    },
    "hearing_cancelled": {
        "zh-CN": (
            "听证会已取消 {number}",
            "案件 {number} 的听证会已取消。原因：{reason}。{url}",
        ),
        "en": (
            "Hearing of {number} cancelled",
            "The hearing of case {number} was cancelled. Reason: {reason}. {url}",
        ),
    },
    "hearing_reminder_24h": {
        "zh-CN": (
            "明天听证会提醒 {number}：{when}",
            "案件 {number} 的视频听证会将于 {when}（{zone}）开始。请提前检查摄像头和麦克风：{url}",
        ),
        "en": (
            "Hearing tomorrow, {number}: {when}",
            "The video hearing of case {number} starts at {when} ({zone}). "
            "Please check your camera and microphone beforehand: {url}",
        ),
    },
    "hearing_reminder_15m": {
        "zh-CN": (
            "听证会即将开始 {number}",
            "案件 {number} 的视频听证会将于 {when}（{zone}）开始，现在即可进入：{url}",
        ),
        "en": (
            "Your hearing starts soon, {number}",
            "The video hearing of case {number} starts at {when} ({zone}). "
            "You can come in now: {url}",
        ),
    },
    "mediator_assigned_by_choice": {
        "zh-CN": (
            "调解员已确定 {number}",
            "双方选择了同一位调解员（{mediator}），案件 {number} 已分配给该调解员。{url}",
        ),
        "en": (
            "Mediator agreed for {number}",
            "Both sides chose the same mediator ({mediator}); case {number} is now "
            "assigned to them. {url}",
        ),
    },
}


def render(kind: str, language: str | None, params: Mapping[str, Any]) -> tuple[str, str]:
    texts = TEXTS[kind]
    subject, body = texts.get(language or DEFAULT_LANGUAGE, texts[DEFAULT_LANGUAGE])
    values = {k: ("" if v is None else v) for k, v in params.items()}
    return subject.format(**values), body.format(**values)


@dataclass(frozen=True, slots=True)
class Recipient:
    user_id: int
    email: str | None
    mobile: str | None
    language: str | None


def recipient(user: User) -> Recipient:
    return Recipient(user.id, user.email, user.mobile, user.locale)


async def staff_of(session: AsyncSession, organisation_id: int, role: str) -> list[Recipient]:
    stmt = (
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(
            Membership.organisation_id == organisation_id,
            Membership.role == role,
            Membership.ended_on.is_(None),
            User.active.is_(True),
        )
    )
    return [recipient(u) for u in (await session.execute(stmt)).scalars()]


async def users_with_role(session: AsyncSession, role: str) -> list[Recipient]:
    stmt = select(User).where(User.role == role, User.active.is_(True))
    return [recipient(u) for u in (await session.execute(stmt)).scalars()]


def notify(
    session: AsyncSession,
    recipients: Iterable[Recipient],
    *,
    kind: str,
    key: str,
    case_id: int | None,
    params: Mapping[str, Any],
    now: datetime,
    email: bool = True,
    sms: bool = False,
    attachment: Callable[[Recipient], list[dict[str, str]]] | None = None,
) -> None:
    """Add inbox entries and outbox messages to the session (the caller commits).
    ``key`` names the occasion; with the recipient and medium it makes each outbox row unique,
    so reporting the same occasion twice sends nothing twice."""
    seen: set[int] = set()
    for r in recipients:
        if r.user_id in seen:
            continue
        seen.add(r.user_id)
        session.add(
            Notification(
                user_id=r.user_id, case_id=case_id, kind=kind, params=dict(params), created_at=now
            )
        )
        subject, body = render(kind, r.language, params)
        if email and r.email:
            session.add(
                OutboxMessage(
                    key=f"{key}:{r.user_id}:email",
                    medium="email",
                    recipient=r.email,
                    subject=subject,
                    body=body,
                    next_attempt_at=now,
                    created_at=now,
                    attachments=None if attachment is None else attachment(r),
                )
            )
        if (sms or not r.email) and r.mobile:
            session.add(
                OutboxMessage(
                    key=f"{key}:{r.user_id}:sms",
                    medium="sms",
                    recipient=r.mobile,
                    subject=subject,
                    body=body,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
