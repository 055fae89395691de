// Each rule of the findings table on a profile that triggers it and one that does not, with the
// numbers a finding must carry: its share, the frames that matched and the callers above them.

#include "analysis/findings.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "analysis/report.h"
#include "profile/folded.h"

namespace ember::analysis {
namespace {

// The stacks given, and ordinary work up to 100 samples in all (functions of at most 6 samples
// each, none above a threshold), so that a share is the stacks' count in percent.
std::string fixture(const std::string& stacks) {
  int64_t given = 0;
  size_t start = 0;
  while (start < stacks.size()) {
    size_t end = stacks.find('\n', start);
    std::string line = stacks.substr(start, end - start);
    given += std::stoll(line.substr(line.rfind(' ') + 1));
    start = end + 1;
  }
  std::string out = stacks;
  for (int64_t left = 100 - given, i = 0; left > 0; left -= 6, ++i) {
    out += "main;w" + std::to_string(i) + " " + std::to_string(std::min<int64_t>(6, left)) + "\n";
  }
  return out;
}

std::vector<Finding> findings_of(const std::string& stacks) {
  auto parsed = profile::parse_folded(fixture(stacks), "fixture.folded");
  EXPECT_TRUE(parsed) << parsed.error().message();
  if (!parsed) return {};
  return find_findings(function_values(profile::to_profile(*parsed), 0));
}

const Finding* by_id(const std::vector<Finding>& findings, std::string_view id) {
  for (const auto& f : findings) {
    if (f.id == id) return &f;
  }
  return nullptr;
}

std::vector<std::pair<std::string, double>> named(const std::vector<FindingFrame>& frames) {
  std::vector<std::pair<std::string, double>> out;
  for (const auto& f : frames) out.emplace_back(f.name, f.share);
  return out;
}

using Named = std::vector<std::pair<std::string, double>>;

TEST(Findings, OrdinaryWorkHasNone) {
  EXPECT_TRUE(findings_of("").empty());
}

TEST(Findings, MemoryAllocatorNamesTheCallersThatAllocate) {
  auto f = findings_of("main;parse;malloc;_int_malloc;sysmalloc 20\n"
                       "main;build;operator new;malloc;_int_malloc 12\n"
                       "main;parse;cfree;_int_free 8\n");
  const Finding* a = by_id(f, "allocator");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->value, 40);
  EXPECT_DOUBLE_EQ(a->share, 0.4);
  EXPECT_EQ(a->severity, Severity::kCritical);
  EXPECT_EQ(named(a->frames), (Named{{"malloc", 0.2}, {"operator new", 0.12}, {"cfree", 0.08}}));
  EXPECT_EQ(named(a->callers), (Named{{"parse", 0.28}, {"build", 0.12}}));
  EXPECT_EQ(a->title, "Memory allocation");
  EXPECT_NE(a->advice.find("jemalloc"), std::string::npos);
}

TEST(Findings, AllocatorLookalikesAndSmallSharesAreNotFindings) {
  // A function of the user's with "malloc" in its name is not the allocator; 4% is below 5%.
  auto f = findings_of("main;my_malloc_pool;refill 20\nmain;parse;malloc 4\n");
  EXPECT_EQ(by_id(f, "allocator"), nullptr);
}

TEST(Findings, LockWaitsIncludeThePythonGil) {
  auto f = findings_of("main;worker;pthread_mutex_lock;__lll_lock_wait;futex_wait_[k] 15\n"
                       "main;<module> (app.py);take_gil;pthread_cond_timedwait 10\n");
  const Finding* l = by_id(f, "locks");
  ASSERT_NE(l, nullptr);
  EXPECT_DOUBLE_EQ(l->share, 0.25);
  EXPECT_EQ(l->severity, Severity::kHigh);
  EXPECT_EQ(named(l->frames), (Named{{"pthread_mutex_lock", 0.15}, {"take_gil", 0.10}}));
  EXPECT_EQ(named(l->callers), (Named{{"worker", 0.15}, {"<module> (app.py)", 0.10}}));
  EXPECT_EQ(by_id(findings_of("main;unlock_all;release 25\n"), "locks"), nullptr);
}

TEST(Findings, KernelTimeIsNamedBySystemCallNotByEntryFrame) {
  auto f = findings_of("main;load;read;entry_SYSCALL_64_[k];do_syscall_64_[k];__x64_sys_read_[k];"
                       "vfs_read_[k] 12\n"
                       "main;send;write;entry_SYSCALL_64_[k];do_syscall_64_[k];__x64_sys_write_[k] 8\n");
  const Finding* k = by_id(f, "kernel");
  ASSERT_NE(k, nullptr);
  EXPECT_DOUBLE_EQ(k->share, 0.2);
  EXPECT_EQ(named(k->frames), (Named{{"__x64_sys_read_[k]", 0.12}, {"__x64_sys_write_[k]", 0.08}}));
  EXPECT_EQ(named(k->callers), (Named{{"read", 0.12}, {"write", 0.08}}));
  // The same names in user space are not kernel time.
  EXPECT_EQ(by_id(findings_of("main;do_syscall_64;vfs_read 20\n"), "kernel"), nullptr);
}

TEST(Findings, PageFaultsNameTheCodeThatTouchedNewMemory) {
  auto f = findings_of("main;fill;asm_exc_page_fault_[k];exc_page_fault_[k];handle_mm_fault_[k] 10\n");
  const Finding* p = by_id(f, "page_faults");
  ASSERT_NE(p, nullptr);
  EXPECT_DOUBLE_EQ(p->share, 0.10);
  EXPECT_EQ(p->severity, Severity::kMedium);
  EXPECT_EQ(named(p->frames), (Named{{"asm_exc_page_fault_[k]", 0.10}}));
  EXPECT_EQ(named(p->callers), (Named{{"fill", 0.10}}));
  EXPECT_NE(by_id(f, "kernel"), nullptr);  // a fault is kernel time too: each rule answers its own question
  EXPECT_EQ(by_id(findings_of("main;handle_mm_fault 10\n"), "page_faults"), nullptr);
}

TEST(Findings, CopyingInUserAndKernelSpace) {
  auto f = findings_of("main;serialize;__memmove_avx_unaligned_erms 18\n"
                       "main;recv;entry_SYSCALL_64_[k];_copy_to_user_[k] 6\n");
  const Finding* c = by_id(f, "copying");
  ASSERT_NE(c, nullptr);
  EXPECT_DOUBLE_EQ(c->share, 0.24);
  EXPECT_EQ(named(c->frames), (Named{{"__memmove_avx_unaligned_erms", 0.18}, {"_copy_to_user_[k]", 0.06}}));
  EXPECT_EQ(named(c->callers), (Named{{"serialize", 0.18}, {"entry_SYSCALL_64_[k]", 0.06}}));
  EXPECT_EQ(by_id(findings_of("main;copy_config_file 25\n"), "copying"), nullptr);
}

TEST(Findings, GarbageCollectionOfPythonAndGo) {
  auto f = findings_of("main;<module> (app.py);gc_collect_generations;gc_collect_with_callback;"
                       "gc_collect_main;deduce_unreachable 9\n"
                       "runtime.goexit;runtime.gcBgMarkWorker;runtime.gcDrain;runtime.scanobject 7\n");
  const Finding* g = by_id(f, "gc");
  ASSERT_NE(g, nullptr);
  EXPECT_DOUBLE_EQ(g->share, 0.16);
  EXPECT_EQ(g->severity, Severity::kHigh);
  EXPECT_EQ(named(g->frames), (Named{{"gc_collect_with_callback", 0.09}, {"runtime.gcBgMarkWorker", 0.07}}));
  EXPECT_EQ(named(g->callers), (Named{{"gc_collect_generations", 0.09}, {"runtime.goexit", 0.07}}));
  EXPECT_EQ(by_id(findings_of("main;collect_stats;gc 20\n"), "gc"), nullptr);
}

TEST(Findings, OneFunctionAboveTheThresholdsWithItsHottestPath) {
  auto f = findings_of("main;handle;parse;tokenize 30\nmain;batch;tokenize 10\n");
  const Finding* h = by_id(f, "hot_function");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->title, "tokenize");
  EXPECT_DOUBLE_EQ(h->share, 0.40);
  EXPECT_EQ(h->severity, Severity::kCritical);
  EXPECT_EQ(named(h->callers), (Named{{"parse", 0.30}, {"batch", 0.10}}));
  EXPECT_EQ(h->path, (std::vector<std::string>{"main", "handle", "parse", "tokenize"}));
  // 14% is below the high threshold: the table shows it, no finding repeats it.
  EXPECT_EQ(by_id(findings_of("main;tokenize 14\n"), "hot_function"), nullptr);
}

TEST(Findings, LargestFirstAndInTheReportJson) {
  auto stacks = profile::parse_folded(fixture("main;parse;malloc 20\nmain;serialize;memcpy 30\n"), "fixture.folded");
  ASSERT_TRUE(stacks);
  auto report = make_report(profile::to_profile(*stacks));
  ASSERT_TRUE(report) << report.error().message();
  ASSERT_GE(report->findings.size(), 2u);
  EXPECT_EQ(report->findings[0].id, "copying");  // memcpy is a hot function too, with the same value
  nlohmann::json j = to_json(*report);
  const auto& first = j["findings"][0];
  EXPECT_EQ(first["id"], "copying");
  EXPECT_EQ(first["title"], "Copying memory");
  EXPECT_EQ(first["severity"], "critical");  // 30% counts as critical
  EXPECT_EQ(first["value"], 30);
  EXPECT_DOUBLE_EQ(first["share"].get<double>(), 0.30);
  EXPECT_EQ(first["frames"][0]["name"], "memcpy");
  EXPECT_EQ(first["callers"][0]["name"], "serialize");
  EXPECT_TRUE(first["path"].empty());
  EXPECT_FALSE(first["advice"].get<std::string>().empty());
}

TEST(Findings, DifferenceProfilesHaveNone) {
  auto stacks = profile::parse_folded(fixture("main;parse;malloc 40\n"), "fixture.folded");
  ASSERT_TRUE(stacks);
  FunctionValues values = function_values(profile::to_profile(*stacks), 0);
  values.stacks.stacks.back().value = -40;  // as `ember diff` leaves a function that shrank
  EXPECT_TRUE(find_findings(values).empty());
}

}  // namespace
}  // namespace ember::analysis
