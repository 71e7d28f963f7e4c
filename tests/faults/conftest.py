"""The fault tests use the integration tests' real servers and process fixtures."""

from tests.integration.conftest import (  # noqa: F401
    clean,
    private_redis,
    services,
    spawn,
    vigil_env,
)
