"""Release folders: what a generation run hands over (data, schema; later the manifest and watermark)."""

from synthgov.release.folder import Release, write_release

__all__ = ["Release", "write_release"]
