"""ASHA within each comparable group of trials.

One Tune run holds every task and arm, but early stopping must compare a trial only with
trials of the same task, arm, scheme and seed (validation errors of different tasks are in
different units, and stopping one arm's trials for another arm's would bias the comparison).
GroupedASHA keeps one ray.tune ASHAScheduler per group and hands each trial's events to its
group's scheduler: the stopping rule is Ray's own.
"""

from __future__ import annotations

from ray.tune.schedulers import ASHAScheduler, FIFOScheduler

from mpa_dist.tune.space import group_of


class GroupedASHA(FIFOScheduler):
    def __init__(self, metric: str, mode: str, max_t: int, grace_period: int, reduction_factor: float,
                 time_attr: str = "training_iteration"):
        super().__init__()
        self._metric, self._mode = metric, mode
        self._args = dict(time_attr=time_attr, metric=metric, mode=mode, max_t=max_t, grace_period=grace_period,
                          reduction_factor=reduction_factor)
        self.groups: dict[tuple, ASHAScheduler] = {}

    def _of(self, trial) -> ASHAScheduler:
        key = group_of(trial.config)
        if key not in self.groups:
            self.groups[key] = ASHAScheduler(**self._args)
        return self.groups[key]

    def set_search_properties(self, metric, mode, **spec) -> bool:
        return metric in (None, self._metric) and mode in (None, self._mode)

    def on_trial_add(self, tune_controller, trial):
        self._of(trial).on_trial_add(tune_controller, trial)

    def on_trial_result(self, tune_controller, trial, result):
        return self._of(trial).on_trial_result(tune_controller, trial, result)

    def on_trial_complete(self, tune_controller, trial, result):
        self._of(trial).on_trial_complete(tune_controller, trial, result)

    def on_trial_error(self, tune_controller, trial):
        self._of(trial).on_trial_error(tune_controller, trial)

    def on_trial_remove(self, tune_controller, trial):
        self._of(trial).on_trial_remove(tune_controller, trial)

    def debug_string(self) -> str:
        stopped = sum(s._num_stopped for s in self.groups.values())
        return f"ASHA per group: {len(self.groups)} groups, {stopped} trials stopped early"
