// The process group for data-parallel training and distributed studies: MPI_COMM_WORLD when qbert runs under
// `mpirun` / `srun` (and was built with MPI), else a group of one process where every collective is a no-op.
// Only engine/dist/comm.cpp sees MPI; a build without MPI compiles the one-process group and works as before.
//
//   mpirun --allow-run-as-root --oversubscribe -np 2 qbert train --config configs/base.toml ...
//
// Collectives must be called by every rank in the same order (MPI's rule). A rank that fails alone must not
// leave the others waiting in a collective: code that can fail on one rank (reading data, a config) ends with
// agree(), which every rank calls, and which throws the same error on every rank when any rank failed
// (rank 0 prints it); anything else that throws on one rank is turned into MPI_Abort by the CLI (apps/main.cpp).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "engine/core/error.h"

namespace qbert::engine::dist {

// MPI_Init_thread when launched by an MPI launcher (OMPI_COMM_WORLD_SIZE / PMI_SIZE / PMIX_RANK in the
// environment) and the build has MPI; otherwise nothing. Idempotent. finalize() at exit.
void init(int* argc, char*** argv);
void finalize();
bool built_with_mpi();

int rank();                         // 0 in a group of one (and inside a LocalScope)
int size();                         // 1 without MPI (and inside a LocalScope)
int world_rank();                   // MPI_COMM_WORLD's, whatever LocalScope says
int world_size();

// While one is alive, the thread that made it computes as a group of one: rank() 0, size() 1, every collective
// a no-op, so fit() and evaluation inside it train and score alone. A distributed study's trials run in one
// (each rank trains its own trial); the point-to-point messages below still reach the world. Only the main
// thread talks to MPI (MPI_THREAD_FUNNELED); rank 0's own trials run in a second thread, inside a LocalScope,
// and call no MPI. Per thread: rank 0's main thread still sees the world while its trial thread trains.
class LocalScope {
public:
    LocalScope();
    ~LocalScope();
    LocalScope(const LocalScope&) = delete;
    LocalScope& operator=(const LocalScope&) = delete;
};
inline bool active() { return size() > 1; }
inline bool is_root() { return rank() == 0; }

// Sums `n` values over all ranks, in place, on every rank (MPI_Allreduce). Float addition is commutative, so the
// algorithms Open MPI picks (recursive doubling, ring: each sum computed once, then copied) give every rank
// the same bits; the data-parallel test checks that the ranks' parameters stay identical.
void allreduce_sum(float* data, int64_t n);
void allreduce_sum(double* data, int64_t n);
void allreduce_sum(int64_t* data, int64_t n);
void broadcast(void* data, int64_t bytes, int root = 0);
void barrier();

// Non-blocking sum for overlapping communication with backward: start() copies nothing (the buffer must stay
// alive and untouched until wait()). test() lets MPI progress (Open MPI progresses only inside MPI calls).
class PendingSum {
public:
    PendingSum() = default;
    PendingSum(PendingSum&&) noexcept;
    PendingSum& operator=(PendingSum&&) noexcept;
    PendingSum(const PendingSum&) = delete;
    PendingSum& operator=(const PendingSum&) = delete;
    ~PendingSum();
    static PendingSum start(float* data, int64_t n);
    bool test();  // true when done
    void wait();

private:
    void* request_ = nullptr;  // MPI_Request*, owned
};

// Every rank says whether its part succeeded (ok) and why not (message). Returns normally when all succeeded;
// otherwise throws engine::Error on every rank with the first failing rank's message, prefixed "rank R: ".
void agree(bool ok, const std::string& message);
// What agree() and check_same() throw: the same error on every rank (the CLI prints it on rank 0 only).
class AgreedError : public Error {
public:
    using Error::Error;
};
// Every rank passes the same `what` and its own `value` (a config as JSON, a data fingerprint): throws on every
// rank, naming `what` and the first rank whose value differs from rank 0's, when they are not all equal.
void check_same(const std::string& what, const std::string& value);

// Point-to-point text (a distributed study's requests and answers, JSON): world ranks, blocking send.
// try_receive: a waiting message with this tag from `source` (-1: any rank), or nullopt; receive waits for one,
// sleeping between probes so that a rank waiting for minutes does not hold a core. Both throw without MPI.
struct Received {
    int source;
    std::string text;
};
void send_text(int dest, int tag, const std::string& text);
std::optional<Received> try_receive(int source, int tag);
Received receive(int source, int tag);

// Ends every rank at once (MPI_Abort) after a rank failed outside a collective; exit(code) without MPI.
[[noreturn]] void abort_all(int code);

}  // namespace qbert::engine::dist
