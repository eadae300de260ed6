from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("imgbed_site", "0002_site_settings")]

    operations = [
        migrations.CreateModel(
            name="BeatLease",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "holder",
                    models.CharField(help_text="host:pid:random of the beat holding the lease.", max_length=200),
                ),
                ("until", models.DateTimeField(help_text="The lease lapses then unless its holder renews it.")),
            ],
        ),
    ]
