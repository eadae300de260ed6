from django.urls import path

from uploads import api, pages, serving

urlpatterns = [
    path("", pages.upload_page, name="home"),
    path("upload", api.upload, name="upload"),
    path("api/channels", api.channels, name="api_channels"),
    path("file/<path:public_id>", serving.serve, name="file"),
]
