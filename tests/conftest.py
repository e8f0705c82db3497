import os

import pytest

from launching import launch, smoke

os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(scope="session")
def qm9_records():
    """300 real QM9 molecules as Records."""
    from mpa_dist.data.sources import qm9

    rows = qm9.entries(300).to_dict("records")
    return [r for row in rows for r in qm9.to_records(row)]


@pytest.fixture(scope="session")
def qm9_shards(tmp_path_factory):
    """Real QM9 shards (first 1,200 molecules) written by the production writer."""
    from mpa_dist.data.shards import make_shards

    out = tmp_path_factory.mktemp("qm9_shards")
    make_shards("qm9", out, limit=1200, maxcount=100, min_shards=4, workers=1, progress=False)
    return out


@pytest.fixture(scope="session")
def pretrained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("chain")
    launch("pretrain.py", *smoke(tmp, "pretrain"))
    return tmp


@pytest.fixture(scope="session")
def midtrained(pretrained):
    """The smoke chain with its mid-training done (shared by the tests that need both)."""
    tmp = pretrained
    if not (tmp / "midtrain" / "model.json").exists():
        launch("midtrain.py", *smoke(tmp, "midtrain", f"init_from={tmp / 'pretrain' / 'model'}"))
    return tmp
