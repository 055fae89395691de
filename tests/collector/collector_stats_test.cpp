#include "collector/collector_stats.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace ember::collector {
namespace {

TEST(CollectorStats, SumAddsEveryFieldAndCountersDropGauges) {
  CollectorStats a;
  a.samples = 10;
  a.dwarf_no_cfi = 2;
  a.processes = 7;  // gauge
  CollectorStats b;
  b.samples = 5;
  b.binaries_without_cfi = 1;
  b.unwind_table_bytes = 4096;  // gauge
  a += b;
  EXPECT_EQ(a.samples, 15u);
  EXPECT_EQ(a.dwarf_no_cfi, 2u);
  EXPECT_EQ(a.binaries_without_cfi, 1u);
  EXPECT_EQ(a.processes, 7u);
  EXPECT_EQ(a.unwind_table_bytes, 4096u);

  // What a daemon keeps of a Recorder it replaced: its counters, not what it held.
  CollectorStats kept = a.counters();
  EXPECT_EQ(kept.samples, 15u);
  EXPECT_EQ(kept.processes, 0u);
  EXPECT_EQ(kept.unwind_table_bytes, 0u);
  EXPECT_EQ(kept.binaries_without_cfi, 1u);
}

TEST(CollectorStats, EveryRowNamesItsOwnField) {
  // Each row reads a different field: setting one field to 1 shows in exactly its row.
  std::set<std::string> names;
  for (const StatField& row : collector_stat_fields()) {
    EXPECT_TRUE(names.insert(std::string(row.name)).second) << row.name;
    EXPECT_FALSE(row.help.empty()) << row.name;
    EXPECT_EQ(row.family.empty(), row.reason.empty()) << row.name;
    CollectorStats s;
    s.*row.member = 1;
    int ones = 0;
    for (const StatField& other : collector_stat_fields()) ones += static_cast<int>(s.*other.member);
    EXPECT_EQ(ones, 1) << row.name;
  }
  for (const StatField& row : collector_stat_fields()) {
    if (row.family.empty()) continue;
    bool known = false;
    for (const StatFamily& f : collector_stat_families()) known = known || f.metric == row.family;
    EXPECT_TRUE(known) << row.name << " names an unknown family " << row.family;
  }
}

}  // namespace
}  // namespace ember::collector
