"""An S3-compatible bucket as a channel: Cloudflare R2, MinIO, Backblaze B2, Wasabi, AWS S3."""
