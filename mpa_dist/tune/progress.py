"""Where a sweep is: one line per finished trial (task i of N complete, trials done, time left), and the
time Tune has spent fitting over every start of a resumed sweep (the slot utilisation's denominator)."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

from ray.tune import Callback

from mpa_dist.tune.space import flat


class FitClock:
    """Seconds of `tuner.fit` summed over every start of one sweep folder, kept in fit_wall.json."""

    def __init__(self, out: Path):
        self.path = Path(out) / "fit_wall.json"
        self.before = json.loads(self.path.read_text())["seconds"] if self.path.exists() else 0.0
        self.start = time.time()

    def total(self) -> float:
        return self.before + time.time() - self.start

    # Tune pickles its callbacks with the experiment and a resumed sweep unpickles them: the copy must count
    # from the resume and from the seconds saved so far, not from the first start's clock
    def __getstate__(self) -> dict:
        return {"path": self.path}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"].parent)

    def save(self) -> float:
        seconds = self.total()
        self.path.with_suffix(".tmp").write_text(json.dumps({"seconds": seconds}))
        self.path.with_suffix(".tmp").replace(self.path)
        return seconds


class Progress(Callback):
    """Prints after each finished trial: trials done of all, tasks complete of all, and the time left at this
    start's rate (trials restored as finished from an earlier start are counted, not timed)."""

    def __init__(self, per_task: int, tasks: int, clock: FitClock, every: int = 1, print_fn=print):
        self.per_task, self.tasks, self.clock, self.every, self.print = per_task, tasks, clock, every, print_fn
        self.done: Counter = Counter()
        self.t0, self.new = time.time(), 0

    def setup(self, **info):
        self.t0 = time.time()

    def _finished(self, trial) -> None:
        self.done[flat(trial.config)["task"]] += 1
        self.new += 1
        self.clock.save()
        total, done = self.per_task * self.tasks, sum(self.done.values())
        if done % self.every and done != total:
            return
        complete = sum(1 for n in self.done.values() if n >= self.per_task)
        rate = self.new / max(time.time() - self.t0, 1e-9)
        left = (total - done) / rate if rate > 0 else float("nan")
        self.print(f"sweep: {done} of {total} trials done; {complete} of {self.tasks} tasks complete; "
                   f"last {flat(trial.config)['task']}; about {_minutes(left)} left at this start's rate",
                   flush=True)

    def on_step_begin(self, iteration, trials, **info):
        if iteration <= 1 and not self.done:  # trials an earlier start finished: counted, not in this start's rate
            for t in trials:
                if t.status == "TERMINATED":
                    self.done[flat(t.config)["task"]] += 1

    def on_trial_complete(self, iteration, trials, trial, **info):
        self._finished(trial)

    def on_trial_error(self, iteration, trials, trial, **info):
        self._finished(trial)


def _minutes(seconds: float) -> str:
    if seconds != seconds:
        return "? min"
    return f"{seconds / 60:.0f} min" if seconds < 5400 else f"{seconds / 3600:.1f} h"
