// A server-streaming reactor that worker threads can write to: one write in flight at a time,
// later messages queued, progress messages coalesced so a slow client never grows memory.
#pragma once

#include <atomic>
#include <deque>
#include <mutex>
#include <utility>

#include <grpcpp/grpcpp.h>

namespace duet::services {

// Lifetime: created with new in the RPC handler and returned to gRPC; it deletes itself in
// OnDone, which gRPC calls only after Close(). After Close() the owner must not touch it.
// Thread-safe: Write, Close and cancelled may be called from any thread.
template <typename Response>
class StreamWriter : public grpc::ServerWriteReactor<Response> {
 public:
  StreamWriter() = default;

  // Queues `message`. A `replaceable` message (progress) replaces a replaceable one still
  // waiting, so at most one of them ever waits. Dropped after the client went away.
  void Write(Response message, bool replaceable) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closing_ || failed_) return;
      if (writing_) {
        if (replaceable && !pending_.empty() && pending_.back().second) {
          pending_.back().first = std::move(message);
        } else {
          pending_.emplace_back(std::move(message), replaceable);
        }
        return;
      }
      writing_ = true;
      current_ = std::move(message);
    }
    this->StartWrite(&current_);
  }

  // Finishes the call with `status` once the queued messages are written.
  void Close(const grpc::Status& status) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closing_) return;
      closing_ = true;
      status_ = status;
      if (writing_) return;  // OnWriteDone finishes
    }
    this->Finish(status);
  }

  // True once the client cancelled or the deadline passed.
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }

  void OnWriteDone(bool ok) override {
    bool start = false, finish = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!ok) {
        failed_ = true;
        pending_.clear();
      }
      if (!pending_.empty()) {
        current_ = std::move(pending_.front().first);
        pending_.pop_front();
        start = true;
      } else {
        writing_ = false;
        finish = closing_;
      }
    }
    if (start) this->StartWrite(&current_);
    if (finish) this->Finish(status_);
  }

  void OnCancel() override { cancelled_.store(true); }
  void OnDone() override { delete this; }

 private:
  std::mutex mu_;
  Response current_;
  std::deque<std::pair<Response, bool>> pending_;
  bool writing_ = false, closing_ = false, failed_ = false;
  grpc::Status status_;
  std::atomic<bool> cancelled_{false};
};

}  // namespace duet::services
