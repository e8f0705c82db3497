"""Bare compositions: a formula becomes element tokens weighted by their amounts."""

from __future__ import annotations

import re

import numpy as np
from pymatgen.core import Composition, Element

from mpa_dist.data.record import Label, Record, RecordError


_ADDUCT = re.compile(r"[\u00b7*]\d*[A-Z]|(?<=[A-Za-z)\]])\.\d*[A-Z]|\.[A-Z]")  # NaCl.2H2O, CuSO4*5H2O: adducts pymatgen misreads


def parse_formula(formula: str, key: str = "") -> Composition:
    if _ADDUCT.search(str(formula)):
        raise RecordError(key or str(formula), f"adduct or hydrate notation in formula {formula!r} is not supported")
    try:
        comp = Composition(str(formula))
    except Exception as e:  # pymatgen raises several types for bad formulas
        raise RecordError(key or str(formula), f"unparseable formula {formula!r}: {e}") from None
    if comp.num_atoms <= 0:
        raise RecordError(key or str(formula), f"empty formula {formula!r}")
    if any(not isinstance(el, Element) for el in comp.elements):
        raise RecordError(key or str(formula), f"unknown element in formula {formula!r}")
    return comp


def reduced_formula(formula: str, key: str = "") -> str:
    """The deduplication key of a composition: pymatgen's reduced formula (Fe4O6 -> Fe2O3)."""
    return parse_formula(formula, key).reduced_formula


def composition_record(key: str, formula: str, source: str, theory: str,
                       labels: dict[str, Label] | None = None, conditions: dict | None = None,
                       reduce: bool = True, meta: dict | None = None) -> Record:
    """A composition record; amounts are per reduced formula unit unless reduce=False."""
    comp = parse_formula(formula, key)
    if reduce:
        comp = comp.reduced_composition
    els = sorted(comp.elements, key=lambda e: e.Z)
    return Record(key=key, input="composition", numbers=np.array([e.Z for e in els]),
                  amounts=np.array([comp[e] for e in els], dtype=np.float64), source=source, theory=theory,
                  labels=labels or {}, conditions=conditions or {}, group=comp.reduced_formula,
                  meta={"formula": comp.formula.replace(" ", ""), **(meta or {})})
