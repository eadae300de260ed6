from django.apps import AppConfig


class ImgbedSiteConfig(AppConfig):
    name = "imgbed_site"
    verbose_name = "Site"
    default_auto_field = "django.db.models.BigAutoField"
