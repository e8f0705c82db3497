"""The optional cuEquivariance tensor product: a clear error without it, parity with e3nn with it."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from mpa_dist.model import build_model

HAVE_CUEQ = importlib.util.find_spec("cuequivariance_torch") is not None


def test_unknown_backend_is_an_error(config_of):
    with pytest.raises(ValueError, match="tensor-product backend"):
        build_model({**config_of("tiny"), "accelerate": "magic"}, [])


@pytest.mark.skipif(HAVE_CUEQ, reason="cuEquivariance is installed")
def test_cueq_flag_without_the_package_says_what_to_install(config_of):
    with pytest.raises(ImportError, match="cuequivariance"):
        build_model({**config_of("tiny"), "accelerate": "cueq"}, [])


@pytest.mark.skipif(not HAVE_CUEQ, reason="cuEquivariance not installed")
def test_cueq_matches_e3nn(config_of, make_model, all_heads, mixed_batch):
    ref = make_model("tiny", all_heads)
    fast = make_model("tiny", all_heads, accelerate="cueq")
    missing, unexpected = fast.load_state_dict(ref.state_dict(), strict=False)
    assert not unexpected and all(".tp." in k for k in missing), (missing, unexpected)
    a, b = ref(mixed_batch), fast(mixed_batch)
    for key in ref.output_kinds():
        torch.testing.assert_close(b[key], a[key], atol=1e-6, rtol=1e-5, msg=key)
