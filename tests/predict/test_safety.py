"""A damaged export is a CheckpointError naming the file, from the Python API, the calculator
and the launcher (a one-line message and a non-zero exit); loading never unpickles."""

import json
import pickle
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from ase.build import bulk

from mpa_dist.predict import MPACalculator, Predictor
from mpa_dist.train.checkpoint import CheckpointError

ROOT = Path(__file__).resolve().parents[2]


def _truncate(st, js):
    st.write_bytes(st.read_bytes()[: st.stat().st_size // 2])
    return st


def _flip_header_byte(st, js):
    data = bytearray(st.read_bytes())
    header = struct.unpack("<Q", data[:8])[0]  # safetensors: 8-byte header length, JSON header, tensor data
    data[8 + header // 2] ^= 0xFF
    st.write_bytes(bytes(data))
    return st


def _drop_heads(st, js):
    meta = json.loads(js.read_text())
    del meta["heads"]
    js.write_text(json.dumps(meta))
    return js


DAMAGE = {"truncated": _truncate, "byte-flipped": _flip_header_byte, "json-missing-key": _drop_heads}


@pytest.fixture(params=list(DAMAGE))
def damaged(request, multi_export, tmp_path):
    """(export path, the file that was damaged)."""
    for suffix in (".safetensors", ".json"):
        shutil.copy(multi_export.with_suffix(suffix), tmp_path / f"model{suffix}")
    bad = DAMAGE[request.param](tmp_path / "model.safetensors", tmp_path / "model.json")
    return tmp_path / "model", bad


def test_api_and_calculator_name_the_damaged_file(damaged):
    path, bad = damaged
    with pytest.raises(CheckpointError, match=str(bad)):
        Predictor.load(path)
    with pytest.raises(CheckpointError, match=str(bad)):
        MPACalculator(path)


def test_launcher_says_what_is_wrong_in_one_line(damaged, predict_cli, tmp_path):
    """The SystemExit message is what Python prints on stderr before exiting with status 1."""
    path, bad = damaged
    (tmp_path / "in.csv").write_text("smiles\nCCO\n")
    with pytest.raises(SystemExit) as exit_:
        predict_cli(f"ckpt={path}", f"input={tmp_path / 'in.csv'}", f"output={tmp_path / 'out.csv'}")
    message = exit_.value.code
    assert isinstance(message, str) and message.startswith("error: ") and str(bad) in message
    assert "\n" not in message
    assert not (tmp_path / "out.csv").exists()


def test_launcher_exit_status_and_stderr(multi_export, tmp_path):
    for suffix in (".safetensors", ".json"):
        shutil.copy(multi_export.with_suffix(suffix), tmp_path / f"model{suffix}")
    bad = _truncate(tmp_path / "model.safetensors", None)
    (tmp_path / "in.csv").write_text("smiles\nCCO\n")
    p = subprocess.run([sys.executable, str(ROOT / "launch" / "predict.py"), f"ckpt={tmp_path / 'model'}",
                        f"input={tmp_path / 'in.csv'}", f"output={tmp_path / 'out.csv'}"],
                       capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path)
    assert p.returncode == 1
    assert p.stderr.strip().count("\n") == 0 and str(bad) in p.stderr and "Traceback" not in p.stderr


def test_flipped_byte_in_tensor_data_is_detected(multi_export, tmp_path):
    for suffix in (".safetensors", ".json"):
        shutil.copy(multi_export.with_suffix(suffix), tmp_path / f"model{suffix}")
    st = tmp_path / "model.safetensors"
    data = bytearray(st.read_bytes())
    data[-3] ^= 0xFF
    st.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="sha256"):
        Predictor.load(tmp_path / "model")


def test_loading_never_unpickles(multi_export, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("something was unpickled")

    for module, name in ((pickle, "load"), (pickle, "loads"), (pickle, "Unpickler"), (torch, "load")):
        monkeypatch.setattr(module, name, refuse)
    assert Predictor.load(multi_export, conformer_cache=False).predict(formulas=["NaCl"])["error"][0] == ""
    atoms = bulk("Cu", "fcc", a=3.6)
    atoms.calc = MPACalculator(multi_export, head="energy@mlearn")
    assert atoms.get_stress().shape == (6,)


def test_an_export_of_a_newer_format_is_refused_with_the_versions(tmp_path):
    import json

    import torch

    from mpa_dist.train import checkpoint

    path = tmp_path / "model"
    checkpoint.export({"w": torch.zeros(2)}, {"model": {}, "heads": [], "source_vocab": {}}, path)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["format"] == checkpoint.FORMAT and meta["mpa_dist_version"] and meta["torch"] and meta["e3nn"]
    assert checkpoint.load_exported(tmp_path)[1].sha256 == meta["sha256"]  # the folder is enough
    path.with_suffix(".json").write_text(json.dumps({**meta, "format": checkpoint.FORMAT + 1,
                                                     "mpa_dist_version": "9.9"}))
    with pytest.raises(checkpoint.CheckpointError, match="format 2, written by mpa_dist 9.9.*upgrade"):
        checkpoint.load_exported(path)
