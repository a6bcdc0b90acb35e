// Implementation of services/transformer/work_unit.h. Decoding is fusion::Engine's: every admitted
// image (or caption) request adds its rows to one engine, which steps them all in one forward
// whatever their settings or arrival, so a draft decoded here equals the same draft from
// fusion::GenerateImageCodes. This file maps requests to engine sequences and back.
#include "services/transformer/work_unit.h"

#include <map>

#include "common/tensor_io.h"
#include "fusion/engine.h"

namespace duet::services {
namespace {

// What differs between image and caption requests: their sequences and their result.
struct ImageTraits {
  using Request = ImageRequest;
  using Result = StatusOr<torch::Tensor>;
  static constexpr fusion::Task kTask = fusion::Task::kTextToImage;
  static int64_t Count(const ImageRequest& r) { return r.count; }
  static int64_t Total(const fusion::TransformerConfig& c, const ImageRequest&) {
    return c.image_tokens();
  }
  static torch::Tensor Prefix(const ImageRequest& r, int64_t) {
    return r.prefix.to(torch::kCPU, torch::kFloat32);
  }
  static Result Make(const fusion::TransformerConfig& c,
                     std::vector<std::vector<int64_t>> tokens) {
    torch::Tensor codes = torch::empty({static_cast<int64_t>(tokens.size()), c.image_tokens()},
                                       torch::kInt64);
    for (size_t i = 0; i < tokens.size(); ++i) {
      codes[static_cast<int64_t>(i)].copy_(torch::tensor(tokens[i], torch::kInt64));
    }
    return codes.view({-1, c.image_grid, c.image_grid});
  }
};

struct TextTraits {
  using Request = TextRequest;
  using Result = StatusOr<std::vector<std::vector<int64_t>>>;
  static constexpr fusion::Task kTask = fusion::Task::kImageToText;
  static int64_t Count(const TextRequest& r) { return r.codes.size(0); }
  static int64_t Total(const fusion::TransformerConfig&, const TextRequest& r) {
    return r.max_tokens;
  }
  static torch::Tensor Prefix(const TextRequest& r, int64_t i) {
    return r.codes[i].reshape({-1}).to(torch::kCPU, torch::kInt64);
  }
  static Result Make(const fusion::TransformerConfig&, std::vector<std::vector<int64_t>> tokens) {
    return tokens;
  }
};

template <typename Traits>
class EngineDecoding final : public Decoding<typename Traits::Request> {
 public:
  using Request = typename Traits::Request;

  EngineDecoding(fusion::MultimodalTransformer model, ChunkBudget budget)
      : config_(model->config()), engine_(std::move(model), Traits::kTask, budget.tokens) {}

  void Add(Request request) override {
    const int64_t owner = next_owner_++;
    const int64_t count = Traits::Count(request);
    std::vector<fusion::Sequence> sequences(count);
    const torch::Tensor shared = Traits::Prefix(request, 0);  // a prompt is shared by its drafts
    for (int64_t i = 0; i < count; ++i) {
      fusion::Sequence& s = sequences[i];
      s.prefix = Traits::kTask == fusion::Task::kTextToImage ? shared : Traits::Prefix(request, i);
      s.sampling = request.sampling;
      s.seed = request.sampling.seed + static_cast<uint64_t>(i);
      s.max_tokens = Traits::Total(config_, request);
      s.owner = owner;
      s.index = i;
    }
    engine_.Add(std::move(sequences));
    members_.emplace(owner, Member{std::move(request), std::vector<std::vector<int64_t>>(count),
                                   count, 0});
  }

  int DropCancelled() override {
    std::vector<int64_t> gone;
    for (const auto& [owner, m] : members_) {
      if (m.request.cancelled && m.request.cancelled()) gone.push_back(owner);
    }
    End(gone, absl::CancelledError("request cancelled or past its deadline"));
    return static_cast<int>(gone.size());
  }

  Status Step() override {
    return CatchTorch("decoding step", [&] {
      const int64_t sampled = engine_.tokens_sampled();
      for (fusion::Finished& f : engine_.Step()) {
        Member& m = members_.at(f.owner);
        m.tokens[f.index] = std::move(f.tokens);
        --m.remaining;
      }
      this->tokens_sampled_ += engine_.tokens_sampled() - sampled;
      for (auto it = members_.begin(); it != members_.end();) {
        Member& m = it->second;
        const int64_t total = Traits::Total(config_, m.request);
        const int64_t produced = m.remaining == 0 ? total : engine_.Produced(it->first);
        if (produced > m.reported && m.request.progress) m.request.progress(produced, total);
        m.reported = std::max(m.reported, produced);
        if (m.remaining > 0) {
          ++it;
          continue;
        }
        auto done = std::move(m.request.done);
        typename Traits::Result result = Traits::Make(config_, std::move(m.tokens));
        it = members_.erase(it);
        done(std::move(result));
      }
    });
  }

  void FailAll(const Status& status) override {
    std::vector<int64_t> all;
    for (const auto& [owner, m] : members_) all.push_back(owner);
    End(all, status);
  }

  bool empty() const override { return members_.empty(); }
  int64_t rows() const override { return engine_.rows(); }
  int64_t step_rows() const override { return engine_.step_rows(); }

 private:
  struct Member {
    Request request;
    std::vector<std::vector<int64_t>> tokens;  // by index
    int64_t remaining = 0;                     // sequences not finished
    int64_t reported = 0;                      // the last progress reported
  };

  // Removes `owners` from the engine and ends each with `status`.
  void End(const std::vector<int64_t>& owners, const Status& status) {
    if (owners.empty()) return;
    engine_.Drop([&](int64_t owner) {
      return std::find(owners.begin(), owners.end(), owner) != owners.end();
    });
    for (const int64_t owner : owners) {
      auto done = std::move(members_.at(owner).request.done);
      members_.erase(owner);
      done(status);
    }
  }

  const fusion::TransformerConfig config_;
  fusion::Engine engine_;
  std::map<int64_t, Member> members_;  // by owner id, in arrival order
  int64_t next_owner_ = 0;
};

}  // namespace

std::unique_ptr<Decoding<ImageRequest>> MakeImageDecoding(fusion::MultimodalTransformer model,
                                                          ChunkBudget budget) {
  return std::make_unique<EngineDecoding<ImageTraits>>(std::move(model), budget);
}

std::unique_ptr<Decoding<TextRequest>> MakeTextDecoding(fusion::MultimodalTransformer model,
                                                        ChunkBudget budget) {
  return std::make_unique<EngineDecoding<TextTraits>>(std::move(model), budget);
}

int64_t RowsOf(const ImageRequest& request) {
  return request.sampling.guidance_scale != 1.f ? 2 * request.count : request.count;
}
int64_t RowsOf(const TextRequest& request) { return request.codes.size(0); }

}  // namespace duet::services
