// A tiny random transformer shared by the fusion tests: small enough that every test runs in
// milliseconds, with a sliding window shorter than both sequence layouts.
#pragma once

#include <torch/torch.h>

#include "fusion/transformer.h"

namespace duet::fusion::testing {

inline TransformerConfig TinyConfig() {
  TransformerConfig c;
  c.d_model = 32;
  c.n_layers = 3;
  c.n_heads = 2;
  c.d_ff = 64;
  c.window = 4;        // Shorter than both layouts (6 + 16 and 16 + 8 positions).
  c.global_every = 3;  // Layers 0 and 1 slide, layer 2 is global.
  c.text_dim = 16;
  c.text_prefix_len = 6;
  c.text_vocab = 40;
  c.max_caption_len = 8;
  c.image_grid = 4;
  c.image_codebook = 30;
  return c;
}

// A model whose weights are large enough (std 0.3) that every position matters.
inline MultimodalTransformer TinyModel(uint64_t seed = 7, bool global_prefix = false) {
  torch::manual_seed(seed);
  TransformerConfig config = TinyConfig();
  config.global_prefix = global_prefix;
  MultimodalTransformer model(config);
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) {
    if (p.dim() >= 2) p.normal_(0.0, 0.3);
  }
  model->eval();
  return model;
}

}  // namespace duet::fusion::testing
