"""Print the catalogue of datasets and tasks: a table, JSON with `format=json`, or one task with `task=<name>`.

A thin script over `mpa_dist.cli.catalog` (the `mpa-catalog` command); `--help` explains it.
"""

from mpa_dist.cli import catalog

if __name__ == "__main__":
    catalog()
