"""Celery's Redis result backend, storing a task's result in one round trip instead of two.

Celery's ``BaseKeyValueStoreBackend._store_result`` first GETs the stored result (so a
duplicate run cannot overwrite a SUCCESS), then SETs and PUBLISHes the new one: two
round trips for every task, about a quarter of a null task's time in the worker
(docs/performance.md). :class:`OneWriteRedisBackend` runs the same check inside Redis, in a
short Lua script that GETs, compares, SETs (with the same expiry) and PUBLISHes, so the
stored key, its expiry, the published message and the "never overwrite a SUCCESS" rule
are Celery's, and the worker waits for Redis once.

``vigil.celery_config`` selects it for ``redis://`` and ``rediss://`` result backends with
Celery's own ``backend+url`` syntax; everything that reads results (``AsyncResult``, the
streamer's pattern subscription, Flower) is unchanged.
"""

from __future__ import annotations

from typing import Any

from celery import states
from celery.backends.base import BackendStoreError
from celery.backends.redis import RedisBackend
from kombu.utils.encoding import bytes_to_str

BACKEND_PATH = "vigil.result_backend:OneWriteRedisBackend"
REDIS_SCHEMES = ("redis", "rediss")

# KEYS[1] the result key; ARGV[1] the encoded meta, ARGV[2] the expiry in seconds (0: none).
# Celery's rule: a stored SUCCESS is never overwritten (a redelivered task ran twice).
# A stored value that is not JSON (another serializer) cannot be read here: it is overwritten.
STORE_ONCE = """
local old = redis.call('GET', KEYS[1])
if old then
  local ok, meta = pcall(cjson.decode, old)
  if ok and type(meta) == 'table' and meta['status'] == 'SUCCESS' then
    return 0
  end
end
local expires = tonumber(ARGV[2])
if expires > 0 then
  redis.call('SETEX', KEYS[1], expires, ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[1])
end
redis.call('PUBLISH', KEYS[1], ARGV[1])
return 1
"""


def backend_url(url: str) -> str:
    """The Celery ``result_backend`` for Vigil's result backend URL: ours for Redis, else unchanged."""
    scheme = url.partition("://")[0]
    return f"{BACKEND_PATH}+{url}" if scheme in REDIS_SCHEMES else url


class OneWriteRedisBackend(RedisBackend):  # type: ignore[misc]
    """A :class:`~celery.backends.redis.RedisBackend` whose ``_store_result`` is one Redis call."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._store_once: Any = None

    def _store_result(self, task_id: Any, result: Any, state: str, traceback: Any = None, request: Any = None,
                      **kwargs: Any) -> Any:
        meta = self._get_result_meta(result=result, state=state, traceback=traceback, request=request)
        meta["task_id"] = bytes_to_str(task_id)
        value = self.encode(meta)
        if isinstance(value, str) and len(value) > self._MAX_STR_VALUE_SIZE:
            raise BackendStoreError("value too large for Redis backend", state=state, task_id=task_id)
        expires = self.failure_expires if state == states.FAILURE else self.expires
        key = self.get_key_for_task(task_id)
        self.ensure(self._store, (key, value, _seconds(expires)))
        return result

    def _store(self, key: bytes, value: str | bytes, expires: int) -> Any:
        if self._store_once is None:
            # redis-py runs it with EVALSHA, sending the script only if Redis lacks it.
            self._store_once = self.client.register_script(STORE_ONCE)
        return self._store_once(keys=[key], args=[value, expires])


def _seconds(expires: Any) -> int:
    """Celery's expiry (None, seconds, or a timedelta) as whole seconds; 0 = never."""
    if not expires:
        return 0
    seconds = expires.total_seconds() if hasattr(expires, "total_seconds") else float(expires)
    return max(1, int(seconds))
