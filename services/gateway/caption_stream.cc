// Implementation of services/gateway/caption_stream.h.
#include "services/gateway/caption_stream.h"

#include "language/utf8.h"
#include "services/gateway/gateway_service.h"

namespace duet::services {
namespace {

void SetError(const Status& status, v1::CaptionStreamResponse* response) {
  response->set_error_code(static_cast<int>(status.code()));
  response->set_error_message(std::string(status.message()));
}

}  // namespace

Status ValidateCaptionStreamItem(const std::string& id, const std::string& image) {
  if (id.size() > kMaxCaptionIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("id is ", id.size(), " bytes, the limit is ", kMaxCaptionIdBytes));
  }
  if (Status utf8 = language::ValidateUtf8(id); !utf8.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("id: ", utf8.message()));
  }
  if (image.empty()) return absl::InvalidArgumentError("image must not be empty");
  return absl::OkStatus();
}

CaptionStreamReactor::CaptionStreamReactor(grpc::CallbackServerContext* context,
                                           const Orchestrator* orchestrator, WorkQueue* queue,
                                           int window)
    : context_(context), orchestrator_(orchestrator), queue_(queue), window_(window) {
  StartRead(&read_);
}

void CaptionStreamReactor::OnReadDone(bool ok) {
  if (!ok) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      reading_ = false;
      reads_done_ = true;
    }
    return Pump();
  }
  auto item = std::make_shared<Item>();
  std::string image = std::move(*read_.mutable_image());
  Status valid = ValidateCaptionStreamItem(read_.id(), image);
  item->response.set_id(valid.ok() ? read_.id() : read_.id().substr(0, kMaxCaptionIdBytes));
  {
    std::lock_guard<std::mutex> lock(mu_);
    reading_ = false;
    items_.push_back(item);
  }
  if (valid.ok()) {
    valid = queue_->Submit([this, item, image = std::move(image)] { Process(item, image); });
  }
  if (!valid.ok()) {
    v1::CaptionStreamResponse response = item->response;
    SetError(valid, &response);
    return Pump(item, &response);
  }
  Pump();
}

void CaptionStreamReactor::OnWriteDone(bool ok) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    writing_ = false;
    failed_ = failed_ || !ok;
  }
  Pump();
}

void CaptionStreamReactor::Process(const std::shared_ptr<Item>& item, const std::string& image) {
  v1::CaptionStreamResponse response;
  response.set_id(item->response.id());
  StatusOr<v1::CaptionResponse> caption = orchestrator_->Caption(context_, image);
  if (caption.ok()) {
    response.set_caption(caption->caption());
    response.set_score(caption->score());
  } else {
    SetError(caption.status(), &response);
  }
  Pump(item, &response);
}

void CaptionStreamReactor::Pump(const std::shared_ptr<Item>& completed,
                                v1::CaptionStreamResponse* response) {
  bool start_write = false, start_read = false, finish = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (completed != nullptr) {
      completed->response = std::move(*response);
      completed->done = true;
    }
    while (failed_ && !items_.empty() && items_.front()->done) items_.pop_front();
    if (!writing_ && !failed_ && !items_.empty() && items_.front()->done) {
      write_ = std::move(items_.front()->response);
      items_.pop_front();
      writing_ = start_write = true;
    }
    if (!reading_ && !reads_done_ && items_.size() < window_) reading_ = start_read = true;
    if (reads_done_ && items_.empty() && !writing_ && !finished_) finished_ = finish = true;
  }
  if (start_write) StartWrite(&write_);
  if (start_read) StartRead(&read_);
  if (finish) Finish(grpc::Status::OK);
}

}  // namespace duet::services
