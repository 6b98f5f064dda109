// NSGA-II as Optuna 4.6 runs it (optuna/samplers/nsgaii/_sampler.py, _elite_population_selection_strategy.py,
// _child_generation_strategy.py, _crossover.py, optuna/samplers/_ga/_base.py); the semantics are summarised
// at NsgaIISampler in samplers.h. Our own code; random numbers come from per-trial streams, not Optuna's.
#include <algorithm>
#include <cmath>

#include "search/multi_objective.h"
#include "search/samplers.h"

namespace qbert::search {

namespace {

bool in_unit_range(double p) { return p >= 0.0 && p <= 1.0; }

}  // namespace

NsgaIISampler::NsgaIISampler(uint64_t seed, NsgaIIOptions o) : seed_(seed), o_(o) {
    if (o_.population_size < 2) throw Error("nsga2: population_size must be >= 2");
    if (o_.mutation_prob && !in_unit_range(*o_.mutation_prob)) throw Error("nsga2: mutation_prob must be in [0, 1]");
    if (!in_unit_range(o_.crossover_prob)) throw Error("nsga2: crossover_prob must be in [0, 1]");
    if (!in_unit_range(o_.swapping_prob)) throw Error("nsga2: swapping_prob must be in [0, 1]");
}

double NsgaIISampler::sample_independent(const Study&, const FrozenTrial& trial, const std::string& name,
                                         const Distribution& d) {
    SamplerRng rng(stream_seed(seed_, trial.number, name));  // RandomSampler's draw with the same seed
    return RandomSampler::draw(d, rng);
}

// Optuna's BaseGASampler.get_trial_generation: the newest generation among the COMPLETE trials while it has
// fewer than population_size of them, else the next one. Stored with the trial.
int64_t NsgaIISampler::generation_of(Study& study, FrozenTrial& trial) const {
    if (trial.system_attrs.contains(kGenerationKey)) return trial.system_attrs[kGenerationKey].get<int64_t>();
    int64_t newest = 0, count = 0;
    for (const auto& t : study.history()) {
        if (!t.complete()) continue;
        const int64_t g = t.system_attrs.value(kGenerationKey, int64_t{-1});
        if (g > newest) {
            newest = g;
            count = 1;
        } else if (g == newest) {
            ++count;
        }
    }
    const int64_t g = count < o_.population_size ? newest : newest + 1;
    trial.system_attrs[kGenerationKey] = g;
    study.storage().set_system_attr(trial.id, kGenerationKey, g);
    return g;
}

std::vector<size_t> NsgaIISampler::select_elite(const std::vector<const FrozenTrial*>& population,
                                                const std::vector<Direction>& directions, size_t size) {
    std::vector<Point> loss;
    for (const FrozenTrial* t : population) loss.push_back(to_loss(t->values, directions));
    const std::vector<int> rank = non_domination_ranks(loss);
    const int worst = rank.empty() ? -1 : *std::max_element(rank.begin(), rank.end());
    std::vector<size_t> elite;
    for (int r = 0; r <= worst; ++r) {
        std::vector<size_t> members;  // in population order
        for (size_t i = 0; i < population.size(); ++i)
            if (rank[i] == r) members.push_back(i);
        if (elite.size() + members.size() < size) {
            elite.insert(elite.end(), members.begin(), members.end());
            continue;
        }
        // the rank that does not fit: the most crowded-apart first (Optuna's _crowding_distance_sort: the list
        // ends up sorted by the last objective, then by distance ascending, then reversed)
        std::vector<Point> values;
        for (size_t i : members) values.push_back(population[i]->values);
        const std::vector<double> dist = crowding_distance(values);
        std::vector<size_t> order(members.size());
        for (size_t k = 0; k < order.size(); ++k) order[k] = k;
        for (size_t m = 0; m < directions.size(); ++m)
            std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return values[a][m] < values[b][m]; });
        std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return dist[a] < dist[b]; });
        std::reverse(order.begin(), order.end());
        for (size_t k = 0; elite.size() < size && k < order.size(); ++k) elite.push_back(members[order[k]]);
        break;
    }
    return elite;
}

// Optuna's select_parent: the elite of generation g-1's COMPLETE trials together with g-1's own parents.
const std::vector<int64_t>& NsgaIISampler::parents(const Study& study, int64_t generation) {
    static const std::vector<int64_t> none;
    if (generation <= 0) return none;
    const auto key = std::make_pair(study.name(), generation);
    if (const auto it = parents_.find(key); it != parents_.end()) return it->second;
    const std::vector<int64_t> before = parents(study, generation - 1);
    const auto& history = study.history();
    std::vector<const FrozenTrial*> pool;
    for (const auto& t : history)
        if (t.complete() && t.system_attrs.value(kGenerationKey, int64_t{-1}) == generation - 1) pool.push_back(&t);
    for (int64_t n : before)
        if (n >= 0 && static_cast<size_t>(n) < history.size()) pool.push_back(&history[static_cast<size_t>(n)]);
    std::vector<int64_t> numbers;
    for (size_t i : select_elite(pool, study.directions(), static_cast<size_t>(o_.population_size)))
        numbers.push_back(pool[i]->number);
    return parents_[key] = std::move(numbers);
}

// Two parents by binary tournament (the second drawn from the others), then Optuna's uniform crossover:
// each parameter from the second parent when a uniform draw is >= swapping_prob, categoricals first. Tried
// again while a child value lies outside its distribution (at most 100 times; then no crossover: {}).
std::map<std::string, double> NsgaIISampler::crossover(const std::vector<const FrozenTrial*>& pop,
                                                       const std::map<std::string, Distribution>& space,
                                                       const std::vector<Direction>& directions,
                                                       SamplerRng& rng) const {
    std::vector<int> rank;
    std::vector<double> crowd;
    if (o_.crowded_tournament) {
        std::vector<Point> loss, values;
        for (const FrozenTrial* t : pop) {
            loss.push_back(to_loss(t->values, directions));
            values.push_back(t->values);
        }
        rank = non_domination_ranks(loss);
        crowd = crowding_distance(values);
    }
    // the winner of two random candidates among `pool` (indices into pop)
    const auto tournament = [&](const std::vector<size_t>& pool) {
        const size_t a = pool[rng.below(pool.size())], b = pool[rng.below(pool.size())];
        if (o_.crowded_tournament)
            return rank[a] < rank[b] || (rank[a] == rank[b] && crowd[a] > crowd[b]) ? a : b;
        return dominates(to_loss(pop[a]->values, directions), to_loss(pop[b]->values, directions)) ? a : b;
    };
    std::vector<std::string> order;  // categorical parameters first, as Optuna crosses them first
    for (const auto& [name, d] : space)
        if (d.kind == Distribution::Kind::Categorical) order.push_back(name);
    for (const auto& [name, d] : space)
        if (d.kind != Distribution::Kind::Categorical) order.push_back(name);
    std::vector<size_t> everyone(pop.size());
    for (size_t i = 0; i < pop.size(); ++i) everyone[i] = i;
    for (int attempt = 0; attempt < 100; ++attempt) {
        const size_t first = tournament(everyone);
        std::vector<size_t> others;
        for (size_t i : everyone)
            if (i != first) others.push_back(i);
        const size_t second = others.empty() ? first : tournament(others);
        std::map<std::string, double> child;
        bool inside = true;
        for (const auto& name : order) {
            const FrozenTrial* from = rng.uniform() >= o_.swapping_prob ? pop[second] : pop[first];
            const double v = from->params.at(name);
            inside = inside && space.at(name).contains(v);
            child[name] = v;
        }
        if (inside) return child;
    }
    return {};
}

std::map<std::string, double> NsgaIISampler::sample_relative(Study& study, FrozenTrial& trial) {
    const int64_t generation = generation_of(study, trial);
    const std::vector<int64_t>& numbers = parents(study, generation);
    if (numbers.empty()) return {};  // generation 0: every parameter at random
    const auto& history = study.history();
    const auto space = intersection_search_space(history, false);  // over the COMPLETE trials
    std::vector<const FrozenTrial*> pop;
    for (int64_t n : numbers) pop.push_back(&history.at(static_cast<size_t>(n)));
    SamplerRng rng(stream_seed(seed_, trial.number, "nsga2"));
    std::map<std::string, double> child;
    if (rng.uniform() < o_.crossover_prob) {
        child = crossover(pop, space, study.directions(), rng);
    } else {
        const FrozenTrial* parent = pop[rng.below(pop.size())];
        for (const auto& [name, d] : space) child[name] = parent->params.at(name);
    }
    const double mutation_prob =
        o_.mutation_prob.value_or(1.0 / std::max(1.0, static_cast<double>(child.size())));
    std::map<std::string, double> out;
    for (const auto& [name, v] : child)
        if (rng.uniform() >= mutation_prob) out[name] = v;  // else: left out, drawn at random
    return out;
}

}  // namespace qbert::search
