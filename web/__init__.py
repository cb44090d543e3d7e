"""The pages: server-rendered jinja2 templates, static assets, translations.

It uses `odr`'s services and HTTP plumbing and knows nothing of `signaling`.
"""

from __future__ import annotations

from web.routes import setup

__all__ = ["setup"]
