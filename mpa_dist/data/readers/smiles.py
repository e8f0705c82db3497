"""SMILES to 3-D: RDKit ETKDG embedding, then MMFF94 relaxation (UFF where MMFF lacks
parameters). K conformers per molecule, seeded and reproducible, cached on disk."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
from functools import lru_cache
from pathlib import Path

import numpy as np
import rdkit
from rdkit import Chem, RDLogger
from rdkit.Chem import AllChem

from mpa_dist.data.record import Label, Record, RecordError, conformer_key

RDLogger.DisableLog("rdApp.*")  # failures are reported per record instead
MAX_HEAVY_ATOMS = 100
# ETKDG attempts per embedding (RDKit's default, 10 x atoms, spent 64 s and 101 s of CPU on a cyclophane
# and C60 that never embed, a minute of a fresh demo; a count, not a timeout, so the result is the same
# on every machine): 200 still embeds all but 2 of the demo's 4,000 molecules with both conformers
MAX_EMBED_ATTEMPTS = 200
_SEED_BASE = 0x5EED
_SQL = "CREATE TABLE IF NOT EXISTS conf (k TEXT PRIMARY KEY, numbers BLOB, pos BLOB, n INTEGER)"


def mol_from_smiles(smiles: str, key: str = "") -> Chem.Mol:
    mol = Chem.MolFromSmiles(str(smiles))
    if mol is None:
        raise RecordError(key or str(smiles), f"unparseable SMILES {smiles!r}")
    if len(Chem.GetMolFrags(mol)) > 1:
        raise RecordError(key or str(smiles), f"SMILES {smiles!r} has several fragments (salt or mixture)")
    if mol.GetNumHeavyAtoms() > MAX_HEAVY_ATOMS:
        raise RecordError(key or str(smiles), f"{mol.GetNumHeavyAtoms()} heavy atoms exceed {MAX_HEAVY_ATOMS}")
    return mol


def canonical_smiles(smiles: str, key: str = "", isomeric: bool = False) -> str:
    """Deduplication key: stereoisomers share one entry unless isomeric=True."""
    try:
        return _canonical(str(smiles), isomeric)
    except RecordError as e:  # an error names this record, not the first one that held the SMILES
        raise RecordError(key or str(smiles), e.reason) from None


@lru_cache(maxsize=1 << 18)  # the catalogue's tasks share their molecules: each is parsed once a process
def _canonical(smiles: str, isomeric: bool) -> str:
    return Chem.MolToSmiles(mol_from_smiles(smiles), isomericSmiles=isomeric)


def embed(smiles: str, k: int = 1, seed: int = 0, key: str = "") -> tuple[np.ndarray, list[np.ndarray]]:
    """Atomic numbers (hydrogens included) and up to k relaxed conformers in Angstrom."""
    mol = Chem.AddHs(mol_from_smiles(smiles, key))
    params = AllChem.ETKDGv3()
    params.randomSeed = _SEED_BASE + int(seed)  # RDKit's seed 0 gives k identical conformers
    params.maxIterations = MAX_EMBED_ATTEMPTS
    ids = list(AllChem.EmbedMultipleConfs(mol, numConfs=int(k), params=params))
    if not ids:
        params.useRandomCoords = True  # the documented fallback for hard ring systems
        # one conformer first: a molecule that fails it fails at half the cost of k (C60 and a cyclophane,
        # rejected either way, took 27 s and 23 s of CPU at k = 2, 14 s and 12 s at k = 1; measured)
        if AllChem.EmbedMolecule(Chem.Mol(mol), params) == 0:
            ids = list(AllChem.EmbedMultipleConfs(mol, numConfs=int(k), params=params))
    if not ids:
        raise RecordError(key or smiles, f"RDKit could not embed {smiles!r} in 3-D ({MAX_EMBED_ATTEMPTS} ETKDG "
                                         "attempts, then as many from random coordinates)")
    if AllChem.MMFFHasAllMoleculeParams(mol):
        AllChem.MMFFOptimizeMoleculeConfs(mol, maxIters=500)
    elif AllChem.UFFHasAllMoleculeParams(mol):
        AllChem.UFFOptimizeMoleculeConfs(mol, maxIters=500)
    numbers = np.array([a.GetAtomicNum() for a in mol.GetAtoms()], dtype=np.int64)
    return numbers, [np.array(mol.GetConformer(i).GetPositions()) for i in ids]


class ConformerCache:
    """sqlite cache of embeddings keyed by (SMILES, k, seed, RDKit version, attempts); safe across processes."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()

    @property
    def db(self) -> sqlite3.Connection:
        if getattr(self._local, "db", None) is None:
            db = sqlite3.connect(self.path, timeout=60)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SQL)
            self._local.db = db
        return self._local.db

    def get(self, smiles: str, k: int, seed: int, key: str = ""):
        h = hashlib.sha1(f"{smiles}|{k}|{seed}|{rdkit.__version__}|{MAX_EMBED_ATTEMPTS}".encode()).hexdigest()
        row = self.db.execute("SELECT numbers, pos, n FROM conf WHERE k=?", (h,)).fetchone()
        if row:
            numbers = np.frombuffer(row[0], dtype=np.int64)
            pos = np.frombuffer(row[1], dtype=np.float64).reshape(row[2], len(numbers), 3)
            return numbers, list(pos)
        numbers, confs = embed(smiles, k, seed, key)
        with self.db:
            self.db.execute("INSERT OR REPLACE INTO conf VALUES (?,?,?,?)",
                            (h, numbers.tobytes(), np.stack(confs).tobytes(), len(confs)))
        return numbers, confs


def molecule_records(key: str, smiles: str, source: str, theory: str, labels: dict[str, Label],
                     k: int = 1, seed: int = 0, cache: ConformerCache | None = None,
                     conditions: dict | None = None, group: str = "", meta: dict | None = None) -> list[Record]:
    """One record per conformer; all share the group, so predictions can be averaged over them."""
    numbers, confs = cache.get(smiles, k, seed, key) if cache else embed(smiles, k, seed, key)
    return [Record(key=conformer_key(key, i), input="molecule", numbers=numbers, positions=pos, source=source,
                   theory=theory, labels=labels, conditions=conditions or {}, group=group or smiles,
                   conformer=i, meta={"smiles": smiles, **(meta or {})}) for i, pos in enumerate(confs)]
