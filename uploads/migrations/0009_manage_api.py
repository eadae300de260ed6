# The management API (library): a manage permission for API tokens, the ids files had before
# a move or rename, and the indexes the file list pages with.

import django.db.models.deletion
from django.db import migrations, models

LIVE = models.Q(("deleted_at__isnull", True), ("receiving", False))


class Migration(migrations.Migration):
    dependencies = [
        ("uploads", "0008_access_list_and_dimensions"),
    ]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="can_manage",
            field=models.BooleanField(
                default=False,
                help_text="Move, rename, tag, block and edit files through /api/manage/ (listing needs list, "
                "deleting delete).",
                verbose_name="manage",
            ),
        ),
        migrations.CreateModel(
            name="FormerId",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("public_id", models.CharField(max_length=600, unique=True)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                (
                    "file",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="former_ids",
                        to="uploads.storedfile",
                    ),
                ),
            ],
            options={"verbose_name": "former id"},
        ),
        migrations.AddIndex(
            model_name="storedfile",
            index=models.Index(
                condition=LIVE,
                fields=["folder", "created_at", "id", "receiving", "deleted_at"],
                name="uploads_live_folder_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="storedfile",
            index=models.Index(
                condition=LIVE,
                fields=["created_at", "id", "receiving", "deleted_at"],
                name="uploads_live_recent_idx",
            ),
        ),
    ]
