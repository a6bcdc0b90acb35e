// Status helpers shared by every Duet library: errors are values, never exceptions or aborts.
// DUET_RETURN_IF_ERROR / DUET_ASSIGN_OR_RETURN propagate absl::Status up the call stack.
#pragma once

#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace duet {

using absl::Status;
using absl::StatusOr;

// Returns InvalidArgument("<field> must be in [lo, hi], got <value>") unless lo <= value <= hi.
template <typename T>
Status CheckRange(const char* field, T value, T lo, T hi) {
  if (value >= lo && value <= hi) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, " must be in [", lo, ", ", hi, "], got ", value));
}

}  // namespace duet

#define DUET_STATUS_CONCAT_INNER_(a, b) a##b
#define DUET_STATUS_CONCAT_(a, b) DUET_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status); returns it from the enclosing function when not OK.
#define DUET_RETURN_IF_ERROR(expr)                  \
  do {                                              \
    ::absl::Status duet_status_ = (expr);           \
    if (!duet_status_.ok()) return duet_status_;    \
  } while (0)

// `lhs = value of expr` when expr (an absl::StatusOr) is OK; otherwise returns its status.
#define DUET_ASSIGN_OR_RETURN(lhs, expr) \
  DUET_ASSIGN_OR_RETURN_IMPL_(DUET_STATUS_CONCAT_(duet_statusor_, __LINE__), lhs, expr)
#define DUET_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return tmp.status();               \
  lhs = std::move(tmp).value()
