from django.apps import AppConfig


class ImgbedSiteConfig(AppConfig):
    name = "imgbed_site"
    verbose_name = "Site"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.contrib.auth.signals import user_login_failed

        from imgbed_site import login_limit

        user_login_failed.connect(login_limit.count_failure, dispatch_uid="imgbed-count-login-failure")
