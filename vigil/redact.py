"""Credentials never leave the process in clear: the one place that hides them.

Every source URL, broker URL or result-backend URL that is logged, shown (``/cameras``,
``vigil settings``, reports) or put in an error message goes through :func:`redact`:
``rtsp://user:pw@host/x`` becomes ``rtsp://user:***@host/x``; ``redis://:pw@host`` becomes
``redis://:***@host``. It works on a bare URL and on any text with URLs in it, so a logging
filter (``vigil.logs``) can apply it to every line, including third-party libraries' lines.
"""

from __future__ import annotations

import re

MASK = "***"

# scheme://[user]:password@  -- the password runs to the last '@' before the host (an
# unescaped '@' inside a camera's password is common), never past a '/' or whitespace.
_USERINFO = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^:/@\s]*):(?P<password>[^\s/]*)@")
# ?password=...&token=... in a query string
_QUERY_SECRET = re.compile(r"(?P<head>[?&](?:password|passwd|pwd|token|secret|api_key|apikey)=)[^&\s#]*",
                           re.IGNORECASE)


def redact(text: str) -> str:
    """``text`` with every password in a URL (userinfo or a secret query parameter) replaced by ``***``."""
    if "://" not in text and "=" not in text:
        return text  # the common case: no URL at all, nothing to scan
    text = _USERINFO.sub(lambda m: f"{m['head']}:{MASK}@", text)
    return _QUERY_SECRET.sub(lambda m: f"{m['head']}{MASK}", text)
