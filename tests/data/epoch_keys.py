"""Run under torchrun: each rank reads one epoch with 2 workers and writes the keys it saw."""

import json
import sys

import torch.distributed as dist

from mpa_dist.data.loader import LoaderConfig, SourceConfig, build_loader

if __name__ == "__main__":
    shards, out = sys.argv[1], sys.argv[2]
    dist.init_process_group("gloo")
    keys = []
    for b in build_loader(LoaderConfig(sources=[SourceConfig(shards)], num_workers=2, max_atoms=400)):
        keys.extend(b.keys)
    with open(f"{out}/rank{dist.get_rank()}.json", "w") as f:
        json.dump(keys, f)
    dist.barrier()
    dist.destroy_process_group()
