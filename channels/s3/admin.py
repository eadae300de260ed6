from django.contrib import admin

from channels.kind_admin import KindChannelAdmin
from channels.s3.models import S3Channel


@admin.register(S3Channel)
class S3ChannelAdmin(KindChannelAdmin):
    kind = S3Channel.KIND
