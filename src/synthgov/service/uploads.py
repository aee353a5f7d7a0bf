"""An uploaded release: a zip of a release folder, received in bounded chunks, unpacked only after every member
is checked (no absolute or parent paths, no links, bounded count and unpacked size), then verified as any
release is (``synthgov verify``: signature, every file digest, the row-chunk tree) against the uploader's
registered key. Nothing reaches the store unless all of it holds; every refusal names its reason."""

from __future__ import annotations

import logging
import stat
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from synthgov.errors import InputError
from synthgov.service.settings import MAX_MEMBERS

logger = logging.getLogger(__name__)


class UploadRefused(InputError):
    """An upload that is not stored, with the reason (HTTP ``status``)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Received:
    folder: Path
    manifest: dict
    files: list[str]


def safe_members(archive: zipfile.ZipFile, max_unpacked: int) -> list[zipfile.ZipInfo]:
    members = archive.infolist()
    if len(members) > MAX_MEMBERS:
        raise UploadRefused(f"the zip holds {len(members)} members; at most {MAX_MEMBERS}")
    total = 0
    files = []
    for info in members:
        name = info.filename
        path = PurePosixPath(name)
        if "\\" in name or name.startswith("/") or path.is_absolute() or ".." in path.parts or ":" in name:
            raise UploadRefused(f"refused member name {name!r}: absolute or parent paths are not allowed")
        if stat.S_ISLNK(info.external_attr >> 16):
            raise UploadRefused(f"refused member {name!r}: links are not allowed")
        if info.is_dir():
            continue
        total += info.file_size
        if total > max_unpacked:
            raise UploadRefused(f"the zip unpacks to more than {max_unpacked:,} bytes", status=413)
        files.append(info)
    return files


def unpack(zip_path: Path, into: Path, max_unpacked: int) -> list[str]:
    """Unpack the checked members of ``zip_path`` into ``into``; the relative names, sorted."""
    try:
        archive = zipfile.ZipFile(zip_path)
    except zipfile.BadZipFile:
        raise UploadRefused("the upload is not a zip file") from None
    with archive:
        members = safe_members(archive, max_unpacked)
        names = []
        for info in members:
            target = into / info.filename
            target.parent.mkdir(parents=True, exist_ok=True)
            written = 0
            try:
                with archive.open(info) as src, target.open("wb") as out:
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > info.file_size:  # a member that unpacks to more than it declares
                            raise UploadRefused(f"member {info.filename!r} unpacks to more than it declares", 413)
                        out.write(chunk)
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
                raise UploadRefused(f"the zip is damaged ({info.filename!r}: {exc})") from None
            names.append(info.filename)
    return sorted(names)


def receive(zip_path: Path, into: Path, public_key_pem: str | None, max_unpacked: int) -> Received:
    """Unpack and verify; the verified release or :class:`UploadRefused`."""
    from synthgov.release.verify import load_manifest, verify_release

    if not public_key_pem:
        raise UploadRefused("the uploader has no registered signing key (synthgov users add --public-key)", 403)
    names = unpack(zip_path, into, max_unpacked)
    root = _release_root(into, names)
    key_file = into.parent / f"{into.name}.pub.pem"
    key_file.write_text(public_key_pem, encoding="ascii")
    try:
        result = verify_release(root, public_key=key_file)
        manifest = load_manifest(root)
    except InputError as exc:
        raise UploadRefused(f"not a verifiable release: {exc}") from None
    finally:
        key_file.unlink(missing_ok=True)
    if not result.valid:
        raise UploadRefused("the release does not verify: " + "; ".join(result.problems))
    if result.unsigned:
        raise UploadRefused("files the signature does not cover: " + ", ".join(result.unsigned))
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    return Received(root, manifest, files)


def _release_root(folder: Path, names: list[str]) -> Path:
    """The folder holding manifest.json: the zip's top level, or its single top folder."""
    if "manifest.json" in names:
        return folder
    tops = {PurePosixPath(n).parts[0] for n in names}
    if len(tops) == 1 and f"{next(iter(tops))}/manifest.json" in names:
        return folder / next(iter(tops))
    raise UploadRefused("the zip holds no manifest.json at its top level: not a release folder")
