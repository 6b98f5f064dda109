#include "search/multi_objective.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace qbert::search {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
}

Point to_loss(const std::vector<double>& values, const std::vector<Direction>& directions) {
    if (values.size() != directions.size())
        throw Error(std::to_string(values.size()) + " values for " + std::to_string(directions.size()) + " objectives");
    Point p(values.size());
    for (size_t i = 0; i < values.size(); ++i) p[i] = directions[i] == Direction::Maximize ? -values[i] : values[i];
    return p;
}

bool dominates(const Point& a, const Point& b) {
    bool strictly = false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (a[i] > b[i]) return false;
        strictly = strictly || a[i] < b[i];
    }
    return strictly;
}

std::vector<bool> pareto_mask(const std::vector<Point>& loss) {
    std::vector<bool> on(loss.size(), true);
    for (size_t i = 0; i < loss.size(); ++i)
        for (size_t j = 0; j < loss.size() && on[i]; ++j)
            if (j != i && dominates(loss[j], loss[i])) on[i] = false;
    return on;
}

std::vector<int> non_domination_ranks(const std::vector<Point>& loss) {
    // Deb's fast non-dominated sort: count who dominates each point, peel off the points nobody left dominates
    const size_t n = loss.size();
    std::vector<std::vector<size_t>> dominated_by_me(n);
    std::vector<int> count(n, 0), rank(n, -1);
    for (size_t i = 0; i < n; ++i)
        for (size_t j = i + 1; j < n; ++j) {
            if (dominates(loss[i], loss[j])) {
                dominated_by_me[i].push_back(j);
                ++count[j];
            } else if (dominates(loss[j], loss[i])) {
                dominated_by_me[j].push_back(i);
                ++count[i];
            }
        }
    std::vector<size_t> front;
    for (size_t i = 0; i < n; ++i)
        if (count[i] == 0) front.push_back(i);
    for (int r = 0; !front.empty(); ++r) {
        std::vector<size_t> next;
        for (size_t i : front) {
            rank[i] = r;
            for (size_t j : dominated_by_me[i])
                if (--count[j] == 0) next.push_back(j);
        }
        front = std::move(next);
    }
    return rank;
}

std::vector<double> crowding_distance(const std::vector<Point>& values) {
    const size_t n = values.size();
    std::vector<double> dist(n, 0.0);
    if (n == 0) return dist;
    std::vector<size_t> order(n);
    std::iota(order.begin(), order.end(), size_t{0});
    for (size_t m = 0; m < values[0].size(); ++m) {
        // sorted in place objective after objective, as Optuna sorts its list (ties keep the previous order)
        std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return values[a][m] < values[b][m]; });
        if (values[order.front()][m] == values[order.back()][m]) continue;  // all equal: no information
        std::vector<double> vs{-kInf};
        for (size_t i : order) vs.push_back(values[i][m]);
        vs.push_back(kInf);
        const double lo = *std::find_if(vs.begin(), vs.end(), [](double x) { return x != -kInf; });
        const double hi = *std::find_if(vs.rbegin(), vs.rend(), [](double x) { return x != kInf; });
        double width = hi - lo;
        if (!(width > 0)) width = 1.0;
        for (size_t j = 0; j < n; ++j) {
            const double gap = vs[j] == vs[j + 2] ? 0.0 : vs[j + 2] - vs[j];  // inf - inf counts as 0
            dist[order[j]] += gap / width;
        }
    }
    return dist;
}

// ---------------------------------------------------------------- hypervolume

namespace {

double box_volume(const Point& p, const Point& ref) {
    double v = 1.0;
    for (size_t i = 0; i < p.size(); ++i) v *= ref[i] - p[i];
    return v;
}

// The distinct points no other point dominates, in lexicographic order: the same volume, fewer points.
std::vector<Point> nondominated_sorted(std::vector<Point> pts) {
    std::sort(pts.begin(), pts.end());
    pts.erase(std::unique(pts.begin(), pts.end()), pts.end());
    std::vector<Point> kept;  // after the sort only an earlier point can dominate a later one
    for (auto& p : pts)
        if (std::none_of(kept.begin(), kept.end(), [&](const Point& q) { return dominates(q, p); }))
            kept.push_back(std::move(p));
    return kept;
}

// 2-D: x ascending means y descending on a front; a sum of slabs.
double hv_2d(const std::vector<Point>& front, const Point& ref) {
    double v = 0.0, y = ref[1];
    for (const Point& p : front) {
        v += (ref[0] - p[0]) * (y - p[1]);
        y = p[1];
    }
    return v;
}

// WFG: HV(p_1..p_n) = sum_i [box(p_i) - HV(limit(p_i, {p_i+1..p_n}))], where limit moves every later point to
// max(p_j, p_i), i.e. the part of the later points' region inside p_i's box. `front`: nondominated_sorted.
double hv_wfg(const std::vector<Point>& front, const Point& ref) {
    if (front.empty()) return 0.0;
    if (front.size() == 1) return box_volume(front[0], ref);
    if (ref.size() == 2) return hv_2d(front, ref);
    double v = 0.0;
    for (size_t i = 0; i < front.size(); ++i) {
        std::vector<Point> limited;
        for (size_t j = i + 1; j < front.size(); ++j) {
            Point q = front[j];
            for (size_t k = 0; k < q.size(); ++k) q[k] = std::max(q[k], front[i][k]);
            limited.push_back(std::move(q));
        }
        v += box_volume(front[i], ref) - hv_wfg(nondominated_sorted(std::move(limited)), ref);
    }
    return v;
}

}  // namespace

double hypervolume(const std::vector<Point>& points, const Point& reference) {
    for (const Point& p : points) {
        if (p.size() != reference.size())
            throw Error("hypervolume: a point has " + std::to_string(p.size()) + " coordinates, the reference point " +
                        std::to_string(reference.size()));
        for (size_t i = 0; i < p.size(); ++i)
            if (!(p[i] <= reference[i]))
                throw Error("hypervolume: every point must be <= the reference point in every coordinate "
                            "(coordinate " + std::to_string(i) + ": " + std::to_string(p[i]) + " > " +
                            std::to_string(reference[i]) + ")");
    }
    for (double r : reference)
        if (!std::isfinite(r)) return kInf;
    if (points.empty()) return 0.0;
    const double v = hv_wfg(nondominated_sorted(points), reference);
    return std::isfinite(v) ? v : kInf;
}

std::vector<size_t> hssp_greedy(const std::vector<Point>& loss, size_t k, const Point& reference) {
    const size_t n = loss.size();
    std::vector<size_t> all(n);
    std::iota(all.begin(), all.end(), size_t{0});
    if (k >= n) return all;
    // the distinct points in lexicographic order, each by its first index
    std::vector<size_t> order = all;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return loss[a] < loss[b]; });
    std::vector<size_t> distinct;
    std::vector<bool> first(n, false);
    for (size_t i = 0; i < n; ++i)
        if (i == 0 || loss[order[i]] != loss[order[i - 1]]) {
            distinct.push_back(order[i]);
            first[order[i]] = true;
        }
    if (distinct.size() < k) {  // every distinct point, then the earliest duplicates
        std::vector<size_t> chosen;
        size_t extra = k - distinct.size();
        for (size_t i = 0; i < n; ++i)
            if (first[i] || (extra > 0 && (--extra, true))) chosen.push_back(i);
        return chosen;
    }
    for (double r : reference)
        if (!std::isfinite(r)) return {distinct.begin(), distinct.begin() + static_cast<std::ptrdiff_t>(k)};
    std::vector<size_t> chosen;
    std::vector<Point> selected;
    double hv_selected = 0.0;
    while (chosen.size() < k) {
        size_t best = 0;
        double best_gain = -kInf;
        for (size_t c = 0; c < distinct.size(); ++c) {
            selected.push_back(loss[distinct[c]]);
            const double gain = hypervolume(selected, reference) - hv_selected;
            selected.pop_back();
            if (gain > best_gain) {
                best_gain = gain;
                best = c;
            }
        }
        chosen.push_back(distinct[best]);
        selected.push_back(loss[distinct[best]]);
        hv_selected = hypervolume(selected, reference);
        distinct.erase(distinct.begin() + static_cast<std::ptrdiff_t>(best));
    }
    return chosen;
}

Point tpe_reference_point(const std::vector<Point>& loss) {
    Point worst = loss.at(0);
    for (const Point& p : loss)
        for (size_t i = 0; i < p.size(); ++i) worst[i] = std::max(worst[i], p[i]);
    for (double& w : worst) {
        w = std::max(1.1 * w, 0.9 * w);
        if (w == 0.0) w = 1e-12;
    }
    return worst;
}

}  // namespace qbert::search
