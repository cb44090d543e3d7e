"""The complaint categories (the regulator's classes), shared by cases and triage."""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    CLAIMS = "claims"
    SURRENDER = "surrender"
    MIS_SELLING = "mis_selling"
    CALL_BACK = "call_back"
    PAYMENT_REFUND = "payment_refund"
    PREMIUM_RENEWAL = "premium_renewal"
    PRIVACY = "privacy"
    SERVICE = "service"
    OTHER = "other"
