"""Notifications out: incident lifecycle events to MQTT and to signed webhooks.

    config.py    the [mqtt], [[webhooks]] and [cameras.<name>.notify] models (pydantic, extra="forbid")
    messages.py  topics, payloads, the webhook body and its HMAC signature (pure)
    backlog.py   the bounded FIFO between the processing thread and a notifier's thread
    mqtt.py      MqttNotifier (paho-mqtt 2, own thread, reconnect with backoff, ordered backlog)
    webhook.py   WebhookNotifier (one thread per URL, timeout, bounded jittered retries)
    metrics.py   vigil_notify_* series in the streamer's Prometheus registry
    service.py   Notifications: the one EventLog listener that routes to all of them

This package imports nothing from vigil.stream: it receives plain event dicts.
"""

from vigil.notify.config import NotifyConfig
from vigil.notify.service import Notifications

__all__ = ["Notifications", "NotifyConfig"]
