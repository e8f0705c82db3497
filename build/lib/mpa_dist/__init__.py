"""mpa_dist: pre-, mid- and post-training of equivariant foundation models for experimental properties."""

__version__ = "0.2.0"
