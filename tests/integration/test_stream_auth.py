"""A real streamer behind a login: the open-bind refusal, HTTPS, and a user added by `vigil user add`."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import re
import subprocess
import time
from http.cookies import SimpleCookie
from pathlib import Path

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.integration.conftest import free_port, vigil

pytestmark = pytest.mark.integration

PASSWORD = "a long test password"


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, signed by its own key (cert.pem, key.pem)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "vigil test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                    x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def wait_until_up(url: str, process, verify: bool | str = True) -> None:
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:
        with contextlib.suppress(requests.RequestException):
            if requests.get(f"{url}/healthz", timeout=1, verify=verify).status_code in (200, 503):
                return
        time.sleep(0.2)
    raise AssertionError(f"not serving:\n{process.output()[-3000:]}")


@pytest.mark.parametrize("command", [["stream"], ["run", "--source", "synthetic"]])
def test_serving_beyond_loopback_without_a_login_is_refused(command, vigil_env):
    done = subprocess.run(vigil(*command, "--host", "0.0.0.0", "--port", "0"), env=vigil_env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 78, done.stderr
    assert f"vigil {command[0]}: refusing to serve on 0.0.0.0 without a login" in done.stderr
    assert "--insecure" in done.stderr and "Traceback" not in done.stderr


def test_insecure_serves_beyond_loopback_without_a_login(clean, vigil_env, spawn):
    port = free_port()
    process = spawn(vigil("stream", "--host", "0.0.0.0", "--port", str(port), "--insecure"), vigil_env, "open")
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url, process)
    assert requests.get(f"{url}/cameras", timeout=5).status_code == 200
    assert "with no login (--insecure)" in process.output()


def test_a_user_added_on_the_command_line_logs_in_over_https(clean, vigil_env, spawn, tmp_path):
    # Given a site file with HTTPS, a user made by `vigil user add` and a token by `vigil user token`
    cert, key = self_signed(tmp_path)
    site = tmp_path / "vigil.toml"
    site.write_text(f"# our site\n[vigil]\n\n[auth]\ntls_cert = '{cert}'\ntls_key = '{key}'\n")
    added = subprocess.run(vigil("user", "add", "alice", "--config", str(site), "--password-stdin"), env=vigil_env,
                           input=PASSWORD + "\n", capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    made = subprocess.run(vigil("user", "token", "ci", "--config", str(site)), env=vigil_env,
                          capture_output=True, text=True, timeout=60)
    token = made.stdout.strip()
    assert made.returncode == 0 and token.startswith("vigil_") and token not in site.read_text()
    # When the streamer serves beyond loopback with that file
    port = free_port()
    process = spawn(vigil("stream", "--host", "0.0.0.0", "--port", str(port), "--config", str(site)),
                    vigil_env, "streamer")
    url = f"https://127.0.0.1:{port}"
    wait_until_up(url, process, verify=str(cert))
    browser = requests.Session()
    browser.verify = str(cert)
    browser.trust_env = False  # else a REQUESTS_CA_BUNDLE in the environment overrides verify
    # Then plain HTTP is not served, and a browser is sent to the login page
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5)
    page = browser.get(f"{url}/cameras", headers={"Accept": "text/html"}, timeout=5)
    assert page.status_code == 200 and page.url.startswith(f"{url}/login?next=")
    assert '<input name="user"' in page.text
    # a wrong password is refused, the right one logs in with a Secure, HttpOnly, SameSite=Strict cookie
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)[1]
    wrong = browser.post(f"{url}/login", data={"user": "alice", "password": "nope", "csrf": csrf, "next": "/"},
                         timeout=10)
    assert wrong.status_code == 401
    csrf = re.search(r'name="csrf" value="([^"]+)"', wrong.text)[1]
    done = browser.post(f"{url}/login", data={"user": "alice", "password": PASSWORD, "csrf": csrf,
                                              "next": "/cameras"}, timeout=10, allow_redirects=False)
    assert done.status_code == 303 and done.headers["Location"] == "/cameras"
    (cookie,) = [SimpleCookie(line)["vigil_session"] for line in done.raw.headers.getlist("Set-Cookie")
                 if line.startswith("vigil_session=")]
    assert cookie["secure"] and cookie["httponly"] and cookie["samesite"] == "Strict"
    assert browser.get(f"{url}/cameras", timeout=5).json()["cameras"] == []
    # and a script gets in with the token alone
    assert requests.get(f"{url}/cameras", headers={"Authorization": f"Bearer {token}"}, verify=str(cert),
                        timeout=5).status_code == 200
    assert requests.get(f"{url}/cameras", verify=str(cert), timeout=5).status_code == 401
    assert "Traceback" not in process.output()


def test_a_certificate_that_cannot_be_used_is_explained(vigil_env, tmp_path):
    site = tmp_path / "vigil.toml"
    (tmp_path / "cert.pem").write_text("not a certificate")
    (tmp_path / "key.pem").write_text("not a key")
    site.write_text(f"[vigil]\n[auth]\ntls_cert = '{tmp_path / 'cert.pem'}'\ntls_key = '{tmp_path / 'key.pem'}'\n")
    done = subprocess.run(vigil("run", "--source", "synthetic", "--port", "0", "--config", str(site)),
                          env={k: v for k, v in vigil_env.items() if k not in ("VIGIL_BROKER_URL",
                                                                                 "VIGIL_RESULT_BACKEND")},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 78, done.stderr
    assert "[auth] tls_cert" in done.stderr and "cannot be used" in done.stderr and "Traceback" not in done.stderr


def test_no_password_of_a_source_reaches_the_log_or_cameras(vigil_env, spawn, tmp_path):
    # Given a camera whose URL has a password (nothing listens there: it keeps reconnecting)
    env = {k: v for k, v in vigil_env.items() if k not in ("VIGIL_BROKER_URL", "VIGIL_RESULT_BACKEND")}
    port = free_port()
    process = spawn(vigil("run", "--source", "door=rtsp://admin:hunter2@127.0.0.1:9/live", "--port", str(port)),
                    env, "secret-source")
    url = f"http://127.0.0.1:{port}"
    wait_until_up(url, process)
    deadline = time.monotonic() + 30
    while "127.0.0.1:9" not in process.output() and time.monotonic() < deadline:
        time.sleep(0.5)
    # Then the log names the camera's address without its password
    assert "rtsp://admin:***@127.0.0.1:9/live" in process.output(), process.output()[-2000:]
    assert "hunter2" not in process.output() + requests.get(f"{url}/cameras", timeout=5).text
