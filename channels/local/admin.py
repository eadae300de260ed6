from django.contrib import admin

from channels.kind_admin import KindChannelAdmin
from channels.local.models import LocalChannel


@admin.register(LocalChannel)
class LocalChannelAdmin(KindChannelAdmin):
    kind = LocalChannel.KIND
