"""Shards streamed from a URL (data.shards_root=http(s)://, gs://, s3://): the same samples as
from the folder, truncation still caught, and clear errors for what is missing or stale."""

import functools
import os
import shutil
import stat
import tarfile
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from launching import ROOT, launch, result, smoke
from mpa_dist.data import location
from mpa_dist.data.loader import LoaderConfig, SourceConfig, build_loader
from mpa_dist.data.shards import code_version


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def serve(tmp_path):
    """Serves a folder over HTTP on 127.0.0.1 (a stand-in for an object store's HTTPS endpoint)."""
    servers = []

    def start(folder: Path) -> str:
        httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        servers.append(httpd)
        return f"http://127.0.0.1:{httpd.server_address[1]}"

    yield start
    for httpd in servers:
        httpd.shutdown()
        httpd.server_close()


def _keys(path: str, **kw) -> list[str]:
    cfg = LoaderConfig(sources=[SourceConfig(path)], split="train", mode="epoch", num_workers=2, max_atoms=400,
                       max_edges=8000, source_vocab={"qm9": 1}, **kw)
    return [k for b in build_loader(cfg) for k in b.keys]


def test_an_epoch_from_http_is_the_epoch_from_the_folder(qm9_shards, serve):
    url = serve(qm9_shards) + "/"  # a trailing slash is the same root
    remote, local = _keys(url), _keys(str(qm9_shards))
    assert len(remote) == len(local) > 500 and sorted(remote) == sorted(local)
    assert remote == local  # the same shard order and sample shuffle: the seed, not the transport, decides


def test_a_remote_shard_cut_at_a_member_boundary_is_caught(qm9_shards, serve, tmp_path):
    served = tmp_path / "served"
    shutil.copytree(qm9_shards, served)
    victim = sorted(served.glob("train-*.tar"))[0]
    with tarfile.open(victim) as tar:
        cut = tar.getmembers()[len(tar.getmembers()) // 2].offset  # a member's header: a valid, shorter tar
    victim.write_bytes(victim.read_bytes()[:cut])
    url = serve(served)
    with pytest.raises(Exception, match=rf"{url}/{victim.name}: read \d+ of \d+ samples"):
        _keys(url, on_error="fail")


def test_a_missing_remote_manifest_names_the_url(serve, tmp_path):
    url = serve(tmp_path) + "/nothing-here"
    with pytest.raises(FileNotFoundError, match=rf"{url}/manifest.json: could not be read"):
        _keys(url)


def test_s3_urls_stream_through_the_aws_cli(qm9_shards, tmp_path, monkeypatch):
    """`s3://` goes through `aws s3 cp <url> -` (WebDataset's pipe: convention): a stand-in `aws`
    on PATH serves a local bucket and logs how it was called."""
    bucket, calls = tmp_path / "bucket", tmp_path / "calls.log"
    shutil.copytree(qm9_shards, bucket / "shards" / "qm9")
    fake = tmp_path / "bin" / "aws"
    fake.parent.mkdir()
    fake.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n'
                    f'[ "$1 $2 $4" = "s3 cp -" ] || exit 2\n'
                    f'exec cat "{bucket}/${{3#s3://bucket/}}"\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    assert sorted(_keys("s3://bucket/shards/qm9")) == sorted(_keys(str(qm9_shards)))
    lines = calls.read_text().splitlines()
    assert "s3 cp s3://bucket/shards/qm9/manifest.json -" in lines
    assert any(line.startswith("s3 cp s3://bucket/shards/qm9/train-") for line in lines)


def test_remote_roots_are_read_never_written_and_stale_shards_are_refused(qm9_shards, serve, tmp_path):
    from omegaconf import OmegaConf

    from mpa_dist.train import plan

    root = tmp_path / "root"
    folder = Path(plan.shard_dir(str(root), "qm9", "random", 1200, 1))
    shutil.copytree(qm9_shards, folder)
    url = serve(root)
    data = OmegaConf.create({"shards_root": url, "scheme": "random", "conformers": 1})
    assert plan.ensure_shards(data, "qm9", 1200) == location.join(url, "qm9-random", "n1200", "k1")
    with pytest.raises(FileNotFoundError, match="could not be read"):  # missing: not written to the URL
        plan.ensure_shards(data, "qm9", 50)
    assert not (root / "qm9-random" / "n50").exists()
    m = folder / "manifest.json"
    m.write_text(m.read_text().replace(code_version(), "0ld"))
    location._read_remote_json.cache_clear()
    with pytest.raises(ValueError, match="written by data code 0ld.*upload"):
        plan.ensure_shards(data, "qm9", 1200)


@pytest.mark.slow
@pytest.mark.multiprocess
def test_pretraining_streams_its_shards_over_http(pretrained, serve, tmp_path):
    """The smoke pre-training with every source read from a URL (the shards the chain wrote)."""
    url = serve(ROOT / "shards" / "test")
    launch("pretrain.py", *smoke(tmp_path, "pretrain", f"data.shards_root={url}", "steps=3", "eval_every=3"))
    r = result(tmp_path / "pretrain")
    assert r["step"] == 3 and r["val"] and all(v == v for v in r["val"].values())


def test_make_shards_refuses_a_url(tmp_path):
    from mpa_dist.data.shards import make_shards

    with pytest.raises(ValueError, match="written to a folder, then uploaded"):
        make_shards("qm9", "s3://bucket/shards/qm9", limit=10)
