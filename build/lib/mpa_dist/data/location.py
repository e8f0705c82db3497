"""Where shards live: a local or shared folder, or a URL that WebDataset streams from.

`data.shards_root` may be a path, or a URL that WebDataset's `gopen` opens: `http(s)://`
(through curl), `gs://` (gsutil), or `s3://`, which WebDataset leaves to a `pipe:` command; it
is registered here as `aws s3 cp <url> -`, the command WebDataset's documentation gives, so
credentials and endpoints are the AWS CLI's own (`AWS_PROFILE`, `AWS_ENDPOINT_URL`, ...).
The manifest is read through the same transport as the shards. Shards are never written to a
URL: write them to a folder with `launch/make_shards.py`, then upload the folder as it is.
"""

from __future__ import annotations

import functools
import json
import posixpath
import sys
from pathlib import Path

import webdataset  # noqa: F401  (imports webdataset.gopen)

_gopen = sys.modules["webdataset.gopen"]


def _gopen_s3(url: str, mode: str = "rb", bufsize: int = 8192, **kw):
    if mode[0] != "r":
        raise ValueError(f"{url}: shards are written to a folder and uploaded, not written to s3:// directly")
    return _gopen.gopen_pipe(f"pipe:aws s3 cp {url} -", mode, bufsize)


_gopen.gopen_schemes.setdefault("s3", _gopen_s3)


def is_remote(location: str | Path) -> bool:
    text = str(location)
    return "://" in text and not text.startswith("file://")


def join(location: str | Path, *parts: str) -> str:
    if is_remote(location):
        return posixpath.join(str(location).rstrip("/"), *parts)
    return str(Path(location, *parts))


def parent(location: str) -> str:
    return posixpath.dirname(location) if is_remote(location) else str(Path(location).parent)


def read_json(location: str) -> dict:
    """A JSON file from a folder or a URL; a missing or unreadable one names itself and the cause."""
    if not is_remote(location):
        return json.loads(Path(location).read_text())
    return _read_remote_json(location)


@functools.lru_cache(maxsize=256)  # remote shard folders are written once and never changed
def _read_remote_json(url: str) -> dict:
    try:
        with _gopen.gopen(url, "rb") as f:
            text = f.read()
    except Exception as e:  # curl/gsutil/aws exit non-zero: not found, no access, no network
        raise FileNotFoundError(f"{url}: could not be read ({e})") from e
    if not text:
        raise FileNotFoundError(f"{url}: could not be read (empty answer)")
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"{url}: not valid JSON ({e})") from e
