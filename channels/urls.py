from django.urls import path

from channels.onedrive import views as onedrive

urlpatterns = [
    path("api/oauth/onedrive/start", onedrive.start, name="onedrive_oauth_start"),
    path("api/oauth/onedrive/callback", onedrive.callback, name="onedrive_oauth_callback"),
    path("api/oauth/onedrive/save", onedrive.save, name="onedrive_oauth_save"),
]
