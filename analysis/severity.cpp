#include "analysis/severity.h"

namespace ember::analysis {

Severity severity_of(double self_share) {
  if (self_share >= kCriticalShare) return Severity::kCritical;
  if (self_share >= kHighShare) return Severity::kHigh;
  if (self_share >= kMediumShare) return Severity::kMedium;
  return Severity::kLow;
}

std::string_view to_string(Severity severity) {
  switch (severity) {
    case Severity::kLow:
      return "low";
    case Severity::kMedium:
      return "medium";
    case Severity::kHigh:
      return "high";
    case Severity::kCritical:
      return "critical";
  }
  return "low";
}

}  // namespace ember::analysis
