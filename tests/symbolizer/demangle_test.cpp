#include "symbolizer/demangle.h"

#include <gtest/gtest.h>

namespace ember::symbolizer {
namespace {

TEST(Demangle, CppShortAndFull) {
  EXPECT_EQ(demangle("_ZNK5truth6Worker13compute_alphaEi", false), "truth::Worker::compute_alpha");
  EXPECT_EQ(demangle("_ZNK5truth6Worker13compute_alphaEi", true),
            "truth::Worker::compute_alpha(int) const");
  EXPECT_EQ(demangle("_ZN5truth5twiceIlEET_S1_", false), "truth::twice<long>");
  EXPECT_EQ(demangle("_ZN5truth5twiceIlEET_S1_", true), "long truth::twice<long>(long)");
  EXPECT_EQ(demangle("_ZZ4mainENKUliE_clEi", false), "main::{lambda(int)#1}::operator()");
  EXPECT_EQ(demangle("_ZN12_GLOBAL__N_113hidden_helperEi", false), "(anonymous namespace)::hidden_helper");
}

TEST(Demangle, CompilerClonesLoseTheirSuffixOnlyInShortNames) {
  EXPECT_EQ(demangle("_ZN3foo3barEv.cold", false), "foo::bar");
  EXPECT_EQ(demangle("_ZN3foo3barEv.cold", true), "foo::bar() [clone .cold]");
}

TEST(Demangle, RustLegacyAndV0WithoutHash) {
  EXPECT_EQ(demangle("_ZN7mycrate6legacy8function17h0123456789abcdefE", false), "mycrate::legacy::function");
  EXPECT_EQ(demangle("_RNvNtCs1234_7mycrate2v08function", false), "mycrate::v0::function");
  EXPECT_EQ(demangle("_RNvNtCs1234_7mycrate2v08function", true), "mycrate::v0::function");
}

TEST(Demangle, PlainAndBrokenNamesStayAsTheyAre) {
  EXPECT_EQ(demangle("main", false), "main");
  EXPECT_EQ(demangle("memcpy@@GLIBC_2.14", false), "memcpy");
  EXPECT_EQ(demangle("_Z", false), "_Z");
  EXPECT_EQ(demangle("_ZN3foo", true), "_ZN3foo");
  EXPECT_EQ(demangle("", false), "");
  // Not Ada: libiberty's automatic mode must not turn "a__b" into "a.b".
  EXPECT_EQ(demangle("my__function", false), "my__function");
}

}  // namespace
}  // namespace ember::symbolizer
