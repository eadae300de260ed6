from django.contrib import admin
from django.urls import include, path

admin.site.site_header = "imgbed administration"
admin.site.site_title = "imgbed admin"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("channels.urls")),
    path("", include("uploads.urls")),
]
