"""The Bayesian search's acquisition step: KerasTuner's procedure against the lab's.

Each case fits KerasTuner's own Gaussian process (`_keras_tuner.surrogate_process`) to `n` random
points of a smooth objective with noise, in the unit cube of `dims` dimensions (how
KerasTuner encodes a search space), and minimizes the bound `mean - beta * std` twice:

    KerasTuner   L-BFGS-B from 50 random starts, numerical gradients
                 (`BayesianOptimizationOracle.populate_space`, as of keras-tuner 1.4);
    lab          2,000 random candidates scored in one prediction, the best 3 refined
                 with L-BFGS-B, leaving out points within 0.01 of a trial already run
                 (`lab.tuning.minimize_bound`).

Printed: the median time of each per step; in how many cases KerasTuner's point lies beside a
trial already run (which the lab's rule leaves out); and, in the other cases, how often the
lab's bound is as low as KerasTuner's (within 1e-6) or lower, with the largest shortfall.

Run: python benchmarks/acquisition.py [--cases 20] [--dims 5] [--points 4 12]
"""

from __future__ import annotations

import argparse
import time
import warnings

import keras_tuner as kt
import numpy as np
import scipy.optimize

from lab import tuning

BETA = 2.6  # KerasTuner's default
MIN_DISTANCE = tuning.BatchAcquisitionOracle.min_distance


def objective(x: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    """A smooth bowl with a ripple, plus noise: a stand-in for a validation loss over [0, 1]^d."""
    centre = np.linspace(0.3, 0.7, x.shape[1])
    return (
        ((x - centre) ** 2).sum(axis=1)
        + 0.05 * np.sin(8 * x).sum(axis=1)
        + 0.01 * rng.standard_normal(len(x))
    )


def keras_tuner_bound(gpr, bounds: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    def bound(v):
        mean, std = gpr.predict(v.reshape(1, -1), return_std=True)
        return mean - BETA * std

    best, best_value = None, np.inf
    for start in rng.uniform(bounds[:, 0], bounds[:, 1], size=(50, bounds.shape[0])):
        result = scipy.optimize.minimize(bound, x0=start, bounds=bounds, method="L-BFGS-B")
        value = float(np.ravel(result.fun)[0])
        if value < best_value:
            best, best_value = result.x, value
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=20)
    parser.add_argument("--dims", type=int, default=5)
    parser.add_argument(
        "--points", type=int, nargs=2, default=(4, 12), help="fewest and most observed trials"
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message=".*close to the specified")  # few points, short length scales

    oracle = kt.oracles.BayesianOptimizationOracle(objective=kt.Objective("val_mse", "min"), seed=1)
    bounds = np.array([[0.0, 1.0]] * args.dims)
    times = {"KerasTuner": [], "lab": []}
    as_low, beside, shortfalls = 0, 0, []
    for case in range(args.cases):
        rng = np.random.RandomState(case)
        n = rng.randint(args.points[0], args.points[1] + 1)
        x = rng.uniform(size=(n, args.dims))
        gpr = tuning._keras_tuner.surrogate_process(oracle)
        gpr.fit(x, objective(x, rng))

        def value(point, gpr=gpr):
            mean, std = gpr.predict(np.atleast_2d(point), return_std=True)
            return float(mean[0] - BETA * std[0])

        start = time.perf_counter()
        theirs = keras_tuner_bound(gpr, bounds, np.random.RandomState(case))
        times["KerasTuner"].append(time.perf_counter() - start)
        start = time.perf_counter()
        ours = tuning.minimize_bound(
            gpr, bounds, BETA, np.random.RandomState(case), avoid=x, min_distance=MIN_DISTANCE
        )
        times["lab"].append(time.perf_counter() - start)
        if np.linalg.norm(x - theirs, axis=1).min() < MIN_DISTANCE:
            beside += 1
            continue
        gap = value(ours) - value(theirs)
        if gap <= 1e-6:
            as_low += 1
        else:
            shortfalls.append(gap)
    print(f"{args.cases} cases, {args.dims} dimensions, {args.points[0]} to {args.points[1]} observed trials")
    for name, spent in times.items():
        print(f"{name:>11}: median {np.median(spent):.3f} s per acquisition step (max {max(spent):.3f} s)")
    print(f"KerasTuner's point beside a trial already run (within {MIN_DISTANCE}): {beside} of {args.cases}")
    print(
        f"in the other {args.cases - beside}, the lab's bound as low as KerasTuner's or lower in {as_low}"
        + (f"; largest shortfall {max(shortfalls):.2e}" if shortfalls else "")
    )


if __name__ == "__main__":
    main()
