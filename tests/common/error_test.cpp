#include "common/error.h"

#include <gtest/gtest.h>

namespace ember {
namespace {

TEST(Error, FromErrnoNamesContextAndReason) {
  Error e = Error::from_errno("/tmp/x.svg", ENOENT);
  EXPECT_EQ(e.code(), ErrorCode::kNotFound);
  EXPECT_EQ(e.sys_errno(), ENOENT);
  EXPECT_EQ(e.message(), "/tmp/x.svg: No such file or directory");
}

TEST(Error, PermissionErrnoMapsToPermissionDenied) {
  EXPECT_EQ(Error::from_errno("x", EACCES).code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(Error::from_errno("x", EPERM).code(), ErrorCode::kPermissionDenied);
  EXPECT_EQ(Error::from_errno("x", ENOSPC).code(), ErrorCode::kResourceExhausted);
}

TEST(Error, WithContextPrefixes) {
  Error e(ErrorCode::kMalformed, "section .symtab runs past end of file");
  EXPECT_EQ(e.with_context("/usr/lib/libfoo.so").message(),
            "/usr/lib/libfoo.so: section .symtab runs past end of file");
  EXPECT_EQ(e.message(), "section .symtab runs past end of file");
}

TEST(Error, ResultCarriesError) {
  Result<int> r = make_error(ErrorCode::kInvalidArgument, "bad");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().message(), "bad");
}

}  // namespace
}  // namespace ember
