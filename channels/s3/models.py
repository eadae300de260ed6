from django.db import models

from channels.fields import EncryptedTextField
from channels.models import Channel, KindManager


class S3Settings(models.Model):
    """Where and how an S3-compatible channel reaches its bucket. Its key prefix is the channel's root directory."""

    class Addressing(models.TextChoices):
        PATH = "path", "Path style (https://endpoint/bucket/key): MinIO, most self-hosted servers"
        VIRTUAL = "virtual", "Virtual-host style (https://bucket.endpoint/key): AWS S3"

    channel = models.OneToOneField(
        "channels.Channel", on_delete=models.CASCADE, primary_key=True, related_name="s3_settings"
    )
    endpoint_url = models.URLField(
        "endpoint URL",
        max_length=500,
        blank=True,
        help_text="Empty for AWS S3. R2: https://<account id>.r2.cloudflarestorage.com; "
        "B2: https://s3.<region>.backblazeb2.com; Wasabi: https://s3.<region>.wasabisys.com; "
        "MinIO: https://minio.example.com:9000.",
    )
    bucket = models.CharField(max_length=63)
    region = models.CharField(max_length=64, blank=True, help_text="e.g. us-east-1; R2: auto.")
    access_key_id = models.CharField("access key ID", max_length=200)
    secret_access_key = EncryptedTextField()
    addressing_style = models.CharField(max_length=10, choices=Addressing.choices, default=Addressing.PATH)
    public_base_url = models.URLField(
        "public or CDN base URL",
        max_length=500,
        blank=True,
        help_text="When the bucket is public (an R2 custom domain, a CDN): files are redirected to "
        "<this URL>/<key> instead of a presigned URL.",
    )

    class Meta:
        verbose_name = "S3 bucket"

    def __str__(self):
        return f"s3://{self.bucket}"


class S3Channel(Channel):
    """The S3-compatible rows of Channel, with their own admin."""

    KIND = "s3"
    objects = KindManager(KIND)

    class Meta:
        proxy = True
        app_label = "channels"
        verbose_name = "S3-compatible channel"
