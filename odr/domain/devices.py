"""A browser's user agent, summarised for the list of a person's login sessions."""

from __future__ import annotations

MAX_DEVICE = 100

#: (marker in the user agent, name shown), the first that matches wins: the order matters
#: (Edge and Opera also say Chrome, Chrome also says Safari).
_BROWSERS = (
    ("MicroMessenger", "WeChat"),
    ("Edg/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("HeadlessChrome", "Chrome"),
    ("Chrome/", "Chrome"),
    ("Chromium/", "Chromium"),
    ("Safari/", "Safari"),
)
_SYSTEMS = (
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("HarmonyOS", "HarmonyOS"),
    ("Windows", "Windows"),
    ("Mac OS X", "macOS"),
    ("Macintosh", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def summarise_user_agent(user_agent: str | None) -> str:
    """ "Chrome · Windows", "WeChat · Android", …; "?" for what is not recognised. Never the
    whole string: the list shows what a person recognises, not a fingerprint."""
    ua = (user_agent or "")[:1000]
    browser = next((name for marker, name in _BROWSERS if marker in ua), None)
    system = next((name for marker, name in _SYSTEMS if marker in ua), None)
    if browser is None and system is None:
        return "?"
    return " · ".join(x for x in (browser, system) if x)[:MAX_DEVICE]
