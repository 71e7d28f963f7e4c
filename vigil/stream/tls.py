"""HTTPS for the streamer: an ``ssl.SSLContext`` from ``[auth] tls_cert`` and ``tls_key``."""

from __future__ import annotations

import ssl
from pathlib import Path

from vigil.errors import ConfigError


def server_ssl_context(cert: Path, key: Path) -> ssl.SSLContext:
    """A server context (TLS 1.2 or newer) serving ``cert`` with ``key``.

    Raises:
        ConfigError: a file is missing or unreadable, or the key does not match the certificate.
    """
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    for setting, path in (("tls_cert", cert), ("tls_key", key)):
        if not path.is_file():
            raise ConfigError(f"[auth] {setting} {str(path)!r}: no such file")
    try:
        context.load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"[auth] tls_cert {str(cert)!r} / tls_key {str(key)!r}: cannot be used: {exc}") from None
    return context
