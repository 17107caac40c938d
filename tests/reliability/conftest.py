from tests.api.conftest import funded, market  # noqa: F401 - fixtures shared with the API tests
