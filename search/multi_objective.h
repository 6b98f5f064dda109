// The multi-objective building blocks Optuna's studies and samplers use, on "loss vectors" (every objective to
// be minimised: maximised ones negated, to_loss): Pareto dominance and fronts (optuna/study/_multi_objective.py),
// non-dominated sorting and crowding distance (optuna/samplers/nsgaii/), the hypervolume
// (optuna/_hypervolume/wfg.py compute_hypervolume) and greedy hypervolume subset selection
// (optuna/_hypervolume/hssp.py _solve_hssp), as of Optuna 4.6 (mase-behaviour.md source O4).
#pragma once

#include <cstddef>
#include <vector>

#include "search/trial.h"

namespace qbert::search {

using Point = std::vector<double>;  // one value per objective

// The values in the minimisation convention: objectives to maximise negated.
Point to_loss(const std::vector<double>& values, const std::vector<Direction>& directions);

// `a` dominates `b`: no worse in every objective and strictly better in at least one (equal points do not
// dominate each other).
bool dominates(const Point& a, const Point& b);

// For each point: does no other point dominate it? Duplicates of a non-dominated point are all kept.
std::vector<bool> pareto_mask(const std::vector<Point>& loss);

// Non-dominated sorting: rank 0 = the Pareto front, rank 1 = the front once rank 0 is removed, and so on
// (equal points share a rank).
std::vector<int> non_domination_ranks(const std::vector<Point>& loss);

// NSGA-II's crowding distance of each point of one front (Optuna's _calc_crowding_distance): per objective the
// points are sorted by value and each gets (next value - previous value) / (max - min), the lowest and the
// highest getting infinity; an objective where all values are equal adds nothing. Summed over objectives.
// The direction of an objective does not change it.
std::vector<double> crowding_distance(const std::vector<Point>& values);

// The hypervolume of the region dominated by `points` and bounded by `reference` (Optuna's
// compute_hypervolume): exact, a sweep in 2-D, the WFG algorithm (While et al. 2012) from 3-D up. Every point
// must be <= reference in every coordinate (throws otherwise, as Optuna); no points = 0; a reference with an
// infinite coordinate = infinity.
double hypervolume(const std::vector<Point>& points, const Point& reference);

// Greedy hypervolume subset selection (Optuna's _solve_hssp): `k` of the points, chosen one at a time by the
// largest hypervolume they add to those chosen so far (the first in lexicographic order on ties); duplicates
// are chosen only once every distinct point is. Returns indices into `loss`, in the order chosen.
std::vector<size_t> hssp_greedy(const std::vector<Point>& loss, size_t k, const Point& reference);

// TPE's reference point for a set of loss vectors (Optuna's _get_reference_point): per objective the worst
// value w gives max(1.1 w, 0.9 w), and a 0 becomes 1e-12.
Point tpe_reference_point(const std::vector<Point>& loss);

}  // namespace qbert::search
