import itertools

import numpy as np
import pytest

from mpa_dist.data.neighbors import neighbor_list


def brute_force(pos, cell, pbc, cutoff):
    """Every (i, j, shift) with |pos[j] + shift @ cell - pos[i]| < cutoff, by enumeration."""
    reach = [int(np.ceil(cutoff / (abs(np.linalg.det(cell)) / np.linalg.norm(np.cross(*np.delete(cell, a, 0))))))
             + 1 if pbc[a] else 0 for a in range(3)]
    out = set()
    for s in itertools.product(*[range(-r, r + 1) for r in reach]):
        shift = np.array(s) @ cell
        d = np.linalg.norm(pos[None, :, :] + shift - pos[:, None, :], axis=-1)
        for i, j in zip(*np.nonzero(d < cutoff)):
            if i != j or any(s):
                out.add((int(i), int(j), s))
    return out


@pytest.mark.parametrize("pbc", [(True, True, True), (True, True, False), (False, False, False)])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_brute_force_in_triclinic_cells(pbc, seed):
    rng = np.random.default_rng(seed)
    cell = np.diag(rng.uniform(3.0, 6.0, 3)) + rng.uniform(-1.0, 1.0, (3, 3)) * (1 - np.eye(3))
    pos = rng.uniform(0, 1, (7, 3)) @ cell
    cutoff = 4.0
    i, j, s = neighbor_list(pos, cell, np.array(pbc), cutoff)
    got = {(int(a), int(b), tuple(int(x) for x in c)) for a, b, c in zip(i, j, s)}
    assert got == brute_force(pos, cell, pbc, cutoff)
    assert len(got) == len(i)  # no duplicates
