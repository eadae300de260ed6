from django.contrib import admin
from django.urls import include, path

from imgbed_site import login_limit
from library import backup_admin
from ops import views as ops

admin.site.site_header = "imgbed administration"
admin.site.site_title = "imgbed admin"

urlpatterns = [
    path("admin/operations/", admin.site.admin_view(ops.operations), name="ops"),
    path("admin/operations/retry/<int:pk>/", admin.site.admin_view(ops.retry), name="ops_retry"),
    path("admin/backup/library.json", admin.site.admin_view(backup_admin.download), name="backup_download"),
    # Before admin.site.urls: the same form, refused with 429 after too many wrong passwords.
    path("admin/login/", login_limit.admin_login, name="admin_login_limited"),
    path("admin/", admin.site.urls),
    path("", include("channels.urls")),
    path("", include("library.urls")),
    path("", include("uploads.urls")),
]
