"""The project's Celery app, with broker transport options merged in from the
BENCH_BROKER_TRANSPORT_OPTIONS environment variable (JSON).

Only for trying a broker setting the project does not expose (e.g. the
filesystem transport's polling_interval): `celery -A bench._celery_app worker`.
"""

import json
import os

from imgbed_site.celery import app

_extra = json.loads(os.environ.get("BENCH_BROKER_TRANSPORT_OPTIONS") or "{}")
if _extra:
    app.conf.broker_transport_options = {**(app.conf.broker_transport_options or {}), **_extra}

__all__ = ["app"]
