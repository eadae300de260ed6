import sys

from django.contrib.staticfiles.management.commands.runserver import Command as StaticfilesRunserver


class Command(StaticfilesRunserver):
    """runserver without the bound address in its banner.

    Django prints "Starting development server at http://127.0.0.1:PORT/", the
    address people click; Get Token only works at SITE_URL (Microsoft sends
    the sign-in back there, and the session cookie must be for that host), so
    the one address shown is SITE_URL's: bin/run prints it once the server
    answers.
    """

    def on_bind(self, server_port):
        quit_command = "CTRL-BREAK" if sys.platform == "win32" else "CONTROL-C"
        self.stdout.write(
            f"Django {self.get_version()} development server (not for production) listening on port "
            f"{server_port}. Quit with {quit_command}."
        )
