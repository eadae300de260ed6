"""The project: settings, URLs and the Celery app.

The Celery app (imgbed_site.celery) is loaded where tasks are: each tasks module imports it,
so a task is sent with the site's broker settings. Processes that send none (gunicorn's
master, which imports only the access logger from here) do without Celery and kombu.
"""


def __getattr__(name):
    # `celery -A imgbed_site` looks for the app here.
    if name == "celery_app":
        from imgbed_site.celery import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["celery_app"]
