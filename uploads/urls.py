from django.urls import path

from uploads import views

urlpatterns = [
    path("", views.home, name="home"),
]
