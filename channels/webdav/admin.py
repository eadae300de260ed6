from django.contrib import admin

from channels.kind_admin import KindChannelAdmin
from channels.webdav.models import WebDAVChannel


@admin.register(WebDAVChannel)
class WebDAVChannelAdmin(KindChannelAdmin):
    kind = WebDAVChannel.KIND
