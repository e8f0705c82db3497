import json
import re
import shutil
import tarfile

import numpy as np
import pytest
import torch

from mpa_dist.data.loader import LoaderConfig, SourceConfig, build_loader, mixing_weights
from mpa_dist.data.shards import make_shards


def _train_keys(path):
    return set(json.loads((path / "splits.json").read_text())["train"])


def _cfg(path, **kw):
    base = dict(sources=[SourceConfig(str(path))], split="train", mode="epoch", num_workers=2,
                max_atoms=400, max_edges=8000, source_vocab={"qm9": 1})
    base.update(kw)
    return LoaderConfig(**base)


def test_one_epoch_sees_every_sample_once_per_rank_split(qm9_shards, monkeypatch):
    """2 ranks x 2 workers (ranks set through the environment, as torchrun does)."""
    seen = []
    for rank in (0, 1):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        for b in build_loader(_cfg(qm9_shards)):
            seen.extend(b.keys)
    assert len(seen) == len(set(seen))
    assert {k.rsplit("/", 1)[0] if k.count("/") > 1 else k for k in seen} == _train_keys(qm9_shards)


def test_batches_respect_the_atom_and_edge_budget(qm9_shards):
    for b in build_loader(_cfg(qm9_shards, num_workers=0, max_atoms=200, max_edges=3000)):
        assert b.pos.shape[0] <= 200 and b.edge_index.shape[1] <= 3000
        assert b.graph.max() + 1 == b.num_graphs and (b.source == 1).all()
        i, j = b.edge_index
        assert (b.graph[i] == b.graph[j]).all()  # no edge crosses molecules


def test_mixing_follows_the_configured_weights(qm9_shards, tmp_path):
    csv = tmp_path / "formulas.csv"
    csv.write_text("formula,gap [eV]\n" + "".join(f"Li{i % 7 + 1}O{i % 5 + 1},{i / 50}\n" for i in range(300)))
    other = tmp_path / "comp"
    make_shards(str(csv), other, min_shards=2, workers=1, progress=False)
    cfg = _cfg(qm9_shards, sources=[SourceConfig(str(qm9_shards), 0.75), SourceConfig(str(other), 0.25)],
               mode="stream", num_workers=0, source_vocab={"qm9": 1, "formulas": 2}, shuffle_buffer=0)
    counts, n = np.zeros(3), 0
    for b in build_loader(cfg):
        counts += np.bincount(b.source.numpy(), minlength=3)
        n += b.num_graphs
        if n > 3000:
            break
    p = counts[1] / counts.sum()
    assert abs(p - 0.75) < 4 * np.sqrt(0.75 * 0.25 / counts.sum())
    # temperature sampling: weights ~ n^(1/T)
    cfg.sources = [SourceConfig(str(qm9_shards)), SourceConfig(str(other))]
    cfg.temperature = 2.0
    w = mixing_weights(cfg)
    n1 = json.loads((qm9_shards / "manifest.json").read_text())["splits"]["train"]["num_written"]
    n2 = json.loads((other / "manifest.json").read_text())["splits"]["train"]["num_written"]
    assert w[0] / w[1] == pytest.approx(np.sqrt(n1 / n2))
    # some set: those are shares, the unset ones split the rest by temperature
    third = tmp_path / "comp2"
    shutil.copytree(other, third)
    cfg.sources = [SourceConfig(str(qm9_shards)), SourceConfig(str(other), 0.1), SourceConfig(str(third))]
    w = mixing_weights(cfg)
    assert w[1] == pytest.approx(0.1) and sum(w) == pytest.approx(1.0)
    assert w[0] / w[2] == pytest.approx(np.sqrt(n1 / n2))
    cfg.sources[1].weight = 1.0
    with pytest.raises(ValueError, match="leave no share"):
        mixing_weights(cfg)


def test_corrupt_shard_is_skipped_and_counted_or_fails(qm9_shards, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(qm9_shards, bad)
    victim = sorted(bad.glob("train-*.tar"))[1]
    victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 3])  # truncated mid-file
    seen, skipped = 0, 0
    for b in build_loader(_cfg(bad, num_workers=0)):
        seen += b.num_graphs
        skipped += b.info["skipped"]
    assert 0 < seen < len(_train_keys(qm9_shards)) and skipped >= 1
    # on_error=fail: the reader's own error, naming the damaged shard
    with pytest.raises(tarfile.ReadError, match=rf"unexpected end of data.*{re.escape(str(victim))}"):
        for _ in build_loader(_cfg(bad, num_workers=0, on_error="fail")):
            pass


def test_stream_mode_never_runs_dry_with_more_readers_than_shards(qm9_shards, monkeypatch):
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "8")
    it = iter(build_loader(_cfg(qm9_shards, mode="stream")))
    assert all(next(it).num_graphs > 0 for _ in range(5))
    assert isinstance(next(it).pos, torch.Tensor)


@pytest.mark.multiprocess
def test_one_epoch_under_torchrun_two_ranks_two_workers(qm9_shards, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    drop = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    script = Path(__file__).with_name("epoch_keys.py")
    subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", "29533",
                    str(script), str(qm9_shards), str(tmp_path)], check=True, env=env, timeout=300)
    seen = [k for r in (0, 1) for k in json.loads((tmp_path / f"rank{r}.json").read_text())]
    assert len(seen) == len(set(seen)) and set(seen) == _train_keys(qm9_shards)
    assert json.loads((tmp_path / "rank0.json").read_text()) and json.loads((tmp_path / "rank1.json").read_text())


def test_the_shuffled_stream_is_reproducible_from_its_seed(qm9_shards):
    """Same seed, same order of samples (two runs of one config train alike); another seed, another order."""
    def first_groups(seed):
        it = iter(build_loader(_cfg(qm9_shards, mode="stream", shuffle_buffer=200, seed=seed, num_workers=0)))
        return [g for _ in range(3) for g in next(it).groups]

    assert first_groups(3) == first_groups(3)
    assert first_groups(3) != first_groups(4)


def test_random_conformer_sampling_draws_one_seeded_conformer_per_visit(tmp_path):
    """Mid-training's `conformer_sampling: random`: one graph per molecule per visit, a real conformer
    of it, the same one for the same seed, and not always the first."""
    smiles = ["CCO", "CCCO", "CCCCO", "CC(C)O", "CCOC", "CCCCC", "CC(=O)O", "CCN", "CCCN", "CCOCC", "OCCO",
              "CCCCCO", "CCC(C)O", "CC(C)CO", "CCCCN", "CCOCCO"]
    csv = tmp_path / "alcohols.csv"
    csv.write_text("smiles,boiling point [K]\n" + "".join(f"{s},{300 + i}\n" for i, s in enumerate(smiles)))
    out = tmp_path / "k2"
    make_shards(str(csv), out, min_shards=1, workers=1, progress=False, conformers=2)

    def graphs(conformers: str, seed: int) -> list[tuple[str, str]]:
        cfg = _cfg(out, num_workers=0, conformers=conformers, seed=seed, shuffle_buffer=0,
                   source_vocab={"alcohols": 1})
        return [(g, k) for b in build_loader(cfg) for g, k in zip(b.groups, b.keys)]

    every, one = graphs("all", 0), graphs("random", 0)
    groups = [g for g, _ in every]
    assert len(set(groups)) >= 8 and all(groups.count(g) == 2 for g in groups)  # K = 2 graphs per molecule
    assert sorted(g for g, _ in one) == sorted(set(groups))  # one graph per molecule per visit
    assert set(one) <= set(every)  # each a real conformer of its own molecule
    assert graphs("random", 0) == one  # seeded: a resumed run draws the same conformers
    drawn = [k.rsplit("/", 1)[1] for s in (0, 1, 2) for _, k in graphs("random", s)]
    assert set(drawn) == {"c0", "c1"}  # both conformers are drawn, not always the first


def test_cells_with_forces_are_batched_apart_from_molecules(qm9_shards, tmp_path):
    """A batch holding one record with force (or stress) labels pays a second backward for all of
    it: such records form batches of their own, and the mixture still holds both kinds. A source
    of weight 0 is still read once by an epoch pass."""
    cells = tmp_path / "mlearn"
    make_shards("mlearn", cells, limit=60, min_shards=2, workers=1, progress=False)
    vocab = {"qm9": 1, "mlearn": 2}
    cfg = _cfg(qm9_shards, sources=[SourceConfig(str(qm9_shards), 0.9), SourceConfig(str(cells), 0.1)],
               mode="stream", num_workers=0, source_vocab=vocab, shuffle_buffer=0)
    kinds = []
    for b, _ in zip(build_loader(cfg), range(40)):
        kinds.append(frozenset(b.source.tolist()))
        assert ("forces" in b.labels) == (kinds[-1] == {2})
    assert set(kinds) == {frozenset({1}), frozenset({2})}
    cfg = _cfg(qm9_shards, sources=[SourceConfig(str(qm9_shards)), SourceConfig(str(cells), 0.0)],
               num_workers=0, source_vocab=vocab)
    seen = [k for b in build_loader(cfg) for k in b.keys]
    assert len(seen) == len(set(seen))
    assert {k.rsplit("/", 1)[0] if k.count("/") > 1 else k for k in seen} == _train_keys(qm9_shards) | _train_keys(cells)
