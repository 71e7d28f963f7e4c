"""What an incident becomes on the wire: MQTT topics and payloads, the webhook body and its signature.

Pure functions, no I/O. An event here is the incident lifecycle dict (``Event.to_dict()``: id, type
new/update/end, camera, kind, severity, start, seq, time, end, score, details, snapshot, clip).

MQTT, under a prefix (default ``vigil``):

===================================  ===========  ========  ===========================================
topic                                payload      retained  when
===================================  ===========  ========  ===========================================
``vigil/available``                  online/off   yes       on connect / last will and clean stop
``vigil/events``                     JSON         no        every new, update and end
``vigil/<camera>/<kind>``            ON/OFF       yes       ON on new, OFF on end
``vigil/<camera>/<kind>/snapshot``   JPEG         yes       on new and update, when a snapshot exists
``homeassistant/binary_sensor/...``  JSON         yes       Home Assistant discovery, if enabled
===================================  ===========  ========  ===========================================

Webhooks: ``POST`` of :func:`webhook_body`, signed by :func:`sign` in ``X-Vigil-Signature``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

AVAILABLE = "available"
EVENTS = "events"
ONLINE = b"online"
OFFLINE = b"offline"
STATE_ON = b"ON"
STATE_OFF = b"OFF"
SIGNATURE_HEADER = "X-Vigil-Signature"
TIMESTAMP_HEADER = "X-Vigil-Timestamp"
DELIVERY_HEADER = "X-Vigil-Delivery"
EVENT_HEADER = "X-Vigil-Event"
SIGNATURE_SCHEME = "sha256="
# Home Assistant's binary_sensor device class per kind (https://www.home-assistant.io/integrations/binary_sensor/)
DEVICE_CLASS = {"fall": "safety", "distress": "problem", "drowsy": "safety", "looking_away": "problem"}
KIND_NAMES = {"fall": "Fall", "drowsy": "Drowsiness", "looking_away": "Looking away", "distress": "Distress"}


REQUIRED_KEYS = ("id", "type", "camera", "kind", "severity")
TYPES = ("new", "update", "end")


def check_event(event: Mapping[str, Any]) -> None:
    """Raises ValueError unless ``event`` looks like an incident lifecycle dict (cheap: keys and type)."""
    missing = [key for key in REQUIRED_KEYS if key not in event]
    if missing:
        raise ValueError(f"not an incident lifecycle event (missing {', '.join(missing)})")
    if event["type"] not in TYPES:
        raise ValueError(f"unknown event type {event['type']!r}")


@dataclass(frozen=True)
class MqttMessage:
    topic: str
    payload: bytes
    retain: bool = False


def available_topic(prefix: str) -> str:
    return f"{prefix}/{AVAILABLE}"


def events_topic(prefix: str) -> str:
    return f"{prefix}/{EVENTS}"


def state_topic(prefix: str, camera: str, kind: str) -> str:
    return f"{prefix}/{_level(camera)}/{_level(kind)}"


def snapshot_topic(prefix: str, camera: str, kind: str) -> str:
    return f"{state_topic(prefix, camera, kind)}/snapshot"


def _level(name: str) -> str:
    """A safe topic level: camera names are already [A-Za-z0-9_-]; anything else is replaced."""
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name) or "_"


def event_json(event: Mapping[str, Any]) -> bytes:
    """``{"type": ..., "event": {...}}``: the ``<prefix>/events`` payload."""
    return json.dumps({"type": event["type"], "event": dict(event)}, separators=(",", ":")).encode()


def event_messages(prefix: str, event: Mapping[str, Any], snapshot: bytes | None) -> list[MqttMessage]:
    """The MQTT messages of one lifecycle message, in the order they are published."""
    camera, kind, kind_of = str(event["camera"]), str(event["kind"]), event["type"]
    messages = [MqttMessage(events_topic(prefix), event_json(event))]
    if kind_of == "new":
        messages.append(MqttMessage(state_topic(prefix, camera, kind), STATE_ON, retain=True))
    elif kind_of == "end":
        messages.append(MqttMessage(state_topic(prefix, camera, kind), STATE_OFF, retain=True))
    if snapshot is not None and kind_of in ("new", "update"):
        messages.append(MqttMessage(snapshot_topic(prefix, camera, kind), snapshot, retain=True))
    return messages


def discovery_message(prefix: str, discovery_prefix: str, camera: str, kind: str) -> MqttMessage:
    """Home Assistant MQTT discovery of the binary sensor for one camera and kind (retained)."""
    object_id = f"{_level(prefix).replace('-', '_')}_{_level(camera)}_{_level(kind)}"
    config = {
        "name": KIND_NAMES.get(kind, kind.replace("_", " ").capitalize()),
        "unique_id": object_id,
        "object_id": object_id,
        "state_topic": state_topic(prefix, camera, kind),
        "payload_on": STATE_ON.decode(),
        "payload_off": STATE_OFF.decode(),
        "availability_topic": available_topic(prefix),
        "payload_available": ONLINE.decode(),
        "payload_not_available": OFFLINE.decode(),
        "device_class": DEVICE_CLASS.get(kind, "problem"),
        "device": {
            "identifiers": [f"{_level(prefix)}_{_level(camera)}"],
            "name": f"Vigil {camera}",
            "manufacturer": "Vigil",
            "model": "camera",
        },
    }
    topic = f"{discovery_prefix}/binary_sensor/{_level(prefix)}/{_level(camera)}_{_level(kind)}/config"
    return MqttMessage(topic, json.dumps(config, separators=(",", ":")).encode(), retain=True)


def webhook_body(event: Mapping[str, Any], delivery: str, sent_at: float) -> bytes:
    """The POSTed JSON: the event, and ``delivery`` and ``sent_at`` so the signature covers them.

    ``delivery`` is the same for every attempt at one event (a receiver de-duplicates retries with
    it); ``sent_at`` is the attempt's time, so a receiver can refuse old (replayed) requests.
    """
    body = {"type": event["type"], "event": dict(event), "delivery": delivery, "sent_at": round(sent_at, 3)}
    return json.dumps(body, separators=(",", ":")).encode()


def sign(secret: bytes, body: bytes) -> str:
    """The ``X-Vigil-Signature`` value: ``sha256=`` and the hex HMAC-SHA256 of the raw body."""
    return SIGNATURE_SCHEME + hmac.new(secret, body, hashlib.sha256).hexdigest()


def verify(secret: bytes, body: bytes, signature: str) -> bool:
    """Whether ``signature`` (the header's value) signs ``body``; constant-time comparison."""
    return hmac.compare_digest(sign(secret, body), signature)
