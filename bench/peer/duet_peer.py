#!/usr/bin/python3
# An independent PyTorch-eager "peer" of Duet's text->image inference, the speed baseline the C++
# engine must beat: same weights, same math, plain torch.nn / torch.nn.functional ops (no
# torch.compile, no TorchScript), bfloat16 through torch.autocast as a PyTorch user would run it.
#
# Needs Debian's Python and packages only: /usr/bin/python3 with python3-torch (1.13), numpy,
# PIL, and python3-sentencepiece (`apt-get install -y python3-sentencepiece`) for the prompt.
#
#   /usr/bin/python3 bench/peer/duet_peer.py step   [--dtype float32|bfloat16] [--batches 1,16]
#   /usr/bin/python3 bench/peer/duet_peer.py drafts [--dtype ...] [--count 256] [--prompt TEXT]
#   /usr/bin/python3 bench/peer/duet_peer.py check  --out DIR [--duet-dir DIR | --duet-bin BIN]
# Every measurement prints one JSON line (what, dtype, batch, threads, seconds, a rate, load).
#
# Shapes: B drafts, R rows (2B with guidance: conditional rows first, then null-prompt rows),
# T tokens in a forward, C d_model, H heads, Dh head dim, P text prefix length, N = G * G image
# codes, K codebook size, D text width; images [B, 3, S, S] in [-1, 1] or [B, S, S, 3] uint8.
import argparse
import ctypes
import io
import json
import math
import os
import statistics
import struct
import subprocess
import time
from dataclasses import dataclass
from typing import Callable, Dict, List, Optional

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
DEFAULT_MODEL = os.path.join(REPO, "assets", "models", "duet-emoji")
DEFAULT_PROMPT = "jack-o-lantern"
GENERATION_CHUNK = 64  # drafts generated together, as model/duet_model.cc does
DECODE_CHUNK = 64      # grids decoded together, as model/image_pipeline.h does
PAD_ID = 0             # the tokenizer's <pad>; prompts carry no BOS/EOS
TEXT_TO_IMAGE_TASK = 0

# ---- weights ----------------------------------------------------------------------------------

_SAFETENSORS_DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
                       "F64": torch.float64, "I64": torch.int64, "I32": torch.int32}


def read_safetensors(path: str) -> Dict[str, torch.Tensor]:
    """All tensors of a safetensors file; floating tensors (F32, BF16, F16, F64) become float32."""
    with open(path, "rb") as f:
        raw = bytearray(f.read())
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + header_len])
    data_start = 8 + header_len
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = _SAFETENSORS_DTYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        count = (end - begin) // torch.empty((), dtype=dtype).element_size()
        flat = torch.frombuffer(raw, dtype=dtype, count=count, offset=data_start + begin)
        tensor = flat.reshape(info["shape"])
        out[name] = tensor.float() if tensor.is_floating_point() else tensor.clone()
    return out


def sub_state(weights: Dict[str, torch.Tensor], prefix: str) -> Dict[str, torch.Tensor]:
    return {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}


# ---- text encoder (language/text_encoder.h): bidirectional pre-norm transformer -----------------

class Mlp(nn.Module):
    def __init__(self, d_model: int, d_ff: int):
        super().__init__()
        self.fc1 = nn.Linear(d_model, d_ff)
        self.fc2 = nn.Linear(d_ff, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))  # [.., T, C], exact (erf) GELU


class TextSelfAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, key_real: torch.Tensor) -> torch.Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.n_heads, C // self.n_heads).permute(2, 0, 3, 1, 4)
        # Softmax in float32 (autocast would run it in bf16 on CPU).
        scores = (q @ k.transpose(-2, -1)).float() / math.sqrt(C // self.n_heads)  # [B, H, T, T]
        scores = scores.masked_fill(~key_real.view(B, 1, 1, T), float("-inf"))
        y = torch.softmax(scores, -1) @ v                                          # [B, H, T, Dh]
        return self.proj(y.transpose(1, 2).reshape(B, T, C))                       # [B, T, C]


class EncoderLayer(nn.Module):
    def __init__(self, d_model: int, n_heads: int, d_ff: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(d_model)
        self.attention = TextSelfAttention(d_model, n_heads)
        self.norm2 = nn.LayerNorm(d_model)
        self.mlp = Mlp(d_model, d_ff)

    def forward(self, x: torch.Tensor, key_real: torch.Tensor) -> torch.Tensor:
        # The stream stays float32 (fp32 embeddings + bf16 branches promote), so LayerNorm works
        # under autocast; torch 1.13 refuses layer_norm of a bf16 input with fp32 weights.
        x = x + self.attention(self.norm1(x), key_real)
        return x + self.mlp(self.norm2(x))  # [B, T, D] float32


class TextEncoder(nn.Module):
    def __init__(self, cfg: dict):
        super().__init__()
        d = cfg["d_model"]
        self.token_embedding = nn.Embedding(cfg["vocab_size"], d)
        self.position_embedding = nn.Embedding(cfg["max_len"], d)
        self.layers = nn.ModuleList(EncoderLayer(d, cfg["n_heads"], cfg["d_ff"])
                                    for _ in range(cfg["n_layers"]))
        self.final_norm = nn.LayerNorm(d)

    def forward(self, ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        T = ids.shape[1]
        positions = torch.arange(T)
        real = positions[None, :] < lengths[:, None]                      # [B, T] bool
        x = self.token_embedding(ids) + self.position_embedding(positions)  # [B, T, D]
        for layer in self.layers:
            x = layer(x, real)
        return self.final_norm(x) * real[..., None]  # [B, T, D]; padded rows are zero


# ---- multimodal transformer (fusion/transformer.h): prefix-LM decoder with a KV cache ----------

class KVCache:
    """Per-layer keys and values [R, H, capacity, Dh], preallocated; `length` positions written."""

    def __init__(self, n_layers: int, rows: int, heads: int, capacity: int, head_dim: int,
                 dtype: torch.dtype):
        self.keys = [torch.zeros(rows, heads, capacity, head_dim, dtype=dtype)
                     for _ in range(n_layers)]
        self.values = [torch.zeros_like(k) for k in self.keys]
        self.length = 0

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor):
        """Writes k, v [R, H, t, Dh] at [length, length + t); returns the [R, H, length + t, Dh]
        views the queries attend to. `length` advances once per forward (see Transformer)."""
        end = self.length + k.shape[2]
        self.keys[layer][:, :, self.length:end] = k
        self.values[layer][:, :, self.length:end] = v
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]


def visible_keys(q_start: int, q_len: int, kv_len: int, prefix_len: int,
                 prefix_valid: torch.Tensor, window: int, global_prefix: bool) -> torch.Tensor:
    """[R, 1, q_len, kv_len] bool. Prefix keys (k < P) are visible when k < prefix_valid[r]
    (bidirectional over the real prompt); target keys when k <= q (causal); a local layer also
    needs |q - k| < window, for every key or, with global_prefix, for target keys only. Every
    query here sees at least one key, so no row is all -inf."""
    q = torch.arange(q_start, q_start + q_len).view(1, 1, -1, 1)
    k = torch.arange(kv_len).view(1, 1, 1, -1)
    visible = torch.where(k < prefix_len, k < prefix_valid.view(-1, 1, 1, 1), k <= q)
    if window > 0:
        near = (q - k).abs() < window
        visible = visible & (near | (k < prefix_len) if global_prefix else near)
    return visible


class SelfAttention(nn.Module):
    def __init__(self, d_model: int, n_heads: int, layer: int):
        super().__init__()
        self.n_heads, self.layer = n_heads, layer
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)

    def forward(self, x: torch.Tensor, visible: torch.Tensor, cache: Optional[KVCache]):
        R, T, C = x.shape
        heads = lambda t: t.view(R, T, self.n_heads, C // self.n_heads).transpose(1, 2)
        q, k, v = (heads(t) for t in self.qkv(x).chunk(3, dim=-1))  # [R, H, T, Dh] each
        if cache is not None:
            k, v = cache.append(self.layer, k, v)                    # [R, H, kv_len, Dh]
        scores = (q @ k.transpose(-2, -1)).float() / math.sqrt(C // self.n_heads)  # fp32 softmax
        scores = scores.masked_fill(~visible, float("-inf"))          # [R, H, T, kv_len]
        y = torch.softmax(scores, -1) @ v                             # [R, H, T, Dh]
        return self.proj(y.transpose(1, 2).reshape(R, T, C))          # [R, T, C]


class Block(nn.Module):
    def __init__(self, cfg: dict, layer: int):
        super().__init__()
        d = cfg["d_model"]
        self.window = 0 if (layer + 1) % cfg["global_every"] == 0 else cfg["window"]
        self.norm1 = nn.LayerNorm(d)
        self.attention = SelfAttention(d, cfg["n_heads"], layer)
        self.norm2 = nn.LayerNorm(d)
        self.mlp = Mlp(d, cfg["d_ff"])

    def forward(self, x, visible, cache):
        x = x + self.attention(self.norm1(x), visible, cache)
        return x + self.mlp(self.norm2(x))  # [R, T, C] float32 stream


class Transformer(nn.Module):
    """Layout for text->image: [prompt prefix, P][start, c_0 .. c_{N-2}] predicts c_0 .. c_{N-1}."""

    def __init__(self, cfg: dict):
        super().__init__()
        self.cfg = cfg
        C, G, K = cfg["d_model"], cfg["image_grid"], cfg["image_codebook"]
        self.P, self.G, self.N, self.K = cfg["text_prefix_len"], G, G * G, K
        self.global_prefix = bool(cfg.get("global_prefix", False))
        max_positions = max(self.P + self.N, self.N + cfg["max_caption_len"])
        self.text_proj = nn.Linear(cfg["text_dim"], C)
        self.null_prefix = nn.Parameter(torch.zeros(1, C))
        self.image_embed = nn.Embedding(K + 1, C)  # index K is the start token
        self.text_embed = nn.Embedding(cfg["text_vocab"], C)            # image->text only
        self.position_embed = nn.Embedding(max_positions, C)
        self.row_embed = nn.Embedding(G, C)
        self.col_embed = nn.Embedding(G, C)
        self.task_embed = nn.Embedding(2, C)
        self.layers = nn.ModuleList(Block(cfg, i) for i in range(cfg["n_layers"]))
        self.final_norm = nn.LayerNorm(C)
        self.image_head = nn.Linear(C, K)
        self.text_head = nn.Linear(C, cfg["text_vocab"])                # image->text only

    def new_cache(self, rows: int, dtype: torch.dtype) -> KVCache:
        c = self.cfg
        return KVCache(c["n_layers"], rows, c["n_heads"], self.P + self.N,
                       c["d_model"] // c["n_heads"], dtype)

    def prompt_prefix(self, text: torch.Tensor, guided: bool, rows: int) -> torch.Tensor:
        """text [1, P, D] encoder output -> prefix [R, P, C]: `rows` conditional rows, then (with
        guidance) as many null rows: the learned null vector at position 0, zeros after."""
        cond = self.text_proj(text).float().expand(rows, -1, -1)                  # [B, P, C]
        if not guided:
            return cond
        null = F.pad(self.null_prefix, (0, 0, 0, self.P - 1))[None].expand(rows, -1, -1)
        return torch.cat([cond, null])                                             # [2B, P, C]

    def embed_codes(self, codes: torch.Tensor, first_cell: int) -> torch.Tensor:
        """codes [R, t] (K = start) at cells first_cell .. -> [R, t, C]: code + row + column."""
        cells = torch.arange(first_cell, first_cell + codes.shape[1])
        cell_embedding = self.row_embed(cells // self.G) + self.col_embed(cells % self.G)
        return self.image_embed(codes) + cell_embedding  # [R, t, C]

    def forward(self, x: torch.Tensor, start: int, prefix_valid: torch.Tensor,
                cache: KVCache) -> torch.Tensor:
        """x [R, T, C] at positions [start, start + T), cache holding `start` -> [R, T, C]."""
        T = x.shape[1]
        h = x + self.position_embed(torch.arange(start, start + T))
        h = h + self.task_embed.weight[TEXT_TO_IMAGE_TASK]  # [R, T, C]
        masks = {}  # one mask per window size, shared by the layers
        for block in self.layers:
            if block.window not in masks:
                masks[block.window] = visible_keys(start, T, start + T, self.P, prefix_valid,
                                                   block.window, self.global_prefix)
            h = block(h, masks[block.window], cache)
        cache.length += T
        return self.final_norm(h)  # [R, T, C]

    def code_logits(self, hidden: torch.Tensor, B: int, guidance: float) -> torch.Tensor:
        """hidden [R, C] -> guided logits [B, K] float32: uncond + scale * (cond - uncond)."""
        logits = self.image_head(hidden).float()
        if logits.shape[0] == B:
            return logits
        cond, uncond = logits[:B], logits[B:]
        return uncond + guidance * (cond - uncond)


# ---- sampling (fusion/sampler.h semantics; torch's RNG, not Duet's SplitMix64 streams) ---------

@dataclass
class Sampling:
    temperature: float = 1.0  # 0: greedy
    top_k: int = 0            # 0: no limit
    top_p: float = 1.0        # nucleus mass
    guidance: float = 3.0     # 1: off (no null-prompt rows)


def sample(logits: torch.Tensor, s: Sampling, gen: torch.Generator) -> torch.Tensor:
    """logits [B, K] float32 -> codes [B] int64. Greedy picks the lowest index among ties."""
    if s.temperature == 0:
        return logits.argmax(-1)
    logits = logits / s.temperature
    if s.top_k > 0:
        kth = logits.topk(min(s.top_k, logits.shape[-1]), -1).values[:, -1:]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if s.top_p < 1:  # keep the smallest prefix of the sorted codes whose mass reaches top_p
        probs, order = torch.softmax(logits, -1).sort(-1, descending=True)
        drop_sorted = probs.cumsum(-1) - probs >= s.top_p
        logits = logits.masked_fill(torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted),
                                    float("-inf"))
    return torch.multinomial(torch.softmax(logits, -1), 1, generator=gen).squeeze(1)


class DuetRngSampler:
    """Duet's own sampler, bit for bit (fusion/sampler.cc since commit adfbb6b), for `check`
    only: draft i draws from SplitMix64(seed + i); weights exp((l - max) / T) in float64 over the
    codes in index order, or, with top-k or top-p, over the kept codes sorted by logit (ties:
    lower index first); then the inverse CDF at one uniform draw. (Builds before adfbb6b sorted
    in every case, so their sampled drafts differ; greedy ones do not.)"""
    MASK = (1 << 64) - 1

    def __init__(self, seeds: List[int], s: Sampling):
        self.states, self.s = list(seeds), s

    def uniform(self, row: int) -> float:
        self.states[row] = z = (self.states[row] + 0x9E3779B97F4A7C15) & self.MASK
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & self.MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & self.MASK
        return ((z ^ (z >> 31)) >> 11) * 2.0 ** -53

    def __call__(self, logits: torch.Tensor) -> torch.Tensor:
        out = []
        for row, l in enumerate(logits.float().numpy().astype(np.float64)):
            if self.s.temperature == 0:
                out.append(int(np.argmax(l)))  # first maximum
                continue
            if self.s.top_k == 0 and self.s.top_p >= 1:
                kept = np.arange(len(l))
            else:
                order = np.argsort(-l, kind="stable")
                kept = order[:self.s.top_k] if self.s.top_k > 0 else order
            weights = np.exp((l[kept] - l.max()) / np.float64(np.float32(self.s.temperature)))
            cumulative = np.cumsum(weights)  # sequential, as the C++ loop
            nucleus = len(kept)
            if self.s.top_p < 1:
                mass = np.cumsum(weights / cumulative[-1])
                reached = np.nonzero(mass >= np.float32(self.s.top_p))[0]
                nucleus = reached[0] + 1 if len(reached) else nucleus
            target = self.uniform(row) * cumulative[nucleus - 1]
            pick = int(np.searchsorted(cumulative[:nucleus], target, "right"))  # first cum > target
            out.append(kept[min(pick, nucleus - 1)])
        return torch.tensor(np.array(out, dtype=np.int64))


# ---- image decoder (vision/image_tokenizer.h, vision/fsq.h) -------------------------------------

class ResBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        groups = math.gcd(channels, 32)
        self.norm1, self.norm2 = nn.GroupNorm(groups, channels), nn.GroupNorm(groups, channels)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # torch 1.13's autocast leaves group_norm alone and it refuses a bf16 input with fp32
        # weights, so the input is cast to float32 (the usual fix); the convs still run in bf16.
        h = self.conv1(F.silu(self.norm1(x.float())))
        return x + self.conv2(F.silu(self.norm2(h.float())))  # [B, C, H, W]


class ImageDecoder(nn.Module):
    """FSQ latents [B, L, G, G] -> images [B, 3, S, S] (unclamped): 1x1 conv, blocks at G,
    3x3 conv to 4C + pixel shuffle 2, blocks at 2G, norm, 3x3 conv to 3 patch^2 + shuffle patch."""

    def __init__(self, cfg: dict):
        super().__init__()
        c, latent = cfg["channels"], cfg["latent_dim"] or len(cfg["fsq_levels"])
        self.patch = cfg["patch"]
        self.from_latent = nn.Conv2d(latent, c, 1)
        self.blocks_lo = nn.ModuleList(ResBlock(c) for _ in range(cfg["res_blocks"]))
        self.up = nn.Conv2d(c, 4 * c, 3, padding=1)
        self.blocks_hi = nn.ModuleList(ResBlock(c) for _ in range(cfg["res_blocks"]))
        self.norm_out = nn.GroupNorm(math.gcd(c, 32), c)
        self.to_pixels = nn.Conv2d(c, 3 * self.patch ** 2, 3, padding=1)

    def forward(self, latents: torch.Tensor) -> torch.Tensor:
        x = self.from_latent(latents)                  # [B, C, G, G]
        for block in self.blocks_lo:
            x = block(x)
        x = F.pixel_shuffle(self.up(x), 2)             # [B, C, 2G, 2G]
        for block in self.blocks_hi:
            x = block(x)
        x = self.to_pixels(F.silu(self.norm_out(x.float())))  # [B, 3 patch^2, 2G, 2G]
        return F.pixel_shuffle(x, self.patch).float()  # [B, 3, S, S]


def fsq_latents(codes: torch.Tensor, levels: List[int]) -> torch.Tensor:
    """codes [B, G, G] int64 -> latents [B, L, G, G]: mixed-radix digits d_l (first level least
    significant), value (d_l - h_l) / h_l with h_l = levels[l] // 2."""
    radix = torch.tensor(np.cumprod([1] + levels[:-1]), dtype=torch.int64).view(1, -1, 1, 1)
    digits = (codes[:, None] // radix) % torch.tensor(levels).view(1, -1, 1, 1)
    half = torch.tensor([l // 2 for l in levels], dtype=torch.float32).view(1, -1, 1, 1)
    return (digits.float() - half) / half


def to_uint8(images: torch.Tensor) -> np.ndarray:
    """[B, 3, S, S] in about [-1, 1] -> [B, S, S, 3] uint8: v -> round((v + 1) * 127.5)."""
    x = images.clamp(-1, 1).add(1).mul(127.5).round().to(torch.uint8)
    return x.permute(0, 2, 3, 1).contiguous().numpy()


def png_bytes(pixels: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buf, format="PNG")  # zlib level 6, as libpng's default
    return buf.getvalue()


# ---- the whole model ------------------------------------------------------------------------

class DuetPeer:
    def __init__(self, model_dir: str, dtype: torch.dtype):
        try:
            import sentencepiece
        except ImportError:
            raise SystemExit("duet_peer needs SentencePiece: "
                             "apt-get install -y python3-sentencepiece")
        with open(os.path.join(model_dir, "config.json")) as f:
            self.config = json.load(f)
        self.tokenizer = sentencepiece.SentencePieceProcessor(
            model_file=os.path.join(model_dir, "tokenizer.model"))
        weights = read_safetensors(os.path.join(model_dir, "model.safetensors"))
        self.encoder = TextEncoder(self.config["text_encoder"])
        self.transformer = Transformer(self.config["transformer"])
        self.decoder = ImageDecoder(self.config["image_tokenizer"])
        self.encoder.load_state_dict(sub_state(weights, "text_encoder."))
        self.transformer.load_state_dict(sub_state(weights, "transformer."))
        self.decoder.load_state_dict(sub_state(weights, "image_tokenizer.decoder."))
        for m in (self.encoder, self.transformer, self.decoder):
            m.eval()
        self.dtype = dtype
        self.levels = self.config["image_tokenizer"]["fsq_levels"]

    def autocast(self):
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.dtype == torch.bfloat16)

    def encode_prompt(self, prompt: str):
        """Prompt -> (encoder output [1, P, D], real length): ids without BOS/EOS, padded with
        <pad> to max_len (= the transformer's text_prefix_len)."""
        ids = self.tokenizer.encode(prompt)
        max_len = self.config["text_encoder"]["max_len"]
        assert 1 <= len(ids) <= max_len, f"prompt has {len(ids)} tokens, the limit is {max_len}"
        assert max_len == self.transformer.P
        padded = torch.tensor([ids + [PAD_ID] * (max_len - len(ids))])   # [1, P]
        lengths = torch.tensor([len(ids)])
        return self.encoder(padded, lengths), len(ids)

    def start_rows(self, text: torch.Tensor, length: int, B: int, guidance: float):
        """-> prefix [R, P, C], prefix_valid [R], R: the guided batch layout."""
        guided = guidance != 1
        prefix = self.transformer.prompt_prefix(text, guided, B)
        valid = torch.tensor([length] * B + ([1] * B if guided else []))
        return prefix, valid

    def generate_codes(self, text: torch.Tensor, length: int, B: int, guidance: float,
                       draw: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        """One prefill (prefix + start token), then one cached step per code -> [B, G, G].
        draw: guided logits [B, K] -> codes [B]."""
        tf = self.transformer
        prefix, valid = self.start_rows(text, length, B, guidance)
        R = prefix.shape[0]
        cache = tf.new_cache(R, self.dtype)
        codes = torch.empty(B, tf.N, dtype=torch.int64)
        x = torch.cat([prefix, tf.embed_codes(torch.full((R, 1), tf.K), 0)], 1)  # [R, P + 1, C]
        for t in range(tf.N):
            start = cache.length
            h = tf(x, start, valid, cache)                                       # [R, T, C]
            codes[:, t] = draw(tf.code_logits(h[:, -1], B, guidance))
            rows_codes = codes[:, t:t + 1].repeat(R // B, 1)                     # [R, 1]
            x = tf.embed_codes(rows_codes, t + 1) if t + 1 < tf.N else None
        return codes.view(B, tf.G, tf.G)

    def decode_pixels(self, codes: torch.Tensor, chunk: int = DECODE_CHUNK) -> np.ndarray:
        """codes [B, G, G] -> [B, S, S, 3] uint8, decoding `chunk` grids per forward."""
        out = [to_uint8(self.decoder(fsq_latents(codes[i:i + chunk], self.levels)))
               for i in range(0, codes.shape[0], chunk)]
        return np.concatenate(out)


# ---- modes ----------------------------------------------------------------------------------

def set_threads(threads: int):
    """torch.set_num_threads covers OpenMP (and MKL) but not Debian's OpenBLAS (pthreads build),
    which runs float32 GEMMs on its own pool of one thread per core; give it the same count so
    `threads` means what it says (Duet sets its OpenBLAS to 1 thread, model/torch_threads.cc)."""
    torch.set_num_threads(threads)
    try:
        ctypes.CDLL("libopenblas.so.0").openblas_set_num_threads(threads)
    except (OSError, AttributeError):
        pass  # another BLAS: torch.set_num_threads is all there is


def emit(**fields):
    fields["load"] = [round(v, 2) for v in os.getloadavg()]
    print(json.dumps(fields), flush=True)


def dtype_name(dtype: torch.dtype) -> str:
    return "bfloat16" if dtype == torch.bfloat16 else "float32"


def run_step(peer: DuetPeer, args):
    """Decode-step time with guidance (2B rows), the cache filled to the middle of the grid."""
    tf, s = peer.transformer, Sampling(temperature=1.0, guidance=args.guidance)
    gen = torch.Generator().manual_seed(0)
    text, length = peer.encode_prompt(args.prompt)
    for B in [int(b) for b in args.batches.split(",")]:
        prefix, valid = peer.start_rows(text, length, B, s.guidance)
        R, middle = prefix.shape[0], tf.N // 2
        # Prefill the prefix, the start token and `middle - 1` codes in one forward: the cache
        # then holds P + middle positions, as after `middle` steps (the code values are arbitrary).
        cache = tf.new_cache(R, peer.dtype)
        inputs = torch.cat([torch.full((R, 1), tf.K), torch.randint(tf.K, (R, middle - 1))], 1)
        tf(torch.cat([prefix, tf.embed_codes(inputs, 0)], 1), 0, valid, cache)
        filled = cache.length
        code = torch.randint(tf.K, (B,))

        def step(with_sampling: bool):  # code `middle` from code `middle - 1`, at position filled
            cache.length = filled  # rewrite the same cache slot every repetition
            x = tf.embed_codes(code.repeat(R // B)[:, None], middle)  # [R, 1, C]
            logits = tf.code_logits(tf(x, filled, valid, cache)[:, -1], B, s.guidance)
            return sample(logits, s, gen) if with_sampling else logits

        for what, with_sampling in (("step", True), ("step_forward", False)):
            for _ in range(args.warmup):
                step(with_sampling)
            times = []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                step(with_sampling)
                times.append(time.perf_counter() - t0)
            sec = statistics.median(times)
            emit(what=what, dtype=dtype_name(peer.dtype), batch=B, rows=R, threads=args.threads,
                 kv_len=filled + 1, seconds=sec, ms_per_step=sec * 1e3, tokens_per_s=B / sec,
                 min_ms_per_step=min(times) * 1e3, repeats=args.repeats)


def drafts_once(peer: DuetPeer, args, count: int, s: Sampling, gen: torch.Generator):
    """One end-to-end request; returns (phase seconds, PNG byte strings)."""
    t0 = time.perf_counter()
    text, length = peer.encode_prompt(args.prompt)
    t1 = time.perf_counter()
    draw = lambda logits: sample(logits, s, gen)
    codes = torch.cat([peer.generate_codes(text, length, min(args.chunk, count - first),
                                           s.guidance, draw)
                       for first in range(0, count, args.chunk)])  # [count, G, G]
    t2 = time.perf_counter()
    pixels = peer.decode_pixels(codes, args.decode_chunk)           # [count, S, S, 3]
    t3 = time.perf_counter()
    pngs = [png_bytes(p) for p in pixels]
    t4 = time.perf_counter()
    return {"encode_prompt": t1 - t0, "generate": t2 - t1, "decode": t3 - t2, "png": t4 - t3}, pngs


def run_drafts(peer: DuetPeer, args):
    s = Sampling(temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                 guidance=args.guidance)
    gen = torch.Generator().manual_seed(args.seed)
    if args.warmup:  # one chunk, so that every shape of a chunk has run once
        drafts_once(peer, args, min(args.count, args.chunk), s, gen)
    runs = [drafts_once(peer, args, args.count, s, gen)[0] for _ in range(args.repeats)]
    no_png = statistics.median(sum(r.values()) - r["png"] for r in runs)
    with_png = statistics.median(sum(r.values()) for r in runs)
    common = dict(dtype=dtype_name(peer.dtype), batch=args.count, threads=args.threads,
                  repeats=args.repeats)
    emit(what="drafts_no_png", seconds=no_png, drafts_per_s=args.count / no_png,
         phases={k: round(statistics.median(r[k] for r in runs), 4) for k in runs[0]}, **common)
    emit(what="drafts_with_png", seconds=with_png, drafts_per_s=args.count / with_png, **common)


def run_duet_binary(binary: str, args, out: str):
    """Runs `duet generate` with the check's settings, writing draft_<i>_seed_<seed + i>.png into
    `out`. Passes --dtype when the binary has the flag (newer builds default to bfloat16 on CPUs
    with bf16 instructions; older ones always ran float32)."""
    command = [binary, "generate", "-m", args.model, "-n", str(args.count), "-s", str(args.seed),
               "--temperature", str(args.temperature), "--top-k", str(args.top_k),
               "--top-p", str(args.top_p), "--guidance", str(args.guidance), "-o", out, args.prompt]
    helptext = subprocess.run([binary, "generate", "--help"], capture_output=True, text=True).stdout
    if "--dtype" in helptext:
        command[2:2] = ["--dtype", args.dtype]
    subprocess.run(command, check=True, capture_output=True, text=True)


def pixel_agreement(ours: np.ndarray, theirs: np.ndarray, G: int) -> dict:
    """ours, theirs [S, S, 3] uint8. A wrong code shows as a cell (S/G pixels square) that is
    far off; float rounding as a few pixels off by 1."""
    diff = np.abs(theirs.astype(np.int16) - ours.astype(np.int16))    # [S, S, 3]
    cell = ours.shape[0] // G
    per_cell = diff.reshape(G, cell, G, cell, 3).max(axis=(1, 3, 4))  # [G, G]
    return {"max_abs_diff": int(diff.max()), "mean_abs_diff": float(diff.mean()),
            "pixels_differing": int((diff > 0).any(-1).sum()),
            "cells_over_8": int((per_cell > 8).sum())}


def run_check(peer: DuetPeer, args):
    """Drafts with Duet's own sampler and seeds (greedy by default), written as PNGs and codes
    under --out, and compared pixel by pixel with Duet's PNGs for the same settings."""
    os.makedirs(args.out, exist_ok=True)
    text, length = peer.encode_prompt(args.prompt)
    s = Sampling(args.temperature, args.top_k, args.top_p, args.guidance)
    grids = []
    for first in range(0, args.count, args.chunk):  # Duet's chunks; seeds run on across them
        rows = min(args.chunk, args.count - first)
        draw = DuetRngSampler([args.seed + first + i for i in range(rows)], s)
        grids.append(peer.generate_codes(text, length, rows, s.guidance, draw))
    codes = torch.cat(grids)                                             # [count, G, G]
    pixels = peer.decode_pixels(codes)                                   # [count, S, S, 3]
    with open(os.path.join(args.out, "peer_codes.json"), "w") as f:
        json.dump({"prompt": args.prompt, "tokens": peer.tokenizer.encode(args.prompt),
                   "codes": codes.tolist()}, f)
    names = [f"draft_{i:03d}_seed_{args.seed + i}.png" for i in range(args.count)]
    for name, image in zip(names, pixels):
        Image.fromarray(image).save(os.path.join(args.out, "peer_" + name))
    result = dict(what="check", dtype=dtype_name(peer.dtype), prompt=args.prompt,
                  count=args.count, temperature=args.temperature, guidance=args.guidance,
                  out=args.out)
    duet_dir = args.duet_dir
    if duet_dir is None and args.duet_bin:
        duet_dir = os.path.join(args.out, "duet")
        run_duet_binary(args.duet_bin, args, duet_dir)
    if duet_dir:
        G = peer.transformer.G
        duet_image = lambda name: np.asarray(Image.open(os.path.join(duet_dir, name)).convert("RGB"))
        stats = [pixel_agreement(ours, duet_image(name), G) for name, ours in zip(names, pixels)]
        result.update(duet_dir=duet_dir,
                      max_abs_diff=max(d["max_abs_diff"] for d in stats),
                      mean_abs_diff=statistics.mean(d["mean_abs_diff"] for d in stats),
                      drafts_identical=sum(d["max_abs_diff"] == 0 for d in stats),
                      drafts_within_1=sum(d["max_abs_diff"] <= 1 for d in stats),
                      drafts_with_cells_over_8=sum(d["cells_over_8"] > 0 for d in stats),
                      per_draft=stats if args.count <= 8 else None)
    emit(**result)


def main():
    parser = argparse.ArgumentParser(
        description="PyTorch-eager peer of Duet's text->image inference (speed baseline).")
    parser.add_argument("mode", choices=["step", "drafts", "check"])
    parser.add_argument("--model", default=DEFAULT_MODEL, help="Duet model directory")
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16"])
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch threads")
    parser.add_argument("--prompt", default=DEFAULT_PROMPT)
    parser.add_argument("--guidance", type=float, default=3.0, help="1 = off")
    parser.add_argument("--warmup", type=int, default=3,
                        help="step: warm-up steps; drafts: 0 = no warm-up chunk")
    parser.add_argument("--repeats", type=int, default=None, help="timed repetitions (median)")
    step = parser.add_argument_group("step")
    step.add_argument("--batches", default="1,16,64,256", help="drafts per step, comma-separated")
    drafts = parser.add_argument_group("drafts")
    drafts.add_argument("--count", type=int, help="drafts (drafts: 256, check: 1)")
    drafts.add_argument("--chunk", type=int, default=GENERATION_CHUNK, help="drafts per generation")
    drafts.add_argument("--decode-chunk", type=int, default=DECODE_CHUNK, help="grids per decode")
    drafts.add_argument("--temperature", type=float, help="0 = greedy (drafts: 1, check: 0)")
    drafts.add_argument("--top-k", type=int, default=0)
    drafts.add_argument("--top-p", type=float, default=1.0)
    drafts.add_argument("--seed", type=int, default=0)
    check = parser.add_argument_group("check")
    check.add_argument("--out", default="/tmp/duet_peer_check")
    check.add_argument("--duet-dir", help="`duet generate -o` directory made with the same flags")
    check.add_argument("--duet-bin", help="or the duet binary, run here to make it")
    args = parser.parse_args()
    if args.repeats is None:
        args.repeats = 20 if args.mode == "step" else 1
    if args.count is None:
        args.count = 1 if args.mode == "check" else 256
    if args.temperature is None:
        args.temperature = 0.0 if args.mode == "check" else 1.0
    set_threads(args.threads)
    dtype = torch.bfloat16 if args.dtype == "bfloat16" else torch.float32
    peer = DuetPeer(args.model, dtype)
    with torch.inference_mode(), peer.autocast():
        {"step": run_step, "drafts": run_drafts, "check": run_check}[args.mode](peer, args)


if __name__ == "__main__":
    main()
