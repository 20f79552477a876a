"""Two-sample criteria: how well generated rows can be told from real ones. A random forest's
out-of-bag ROC AUC (a classifier two-sample test, Lopez-Paz & Oquab 2017; 0.5: the forest
cannot tell them apart), which `aecli.sample_choice` ranks candidate code densities by, and
the energy distance (Szekely & Rizzo 2013)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

TREES = 50
FOREST: dict[str, Any] = {"max_samples": 0.5}  # each tree grown on half the rows (bootstrap)


def energy_distance(a: np.ndarray, b: np.ndarray, bb: float | None = None) -> float:
    """The (V-statistic) energy distance 2 E|A - B| - E|A - A'| - E|B - B'|; `bb`: E|B - B'|
    when already known (it is the same for every candidate)."""
    ta, tb = torch.from_numpy(a).double(), torch.from_numpy(b).double()
    ab = torch.cdist(ta, tb).mean()
    within = float(torch.cdist(tb, tb).mean()) if bb is None else bb
    return float(2 * ab - torch.cdist(ta, ta).mean()) - within


def two_sample_auc(real: np.ndarray, fake: np.ndarray, seed: int) -> float:
    """Out-of-bag ROC AUC of a random forest (TREES trees) telling `fake` rows from `real` ones.
    The trees are grown on the training's threads (torch's count: `--threads`); each tree's seed
    is drawn before they are grown and the out-of-bag votes are summed in tree order, so the AUC
    is the same on any number of threads."""
    return Forest(real, fake, seed).auc(TREES)


class Forest:
    """A two-sample random forest that can be grown: `auc(n)` adds trees up to n, and gives the
    AUC a forest of n trees grown at once would (the same seeds, in the same order)."""

    def __init__(self, real: np.ndarray, fake: np.ndarray, seed: int) -> None:
        from sklearn.ensemble import RandomForestClassifier

        self.x = np.vstack([real, fake])
        self.label = np.r_[np.zeros(len(real)), np.ones(len(fake))]
        jobs = torch.get_num_threads()
        self.forest = RandomForestClassifier(
            1, oob_score=True, random_state=seed, n_jobs=jobs, warm_start=True, **FOREST
        )
        self.aucs: dict[int, float] = {}

    def auc(self, trees: int) -> float:
        from sklearn.metrics import roc_auc_score

        if trees not in self.aucs:
            assert trees > len(getattr(self.forest, "estimators_", []))
            self.forest.set_params(n_estimators=trees)
            self.forest.fit(self.x, self.label)
            votes = self.forest.oob_decision_function_[:, 1]
            self.aucs[trees] = float(roc_auc_score(self.label, votes))
        return self.aucs[trees]
