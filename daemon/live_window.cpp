#include "daemon/live_window.h"

namespace ember::daemon {

LiveWindow::LiveWindow(size_t max_unique_stacks)
    : max_unique_stacks_(max_unique_stacks),
      current_(max_unique_stacks),
      current_start_(unix_now_ns()),
      current_end_(current_start_) {}

void LiveWindow::add(const profile::RawProfile& part) {
  std::lock_guard lock(mutex_);
  current_.merge(part);
  current_end_ = unix_now_ns();
  ++generation_;
}

LiveWindow::Sealed LiveWindow::seal(UnixNanos now) {
  std::lock_guard lock(mutex_);
  auto raw = std::make_shared<profile::RawProfile>(std::move(current_));
  current_ = profile::RawProfile(max_unique_stacks_);
  Sealed s{raw, current_start_, now};
  sealed_ = raw;
  sealed_start_ = current_start_;
  sealed_end_ = now;
  current_start_ = now;
  current_end_ = now;
  current_copy_.reset();
  ++generation_;
  return s;
}

void LiveWindow::release_sealed() {
  std::lock_guard lock(mutex_);
  sealed_.reset();
  ++generation_;
}

LiveWindow::View LiveWindow::view() const {
  std::lock_guard lock(mutex_);
  if (!current_copy_ || current_copy_generation_ != generation_) {
    current_copy_ = std::make_shared<const profile::RawProfile>(current_);
    current_copy_generation_ = generation_;
  }
  return View{sealed_, sealed_start_, sealed_end_, current_copy_, current_start_, current_end_, generation_};
}

void LiveWindow::set_max_unique_stacks(size_t max) {
  std::lock_guard lock(mutex_);
  // Applies from the next window: the current one keeps the bound it was created with.
  max_unique_stacks_ = max;
}

uint64_t LiveWindow::generation() const {
  std::lock_guard lock(mutex_);
  return generation_;
}

size_t LiveWindow::unique_stacks() const {
  std::lock_guard lock(mutex_);
  return current_.unique_stacks() + (sealed_ ? sealed_->unique_stacks() : 0);
}

size_t LiveWindow::memory_bytes() const {
  std::lock_guard lock(mutex_);
  return current_.memory_bytes() + (sealed_ ? sealed_->memory_bytes() : 0) +
         (current_copy_ ? current_copy_->memory_bytes() : 0);
}

}  // namespace ember::daemon
