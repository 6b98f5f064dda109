#!/usr/bin/env python3
"""Which trials Optuna's TPE puts in "below" and "above" when some trials are still RUNNING and
constant_liar=True (tests/search/test_search.cpp, "TPE constant liar"). Optional interop tooling, not part of
the product or of CI:

    /usr/bin/python3 tests/golden/make_constant_liar_golden.py

A study (minimize) of 14 trials: 10 COMPLETE with the values below, 1 PRUNED, and 3 RUNNING of which two have
drawn x and one has not. Prints, for constant_liar False and True, the trial numbers in each group (those that
have x, in trial-number order), taken from Optuna 3.1's own _get_observation_pairs / _split_observation_pairs.
"""
import json

import numpy as np
import optuna
from optuna.distributions import FloatDistribution
from optuna.samplers._tpe.sampler import _get_observation_pairs, _split_observation_pairs
from optuna.trial import TrialState, create_trial

optuna.logging.set_verbosity(optuna.logging.ERROR)
values = [5.0, 1.0, 7.0, 0.5, 3.0, 9.0, 2.0, 8.0, 4.0, 6.0]
xs = [0.1, 0.9, -0.3, 0.4, 0.7, -0.8, 0.2, -0.5, 0.6, -0.1]
dist = FloatDistribution(-1.0, 1.0)
study = optuna.create_study(direction="minimize")
for v, x in zip(values, xs):
    study.add_trial(create_trial(params={"x": x}, distributions={"x": dist}, value=v))
study.add_trial(create_trial(params={"x": 0.33}, distributions={"x": dist}, state=TrialState.PRUNED,
                             intermediate_values={3: 2.5}))
for x in (0.05, -0.95, None):  # trials 11, 12, 13: running; 13 has not drawn x yet
    t = study.ask()
    if x is not None:
        t.suggest_float("x", -1.0, 1.0)
        study._storage.set_trial_param(t._trial_id, "x", x, dist)
out = {}
for liar in (False, True):
    sampler = optuna.samplers.TPESampler(constant_liar=liar)
    vals, scores, _ = _get_observation_pairs(study, ["x"], liar, False)
    trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING)
                              if liar else (TrialState.COMPLETE, TrialState.PRUNED))
    n = sum(s < float("inf") for s, v in scores)
    below, above = _split_observation_pairs(scores, sampler._gamma(n), None)
    has_x = [v is not None for v in vals["x"]]
    out["liar" if liar else "no_liar"] = {
        "n": n,
        "below": [trials[i].number for i in below if has_x[i]],
        "above": [trials[i].number for i in above if has_x[i]],
    }
print(json.dumps(out))
