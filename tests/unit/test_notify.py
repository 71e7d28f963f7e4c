"""Notifications' pure parts: config models, topics and payloads, signatures, the backlog."""

from __future__ import annotations

import json
from typing import Any

import pytest

from vigil.errors import ConfigError
from vigil.notify.backlog import Backlog
from vigil.notify.config import MqttConfig, NotifyConfig, WebhookConfig, notify_config_from_mapping
from vigil.notify.messages import discovery_message, event_messages, sign, verify, webhook_body
from vigil.notify.webhook import delivery_id

SECRET = "s3cret-s3cret-s3cret"


def incident(type_: str = "new", camera: str = "door", kind: str = "fall", severity: str = "warning",
             **extra: Any) -> dict[str, Any]:
    event = {"id": "evt_0123456789abcdef0123", "type": type_, "camera": camera, "session": 1,
             "algorithm": "fall", "kind": kind, "severity": severity, "start_seq": 10, "start": 1000.0,
             "seq": 10 if type_ == "new" else 40, "time": 1000.0 if type_ == "new" else 1002.0,
             "end": 1002.0 if type_ == "end" else None, "score": 0.9, "details": {"track": 1},
             "snapshot": "/events/evt_0123456789abcdef0123/snapshot.jpg", "clip": None}
    event.update(extra)
    return event


def hook(**fields: Any) -> dict[str, Any]:
    return {"name": "carers", "url": "https://example.org/hook?token=abc", "secret": SECRET, **fields}


# -- config ------------------------------------------------------------------------------


def test_defaults_follow_the_contract():
    config = MqttConfig()
    assert (config.host, config.port, config.prefix, config.qos, config.home_assistant) == \
        ("127.0.0.1", 1883, "vigil", 1, False)
    assert not config.use_tls


def test_secrets_and_urls_never_show():
    config = notify_config_from_mapping({"mqtt": {"username": "u", "password": "hunter2-password"},
                                         "webhooks": [hook()]})
    shown = repr(config) + str(config) + repr(config.webhooks[0]) + str(config.mqtt)
    assert "hunter2" not in shown and SECRET not in shown and "token=abc" not in shown
    assert config.mqtt is not None and config.mqtt.password is not None
    assert config.mqtt.password.get_secret_value() == "hunter2-password"


@pytest.mark.parametrize("data, names", [
    ({"mqtt": {"hots": "x"}}, "mqtt.hots"),
    ({"mqtt": {"port": 0}}, "mqtt.port"),
    ({"mqtt": {"prefix": "vigil/#"}}, "mqtt.prefix"),
    ({"mqtt": {"cert": "/c.pem"}}, "mqtt"),
    ({"mqtt": {"qos": 3}}, "mqtt.qos"),
    ({"webhooks": [hook(url="ftp://x")]}, "webhooks[0] (carers).url"),
    ({"webhooks": [hook(secret="short")]}, "webhooks[0] (carers).secret"),
    ({"webhooks": [hook(min_severity="huge")]}, "webhooks[0] (carers).min_severity"),
    ({"webhooks": [hook(), hook()]}, "unique"),
    ({"webhooks": [hook()], "cameras": {"door": {"notify": {"webhooks": ["nurses"]}}}}, "nurses"),
    ({"cameras": {"door": {"notify": {"sms": True}}}}, "cameras.door.notify.sms"),
])
def test_a_bad_key_is_named(data, names):
    with pytest.raises(ConfigError) as error:
        notify_config_from_mapping(data, "site.toml")
    assert str(error.value).startswith("site.toml: ") and names in str(error.value)


def test_a_rejected_password_is_not_echoed():
    with pytest.raises(ConfigError) as error:
        notify_config_from_mapping({"webhooks": [hook(secret="tooshort1")]})
    assert "tooshort1" not in str(error.value)


@pytest.mark.parametrize("filters, event, accepted", [
    ({}, incident(), True),
    ({"cameras": ["hall"]}, incident(camera="door"), False),
    ({"cameras": ["hall", "door"]}, incident(camera="door"), True),
    ({"kinds": ["drowsy"]}, incident(kind="fall"), False),
    ({"min_severity": "critical"}, incident(severity="warning"), False),
    ({"min_severity": "critical"}, incident("update", severity="critical"), True),
    ({"min_severity": "warning"}, incident(severity="info"), False),
    ({"types": ["new"]}, incident("end"), False),
    ({"types": ["new", "end"]}, incident("end"), True),
])
def test_webhook_filters(filters, event, accepted):
    assert WebhookConfig.model_validate(hook(**filters)).accepts(event) is accepted


@pytest.mark.parametrize("camera_notify, camera, expected", [
    (None, "door", ["a", "b"]),
    ({"webhooks": ["b"]}, "door", ["b"]),
    ({"webhooks": []}, "door", []),
    ({"webhooks": ["b"]}, "hall", ["a", "b"]),  # another camera: its own (default) table
])
def test_camera_chooses_its_webhooks(camera_notify, camera, expected):
    cameras = {"door": {"notify": camera_notify}} if camera_notify is not None else {}
    config = notify_config_from_mapping({"webhooks": [hook(name="a"), hook(name="b")], "cameras": cameras})
    assert [h.name for h in config.webhooks_for(incident(camera=camera))] == expected


def test_nothing_configured_notifies_nothing():
    config = notify_config_from_mapping({"vigil": {"broker_url": "amqp://x"}})
    assert config == NotifyConfig() and not config.enabled


# -- MQTT messages -----------------------------------------------------------------------


@pytest.mark.parametrize("type_, snapshot, expected", [
    ("new", b"JPEG", [("vigil/events", False), ("vigil/door/fall", True), ("vigil/door/fall/snapshot", True)]),
    ("new", None, [("vigil/events", False), ("vigil/door/fall", True)]),
    ("update", b"JPEG", [("vigil/events", False), ("vigil/door/fall/snapshot", True)]),
    ("end", b"JPEG", [("vigil/events", False), ("vigil/door/fall", True)]),
])
def test_event_messages(type_, snapshot, expected):
    messages = event_messages("vigil", incident(type_), snapshot)
    assert [(m.topic, m.retain) for m in messages] == expected
    body = json.loads(messages[0].payload)
    assert body == {"type": type_, "event": incident(type_)}
    states = {m.payload for m in messages if m.topic == "vigil/door/fall"}
    assert states == {"new": {b"ON"}, "update": set(), "end": {b"OFF"}}[type_]


def test_home_assistant_discovery():
    message = discovery_message("vigil", "homeassistant", "door", "fall")
    assert message.topic == "homeassistant/binary_sensor/vigil/door_fall/config" and message.retain
    config = json.loads(message.payload)
    assert config["state_topic"] == "vigil/door/fall"
    assert config["availability_topic"] == "vigil/available"
    assert (config["payload_on"], config["payload_off"]) == ("ON", "OFF")
    assert config["unique_id"] == "vigil_door_fall" and config["device_class"] == "safety"


# -- webhook body and signature ----------------------------------------------------------


def test_signature_verifies_and_detects_tampering():
    body = webhook_body(incident(), "d1", 1234.5)
    signature = sign(SECRET.encode(), body)
    assert signature.startswith("sha256=") and len(signature) == 7 + 64
    assert verify(SECRET.encode(), body, signature)
    assert not verify(SECRET.encode(), body.replace(b"door", b"hall"), signature)
    assert not verify(b"another-secret-another", body, signature)
    assert json.loads(body) == {"type": "new", "event": incident(), "delivery": "d1", "sent_at": 1234.5}


def test_delivery_id_is_stable_per_lifecycle_message():
    assert delivery_id(incident("new")) == delivery_id(incident("new"))
    assert delivery_id(incident("new")) != delivery_id(incident("end"))


# -- backlog -----------------------------------------------------------------------------


def test_backlog_drops_the_oldest_and_says_so():
    backlog: Backlog[int] = Backlog(2)
    assert [backlog.put(n) for n in (1, 2, 3)] == [0, 0, 1]
    assert [backlog.get(0), backlog.get(0), backlog.get(0)] == [2, 3, None]


# -- the listener ------------------------------------------------------------------------


def test_the_listener_never_raises_and_skips_what_is_not_an_incident():
    from prometheus_client import CollectorRegistry

    from vigil.notify.service import Notifications

    config = notify_config_from_mapping({"mqtt": {"port": 1}, "webhooks": [hook()]})
    notifications = Notifications(config, CollectorRegistry())  # not started: nothing is sent
    notifications({"camera": "door", "kind": "fall", "seq": 3})  # an old-style event: no id, no type
    notifications(incident(type_="opened"))
    assert notifications.mqtt is not None and len(notifications.mqtt.backlog) == 0
    notifications(incident())
    assert len(notifications.mqtt.backlog) == len(notifications.webhooks["carers"].backlog) == 1
    assert notifications.status() == {"mqtt": {"target": "127.0.0.1:1", "connected": False, "backlog": 1},
                                      "webhooks": {"carers": {"backlog": 1}}}


def test_from_a_loaded_site_file_object():
    from types import SimpleNamespace

    from vigil.notify.config import notify_config_from_site

    site = SimpleNamespace(mqtt={}, webhooks=[hook()],
                           cameras={"door": SimpleNamespace(notify={"webhooks": ["carers"], "mqtt": False}),
                                    "hall": SimpleNamespace(notify={})})
    config = notify_config_from_site(site, "site.toml")
    assert config.mqtt is None and [h.name for h in config.webhooks] == ["carers"]
    assert config.camera("door").mqtt is False and config.camera("hall").webhooks is None
    defaults_only = SimpleNamespace(mqtt={"enabled": True}, webhooks=[], cameras={})
    assert notify_config_from_site(defaults_only).mqtt == MqttConfig()
