"""Write a catalogue dataset (or your own file) to WebDataset shards: dataset=<name> out=<dir> [limit=N].

A thin script over `mpa_dist.cli.make_shards` (the `mpa-make-shards` command); `--help` explains it.
"""

from mpa_dist.cli import make_shards

if __name__ == "__main__":
    make_shards()
