#!/usr/bin/env bash
# Refuses (exit 1, saying how to fix it) unless the PyTorch peer's torch really runs on the BLAS that
# docs/benchmarks.md documents: OpenBLAS, OpenMP build (Debian's libopenblas0-openmp). Debian's python3-torch
# links libblas.so.3, which the alternatives system points at whichever BLAS is installed; on the reference
# (netlib) BLAS the peer runs ~15x slower and every qbert / peer ratio comes out inflated that much.
# What is checked is what the process uses, not what is configured: a python3 imports torch and does a
# matmul, then resolves `sgemm_` as libtorch_cpu's reference to it resolves (global scope first, then
# libtorch_cpu's own dependencies), finds the file that holds it (dladdr) and asks that library for
# OpenBLAS's openblas_get_parallel() (2 = OpenMP). A half-switched machine (libblas.so.3 on netlib, liblapack.so.3
# on OpenBLAS, so OpenBLAS is loaded but sgemm_ comes from netlib) fails too.
# Prints "peer-blas: <file> (<OpenBLAS config>)" and exits 0 when it is right.
set -euo pipefail
py="${PYTHON:-/usr/bin/python3}"
"$py" - <<'PY'
import ctypes, os, sys
import torch

torch.set_num_threads(2)
a = torch.randn(256, 256)
(a @ a).sum().item()  # a real sgemm through the linked BLAS

class DlInfo(ctypes.Structure):
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]

libc = ctypes.CDLL(None)
libc.dlsym.restype = ctypes.c_void_p
libc.dlsym.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
libc.dladdr.argtypes = [ctypes.c_void_p, ctypes.POINTER(DlInfo)]

torch_cpu = next((line.split()[-1] for line in open("/proc/self/maps") if "libtorch_cpu.so" in line), None)
addr = libc.dlsym(None, b"sgemm_")  # RTLD_DEFAULT: the global scope, searched first
if not addr and torch_cpu:
    h = ctypes.CDLL(torch_cpu, mode=os.RTLD_NOLOAD | os.RTLD_LAZY)  # already loaded: its local scope
    addr = libc.dlsym(ctypes.c_void_p(h._handle), b"sgemm_")
problem = None
if not addr:
    problem = "no sgemm_ found in the process"
else:
    info = DlInfo()
    libc.dladdr(ctypes.c_void_p(addr), ctypes.byref(info))
    path = os.path.realpath(info.dli_fname.decode())
    lib = ctypes.CDLL(path)
    if not hasattr(lib, "openblas_get_parallel"):
        problem = f"sgemm_ from {path} (not OpenBLAS: the reference netlib BLAS?)"
    else:
        lib.openblas_get_config.restype = ctypes.c_char_p
        config = lib.openblas_get_config().decode()
        parallel = lib.openblas_get_parallel()
        if parallel != 2:
            problem = f"sgemm_ from {path} ({config}, {({0: 'sequential', 1: 'pthreads'}).get(parallel, parallel)}, not OpenMP)"
        else:
            print(f"peer-blas: {path} ({config})")
            sys.exit(0)
print(f"peer-blas: the peer's torch takes {problem}, not OpenBLAS with OpenMP as docs/benchmarks.md documents:\n"
      "  its timings would not be comparable (netlib is ~15x slower). Fix:\n"
      "  sudo apt-get install libopenblas0-openmp   (scripts/install-peer-deps.sh does)\n"
      "  sudo update-alternatives --set libblas.so.3-x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3\n"
      "  sudo update-alternatives --set liblapack.so.3-x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/openblas-openmp/liblapack.so.3",
      file=sys.stderr)
sys.exit(1)
PY
