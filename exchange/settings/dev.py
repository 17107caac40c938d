"""The embedded default for `make run`: SQLite and the in-memory channel layer unless the environment says otherwise."""

from exchange.settings.base import *  # noqa: F403
from exchange.settings.env import env_bool

DEBUG = env_bool("DEBUG", True)
