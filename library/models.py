"""Tags on stored files. The library builds on uploads (files) and channels; never the reverse."""

from django.db import models

from uploads.models import StoredFile


class Tag(models.Model):
    """A tag's one spelling: lower-case, trimmed, letters, digits, `_`, `-` and CJK (library.tags)."""

    name = models.CharField(max_length=64, unique=True)  # unique: indexed (with a LIKE index on PostgreSQL)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class FileTag(models.Model):
    """One tag on one file. The row's id keeps the order the tags were given in."""

    file = models.ForeignKey(StoredFile, on_delete=models.CASCADE, related_name="file_tags", db_index=False)
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="file_tags", db_index=False)

    class Meta:
        constraints = [
            # Also the index for a file's tags (file first).
            models.UniqueConstraint(fields=["file", "tag"], name="library_filetag_once"),
        ]
        # Filtering files by tag: tag first, the file ids read from the index alone.
        indexes = [models.Index(fields=["tag", "file"], name="library_filetag_by_tag")]

    def __str__(self):
        return f"{self.tag_id} on {self.file_id}"
