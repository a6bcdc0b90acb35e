#!/usr/bin/python3
# Independent reference for duet::fusion::MultimodalTransformer (fusion/transformer.h), in float64
# with plain torch ops, and the generator of the golden data in tests/testdata/transformer/.
#
# Regenerate (from the repository root; Debian's python3-torch, no other packages):
#   /usr/bin/python3 tests/reference/transformer_ref.py
# Writes config.json (TransformerConfig), weights.safetensors (random float32, std 0.3) and
# golden.safetensors: inputs of both directions and the expected logits in F64.
import json
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from text_encoder_ref import read_safetensors, write_safetensors  # noqa: E402

OUT_DIR = os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testdata", "transformer"))
CONFIG = {"d_model": 32, "n_layers": 3, "n_heads": 2, "d_ff": 64, "window": 4, "global_every": 3,
          "text_dim": 16, "text_prefix_len": 6, "text_vocab": 40, "max_caption_len": 8,
          "image_grid": 4, "image_codebook": 30, "prompt_dropout": 0.1}
BOS_ID = 2
WEIGHT_STD = 0.3
SEED = 4321


def max_positions(c):
    n = c["image_grid"] ** 2
    return max(c["text_prefix_len"] + n, n + c["max_caption_len"])


def parameter_shapes(c):
    d, f, n_img = c["d_model"], c["d_ff"], c["image_grid"] ** 2
    shapes = {
        "text_proj.weight": [d, c["text_dim"]], "text_proj.bias": [d],
        "null_prefix": [1, d],
        "image_embed.weight": [c["image_codebook"] + 1, d],
        "text_embed.weight": [c["text_vocab"], d],
        "position_embed.weight": [max_positions(c), d],
        "row_embed.weight": [c["image_grid"], d], "col_embed.weight": [c["image_grid"], d],
        "task_embed.weight": [2, d],
        "final_norm.weight": [d], "final_norm.bias": [d],
        "image_head.weight": [c["image_codebook"], d], "image_head.bias": [c["image_codebook"]],
        "text_head.weight": [c["text_vocab"], d], "text_head.bias": [c["text_vocab"]],
    }
    for i in range(c["n_layers"]):
        p = "layers.%d." % i
        shapes.update({
            p + "norm1.weight": [d], p + "norm1.bias": [d],
            p + "attention.qkv.weight": [3 * d, d], p + "attention.qkv.bias": [3 * d],
            p + "attention.proj.weight": [d, d], p + "attention.proj.bias": [d],
            p + "norm2.weight": [d], p + "norm2.bias": [d],
            p + "mlp.fc1.weight": [f, d], p + "mlp.fc1.bias": [f],
            p + "mlp.fc2.weight": [d, f], p + "mlp.fc2.bias": [d],
        })
    assert n_img > 0
    return shapes


def random_weights(c, gen):
    weights = {}
    for name, shape in parameter_shapes(c).items():
        if "norm" in name:
            base = 1.0 if name.endswith("weight") else 0.0
            weights[name] = (base + 0.1 * torch.randn(shape, generator=gen)).float()
        else:
            weights[name] = (WEIGHT_STD * torch.randn(shape, generator=gen)).float()
    return weights


def layer_norm(x, w, b):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + 1e-5) * w + b


def linear(x, w, name):
    return x @ w[name + ".weight"].T + w[name + ".bias"]


def visible(T, P, valid, window):
    """[B, T, T] bool: prefix keys need k < valid[b]; target keys need k <= q; window |q-k| < w."""
    q = torch.arange(T).view(1, T, 1)
    k = torch.arange(T).view(1, 1, T)
    v = torch.tensor(valid).view(-1, 1, 1)
    allowed = torch.where(k < P, k < v, k <= q)
    if window > 0:
        allowed = allowed & ((q - k).abs() < window)
    return allowed


def attention(x, w, p, c, allowed):
    B, T, d = x.shape
    h = c["n_heads"]
    qkv = linear(x, w, p + "attention.qkv")
    q, k, v = [t.reshape(B, T, h, d // h).transpose(1, 2) for t in qkv.split(d, dim=-1)]
    scores = q @ k.transpose(-1, -2) / math.sqrt(d // h)
    mask = allowed.unsqueeze(1)
    scores = scores.masked_fill(~mask, float("-inf"))
    any_row = mask.any(-1, keepdim=True)
    probs = torch.softmax(scores.masked_fill(~any_row, 0.0), -1) * any_row
    y = (probs @ v).transpose(1, 2).reshape(B, T, d)
    return linear(y, w, p + "attention.proj")


def stack(x, w, c, task, P, valid):
    T = x.shape[1]
    x = x + w["position_embed.weight"][:T] + w["task_embed.weight"][task]
    for i in range(c["n_layers"]):
        p = "layers.%d." % i
        window = 0 if (i + 1) % c["global_every"] == 0 else c["window"]
        allowed = visible(T, P, valid, window)
        x = x + attention(layer_norm(x, w[p + "norm1.weight"], w[p + "norm1.bias"]), w, p, c, allowed)
        hid = linear(layer_norm(x, w[p + "norm2.weight"], w[p + "norm2.bias"]), w, p + "mlp.fc1")
        hid = 0.5 * hid * (1 + torch.erf(hid / math.sqrt(2)))
        x = x + linear(hid, w, p + "mlp.fc2")
    return layer_norm(x, w["final_norm.weight"], w["final_norm.bias"])


def cell_embedding(w, cells, G):
    return w["row_embed.weight"][cells // G] + w["col_embed.weight"][cells % G]


def text_to_image_logits(w, c, text, lengths, codes, drop):
    P, G, K = c["text_prefix_len"], c["image_grid"], c["image_codebook"]
    N = G * G
    B = text.shape[0]
    prefix = linear(text, w, "text_proj")
    null_rows = torch.zeros(P, c["d_model"], dtype=torch.float64)
    null_rows[0] = w["null_prefix"][0]
    prefix = torch.stack([null_rows if drop[b] else prefix[b] for b in range(B)])
    valid = [1 if drop[b] else int(lengths[b]) for b in range(B)]
    inputs = torch.cat([torch.full((B, 1), K), codes[:, :N - 1]], 1)
    target = w["image_embed.weight"][inputs] + cell_embedding(w, torch.arange(N), G)
    h = stack(torch.cat([prefix, target], 1), w, c, 0, P, valid)
    return linear(h[:, P:P + N], w, "image_head")


def image_to_text_logits(w, c, codes, targets):
    G = c["image_grid"]
    N = G * G
    B, L = targets.shape
    prefix = w["image_embed.weight"][codes] + cell_embedding(w, torch.arange(N), G)
    inputs = torch.cat([torch.full((B, 1), BOS_ID), targets[:, :L - 1]], 1)
    target = w["text_embed.weight"][inputs]
    h = stack(torch.cat([prefix, target], 1), w, c, 1, N, [N] * B)
    return linear(h[:, N:N + L], w, "text_head")


def main():
    gen = torch.Generator().manual_seed(SEED)
    c = CONFIG
    os.makedirs(OUT_DIR, exist_ok=True)
    with open(os.path.join(OUT_DIR, "config.json"), "w") as f:
        json.dump(c, f, indent=2)
        f.write("\n")
    write_safetensors(os.path.join(OUT_DIR, "weights.safetensors"), random_weights(c, gen))
    # Read the weights back so the reference computes with exactly the stored float32 values.
    w = {k: v.double() for k, v in read_safetensors(os.path.join(OUT_DIR, "weights.safetensors")).items()}
    B, N = 3, c["image_grid"] ** 2
    text = torch.randn(B, c["text_prefix_len"], c["text_dim"], generator=gen).float()
    lengths = torch.tensor([4, 6, 2], dtype=torch.int64)
    drop = torch.tensor([False, False, True])
    codes = torch.randint(c["image_codebook"], (B, N), generator=gen)
    targets = torch.randint(4, c["text_vocab"], (B, c["max_caption_len"]), generator=gen)
    t2i = text_to_image_logits(w, c, text.double(), lengths, codes, drop.tolist())
    i2t = image_to_text_logits(w, c, codes, targets)
    write_safetensors(os.path.join(OUT_DIR, "golden.safetensors"), {
        "text": text, "lengths": lengths, "drop": drop.to(torch.int64), "codes": codes,
        "targets": targets, "text_to_image_logits": t2i, "image_to_text_logits": i2t})
    print("wrote", OUT_DIR, "t2i", tuple(t2i.shape), "i2t", tuple(i2t.shape))


if __name__ == "__main__":
    main()
