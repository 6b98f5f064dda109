#include "engine/dist/comm.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>
#include <cstring>
#include <vector>

#include "engine/core/error.h"

#ifdef QBERT_HAVE_MPI
#define OMPI_SKIP_MPICXX 1  // the C API only: the deprecated C++ bindings do not compile warning-free
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace qbert::engine::dist {

namespace {
bool g_initialized = false;  // this process called MPI_Init (and must finalize)
int g_rank = 0, g_size = 1;
thread_local int g_local = 0;  // LocalScope objects alive on this thread: it computes as a group of one

bool launched_by_mpi() {
    for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK", "SLURM_STEP_NUM_TASKS"})
        if (std::getenv(v) != nullptr) return true;
    return false;
}

#ifdef QBERT_HAVE_MPI
void check(int rc, const char* what) {
    if (rc != MPI_SUCCESS) {
        char msg[MPI_MAX_ERROR_STRING];
        int len = 0;
        MPI_Error_string(rc, msg, &len);
        throw Error(detail::concat(what, " failed: ", std::string(msg, static_cast<size_t>(len))));
    }
}
#endif
}  // namespace

bool built_with_mpi() {
#ifdef QBERT_HAVE_MPI
    return true;
#else
    return false;
#endif
}

void init(int* argc, char*** argv) {
#ifdef QBERT_HAVE_MPI
    if (g_initialized || !launched_by_mpi()) return;
    int provided = 0;
    // FUNNELED: only the main thread calls MPI; OpenMP threads do the compute in between.
    check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    g_initialized = true;
    if (provided < MPI_THREAD_FUNNELED) {  // rank 0 of a distributed study trains in a second thread
        MPI_Finalize();
        g_initialized = false;
        throw Error("MPI_Init_thread: this MPI library provides no thread support (MPI_THREAD_FUNNELED needed)");
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
#else
    (void)argc, (void)argv;
#endif
}

void finalize() {
#ifdef QBERT_HAVE_MPI
    if (g_initialized) {
        MPI_Finalize();
        g_initialized = false;
        g_rank = 0, g_size = 1;
    }
#endif
}

int rank() { return g_local > 0 ? 0 : g_rank; }
int size() { return g_local > 0 ? 1 : g_size; }
int world_rank() { return g_rank; }
int world_size() { return g_size; }

LocalScope::LocalScope() { ++g_local; }
LocalScope::~LocalScope() { --g_local; }

namespace {
// The three sums differ only in MPI's type tag.
#ifdef QBERT_HAVE_MPI
void allreduce_in_place(void* data, int64_t n, MPI_Datatype type) {
    if (size() > 1 && n > 0)
        check(MPI_Allreduce(MPI_IN_PLACE, data, static_cast<int>(n), type, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
}
#define QBERT_ALLREDUCE(data, n, type) allreduce_in_place(data, n, type)
#else
#define QBERT_ALLREDUCE(data, n, type) ((void)(data), (void)(n))
#endif
}  // namespace

void allreduce_sum(float* data, int64_t n) { QBERT_ALLREDUCE(data, n, MPI_FLOAT); }
void allreduce_sum(double* data, int64_t n) { QBERT_ALLREDUCE(data, n, MPI_DOUBLE); }
void allreduce_sum(int64_t* data, int64_t n) { QBERT_ALLREDUCE(data, n, MPI_INT64_T); }
#undef QBERT_ALLREDUCE

void broadcast(void* data, int64_t bytes, int root) {
#ifdef QBERT_HAVE_MPI
    if (size() > 1 && bytes > 0)
        check(MPI_Bcast(data, static_cast<int>(bytes), MPI_BYTE, root, MPI_COMM_WORLD), "MPI_Bcast");
#else
    (void)data, (void)bytes, (void)root;
#endif
}

void barrier() {
#ifdef QBERT_HAVE_MPI
    if (size() > 1) check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
#endif
}

PendingSum::PendingSum(PendingSum&& o) noexcept : request_(o.request_) { o.request_ = nullptr; }
PendingSum& PendingSum::operator=(PendingSum&& o) noexcept {
    if (this != &o) {
        if (request_ != nullptr) wait();
        request_ = o.request_;
        o.request_ = nullptr;
    }
    return *this;
}
PendingSum::~PendingSum() {
    if (request_ != nullptr) {
        try {
            wait();
        } catch (...) {  // a destructor does not throw; the failure was MPI's and MPI aborts by default
        }
    }
}

PendingSum PendingSum::start(float* data, int64_t n) {
    PendingSum p;
#ifdef QBERT_HAVE_MPI
    if (size() > 1 && n > 0) {
        auto* req = new MPI_Request;
        check(MPI_Iallreduce(MPI_IN_PLACE, data, static_cast<int>(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD, req),
              "MPI_Iallreduce");
        p.request_ = req;
    }
#else
    (void)data, (void)n;
#endif
    return p;
}

bool PendingSum::test() {
#ifdef QBERT_HAVE_MPI
    if (request_ == nullptr) return true;
    int done = 0;
    check(MPI_Test(static_cast<MPI_Request*>(request_), &done, MPI_STATUS_IGNORE), "MPI_Test");
    if (done) {
        delete static_cast<MPI_Request*>(request_);
        request_ = nullptr;
    }
    return done != 0;
#else
    return true;
#endif
}

void PendingSum::wait() {
#ifdef QBERT_HAVE_MPI
    if (request_ == nullptr) return;
    auto* req = static_cast<MPI_Request*>(request_);
    request_ = nullptr;
    const int rc = MPI_Wait(req, MPI_STATUS_IGNORE);
    delete req;
    check(rc, "MPI_Wait");
#endif
}

void agree(bool ok, const std::string& message) {
    if (size() <= 1) {
        if (!ok) throw AgreedError(message);
        return;
    }
    // who failed: a flag per rank, summed; then the first failing rank broadcasts its message
    std::vector<int64_t> failed(static_cast<size_t>(size()), 0);
    failed[static_cast<size_t>(rank())] = ok ? 0 : 1;
    allreduce_sum(failed.data(), size());
    int first = -1;
    for (int r = 0; r < size() && first < 0; ++r)
        if (failed[static_cast<size_t>(r)] != 0) first = r;
    if (first < 0) return;
    int64_t len = rank() == first ? static_cast<int64_t>(message.size()) : 0;
    broadcast(&len, sizeof len, first);
    std::string text(static_cast<size_t>(len), '\0');
    if (rank() == first) text = message;
    broadcast(text.data(), len, first);
    int64_t count = 0;
    for (int64_t f : failed) count += f;
    throw AgreedError(detail::concat("rank ", first, count > 1 ? detail::concat(" (and ", count - 1, " more)") : std::string(),
                               ": ", text));
}

void check_same(const std::string& what, const std::string& value) {
    if (size() <= 1) return;
    int64_t len = static_cast<int64_t>(value.size());
    broadcast(&len, sizeof len, 0);
    std::string root(static_cast<size_t>(len), '\0');
    if (rank() == 0) root = value;
    broadcast(root.data(), len, 0);
    const bool same = root == value;
    agree(same, detail::concat(what, " differs from rank 0's: every rank must be started with the same ", what));
}

void send_text(int dest, int tag, const std::string& text) {
#ifdef QBERT_HAVE_MPI
    if (!g_initialized) throw Error("send_text: MPI is not running (a group of one has no other rank)");
    check(MPI_Send(text.data(), static_cast<int>(text.size()), MPI_CHAR, dest, tag, MPI_COMM_WORLD), "MPI_Send");
#else
    (void)dest, (void)tag, (void)text;
    throw Error("send_text: this build has no MPI");
#endif
}

std::optional<Received> try_receive(int source, int tag) {
#ifdef QBERT_HAVE_MPI
    if (!g_initialized) return std::nullopt;
    int waiting = 0;
    MPI_Status st;
    check(MPI_Iprobe(source < 0 ? MPI_ANY_SOURCE : source, tag, MPI_COMM_WORLD, &waiting, &st), "MPI_Iprobe");
    if (!waiting) return std::nullopt;
    int count = 0;
    check(MPI_Get_count(&st, MPI_CHAR, &count), "MPI_Get_count");
    Received r{st.MPI_SOURCE, std::string(static_cast<size_t>(count), '\0')};
    check(MPI_Recv(r.text.data(), count, MPI_CHAR, st.MPI_SOURCE, tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
    return r;
#else
    (void)source, (void)tag;
    return std::nullopt;
#endif
}

Received receive(int source, int tag) {
    // MPI_Recv would do, but Open MPI busy-polls inside it: a rank waiting minutes for a reply would hold a core
    // the ranks that train need. Probing every 200 us costs nothing and answers in well under a millisecond.
    for (;;) {
        if (auto r = try_receive(source, tag)) return std::move(*r);
        if (!g_initialized) throw Error("receive: MPI is not running (a group of one has no other rank)");
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
}

[[noreturn]] void abort_all(int code) {
#ifdef QBERT_HAVE_MPI
    if (g_initialized && g_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
#endif
    std::exit(code);
}

}  // namespace qbert::engine::dist
