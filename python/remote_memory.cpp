#include "python/remote_memory.h"

#include <sys/uio.h>

#include <algorithm>
#include <cerrno>
#include <vector>

namespace ember::python {

namespace {

ReadResult from_errno(int err) { return err == ESRCH ? ReadResult::kGone : ReadResult::kFault; }

}  // namespace

ReadResult RemoteMemory::read(uint64_t address, std::span<std::byte> out) const {
  if (out.empty()) return ReadResult::kOk;
  if (address == 0) return ReadResult::kFault;
  iovec local{out.data(), out.size()};
  iovec remote{reinterpret_cast<void*>(address), out.size()};
  ssize_t n = ::process_vm_readv(pid_, &local, 1, &remote, 1, 0);
  if (n < 0) return from_errno(errno);
  return static_cast<size_t>(n) == out.size() ? ReadResult::kOk : ReadResult::kFault;
}

ReadResult RemoteMemory::read_many(std::span<const Piece> pieces) const {
  iovec local[kMaxPieces];
  iovec remote[kMaxPieces];
  while (!pieces.empty()) {
    size_t count = std::min(pieces.size(), kMaxPieces);
    size_t total = 0;
    for (size_t i = 0; i < count; ++i) {
      if (pieces[i].address == 0) return ReadResult::kFault;
      local[i] = {pieces[i].out.data(), pieces[i].out.size()};
      remote[i] = {reinterpret_cast<void*>(pieces[i].address), pieces[i].out.size()};
      total += pieces[i].out.size();
    }
    ssize_t n = ::process_vm_readv(pid_, local, count, remote, count, 0);
    if (n < 0) return from_errno(errno);
    if (static_cast<size_t>(n) != total) return ReadResult::kFault;
    pieces = pieces.subspan(count);
  }
  return ReadResult::kOk;
}

RemoteMemory::Prefix RemoteMemory::read_prefix(std::span<const Piece> pieces) const {
  iovec local[kMaxPieces];
  iovec remote[kMaxPieces];
  Prefix prefix;
  while (!pieces.empty()) {
    size_t count = std::min(pieces.size(), kMaxPieces);
    for (size_t i = 0; i < count; ++i) {
      local[i] = {pieces[i].out.data(), pieces[i].out.size()};
      remote[i] = {reinterpret_cast<void*>(pieces[i].address), pieces[i].out.size()};
    }
    ssize_t n = ::process_vm_readv(pid_, local, count, remote, count, 0);
    if (n < 0) {
      if (errno == ESRCH) prefix.result = ReadResult::kGone;
      return prefix;
    }
    size_t left = static_cast<size_t>(n);
    size_t done = 0;
    while (done < count && pieces[done].out.size() <= left) left -= pieces[done++].out.size();
    prefix.complete += done;
    if (done < count) return prefix;
    pieces = pieces.subspan(count);
  }
  return prefix;
}

}  // namespace ember::python
