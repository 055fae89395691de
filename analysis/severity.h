#pragma once
// Severity: how much of a profile a share is, for report rows and findings alike.

#include <string_view>

namespace ember::analysis {

// How much of the profile a share is (a function's self share, a finding's share). The lower bound of each class counts in it
// (exactly 30% is critical). A function at 30% is a third of the cost: fixing it alone changes
// the program; 15% is still worth a focused look; below 5% the gain is in the noise of most
// benchmarks.
enum class Severity { kLow, kMedium, kHigh, kCritical };
inline constexpr double kCriticalShare = 0.30;
inline constexpr double kHighShare = 0.15;
inline constexpr double kMediumShare = 0.05;

Severity severity_of(double self_share);
std::string_view to_string(Severity severity);  // "low", "medium", "high", "critical"

}  // namespace ember::analysis
