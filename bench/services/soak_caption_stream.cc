// The CaptionStream scenarios of bench/services/soak_client.h: a few items, some bad (garbage or
// empty image, an id that is not UTF-8 or too long), every one answered in order with its id;
// and the same stream cancelled part way.
#include <thread>

#include "bench/services/soak_client.h"

namespace duet::bench {
namespace {

using Code = grpc::StatusCode;

constexpr int kMaxItems = 10;  // more than the gateway's window of 8, now and then
constexpr int kMaxCancelDelayMs = 300;
constexpr size_t kMaxIdBytes = 4096;  // the gateway's limit on CaptionStreamRequest.id
constexpr int kItemKinds = 20;        // kinds 0..3 are bad items: 1 in 5

struct Item {
  v1::CaptionStreamRequest request;
  bool good = true;       // expect error_code 0
  std::string echoed_id;  // the id the answer must carry
};

// Item `index` of a stream: a good one (`kind` >= 4), else one of four kinds of bad item.
Item MakeItem(size_t index, int kind, uint64_t tag, std::string image) {
  Item item;
  std::string id = "item-" + std::to_string(index) + "-" + std::to_string(tag);
  item.good = kind >= 4;
  if (kind == 0) image = "not an image at all";
  if (kind == 1) image.clear();
  if (kind == 2) id += "-\xC3\x28";  // not UTF-8
  if (kind == 3) id = std::string(kMaxIdBytes + 1, 'i');
  item.echoed_id = id.substr(0, kMaxIdBytes);
  item.request.set_id(std::move(id));
  item.request.set_image(std::move(image));
  return item;
}

// Records each answer as an outcome of "<scenario>.items"; returns what is wrong with the stream
// as a whole (an answer missing or out of order), or "".
std::string CheckAnswers(const std::string& scenario, bool finished, const std::vector<Item>& items,
                         const std::vector<v1::CaptionStreamResponse>& answers, SharedState* shared,
                         Tally* tally) {
  if (finished && answers.size() != items.size()) {
    return std::to_string(answers.size()) + " answers to " + std::to_string(items.size()) +
           " items";
  }
  for (size_t i = 0; i < answers.size() && i < items.size(); ++i) {
    const Item& item = items[i];
    const v1::CaptionStreamResponse& a = answers[i];
    if (a.id() != item.echoed_id) {  // out of order: the later answers cannot be matched
      return "item " + std::to_string(i) + " answered with id \"" + a.id().substr(0, 40) + "\"";
    }
    Outcome outcome;
    outcome.scenario = scenario + ".items";
    outcome.rpc = "CaptionStream(item)";
    outcome.code = static_cast<Code>(a.error_code());
    if (item.good && a.error_code() == 0) {
      outcome.detail = shared->CheckCaption(item.request.image(), a.caption());
    } else if (item.good && a.error_code() == static_cast<int>(Code::RESOURCE_EXHAUSTED)) {
      outcome.verdict = Verdict::kBusy;
    } else if (item.good || a.error_code() != static_cast<int>(Code::INVALID_ARGUMENT)) {
      outcome.detail = "error_code " + std::to_string(a.error_code()) + " for a " +
                       (item.good ? "good" : "bad") + " item: " + a.error_message();
    }
    if (!outcome.detail.empty()) outcome.verdict = Verdict::kUnexpected;
    tally->Record(outcome);
  }
  return "";
}

}  // namespace

Verdict SoakClient::CaptionStream(bool cancel) {
  const char* const scenario = cancel ? "caption_stream.cancel" : "caption_stream";
  std::vector<Item> items;
  const int count = Uniform(1, kMaxItems);
  for (int i = 0; i < count; ++i) {
    const int kind = Uniform(0, kItemKinds - 1);
    const uint64_t tag = rng_() % 1000;
    items.push_back(MakeItem(i, kind, tag, shared_->PickImage(rng_)));
  }
  grpc::ClientContext context;
  SetDeadline(&context, options_.call_timeout);
  const auto start = std::chrono::steady_clock::now();
  auto stream = duet_->CaptionStream(&context);
  for (const Item& item : items) {
    if (!stream->Write(item.request)) break;
  }
  if (cancel) {
    std::this_thread::sleep_for(std::chrono::milliseconds(Uniform(0, kMaxCancelDelayMs)));
    context.TryCancel();
  } else {
    stream->WritesDone();
  }
  std::vector<v1::CaptionStreamResponse> answers;
  v1::CaptionStreamResponse answer;
  while (stream->Read(&answer)) answers.push_back(answer);
  const grpc::Status status = stream->Finish();
  const double seconds = SecondsSince(start);
  const std::string error = CheckAnswers(scenario, status.ok(), items, answers, shared_, tally_);
  return Record(scenario, "CaptionStream", status, seconds,
                {Code::OK, cancel ? Code::CANCELLED : Code::OK}, error);
}

}  // namespace duet::bench
