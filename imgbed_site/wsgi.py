import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from imgbed_site.body_deadline import BodyDeadline

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imgbed_site.settings")

# A request body that stalls or trickles would hold a worker thread for ever: bounded here.
application = BodyDeadline(
    get_wsgi_application(), timeout=settings.IMGBED_BODY_TIMEOUT, min_rate=settings.IMGBED_BODY_MIN_RATE
)
