#!/usr/bin/env python3
"""Write the seed corpora in tests/fuzz/corpus/ (small, real examples).

Run from anywhere; the files are committed, so this only needs rerunning
when a seed is added. Shape bytes follow fuzz_common.h: bit 7 = positional,
bits 0-2 = name index, bits 3-5 = size - 1."""
import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
NAMES = ["a", "b", "c", "foo", "bar", "seq", "heads", "projection"]


def dim(name, size):
    if name is None:
        return 0x80 | ((size - 1) << 3)
    return NAMES.index(name) | ((size - 1) << 3)


def arr(*dims):
    return bytes([len(dims)] + [dim(n, s) for n, s in dims])


def write(target, name, data):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def einsum():
    seeds = {
        "matmul": (b"\x01" + arr(("foo", 2), ("bar", 3)) + arr(("foo", 2), ("c", 4)),
                   "foo:i bar:j, foo:i c:k -> bar:j c:k"),
        "readme": (b"\x01" + arr(("foo", 3), ("bar", 3), ("a", 2)) + arr(("foo", 2), ("b", 4)),
                   "foo:i bar:i a:j, foo:j b:k -> c:i seq:k heads:j"),
        "diagonal": (b"\x00" + arr(("a", 3), ("b", 3)), "a:i b:i -> c:i"),
        "sum": (b"\x00" + arr(("seq", 4), ("heads", 2)), "seq:i heads:j -> heads:j"),
        "batch": (b"\x01" + arr(("heads", 2), ("seq", 3), ("projection", 4))
                  + arr(("heads", 2), ("projection", 4), ("a", 5)),
                  "seq:i projection:p, a:k projection:p -> seq:i a:k"),
        "three": (b"\x02" + arr(("a", 2), ("b", 3)) + arr(("b", 3), ("c", 4))
                  + arr(("c", 4), ("foo", 2)), "a:i b:j, b:j c:k, c:k foo:l -> a:i foo:l"),
        "rename": (b"\x00" + arr(("a", 2), (None, 3)), "a:i -> bar:i"),
    }
    for k, (pre, spec) in seeds.items():
        write("einsum", k, pre + spec.encode())


def unflatten():
    seeds = {
        "llama_q": ([12, 8], "(heads:3 projection), embedding"),
        "gpt2_c_attn": ([8, 12], "embedding, (qkv:3 heads:2 projection)"),
        "one": ([6], "a"),
        "two": ([6, 4], "a, b"),
        "known": ([24], "(a:2 b:3 c:4)"),
    }
    for k, (sizes, spec) in seeds.items():
        write("unflatten", k, bytes([len(sizes) - 1] + [s - 1 for s in sizes]) + spec.encode())


def check_structure():
    seeds = {
        "vars": (b"\x00" + arr(("seq", 3), ("heads", 2)), "seq:S heads:H"),
        "square": (b"\x00" + arr(("a", 3), ("b", 3)), "a:S b:S"),
        "ellipsis": (b"\x00" + arr(("seq", 3), ("heads", 2), ("foo", 4)), "seq:3 heads:2 ..."),
        "tuple": (b"\x01" + arr(("seq", 3), ("heads", 2), ("projection", 4))
                  + arr(("a", 5), ("heads", 2), ("projection", 4)),
                  "seq:S heads:H projection:P, a:K heads:H projection:P"),
        "mismatch": (b"\x00" + arr(("seq", 3)), "seq:4"),
    }
    for k, (pre, spec) in seeds.items():
        write("check_structure", k, pre + spec.encode())


def tree_path():
    paths = ["", "0", "0/0", "0/1/0/2", "block_0", "block_0/attention",
             "0/attention/input_to_query", "0/1/0", "nope/0", "0/99"]
    for i, p in enumerate(paths):
        write("tree_path", "get_%d" % i, b"\x00" + p.encode())
        write("tree_path", "remove_%d" % i, b"\x01" + p.encode())


def safetensors_file(tensors, meta=None):
    header, blob = {}, b""
    for label, (dtype, shape, data) in tensors.items():
        header[label] = {"dtype": dtype, "shape": shape,
                         "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    if meta is not None:
        header["__metadata__"] = meta
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + blob


def safetensors():
    f32 = lambda *v: struct.pack("<%df" % len(v), *v)
    write("safetensors", "model_w", safetensors_file(
        {"w.weights": ("F32", [2, 3], f32(1, 2, 3, 4, 5, 6))},
        {"namedarr.axes.w.weights": "a,b"}))
    write("safetensors", "foreign_positional", safetensors_file(
        {"w.weights": ("F32", [2, 3], f32(*range(6)))}))
    write("safetensors", "dtypes", safetensors_file({
        "h": ("F16", [3], struct.pack("<3H", 0x0001, 0x3c00, 0x8001)),
        "bh": ("BF16", [2], struct.pack("<2H", 0x3f80, 0xc000)),
        "d": ("F64", [2], struct.pack("<2d", 1.5, -2)),
        "i": ("I32", [2, 1], struct.pack("<2i", 7, -1)),
        "m": ("BOOL", [3], bytes([1, 0, 1])),
    }, {"namedarr.axes.i": "seq,", "format": "pt"}))
    write("safetensors", "empty_and_scalar", safetensors_file({
        "e": ("F32", [0, 4], b""), "s": ("F32", [], f32(3.0))}))
    write("safetensors", "wrong_shape", safetensors_file(
        {"w.weights": ("F32", [3, 2], f32(*range(6)))}, {"namedarr.axes.w.weights": "b,a"}))


if __name__ == "__main__":
    einsum()
    unflatten()
    check_structure()
    tree_path()
    safetensors()
