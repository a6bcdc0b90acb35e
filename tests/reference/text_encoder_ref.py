#!/usr/bin/python3
# Independent reference for duet::language::TextEncoder (language/text_encoder.h), in float64 with
# plain torch ops, and the generator of the golden test data in tests/testdata/text_encoder/.
#
# Regenerate (from the repository root; Debian's python3-torch, no other packages):
#   /usr/bin/python3 tests/reference/text_encoder_ref.py
# It writes config.json, weights.safetensors (random float32 weights, std 0.2) and
# golden.safetensors (ids [3, 9] I64, lengths [3] I64, expected [3, 9, 32] F64).
# Safetensors are read and written by hand (8-byte LE header length, JSON header, raw bytes).
import json
import math
import os
import struct
import sys

import torch

OUT_DIR = os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testdata", "text_encoder"))
CONFIG = {"vocab_size": 50, "max_len": 9, "d_model": 32, "n_layers": 2, "n_heads": 4, "d_ff": 64}
WEIGHT_STD = 0.2
LAYER_NORM_EPS = 1e-5
SEED = 1234
LENGTHS = [9, 4, 1]

DTYPES = {"F32": (torch.float32, 4), "F64": (torch.float64, 8), "I64": (torch.int64, 8)}


# ---- safetensors, by hand -------------------------------------------------------------------

def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].contiguous()
        dtype = next(k for k, (d, _) in DTYPES.items() if d == t.dtype)
        data = t.numpy().tobytes()  # little-endian on x86
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header_bytes = json.dumps(header, separators=(",", ":")).encode()
    header_bytes += b" " * (-len(header_bytes) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header_bytes)) + header_bytes + b"".join(blobs))


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype, size = DTYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        flat = torch.frombuffer(bytearray(data[begin:end]), dtype=dtype) if end > begin \
            else torch.empty(0, dtype=dtype)
        out[name] = flat.reshape(info["shape"]).clone()
    return out


# ---- the model, written out ------------------------------------------------------------------

def param_shapes(c):
    d, f = c["d_model"], c["d_ff"]
    shapes = {"token_embedding.weight": [c["vocab_size"], d],
              "position_embedding.weight": [c["max_len"], d],
              "final_norm.weight": [d], "final_norm.bias": [d]}
    for i in range(c["n_layers"]):
        p = f"layers.{i}."
        shapes.update({p + "norm1.weight": [d], p + "norm1.bias": [d],
                       p + "attention.qkv.weight": [3 * d, d], p + "attention.qkv.bias": [3 * d],
                       p + "attention.proj.weight": [d, d], p + "attention.proj.bias": [d],
                       p + "norm2.weight": [d], p + "norm2.bias": [d],
                       p + "mlp.fc1.weight": [f, d], p + "mlp.fc1.bias": [f],
                       p + "mlp.fc2.weight": [d, f], p + "mlp.fc2.bias": [d]})
    return shapes


def random_weights(c, gen):
    w = {}
    for name, shape in sorted(param_shapes(c).items()):
        noise = torch.randn(shape, generator=gen, dtype=torch.float64) * WEIGHT_STD
        # LayerNorm gains around 1 so every layer still passes signal through.
        w[name] = (noise + 1.0 if "norm" in name and name.endswith(".weight") else noise).float()
    return w


def layer_norm(x, weight, bias):
    mean = x.sum(-1, keepdim=True) / x.shape[-1]
    var = ((x - mean) ** 2).sum(-1, keepdim=True) / x.shape[-1]  # biased, as LayerNorm
    return (x - mean) / torch.sqrt(var + LAYER_NORM_EPS) * weight + bias


def linear(x, w, p):
    return x @ w[p + ".weight"].t() + w[p + ".bias"]


def gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def attention(x, w, p, n_heads, real):
    b, t, d = x.shape
    dh = d // n_heads
    qkv = linear(x, w, p + ".qkv")
    q, k, v = qkv[..., :d], qkv[..., d:2 * d], qkv[..., 2 * d:]
    split = lambda z: z.reshape(b, t, n_heads, dh).permute(0, 2, 1, 3)  # [B, H, T, Dh]
    q, k, v = split(q), split(k), split(v)
    scores = torch.einsum("bhqc,bhkc->bhqk", q, k) / math.sqrt(dh)
    scores = torch.where(real[:, None, None, :], scores, torch.tensor(float("-inf"), dtype=x.dtype))
    probs = torch.exp(scores - scores.max(-1, keepdim=True).values)
    probs = probs / probs.sum(-1, keepdim=True)
    y = torch.einsum("bhqk,bhkc->bhqc", probs, v).permute(0, 2, 1, 3).reshape(b, t, d)
    return linear(y, w, p + ".proj")


def encode(c, weights, ids, lengths):
    w = {k: v.double() for k, v in weights.items()}
    t = ids.shape[1]
    real = torch.arange(t)[None, :] < lengths[:, None]  # [B, T]
    x = w["token_embedding.weight"][ids] + w["position_embedding.weight"][:t][None]
    for i in range(c["n_layers"]):
        p = f"layers.{i}."
        h = layer_norm(x, w[p + "norm1.weight"], w[p + "norm1.bias"])
        x = x + attention(h, w, p + "attention", c["n_heads"], real)
        h = layer_norm(x, w[p + "norm2.weight"], w[p + "norm2.bias"])
        x = x + linear(gelu(linear(h, w, p + "mlp.fc1")), w, p + "mlp.fc2")
    x = layer_norm(x, w["final_norm.weight"], w["final_norm.bias"])
    return x * real[..., None].double()


def main():
    gen = torch.Generator().manual_seed(SEED)
    weights = random_weights(CONFIG, gen)
    lengths = torch.tensor(LENGTHS, dtype=torch.int64)
    ids = torch.randint(0, CONFIG["vocab_size"], (len(LENGTHS), CONFIG["max_len"]),
                        generator=gen, dtype=torch.int64)
    os.makedirs(OUT_DIR, exist_ok=True)
    with open(os.path.join(OUT_DIR, "config.json"), "w") as f:
        json.dump(CONFIG, f, indent=2)
        f.write("\n")
    write_safetensors(os.path.join(OUT_DIR, "weights.safetensors"), weights)
    # Read the weights back so the golden output comes from exactly the bytes on disk.
    loaded = read_safetensors(os.path.join(OUT_DIR, "weights.safetensors"))
    assert all(torch.equal(loaded[k], weights[k]) for k in weights), "safetensors round trip"
    expected = encode(CONFIG, loaded, ids, lengths)
    write_safetensors(os.path.join(OUT_DIR, "golden.safetensors"),
                      {"ids": ids, "lengths": lengths, "expected": expected})
    print(f"wrote {OUT_DIR}: expected {list(expected.shape)}, "
          f"max |expected| {expected.abs().max().item():.4f}", file=sys.stderr)


if __name__ == "__main__":
    main()
