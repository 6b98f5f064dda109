// A study's trials spread over MPI ranks: `mpirun -np N qbert search ...` (and `qbert lab2`).
//
// Rank 0 owns the study: its SQLite file, its sampler and its pruner. A rank that is free asks rank 0 for work;
// rank 0 creates the trial (Study::ask) and sends its number; the rank runs the objective on a remote
// search::Trial, whose every suggest / report / should_prune / user attribute is a request that rank 0's Study
// answers exactly as in one process, and finally tells the result, which rank 0 stores. So the study file is
// written by one process only, holds each trial once, and `--resume` after a crash or a killed job continues
// it like any other (trials left RUNNING by the dead job are failed as stale; nothing finished is lost).
// Rank 0 runs trials too, in a second thread, while its main thread answers the other ranks (the only thread
// that calls MPI). Every trial trains alone inside a dist::LocalScope: one rank, one trial.
//
// TPE samples with Optuna's constant-liar rule in such a study (search/samplers.h: TpeOptions::constant_liar),
// so trials started while others run are not all drawn into the same good region.
//
// A trial whose objective throws fails that trial, not the study: the rank tells FAIL with the reason and asks
// for the next one. A rank that dies (killed, out of memory) ends the MPI job: mpirun stops every rank.
//
// Usage: every rank constructs one StudyRanks after a setup all ranks agreed on (dist::agree). Rank 0 calls
// optimize() wherever one process would call Study::optimize (several times, several studies: a lab), then
// finish(); the other ranks call serve(), which runs trials of whatever study rank 0 hands out until rank 0
// finishes.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/dist/comm.h"
#include "search/study.h"

namespace qbert::experiments {

class StudyRanks {
public:
    using Values = std::vector<double>;  // one per objective
    using Objective = std::function<Values(search::Trial&)>;
    // Asks rank 0 to rename `tmp` to `dest` if trial `number` is still the study's best single-objective trial
    // when the request arrives (a better trial told in the meantime wins whatever order the files come in);
    // otherwise `tmp` is removed. Returns whether it was kept.
    using Keep = std::function<bool(int64_t number, const std::string& tmp, const std::string& dest)>;
    // Called on the rank that ran the trial once rank 0 has stored it: the trial as this rank saw it with its
    // final state and value(s), and whether it is the study's best now (single objective; a NAS study keeps
    // that model with `keep`).
    using Told = std::function<void(const search::FrozenTrial& done, bool best, const Keep& keep)>;
    struct Work {
        Objective objective;
        Told told;  // may be empty
    };
    using WorkFor = std::function<Work(const std::string& study)>;

    // serving: the other ranks serve() (a job that only needs the setup agreement, like lab1, passes false)
    explicit StudyRanks(bool serving = true);
    ~StudyRanks();  // rank 0: finish() unless an exception is on its way out (then the CLI ends the job)
    StudyRanks(const StudyRanks&) = delete;
    StudyRanks& operator=(const StudyRanks&) = delete;

    // Launched with more than one rank (dist::world_size() > 1).
    static bool distributed();

    // Rank 0: as study.optimize(objective, o, on_trial_end), the trials run on every rank (this one included,
    // with `work`). on_trial_end runs on rank 0 after each trial is stored, in the order trials finish.
    // Returns the trials this call ran. A trial that fails with o.catch_errors false throws (an engine::Error
    // naming it) once the trials still running have ended. If rank 0 itself fails here (its disk, its study
    // file), it prints the error and ends the MPI job (MPI_Abort): the other ranks are mid-trial.
    int64_t optimize(search::Study& study, const Work& work, const search::OptimizeOptions& o,
                     const search::Study::Callback& on_trial_end = nullptr);
    // Rank 0: no more trials; every other rank's serve() returns. Idempotent.
    void finish();

    // The other ranks: runs the trials rank 0 hands out, with the work for their study, until rank 0 finishes.
    void serve(const WorkFor& work_for);

    // Trials run by each rank in this process's optimize() calls so far (rank 0; index = rank).
    const std::vector<int64_t>& trials_per_rank() const;
    std::string trials_per_rank_text() const;  // "7,5": rank 0's count first

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// A command that runs studies on every rank (qbert search, qbert lab2). Every rank runs `job`; before its first
// trial the job calls agreed(): from there on rank 0 runs the studies (StudyRanks::optimize) and the others
// serve(). A rank that fails before agreed() (a config it cannot read, a study rank 0 cannot open) ends every
// rank with that error, printed once by rank 0, instead of leaving the others waiting for trials. The job must
// first call dist::check_same on its options (before anything that may fail on one rank only).
// Not launched under MPI (or with one rank): job(nullptr), exactly as before.
struct RankSetup {
    explicit RankSetup(bool studies) : ranks(studies) {}
    StudyRanks ranks;
    bool agreed = false;
    void agree() {  // every rank: its setup worked
        engine::dist::agree(true, "");
        agreed = true;
    }
};
// studies false: the job runs no study (lab1: data-parallel sweeps), so no rank serves trials.
int run_distributed(const std::function<int(RankSetup*)>& job, bool studies = true);

// A NAS study's best model, kept by the rank that trained it: write to a temporary file beside `dest`, then
// `keep` renames it if the trial is still the best. `save(path)` writes the checkpoint.
void keep_best_file(const search::FrozenTrial& done, const StudyRanks::Keep& keep, const std::string& dest,
                    const std::function<void(const std::string& path)>& save);

}  // namespace qbert::experiments
