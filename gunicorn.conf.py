"""gunicorn settings for App Engine and Cloud Run: ``gunicorn -c gunicorn.conf.py bot.wsgi:app``.

The worker options are shared with ``python -m bot serve`` (bot.wsgi.SERVER_OPTIONS). The
platform says where to listen through ``PORT``; ``HOST`` defaults to every interface here
because the platform's front end connects from outside the container.
"""

from __future__ import annotations

import os
from typing import Any

from bot.wsgi import SERVER_OPTIONS, shutdown

bind = f"{os.environ.get('HOST', '0.0.0.0')}:{os.environ.get('PORT', '8080')}"  # noqa: S104
workers = SERVER_OPTIONS["workers"]
worker_class = SERVER_OPTIONS["worker_class"]
threads = SERVER_OPTIONS["threads"]
timeout = SERVER_OPTIONS["timeout"]
graceful_timeout = SERVER_OPTIONS["graceful_timeout"]
keepalive = SERVER_OPTIONS["keepalive"]
accesslog = SERVER_OPTIONS["accesslog"]
# The app is built in the worker, after the fork: gRPC channels must not cross a fork.
preload_app = False


def worker_exit(_server: Any, _worker: Any) -> None:
    """Stop the Pub/Sub stream and close clients when the platform stops the instance."""
    shutdown()
