"""Settings for the test suite: fast hashing, the same database choice as the environment."""

from exchange.settings.base import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# Concurrency tests run many threads, each with its own connection, beside the test's own.
if "pool" in DATABASES["default"].get("OPTIONS", {}):  # noqa: F405
    DATABASES["default"]["OPTIONS"]["pool"]["max_size"] = 24  # noqa: F405

# Tests serve static files through the finders; there is no collected folder.
STATIC_ROOT = None
