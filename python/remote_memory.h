#pragma once
// Reads another process's memory with process_vm_readv: no ptrace, the target keeps running.
// What is read may be changing under us; callers validate it.

#include <cstddef>
#include <cstdint>
#include <span>

namespace ember::python {

enum class ReadResult {
  kOk,
  kGone,   // ESRCH: the process exited
  kFault,  // EFAULT, EPERM or a short read: not (or no longer) mapped, or not ours to read
};

class RemoteMemory {
 public:
  explicit RemoteMemory(int32_t pid) : pid_(pid) {}
  int32_t pid() const { return pid_; }

  // Reads exactly out.size() bytes at `address`.
  ReadResult read(uint64_t address, std::span<std::byte> out) const;

  struct Piece {
    uint64_t address = 0;
    std::span<std::byte> out;
  };
  // Reads every piece with one system call per kMaxPieces; fails unless all are read whole.
  static constexpr size_t kMaxPieces = 1024;  // IOV_MAX
  ReadResult read_many(std::span<const Piece> pieces) const;

  // Reads as many whole pieces as it can, in order, stopping at the first that is not mapped
  // (the kernel never splits a piece). Returns how many were read, or kGone.
  struct Prefix {
    ReadResult result = ReadResult::kOk;  // kGone, or kOk (even when fewer pieces were read)
    size_t complete = 0;
  };
  Prefix read_prefix(std::span<const Piece> pieces) const;

  template <class T>
  ReadResult read_value(uint64_t address, T& value) const {
    return read(address, std::as_writable_bytes(std::span<T, 1>(&value, 1)));
  }

 private:
  int32_t pid_;
};

}  // namespace ember::python
