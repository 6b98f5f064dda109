# gdb pretty-printers for qbert's engine types. Load with
#     (gdb) source scripts/gdb/qbert_printers.py
# or  gdb -x scripts/gdb/qbert_printers.py --args ./build/debug-asan/tests/test_engine ...
# or automatically from the repo-root .gdbinit (README, "Stepping through a kernel in gdb").
#
# What they print (tests/gdb/test_printers.sh checks the exact text on tests/gdb/printer_target.cpp):
#   Tensor, TensorImpl  Tensor "w" f32[2, 3] strides=[3, 1] requires_grad=true grad_fn=leaf {0.5, -1.25, ...}
#                       values in logical row-major order (strides and offset applied), the first and last 3
#                       when there are more than 6; "Tensor(undefined)" for a Tensor without an impl
#   Shape               [2, 3]   (only values declared as qbert::engine::Shape; other vector<int64_t> print as usual)
#   Storage             Storage(24 bytes, version=0, data=0x...)
#   Node                Node mul inputs=[AccumulateGrad(w), none] released=false   (the names of the nodes its
#                       edges lead to, "none" for an input that needs no gradient; print *t.impl_._M_ptr->grad_fn)
#   Rng                 Rng(seed=42, purpose=root)   Rng(seed=..., purpose="data/epoch")
#   FixedPoint          Q4.1 (signed, round half to even, range [-4, 3.5], step 0.5)
#   NumberFormat        minifloat_ieee w8 e4 b7      (as NumberFormat::str())
#   LinearQuantConfig   {data_in = Q4.1, weight = Q8.4, bias = Q8.4, data_out = none, ste = clipped, seed = 0}
#
# They read the members directly (no calls into the program), so they work on a core file and in any frame.
# The layouts of std::shared_ptr, std::string, std::vector and std::optional are libstdc++'s.

import math
import re
import struct

import gdb
import gdb.printing

PRINTER_NAME = "qbert"

# ---------------------------------------------------------------------------------------------------- helpers

# engine/core/dtype.h: enum class DType { F32, F64, I8, U8, I32, I64 } -> (name, struct format, bytes)
DTYPES = {
    "F32": ("f32", "f", 4),
    "F64": ("f64", "d", 8),
    "I8": ("i8", "b", 1),
    "U8": ("u8", "B", 1),
    "I32": ("i32", "i", 4),
    "I64": ("i64", "q", 8),
}

# engine/ops/formats.cpp kFormats: FormatKind enumerator -> format_name()
FORMAT_NAMES = {
    "Fp32": "fp32",
    "Integer": "integer",
    "MinifloatDenorm": "minifloat_denorm",
    "MinifloatIeee": "minifloat_ieee",
    "Log": "log",
    "BlockFp": "block_fp",
    "BlockMinifloat": "block_minifloat",
    "BlockLog": "block_log",
    "Binary": "binary",
    "Ternary": "ternary",
}

MAX_SHOWN = 6  # all values up to this many, else the first and the last MAX_SHOWN // 2


def enum_name(val):
    """The enumerator's name without its scope: DType::F32 -> "F32"."""
    return str(val).split("::")[-1]


def shared_ptr_get(sp):
    """The raw pointer held by a std::shared_ptr (libstdc++: _M_ptr), or None when empty."""
    ptr = sp["_M_ptr"]
    return None if int(ptr) == 0 else ptr


def std_string(s):
    """A std::string's contents as a Python str (libstdc++: _M_dataplus._M_p, _M_string_length)."""
    n = int(s["_M_string_length"])
    if n < 0 or n > 4096:  # names and op names are short: longer is garbage (not constructed yet)
        raise gdb.error("implausible string length %d" % n)
    return s["_M_dataplus"]["_M_p"].string(length=n) if n else ""


def std_vector(v, limit=1024):
    """The elements of a std::vector as a list of gdb.Values (libstdc++: _M_impl._M_start/_M_finish).
    More than `limit` elements means garbage (a variable not constructed yet): an error, not a hang."""
    impl = v["_M_impl"]
    start, finish = impl["_M_start"], impl["_M_finish"]
    n = int(finish - start)
    if n < 0 or n > limit:
        raise gdb.error("implausible vector size %d" % n)
    return [(start + i).dereference() for i in range(n)]


def std_optional(o):
    """The value held by a std::optional, or None when empty (libstdc++: _M_payload._M_engaged/_M_payload)."""
    payload = o["_M_payload"]
    if not bool(payload["_M_engaged"]):
        return None
    return payload["_M_payload"]["_M_value"]


def int_list(values):
    return "[" + ", ".join(str(int(x)) for x in values) + "]"


def fmt_float(x, single):
    """The shortest decimal that reads back as the same float32 (single) or float64: 0.1f prints 0.1."""
    if math.isnan(x) or math.isinf(x):
        return str(x)
    if not single:
        r = repr(x)
        return r[:-2] if r.endswith(".0") else r
    for digits in range(1, 10):
        s = "%.*g" % (digits, x)
        if struct.unpack("f", struct.pack("f", float(s)))[0] == x:
            return s
    return "%.9g" % x


def fmt_number(x):
    """An exact double without a trailing .0: 3.5, -4, 0.0625."""
    return str(int(x)) if float(x).is_integer() and abs(x) < 1e15 else repr(x)


# ---------------------------------------------------------------------------------------------------- tensors


def shape_of(shape_val):
    return [int(x) for x in std_vector(shape_val, limit=64)]


def logical_offsets(shape, strides, offset, indices):
    """The storage element of each logical row-major index in `indices` (strides and offset applied)."""
    out = []
    for k in indices:
        pos = offset
        for size, stride in zip(reversed(shape), reversed(strides)):
            pos += (k % size) * stride
            k //= size
        out.append(pos)
    return out


def tensor_values(impl, shape, strides, dtype):
    """The first and last values (all if numel <= MAX_SHOWN) as "{a, b, c, ..., x, y, z}"."""
    name, fmt, size = DTYPES[dtype]
    numel = 1
    for d in shape:
        numel *= d
    if numel == 0:
        return "{}"
    storage = shared_ptr_get(impl["storage"])
    if storage is None:
        return "{<no storage>}"
    storage = storage.dereference()
    if numel <= MAX_SHOWN:
        head, tail = list(range(numel)), []
    else:
        half = MAX_SHOWN // 2
        head, tail = list(range(half)), list(range(numel - half, numel))
    nbytes = int(storage["nbytes_"])
    base = int(storage["data_"])
    inferior = gdb.selected_inferior()

    def read(k_list):
        parts = []
        for pos in logical_offsets(shape, strides, int(impl["offset"]), k_list):
            if pos < 0 or (pos + 1) * size > nbytes:
                parts.append("<out of storage>")
                continue
            try:
                x = struct.unpack(fmt, bytes(inferior.read_memory(base + pos * size, size)))[0]
            except gdb.MemoryError:
                parts.append("<unreadable>")
                continue
            parts.append(fmt_float(x, fmt == "f") if fmt in "fd" else str(x))
        return parts

    parts = read(head)
    if tail:
        parts += ["..."] + read(tail)
    return "{" + ", ".join(parts) + "}"


def node_name(node_ptr):
    """What Node::name() returns, read from the concrete class (anonymous namespace, engine/autograd/node.cpp)."""
    node = node_ptr.dereference()
    try:
        node = node.cast(node.dynamic_type)
    except gdb.error:
        pass
    fields = {f.name for f in node.type.strip_typedefs().fields()}
    if "name_" in fields:  # FunctionNode
        return std_string(node["name_"])
    if "leaf_" in fields:  # AccumulateGrad: named after its leaf, as AccumulateGrad::name() does
        leaf = shared_ptr_get(node["leaf_"])
        leaf_name = std_string(leaf.dereference()["name"]) if leaf is not None else ""
        return "AccumulateGrad(%s)" % (leaf_name or "leaf")
    return str(node.dynamic_type)


def impl_summary(impl, prefix):
    dtype = enum_name(impl["dtype"])
    shape = shape_of(impl["shape"])
    strides = shape_of(impl["strides"])
    name = std_string(impl["name"])
    grad_fn = shared_ptr_get(impl["grad_fn"])
    words = [prefix]
    if name:
        words.append('"%s"' % name)
    words.append("%s%s" % (DTYPES.get(dtype, (dtype.lower(),))[0], int_list(shape)))
    words.append("strides=" + int_list(strides))
    if int(impl["offset"]) != 0:
        words.append("offset=%d" % int(impl["offset"]))
    words.append("requires_grad=" + ("true" if bool(impl["requires_grad"]) else "false"))
    words.append("grad_fn=" + (node_name(grad_fn) if grad_fn is not None else "leaf"))
    if dtype in DTYPES:
        words.append(tensor_values(impl, shape, strides, dtype))
    return " ".join(words)


class TensorPrinter:
    """qbert::engine::Tensor: a handle; prints its TensorImpl."""

    def __init__(self, val):
        self.val = val

    def to_string(self):
        impl = shared_ptr_get(self.val["impl_"])
        if impl is None:
            return "Tensor(undefined)"
        return impl_summary(impl.dereference(), "Tensor")


class TensorImplPrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        return impl_summary(self.val, "TensorImpl")


class StoragePrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        return "Storage(%d bytes, version=%d, data=0x%x)" % (
            int(self.val["nbytes_"]), int(self.val["version_"]), int(self.val["data_"]))


class ShapePrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        return int_list(std_vector(self.val))


class NodePrinter:
    """An autograd Node (FunctionNode or AccumulateGrad): its op, the nodes its edges lead to, released."""

    def __init__(self, val):
        self.val = val

    def to_string(self):
        inputs = []
        for edge in std_vector(self.val["next"]):
            ptr = shared_ptr_get(edge)
            inputs.append(node_name(ptr) if ptr is not None else "none")
        return "Node %s inputs=[%s] released=%s" % (
            node_name(self.val.address), ", ".join(inputs), "true" if bool(self.val["released"]) else "false")


class RngPrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        seed = int(self.val["seed_"])
        fields = {f.name for f in self.val.type.strip_typedefs().fields()}
        if "purpose_" not in fields:  # built before Rng had a purpose
            return "Rng(seed=%d)" % seed
        purpose = std_string(self.val["purpose_"])
        return "Rng(seed=%d, purpose=%s)" % (seed, '"%s"' % purpose if purpose else "root")


def fixed_point_str(width, frac, signed, floor):
    """FixedPoint::str(): "Q8.4", "UQ8.4", " floor" appended."""
    return "%s%d.%d%s" % ("Q" if signed else "UQ", width, frac, " floor" if floor else "")


class FixedPointPrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        width, frac = int(self.val["width"]), int(self.val["frac_width"])
        signed, floor = bool(self.val["is_signed"]), bool(self.val["floor"])
        # engine/ops/quant.cpp: qmin, qmax and scale = 2^frac_width
        scale = math.ldexp(1.0, frac)
        qmin = -math.ldexp(1.0, width - 1) if signed else 0.0
        qmax = math.ldexp(1.0, width - 1) - 1 if signed else math.ldexp(1.0, width) - 1
        return "%s (%s, %s, range [%s, %s], step %s)" % (
            fixed_point_str(width, frac, signed, floor), "signed" if signed else "unsigned",
            "floor" if floor else "round half to even", fmt_number(qmin / scale), fmt_number(qmax / scale),
            fmt_number(1.0 / scale))


def number_format_str(f):
    """NumberFormat::str() (engine/ops/formats.cpp), from the fields."""
    kind = enum_name(f["kind"])
    width = int(f["width"])
    e = int(f["exponent_width"])
    bw = int(f["exponent_bias_width"])
    blocks = ",".join(str(int(b)) for b in std_vector(f["block_size"]))
    skip = " skip_first_dim" if bool(f["skip_first_dim"]) else ""

    def bias():  # NumberFormat::bias(): the given bias, else 2^(E-1)-1 (log formats: E = width-1)
        given = std_optional(f["exponent_bias"])
        if given is not None:
            return int(given)
        bits = width - 1 if kind in ("Log", "BlockLog") else e
        return (1 << (bits - 1)) - 1

    if kind == "Fp32":
        return "fp32"
    if kind == "Integer":
        return fixed_point_str(width, int(f["frac_width"]), bool(f["is_signed"]), bool(f["floor"]))
    if kind in ("MinifloatDenorm", "MinifloatIeee"):
        return "%s w%d e%d b%d" % (FORMAT_NAMES[kind], width, e, bias())
    if kind == "Log":
        return "log w%d b%d" % (width, bias())
    if kind == "BlockFp":
        return "block_fp w%d e%d b%d [%s]%s" % (width, e, bias(), blocks, skip)
    if kind == "BlockMinifloat":
        return "block_minifloat w%d e%d bw%d [%s]%s" % (width, e, bw, blocks, skip)
    if kind == "BlockLog":
        return "block_log w%d bw%d [%s]%s" % (width, bw, blocks, skip)
    if kind == "Binary":
        return "binary stochastic" if bool(f["stochastic"]) else "binary"
    if kind == "Ternary":
        return "ternary scaled" if bool(f["scaling"]) else "ternary"
    return "NumberFormat(%s)" % kind


class NumberFormatPrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        return number_format_str(self.val)


class LinearQuantConfigPrinter:
    def __init__(self, val):
        self.val = val

    def to_string(self):
        v = self.val
        out = std_optional(v["data_out"])
        return "{data_in = %s, weight = %s, bias = %s, data_out = %s, ste = %s, seed = %d}" % (
            number_format_str(v["data_in"]), number_format_str(v["weight"]), number_format_str(v["bias"]),
            number_format_str(out) if out is not None else "none", enum_name(v["ste"]).lower(), int(v["seed"]))


# ---------------------------------------------------------------------------------------------------- lookup


def guarded(printer_class):
    """Wraps a printer's to_string: a value not constructed yet (locals at the top of a function) holds
    garbage; it prints as "<unreadable Tensor: ...>" instead of a Python traceback."""

    class Guarded(printer_class):
        def to_string(self):
            try:
                return printer_class.to_string(self)
            except (gdb.error, gdb.MemoryError, ValueError, KeyError, OverflowError) as e:
                return "<unreadable %s: %s>" % (printer_class.__name__.replace("Printer", ""), e)

    return Guarded


# Matched against the class name with typedefs, references and cv-qualifiers stripped.
CLASS_PRINTERS = [
    (re.compile(r"^qbert::engine::Tensor$"), TensorPrinter),
    (re.compile(r"^qbert::engine::TensorImpl$"), TensorImplPrinter),
    (re.compile(r"^qbert::engine::Storage$"), StoragePrinter),
    (re.compile(r"^qbert::engine::(\(anonymous namespace\)::)?(Node|FunctionNode|AccumulateGrad)$"), NodePrinter),
    (re.compile(r"^qbert::engine::Rng$"), RngPrinter),
    (re.compile(r"^qbert::engine::FixedPoint$"), FixedPointPrinter),
    (re.compile(r"^qbert::engine::NumberFormat$"), NumberFormatPrinter),
    (re.compile(r"^qbert::model::LinearQuantConfig$"), LinearQuantConfigPrinter),
]


class QbertPrinters:
    """One lookup for all the printers (gdb calls it with every value it prints)."""

    name = PRINTER_NAME
    enabled = True
    subprinters = None

    def __call__(self, val):
        t = val.type
        if t.code in (gdb.TYPE_CODE_REF, gdb.TYPE_CODE_RVALUE_REF):
            t = t.target()
        # Shape is std::vector<int64_t> under a typedef: decided on the declared name, before the typedef is
        # stripped, so that other vectors of int64_t keep libstdc++'s printer.
        if t.unqualified().name == "qbert::engine::Shape":
            return guarded(ShapePrinter)(val)
        tag = t.strip_typedefs().unqualified().tag
        if tag is None:
            return None
        for pattern, printer in CLASS_PRINTERS:
            if pattern.match(tag):
                return guarded(printer)(val)
        return None


def _register(objfile=None):
    # replace=True: sourcing the file again (after editing it) swaps in the new printers.
    gdb.printing.register_pretty_printer(objfile, QbertPrinters(), replace=True)


def _on_new_objfile(event):
    # gdb asks the printers of every objfile before the global ones, and libstdc++'s own printers live on
    # libstdc++.so's objfile: a global Shape printer would never be reached before libstdc++'s vector printer.
    # Registered on the program's objfile (loaded first, so asked first), it is.
    objfile = event.new_objfile
    if objfile.filename == gdb.current_progspace().filename:
        _register(objfile)


_register(None)
for _objfile in gdb.objfiles():
    if _objfile.filename == gdb.current_progspace().filename:
        _register(_objfile)
if not getattr(gdb, "_qbert_printers_hooked", False):  # one handler, however often the file is sourced
    gdb.events.new_objfile.connect(_on_new_objfile)
    gdb._qbert_printers_hooked = True
