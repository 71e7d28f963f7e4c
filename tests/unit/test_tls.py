"""The tls_* settings turned into each client's options (pure)."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from vigil.celery_config import build
from vigil.errors import ConfigError
from vigil.settings import Settings
from vigil.tls import broker_ssl, celery_redis_ssl, redis_ssl


@pytest.fixture
def pem(tmp_path: Path) -> dict[str, str]:
    files = {}
    for name in ("ca", "cert", "key"):
        path = tmp_path / f"{name}.pem"
        path.write_text("-----BEGIN-----\n")
        files[name] = str(path)
    return files


def settings(**values: str) -> Settings:
    return Settings.load(environ={f"VIGIL_{k.upper()}": v for k, v in values.items()})


def test_plain_urls_use_no_tls(pem):
    plain = settings(tls_ca_file=pem["ca"])
    assert (broker_ssl(plain), redis_ssl(plain), celery_redis_ssl(plain)) == (None, {}, None)
    assert "broker_use_ssl" not in build(plain) and "redis_backend_use_ssl" not in build(plain)


def test_tls_urls_verify_the_server_with_the_ca_and_present_the_client_certificate(pem):
    given = settings(broker_url="amqps://u:p@rabbit.local:5671/vigil", result_backend="rediss://redis.local:6380/0",
                     tls_ca_file=pem["ca"], tls_cert_file=pem["cert"], tls_key_file=pem["key"])
    assert broker_ssl(given) == {"cert_reqs": ssl.CERT_REQUIRED, "server_hostname": "rabbit.local",
                                 "ca_certs": pem["ca"], "certfile": pem["cert"], "keyfile": pem["key"]}
    assert redis_ssl(given) == {"ssl_cert_reqs": "required", "ssl_check_hostname": True, "ssl_ca_certs": pem["ca"],
                                "ssl_certfile": pem["cert"], "ssl_keyfile": pem["key"]}
    celery = build(given)
    assert celery["broker_use_ssl"] == broker_ssl(given)
    assert celery["redis_backend_use_ssl"]["ssl_cert_reqs"] == ssl.CERT_REQUIRED


def test_without_a_ca_the_system_cas_verify(pem):
    given = settings(broker_url="amqps://rabbit.local//")
    assert broker_ssl(given) == {"cert_reqs": ssl.CERT_REQUIRED, "server_hostname": "rabbit.local"}


def test_a_certificate_without_its_key_is_refused(pem):
    given = settings(broker_url="amqps://rabbit.local//", tls_cert_file=pem["cert"])
    with pytest.raises(ConfigError, match="tls_cert_file and tls_key_file go together"):
        broker_ssl(given)


def test_a_missing_file_is_refused_naming_the_setting():
    with pytest.raises(ConfigError, match="tls_ca_file.*no such file: /nonexistent/ca.pem"):
        settings(tls_ca_file="/nonexistent/ca.pem")
