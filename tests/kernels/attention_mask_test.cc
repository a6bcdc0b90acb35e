// Tests of the mask rule (MaskAllows), the key ranges and full-block test the kernels skip by,
// and argument validation. Brute force over small sizes: the kernels trust these helpers.
#include "kernels/attention_mask.h"

#include <vector>

#include "gtest/gtest.h"
#include "kernels/attention.h"

namespace duet::kernels {
namespace {

TEST(MaskAllowsTest, PaddingPrefixIsInvisible) {
  const AttentionMask mask{/*prefix_len=*/4, /*window=*/0};
  EXPECT_TRUE(MaskAllows(mask, /*prefix_valid=*/2, /*q_pos=*/6, /*k_pos=*/1));
  EXPECT_FALSE(MaskAllows(mask, 2, 6, 2));
  EXPECT_FALSE(MaskAllows(mask, 2, 6, 3));
  EXPECT_FALSE(MaskAllows(mask, 2, 0, 3));  // not even to prefix queries
}

TEST(MaskAllowsTest, PrefixIsBidirectionalAndTargetCausal) {
  const AttentionMask mask{4, 0};
  EXPECT_TRUE(MaskAllows(mask, 4, /*q_pos=*/0, /*k_pos=*/3));  // prefix sees later prefix
  EXPECT_FALSE(MaskAllows(mask, 4, 1, 5));                     // prefix never sees target
  EXPECT_TRUE(MaskAllows(mask, 4, 6, 6));                      // target sees itself
  EXPECT_TRUE(MaskAllows(mask, 4, 6, 4));
  EXPECT_FALSE(MaskAllows(mask, 4, 6, 7));  // nor the future
}

TEST(MaskAllowsTest, WindowIsSymmetric) {
  const AttentionMask mask{/*prefix_len=*/10, /*window=*/3};
  EXPECT_TRUE(MaskAllows(mask, 10, 2, 4));
  EXPECT_TRUE(MaskAllows(mask, 10, 4, 2));
  EXPECT_FALSE(MaskAllows(mask, 10, 2, 5));
  EXPECT_FALSE(MaskAllows(mask, 10, 5, 2));
  EXPECT_TRUE(MaskAllows(mask, 10, 12, 10));
  EXPECT_FALSE(MaskAllows(mask, 10, 12, 9));
}

TEST(MaskAllowsTest, GlobalPrefixKeepsTheValidPrefixInEveryWindow) {
  const AttentionMask mask{/*prefix_len=*/10, /*window=*/3, /*global_prefix=*/true};
  EXPECT_TRUE(MaskAllows(mask, 6, /*q_pos=*/30, /*k_pos=*/0));  // far beyond the window
  EXPECT_TRUE(MaskAllows(mask, 6, 30, 5));
  EXPECT_FALSE(MaskAllows(mask, 6, 30, 6));   // padding stays invisible
  EXPECT_TRUE(MaskAllows(mask, 6, 1, 5));     // prefix queries see the whole valid prefix
  EXPECT_FALSE(MaskAllows(mask, 6, 30, 27));  // target keys keep the window
  EXPECT_TRUE(MaskAllows(mask, 6, 30, 28));
  EXPECT_FALSE(MaskAllows(mask, 6, 12, 13));  // and stay causal
}

struct SmallCase {
  AttentionMask mask;
  int64_t valid;
};

std::vector<SmallCase> SmallCases() {
  std::vector<SmallCase> cases;
  for (int64_t p : {0, 1, 5, 13})
    for (int64_t w : {0, 1, 2, 5, 40})
      for (int64_t valid : {int64_t{-1}, int64_t{0}, p / 2, p, p + 3})
        for (bool global_prefix : {false, true}) cases.push_back({{p, w, global_prefix}, valid});
  return cases;
}

TEST(VisibleKeyRangesTest, CoversEveryVisibleKeyAndIsTightAtTheEnds) {
  constexpr int64_t kLen = 17;
  for (const SmallCase& c : SmallCases()) {
    for (int64_t q_first = 0; q_first < kLen; ++q_first) {
      for (int64_t q_last = q_first; q_last < kLen; ++q_last) {
        const VisibleKeys keys = VisibleKeyRanges(c.mask, c.valid, q_first, q_last, kLen);
        if (keys.prefix.size() > 0 && keys.target.size() > 0) {
          ASSERT_LE(keys.prefix.end, keys.target.begin);  // disjoint: no key counted twice
        }
        for (const KeyRange& r : {keys.prefix, keys.target}) {
          if (r.size() == 0) continue;  // a tight range: both ends visible to some query
          bool begin_seen = false, end_seen = false;
          for (int64_t q = q_first; q <= q_last; ++q) {
            begin_seen |= MaskAllows(c.mask, c.valid, q, r.begin);
            end_seen |= MaskAllows(c.mask, c.valid, q, r.end - 1);
          }
          EXPECT_TRUE(begin_seen && end_seen);
        }
        for (int64_t q = q_first; q <= q_last; ++q) {
          for (int64_t k = 0; k < kLen; ++k) {
            if (!MaskAllows(c.mask, c.valid, q, k)) continue;
            const bool inside = (k >= keys.prefix.begin && k < keys.prefix.end) ||
                                (k >= keys.target.begin && k < keys.target.end);
            ASSERT_TRUE(inside) << "P=" << c.mask.prefix_len << " w=" << c.mask.window
                                << " global_prefix=" << c.mask.global_prefix
                                << " valid=" << c.valid << " q=" << q << " k=" << k;
          }
        }
      }
    }
  }
}

// The CPU decode path relies on this: for one query the two ranges hold exactly its visible keys.
TEST(VisibleKeyRangesTest, ExactForASingleQuery) {
  constexpr int64_t kLen = 17;
  for (const SmallCase& c : SmallCases()) {
    for (int64_t q = 0; q < kLen; ++q) {
      const VisibleKeys keys = VisibleKeyRanges(c.mask, c.valid, q, q, kLen);
      for (int64_t k = 0; k < kLen; ++k) {
        const bool inside = (k >= keys.prefix.begin && k < keys.prefix.end) ||
                            (k >= keys.target.begin && k < keys.target.end);
        ASSERT_EQ(inside, MaskAllows(c.mask, c.valid, q, k))
            << "P=" << c.mask.prefix_len << " w=" << c.mask.window
            << " global_prefix=" << c.mask.global_prefix << " valid=" << c.valid << " q=" << q
            << " k=" << k;
      }
    }
  }
}

TEST(BlockFullyVisibleTest, TrueOnlyWhenEveryPairIsAllowed) {
  constexpr int64_t kLen = 15;
  int full_blocks = 0;
  for (const SmallCase& c : SmallCases()) {
    for (int64_t q0 = 0; q0 < kLen; q0 += 3) {
      for (int64_t k0 = 0; k0 < kLen; k0 += 2) {
        const int64_t q1 = q0 + 2, k1 = k0 + 3;
        bool all = true;
        for (int64_t q = q0; q <= q1; ++q)
          for (int64_t k = k0; k <= k1; ++k) all &= MaskAllows(c.mask, c.valid, q, k);
        const bool full = BlockFullyVisible(c.mask, c.valid, q0, q1, k0, k1);
        if (full) ++full_blocks;
        EXPECT_TRUE(!full || all) << "q0=" << q0 << " k0=" << k0;
      }
    }
  }
  EXPECT_GT(full_blocks, 0);  // the skip path is exercised
}

class InvalidArgsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    args_.q = args_.k = args_.v = data_.data();
    args_.out = data_.data();
    args_.batch = args_.heads = 1;
    args_.q_len = args_.kv_len = 2;
    args_.head_dim = 4;
    args_.scale = 0.5f;
  }
  void ExpectInvalid(const AttentionArgs& a) {
    EXPECT_EQ(AttentionPrefill(a).code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(AttentionReference(a).code(), absl::StatusCode::kInvalidArgument);
  }
  std::vector<float> data_ = std::vector<float>(64, 0.f);
  AttentionArgs args_;
};

TEST_F(InvalidArgsTest, ValidArgsPass) { EXPECT_TRUE(AttentionPrefill(args_).ok()); }

TEST_F(InvalidArgsTest, EachBadFieldIsRejected) {
  auto with = [&](auto edit) {
    AttentionArgs a = args_;
    edit(a);
    return a;
  };
  ExpectInvalid(with([](AttentionArgs& a) { a.k = nullptr; }));
  ExpectInvalid(with([](AttentionArgs& a) { a.batch = 0; }));
  ExpectInvalid(with([](AttentionArgs& a) { a.head_dim = -1; }));
  ExpectInvalid(with([](AttentionArgs& a) { a.kv_len = 1; }));  // q_len > kv_len
  ExpectInvalid(with([](AttentionArgs& a) { a.kv_capacity = 1; }));
  ExpectInvalid(with([](AttentionArgs& a) { a.mask.window = -1; }));
  ExpectInvalid(with([](AttentionArgs& a) { a.mask.prefix_len = -2; }));
  ExpectInvalid(with([](AttentionArgs& a) { a.scale = 0.f; }));
  ExpectInvalid(with([](AttentionArgs& a) { a.dtype = ElementType::kF16; }));
}

TEST_F(InvalidArgsTest, PrefillAndDecodeCheckTheirPositions) {
  AttentionArgs a = args_;
  a.kv_len = 3;  // q rows 0..1 of 3 keys: neither a prefill nor a decode
  EXPECT_EQ(AttentionPrefill(a).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(AttentionDecode(a).code(), absl::StatusCode::kInvalidArgument);
  a.q_start = 1;
  EXPECT_TRUE(AttentionDecode(a).ok());
}

}  // namespace
}  // namespace duet::kernels
