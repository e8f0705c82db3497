"""The release: a finished sweep's selected MPA models, one per task, merged into one export with
release.json and the model card (the model the package ships).

    python launch/release.py sweep_dir=runs/every_task/sweep out=mpa_dist/pretrained

A thin script over `mpa_dist.cli.release` (the `mpa-release` command); `--help` explains it.
"""

from mpa_dist.cli import release

if __name__ == "__main__":
    release()
