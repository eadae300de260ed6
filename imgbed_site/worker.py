"""`celery -A imgbed_site worker`, without the rest of Celery's command line.

Celery's `celery` command imports every one of its subcommands and plugins before it reads
its arguments: the amqp shell (prompt_toolkit), Flower (tornado) and more, some 20 MiB that
the worker then keeps all its life. This runs the `worker` subcommand alone, with the same
options and the site's own (`python -m imgbed_site.worker --help`).
"""

import sys

from celery.bin.base import CLIContext
from celery.bin.worker import worker


def main(argv=None) -> int:
    from imgbed_site.celery import app

    # What `celery` itself does before running a subcommand: the app's extra options (--beat-thread).
    worker.params.extend(app.user_options.get("worker", []))
    context = CLIContext(app=app, no_color=False, workdir=None, quiet=False)
    return worker.main(args=argv, obj=context, prog_name="python -m imgbed_site.worker")


if __name__ == "__main__":
    sys.exit(main())
