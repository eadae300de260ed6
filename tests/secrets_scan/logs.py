"""The log sinks: what the site's own log handlers emit, and the output of the site's processes
the tests start."""

import logging
from pathlib import Path

from tests.secrets_scan.scanner import current
from tests.secrets_scan.sources import _wrap, harvest

# Modules the tests run as stand-ins for other parties: their logs hold the secrets they issue.
STAND_INS = ("tests.emulator", "tests.s3server", "tests.webdavserver")


class _SiteHandlers:
    """The site's log handlers (settings.LOGGING), each record they emit as they format it."""

    def __init__(self):
        self.handlers = set()

    def install(self):
        loggers = [logging.getLogger()] + [
            logger
            for logger in logging.Logger.manager.loggerDict.values()
            if isinstance(logger, logging.Logger)
        ]
        for logger in loggers:
            for handler in logger.handlers:
                if not type(handler).__module__.startswith("_pytest"):
                    self.handlers.add(handler)
        original = logging.Handler.handle
        handlers = self.handlers

        def handle(handler, record):
            emitted = original(handler, record)
            # The stand-ins' own records (the emulator's request lines) are Microsoft's side, not the site's.
            if emitted and handler in handlers and not record.name.startswith("tests."):
                try:
                    text = handler.format(record)
                except Exception:  # the handler reports a broken record itself
                    text = ""
                current().write("log", f"a record of {record.name}", text)
            return emitted

        logging.Handler.handle = handle


def install_log_hooks() -> None:
    _SiteHandlers().install()

    from tests import processes, worker

    def spawned(original):
        def init(self, args, env, cwd, log_path):
            original(self, args, env, cwd, log_path)
            command = " ".join(map(str, args))
            if not any(module in command for module in STAND_INS):
                current().watch_log(log_path, f"{Path(log_path).parent.name}/{Path(log_path).name}")

        return init

    def celery(original):
        def init(self, args, env):
            original(self, args, env)
            current().watch_log(self.log_path, f"a celery {args[0]}'s output")

        return init

    def stop(original):
        def wrapped(self, *args, **kwargs):
            try:
                return original(self, *args, **kwargs)
            finally:
                harvest(current())
                current().check_log(self.log_path, last=True)

        return wrapped

    _wrap(processes.Spawned, "__init__", spawned)
    _wrap(processes.Spawned, "stop", stop)
    _wrap(worker.CeleryProcess, "__init__", celery)
    _wrap(worker.CeleryProcess, "stop", stop)
