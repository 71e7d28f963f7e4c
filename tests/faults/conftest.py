"""The fault tests use the integration tests' real servers and process fixtures."""

from tests.integration.conftest import clean, services, spawn, vigil_env  # noqa: F401
