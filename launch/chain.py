"""An experiment's whole chain, resumable: catalogue, pre-training, mid-training per scheme, the sweep.

    python launch/chain.py experiment=every_task name=every_task

A thin script over `mpa_dist.chain` (`python -m mpa_dist.chain --help` explains it).
"""

from mpa_dist.chain import main

if __name__ == "__main__":
    main()
