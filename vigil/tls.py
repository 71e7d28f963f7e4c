"""TLS to RabbitMQ (``amqps://``) and Redis (``rediss://``): one place that turns the ``tls_*``
settings into what each client library wants.

Every connection Vigil opens goes through these: Celery's (``broker_use_ssl``,
``redis_backend_use_ssl``, used by workers and the capture dispatcher), the streamer's feed
consumer and queue probe (kombu), and its result listener and event store (redis-py).

- ``tls_ca_file``: the CA bundle that signed the servers' certificates (default: the system's).
- ``tls_cert_file`` / ``tls_key_file``: a client certificate, for servers that require one.

The server's certificate is always verified, its host name included: a URL's host must be a name
or address the certificate lists.
"""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import urlsplit

from vigil.errors import ConfigError
from vigil.settings import Settings


def broker_uses_tls(url: str) -> bool:
    return url.startswith(("amqps://", "pyamqps://"))


def redis_uses_tls(url: str) -> bool:
    return url.startswith("rediss://")


def _check(settings: Settings) -> None:
    if bool(settings.tls_cert_file) != bool(settings.tls_key_file):
        raise ConfigError("tls_cert_file and tls_key_file go together: set both (a client certificate) or neither")


def broker_ssl(settings: Settings) -> dict[str, Any] | None:
    """The ``ssl`` argument of a kombu ``Connection`` (and Celery's ``broker_use_ssl``), or None for ``amqp://``.

    Raises:
        ConfigError: only one of the client certificate and key is set.
    """
    if not broker_uses_tls(settings.broker_url):
        return None
    _check(settings)
    options: dict[str, Any] = {"cert_reqs": ssl.CERT_REQUIRED}
    host = urlsplit(settings.broker_url.split(";")[0]).hostname
    if host:
        options["server_hostname"] = host  # py-amqp checks the host name only when it is given
    if settings.tls_ca_file:
        options["ca_certs"] = settings.tls_ca_file
    if settings.tls_cert_file:
        options["certfile"] = settings.tls_cert_file
        options["keyfile"] = settings.tls_key_file
    return options


def redis_ssl(settings: Settings, url: str | None = None) -> dict[str, Any]:
    """Keyword arguments of ``redis.Redis.from_url`` for ``url`` (default: the result backend); empty for ``redis://``.

    Raises:
        ConfigError: only one of the client certificate and key is set.
    """
    if not redis_uses_tls(settings.result_backend if url is None else url):
        return {}
    _check(settings)
    options: dict[str, Any] = {"ssl_cert_reqs": "required", "ssl_check_hostname": True}
    if settings.tls_ca_file:
        options["ssl_ca_certs"] = settings.tls_ca_file
    if settings.tls_cert_file:
        options["ssl_certfile"] = settings.tls_cert_file
        options["ssl_keyfile"] = settings.tls_key_file
    return options


def celery_redis_ssl(settings: Settings) -> dict[str, Any] | None:
    """Celery's ``redis_backend_use_ssl`` (redis-py's names, ``ssl_cert_reqs`` as an ``ssl`` constant)."""
    options = redis_ssl(settings)
    if not options:
        return None
    return {**options, "ssl_cert_reqs": ssl.CERT_REQUIRED}
