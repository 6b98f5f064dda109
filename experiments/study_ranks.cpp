#include "experiments/study_ranks.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <deque>
#include <exception>
#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "engine/core/config.h"
#include "engine/core/error.h"
#include "engine/dist/comm.h"
#include "search/samplers.h"

namespace qbert::experiments {

namespace fs = std::filesystem;
namespace dist = engine::dist;
using json = nlohmann::json;
using search::FrozenTrial;
using search::Study;
using search::Trial;
using search::TrialState;

namespace {

constexpr int kRequestTag = 7101;  // a rank -> rank 0
constexpr int kAnswerTag = 7102;   // rank 0 -> a rank

json wire_values(const std::vector<double>& v) {
    json a = json::array();
    for (double x : v) a.push_back(search::wire_number(x));
    return a;
}

// A rank's end of the conversation: a request to rank 0 over MPI, the answer back.
class MpiChannel : public search::TrialChannel {
public:
    json call(const json& request) override {
        dist::send_text(0, kRequestTag, request.dump());
        json answer = json::parse(dist::receive(0, kAnswerTag).text);
        if (answer.contains("error")) throw search::Error(answer["error"].get<std::string>());
        return answer;
    }
};

// Runs trials until the answer to "ask" says there are no more (rank 0's own trials: the session is over;
// another rank: rank 0 has finished).
void run_trials(search::TrialChannel& channel, const StudyRanks::WorkFor& work_for) {
    const StudyRanks::Keep keep = [&](int64_t number, const std::string& tmp, const std::string& dest) {
        return channel.call({{"op", "keep_best"}, {"trial", number}, {"tmp", tmp}, {"dest", dest}}).at("kept").get<bool>();
    };
    for (;;) {
        const json task = channel.call({{"op", "ask"}});
        if (task.value("stop", false)) return;
        const std::string study = task.at("study").get<std::string>();
        const StudyRanks::Work work = work_for(study);
        FrozenTrial ft;
        ft.number = task.at("number").get<int64_t>();
        ft.id = task.at("id").get<int64_t>();
        Trial t = Trial::remote(channel, ft, study, task.at("multi").get<bool>());
        json tell{{"op", "tell"}, {"trial", ft.number}};
        try {
            tell["values"] = wire_values(work.objective(t));
            tell["state"] = "complete";
        } catch (const search::TrialPruned& e) {
            tell["state"] = "pruned";
            tell["reason"] = e.what();
        } catch (const std::exception& e) {
            tell["state"] = "fail";
            tell["reason"] = e.what();
        }
        const json told = channel.call(tell);
        if (work.told) {
            FrozenTrial done = t.frozen();
            done.state = search::parse_state(told.at("state").get<std::string>());
            for (const auto& v : told.at("values")) done.values.push_back(search::wire_number(v));
            if (done.values.size() == 1) done.value = done.values[0];
            work.told(done, told.at("best").get<bool>(), keep);
        }
        // the trial's last message: until it arrives the study stays open for this trial's keep_best
        channel.call({{"op", "done"}, {"trial", ft.number}});
    }
}

}  // namespace

struct StudyRanks::Impl {
    // ---- rank 0 ----
    std::mutex m;  // the study, its storage and sampler, the session: one request at a time
    struct Session {
        Study* study = nullptr;
        search::OptimizeOptions o;
        Study::Callback on_trial_end;
        std::chrono::steady_clock::time_point start;
        int64_t started = 0, ran = 0;
        std::map<int64_t, Trial> live;  // trials handed out and not yet done (told, then "done"), by number
        std::exception_ptr fatal;       // a failed trial with catch_errors false
    };
    std::optional<Session> session;
    std::deque<int> waiting;  // ranks whose "ask" is not answered yet (between sessions: until the next one)
    int finished_ranks = 0;   // ranks told to stop (finish)
    bool finished = false;
    bool serving = true;      // the other ranks serve() (false: a job that only agrees, e.g. lab1)
    std::vector<int64_t> per_rank;

    // May a new trial start now? (OptimizeOptions' limits, and a grid sampler that ran out.) Only ever turns
    // false during a session. Lock held.
    bool can_start() {
        if (!session) return false;
        Session& s = *session;
        if (s.fatal || s.study->stopped()) return false;
        // a grid whose every point is taken by a finished or running trial: no new trial (one process would
        // have stopped; here a running trial may still fail and give its point back)
        if (const auto* g = dynamic_cast<const search::GridSampler*>(&s.study->sampler());
            g && g->exhausted(s.study->trials()))
            return false;
        if (s.o.n_trials > 0 && s.started >= s.o.n_trials) return false;
        if (s.o.timeout_s > 0 &&
            std::chrono::duration<double>(std::chrono::steady_clock::now() - s.start).count() >= s.o.timeout_s)
            return false;
        if (s.o.study_trials > 0 && s.study->counted_trials() >= s.o.study_trials) return false;
        return true;
    }

    // A new trial for `rank` (lock held, can_start() true): its number, id and study.
    json start_trial(int rank) {
        Session& s = *session;
        Trial t = s.study->ask();
        s.study->storage().set_system_attr(t.id(), "rank", rank);
        const json task{{"study", s.study->name()}, {"number", t.number()}, {"id", t.id()}, {"multi", s.study->multi_objective()}};
        s.live.emplace(t.number(), std::move(t));
        ++s.started;
        if (static_cast<size_t>(rank) >= per_rank.size()) per_rank.resize(static_cast<size_t>(rank) + 1, 0);
        ++per_rank[static_cast<size_t>(rank)];
        return task;
    }

    Trial& live(const json& request) {
        const int64_t n = request.at("trial").get<int64_t>();
        if (!session) throw search::Error("trial " + std::to_string(n) + ": no study is running");
        auto it = session->live.find(n);
        if (it == session->live.end())
            throw search::Error("trial " + std::to_string(n) + " is not running in study '" + session->study->name() + "'");
        return it->second;
    }

    // Any request but "ask" (lock held). A request about a trial that cannot be carried out (an incompatible
    // distribution, a bad report) answers {"error"}, which fails that trial on its rank; a failure to store a
    // finished trial or of on_trial_end (the disk) throws: the study cannot go on.
    json answer(const json& request) {
        const std::string op = request.at("op").get<std::string>();
        if (op == "tell") return tell(request);
        if (op == "keep_best") return keep_best(request);
        if (op == "done") {
            live(request);  // (throws for a trial that is not running)
            session->live.erase(request.at("trial").get<int64_t>());
            return json::object();
        }
        try {
            Trial& t = live(request);
            if (op == "suggest") {
                const std::string name = request.at("name").get<std::string>();
                session->study->refresh_history(t.number());  // what the other ranks' trials drew since
                t.suggest(name, search::Distribution::from_json(request.at("dist")));
                return {{"value", search::wire_number(t.frozen().params.at(name))}};
            }
            if (op == "report") {
                t.report(search::wire_number(request.at("value")), request.at("step").get<int64_t>());
                return json::object();
            }
            if (op == "should_prune") return {{"prune", t.should_prune()}};
            if (op == "user_attr") {
                t.set_user_attr(request.at("key").get<std::string>(), request.at("value"));
                return json::object();
            }
            return {{"error", "unknown request '" + op + "'"}};
        } catch (const std::exception& e) {
            return {{"error", std::string(e.what())}};
        }
    }

    json tell(const json& request) {
        Trial& t = live(request);
        Session& s = *session;
        Study& study = *s.study;
        const std::string state = request.at("state").get<std::string>();
        const std::string reason = request.value("reason", "");
        FrozenTrial done;
        if (state == "complete") {
            std::vector<double> values;
            for (const auto& v : request.at("values")) values.push_back(search::wire_number(v));
            done = study.tell(t, values);  // one value: as tell(t, value)
        } else if (state == "pruned") {
            done = study.tell(t, TrialState::Pruned, std::nullopt, reason);
        } else {
            done = study.tell(t, TrialState::Fail, std::nullopt, reason);
            if (!s.o.catch_errors && !s.fatal)
                s.fatal = std::make_exception_ptr(engine::Error("trial " + std::to_string(done.number) + " failed: " + reason));
        }
        ++s.ran;
        if (s.on_trial_end) s.on_trial_end(study, done);
        bool best = false;
        if (!study.multi_objective() && done.state == TrialState::Complete) {
            const auto b = Study::best_of(study.trials(), study.direction());
            best = b && b->number == done.number;
        }
        return {{"state", search::state_name(done.state)}, {"values", wire_values(done.values)}, {"best", best}};
    }

    json keep_best(const json& request) {
        const int64_t n = request.at("trial").get<int64_t>();
        const std::string tmp = request.at("tmp").get<std::string>(), dest = request.at("dest").get<std::string>();
        live(request);  // the trial's "done" has not come yet, so its study is this session's
        bool still = false;
        if (!session->study->multi_objective()) {
            const auto b = Study::best_of(session->study->trials(), session->study->direction());
            still = b && b->number == n;
        }
        std::error_code ec;
        if (still) {
            fs::rename(tmp, dest, ec);
            if (ec) throw engine::Error("cannot keep the best trial's file: rename " + tmp + " -> " + dest + ": " + ec.message());
        } else {
            fs::remove(tmp, ec);
        }
        return {{"kept", still}};
    }

    // rank 0's own trials go through the same requests, without MPI
    class LocalChannel : public search::TrialChannel {
    public:
        explicit LocalChannel(Impl& impl) : impl_(impl) {}
        json call(const json& request) override {
            std::lock_guard<std::mutex> lock(impl_.m);
            json answer;
            if (request.at("op") == "ask")
                answer = impl_.can_start() ? impl_.start_trial(0) : json{{"stop", true}};
            else
                answer = impl_.answer(request);
            if (answer.contains("error")) throw search::Error(answer["error"].get<std::string>());
            return answer;
        }

    private:
        Impl& impl_;
    };

    // Answers one message from another rank, if one is waiting (main thread of rank 0). Returns false if none.
    bool serve_one() {
        auto msg = dist::try_receive(-1, kRequestTag);
        if (!msg) return false;
        const json request = json::parse(msg->text);
        if (request.at("op") == "ask") {
            std::lock_guard<std::mutex> lock(m);
            waiting.push_back(msg->source);
            return true;
        }
        json reply;
        {
            std::lock_guard<std::mutex> lock(m);
            reply = answer(request);
        }
        dist::send_text(msg->source, kAnswerTag, reply.dump());
        return true;
    }

    // Hands trials to waiting ranks while trials may start (main thread of rank 0).
    void hand_out() {
        for (;;) {
            int rank;
            json task;
            {
                std::lock_guard<std::mutex> lock(m);
                if (waiting.empty() || !can_start()) return;
                rank = waiting.front();
                waiting.pop_front();
                task = start_trial(rank);
            }
            dist::send_text(rank, kAnswerTag, task.dump());
        }
    }
};

StudyRanks::StudyRanks(bool serving) : impl_(std::make_unique<Impl>()) { impl_->serving = serving; }

StudyRanks::~StudyRanks() {
    if (dist::world_rank() != 0 || std::uncaught_exceptions() > 0) return;
    try {
        finish();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "error: ending the distributed study: %s\n", e.what());
    }
}

bool StudyRanks::distributed() { return dist::world_size() > 1; }

const std::vector<int64_t>& StudyRanks::trials_per_rank() const { return impl_->per_rank; }

std::string StudyRanks::trials_per_rank_text() const {
    std::string s;
    const auto& per = impl_->per_rank;
    for (int r = 0; r < std::max<int>(dist::world_size(), static_cast<int>(per.size())); ++r)
        s += (r ? "," : "") + std::to_string(r < static_cast<int>(per.size()) ? per[static_cast<size_t>(r)] : 0);
    return s;
}

int64_t StudyRanks::optimize(Study& study, const Work& work, const search::OptimizeOptions& o,
                             const Study::Callback& on_trial_end) {
    if (dist::world_rank() != 0) throw engine::Error("StudyRanks::optimize runs on rank 0 (the other ranks serve())");
    Impl& im = *impl_;
    if (im.finished) throw engine::Error("StudyRanks::optimize after finish()");
    {
        std::lock_guard<std::mutex> lock(im.m);
        Impl::Session s;
        s.study = &study;
        s.o = o;
        s.on_trial_end = on_trial_end;
        s.start = std::chrono::steady_clock::now();
        study.reset_stop();  // a stop() of an earlier session ended that one only (as Study::optimize)
        im.session.emplace(std::move(s));
        if (auto* tpe = dynamic_cast<search::TpeSampler*>(&study.sampler())) tpe->set_constant_liar(true);
    }
    std::atomic<bool> local_done{false};
    std::exception_ptr local_error;  // written before local_done turns true
    const int threads = engine::num_threads();  // OpenMP's count is per thread: a new thread starts at the default
    std::thread local([&] {
        try {
            engine::set_num_threads(threads);
            dist::LocalScope alone;  // this thread trains by itself and never calls MPI
            Impl::LocalChannel channel(im);
            run_trials(channel, [&](const std::string&) { return work; });
        } catch (...) {
            local_error = std::current_exception();
        }
        local_done = true;
    });
    try {
        for (;;) {
            im.hand_out();
            {
                std::lock_guard<std::mutex> lock(im.m);
                if (local_done && im.session->live.empty() && !im.can_start()) break;
            }
            if (local_done && local_error) break;
            if (!im.serve_one()) std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
    } catch (const std::exception& e) {
        // rank 0 cannot go on (its disk, its study file): the other ranks are mid-trial and this thread's trial
        // uses what is about to be destroyed, so end the job here, saying why
        std::fprintf(stderr, "error (rank 0 of %d, owner of study '%s'): %s\n", dist::world_size(), study.name().c_str(),
                     e.what());
        std::fflush(stderr);
        dist::abort_all(1);
    }
    local.join();
    if (local_error) std::rethrow_exception(local_error);
    std::lock_guard<std::mutex> lock(im.m);
    const int64_t ran = im.session->ran;
    const std::exception_ptr fatal = im.session->fatal;
    im.session.reset();
    if (fatal) std::rethrow_exception(fatal);
    return ran;
}

void StudyRanks::finish() {
    Impl& im = *impl_;
    if (im.finished || dist::world_rank() != 0 || !im.serving) return;
    im.finished = true;
    const int others = dist::world_size() - 1;
    for (;;) {
        {
            std::lock_guard<std::mutex> lock(im.m);
            while (!im.waiting.empty()) {
                const int rank = im.waiting.front();
                im.waiting.pop_front();
                dist::send_text(rank, kAnswerTag, json{{"stop", true}}.dump());
                ++im.finished_ranks;
            }
            if (im.finished_ranks >= others) return;
        }
        if (!im.serve_one()) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
}

void StudyRanks::serve(const WorkFor& work_for) {
    if (dist::world_rank() == 0) throw engine::Error("StudyRanks::serve runs on the ranks other than 0");
    dist::LocalScope alone;  // each trial trains on this rank alone
    MpiChannel channel;
    run_trials(channel, work_for);
}

int run_distributed(const std::function<int(RankSetup*)>& job, bool studies) {
    if (!StudyRanks::distributed()) return job(nullptr);
    RankSetup setup(studies);
    try {
        return job(&setup);
    } catch (const dist::AgreedError&) {
        throw;
    } catch (const std::exception& e) {
        // the others wait in RankSetup::agree(), which this call completes: every rank stops with this error
        if (!setup.agreed) dist::agree(false, e.what());
        throw;
    }
}

void keep_best_file(const FrozenTrial& done, const StudyRanks::Keep& keep, const std::string& dest,
                    const std::function<void(const std::string& path)>& save) {
    const std::string tmp = dest + ".trial" + std::to_string(done.number) + "." + std::to_string(getpid()) + ".tmp";
    save(tmp);
    keep(done.number, tmp, dest);
}

}  // namespace qbert::experiments
