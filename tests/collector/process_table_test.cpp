#include "collector/process_table.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "elf/elf_file.h"

namespace ember::collector {
namespace {

namespace fs = std::filesystem;
using common::ProcessAddress;

// A fake /proc: processes exist only when a test writes their files.
class FakeProc {
 public:
  FakeProc() {
    root_ = fs::temp_directory_path() / ("ember-fake-proc-" + std::to_string(::getpid()) + "-" +
                                         std::to_string(counter_++));
    fs::create_directories(root_);
  }
  ~FakeProc() { fs::remove_all(root_); }
  std::string root() const { return root_.string(); }

  void add_process(int32_t pid, const std::string& comm, const std::string& maps, const std::string& exe = "") {
    fs::path dir = root_ / std::to_string(pid);
    fs::create_directories(dir / "task");
    std::ofstream(dir / "comm") << comm << "\n";
    std::ofstream(dir / "maps") << maps;
    if (!exe.empty()) fs::create_symlink(exe, dir / "exe");
  }
  void set_cgroup(int32_t pid, const std::string& text) { std::ofstream(root_ / std::to_string(pid) / "cgroup") << text; }
  void add_thread(int32_t pid, int32_t tid, const std::string& comm) {
    fs::path dir = root_ / std::to_string(pid) / "task" / std::to_string(tid);
    fs::create_directories(dir);
    std::ofstream(dir / "comm") << comm << "\n";
  }

 private:
  static inline int counter_ = 0;
  fs::path root_;
};

MmapRecord mmap_record(int32_t pid, uint64_t start, uint64_t end, uint64_t pgoff, std::string_view path,
                       uint64_t inode) {
  MmapRecord r;
  r.is_mmap2 = true;
  r.pid = pid;
  r.tid = pid;
  r.start = start;
  r.length = end - start;
  r.page_offset = pgoff;
  r.major = 8;
  r.minor = 1;
  r.inode = inode;
  r.prot = 5;  // r-x
  r.filename = path;
  return r;
}

CommRecord comm_record(int32_t pid, int32_t tid, std::string_view comm, bool exec) {
  CommRecord r;
  r.pid = pid;
  r.tid = tid;
  r.comm = comm;
  r.exec = exec;
  return r;
}

TaskRecord task_record(bool exit, int32_t pid, int32_t ppid, int32_t tid, int32_t ptid) {
  TaskRecord r;
  r.exit = exit;
  r.pid = pid;
  r.ppid = ppid;
  r.tid = tid;
  r.ptid = ptid;
  return r;
}

class ProcessTableTest : public ::testing::Test {
 protected:
  ProcessTableTest() : modules_(ProcFs(proc_.root()), 16), table_(ProcFs(proc_.root()), modules_, 100) {}

  const std::string& module_path(int32_t pid, uint64_t address) {
    const Process* p = table_.find(pid);
    static const std::string none = "<no process>";
    static const std::string unmapped = "<unmapped>";
    if (p == nullptr) return none;
    const Mapping* m = p->find_mapping(ProcessAddress(address));
    return m == nullptr ? unmapped : m->module->path;
  }

  FakeProc proc_;
  ModuleCache modules_;
  ProcessTable table_;
};

TEST_F(ProcessTableTest, OverlappingMmapReplacesTheOverlappedPart) {
  table_.on_comm(comm_record(100, 100, "app", true));
  table_.on_mmap(mmap_record(100, 0x1000, 0x5000, 0, "/opt/a.so", 1));
  table_.on_mmap(mmap_record(100, 0x2000, 0x3000, 0x7000, "/opt/b.so", 2));
  const Process* p = table_.find(100);
  ASSERT_NE(p, nullptr);
  ASSERT_EQ(p->mappings().size(), 3u);
  EXPECT_EQ(module_path(100, 0x1fff), "/opt/a.so");
  EXPECT_EQ(module_path(100, 0x2000), "/opt/b.so");
  EXPECT_EQ(module_path(100, 0x2fff), "/opt/b.so");
  EXPECT_EQ(module_path(100, 0x3000), "/opt/a.so");
  EXPECT_EQ(module_path(100, 0x5000), "<unmapped>");
  // The surviving tail of a.so keeps its file offsets.
  const Mapping* tail = p->find_mapping(ProcessAddress(0x3010));
  EXPECT_EQ(tail->frame_offset(ProcessAddress(0x3010)), 0x2010u);
  const Mapping* b = p->find_mapping(ProcessAddress(0x2010));
  EXPECT_EQ(b->frame_offset(ProcessAddress(0x2010)), 0x7010u);

  // A mapping covering several replaces them all.
  table_.on_mmap(mmap_record(100, 0x0800, 0x6000, 0, "/opt/c.so", 3));
  ASSERT_EQ(p->mappings().size(), 1u);
  EXPECT_EQ(module_path(100, 0x2500), "/opt/c.so");
}

TEST_F(ProcessTableTest, NonExecutableMappingsAreIgnored) {
  table_.on_comm(comm_record(100, 100, "app", true));
  MmapRecord data = mmap_record(100, 0x1000, 0x2000, 0, "/opt/data.bin", 9);
  data.prot = 3;  // rw-
  table_.on_mmap(data);
  EXPECT_TRUE(table_.find(100)->mappings().empty());
}

TEST_F(ProcessTableTest, SameFileIsOneModuleAcrossProcesses) {
  table_.on_comm(comm_record(100, 100, "a", true));
  table_.on_comm(comm_record(200, 200, "b", true));
  table_.on_mmap(mmap_record(100, 0x1000, 0x2000, 0, "/opt/lib.so", 42));
  table_.on_mmap(mmap_record(200, 0x9000, 0xa000, 0, "/opt/lib.so", 42));
  table_.on_mmap(mmap_record(200, 0xb000, 0xc000, 0, "/opt/other.so", 43));
  const auto& m1 = table_.find(100)->find_mapping(ProcessAddress(0x1000))->module;
  const auto& m2 = table_.find(200)->find_mapping(ProcessAddress(0x9000))->module;
  const auto& m3 = table_.find(200)->find_mapping(ProcessAddress(0xb000))->module;
  EXPECT_EQ(m1.get(), m2.get());
  EXPECT_NE(m1.get(), m3.get());
  EXPECT_EQ(m1->inode, 42u);
  EXPECT_EQ(m1->device, makedev(8, 1));
}

TEST_F(ProcessTableTest, ForkInheritsMapsAndNameButNotJitCode) {
  table_.on_comm(comm_record(100, 100, "parent", true));
  table_.on_mmap(mmap_record(100, 0x1000, 0x2000, 0, "/opt/app", 5));
  table_.on_mmap(mmap_record(100, 0x7000, 0x8000, 0, "//anon", 0));
  table_.on_fork(task_record(false, 200, 100, 200, 100));
  const Process* child = table_.find(200);
  ASSERT_NE(child, nullptr);
  EXPECT_EQ(child->comm(), "parent");
  EXPECT_EQ(module_path(200, 0x1800), "/opt/app");
  EXPECT_EQ(table_.find(100)->find_mapping(ProcessAddress(0x1800))->module.get(),
            child->find_mapping(ProcessAddress(0x1800))->module.get());
  // JIT code is named by /tmp/perf-PID.map of the process running it.
  EXPECT_EQ(module_path(100, 0x7000), "/tmp/perf-100.map");
  EXPECT_EQ(module_path(200, 0x7000), "/tmp/perf-200.map");
  EXPECT_EQ(child->find_mapping(ProcessAddress(0x7000))->module->kind, profile::MappingKind::kJit);
  EXPECT_EQ(child->find_mapping(ProcessAddress(0x7000))->module->pid, 200);
  // The child's later mappings are its own.
  table_.on_mmap(mmap_record(200, 0x3000, 0x4000, 0, "/opt/plugin.so", 6));
  EXPECT_EQ(module_path(100, 0x3000), "<unmapped>");
}

TEST_F(ProcessTableTest, NewThreadTakesItsCreatorsName) {
  table_.on_comm(comm_record(100, 100, "server", true));
  table_.on_comm(comm_record(100, 101, "io-pool", false));
  table_.on_fork(task_record(false, 100, 100, 102, 101));
  Process& p = *table_.find(100);
  EXPECT_EQ(table_.thread(p, 102).comm, "io-pool");
  EXPECT_EQ(table_.thread(p, 100).comm, "server");
  table_.on_comm(comm_record(100, 102, "io-7", false));
  EXPECT_EQ(table_.thread(p, 102).comm, "io-7");
  EXPECT_EQ(p.comm(), "server");  // a thread's rename does not rename the process
}

TEST_F(ProcessTableTest, ExecDropsOldImage) {
  table_.on_comm(comm_record(100, 100, "sh", true));
  table_.on_mmap(mmap_record(100, 0x1000, 0x2000, 0, "/bin/sh", 10));
  table_.on_mmap(mmap_record(100, 0x5000, 0x6000, 0, "/lib/ld.so", 11));
  EXPECT_EQ(table_.find(100)->main_module()->path, "/bin/sh");
  std::shared_ptr<const profile::Module> old = table_.find(100)->main_module();

  table_.on_comm(comm_record(100, 100, "python3", true));
  const Process* p = table_.find(100);
  EXPECT_EQ(p->comm(), "python3");
  EXPECT_TRUE(p->mappings().empty());
  EXPECT_EQ(p->main_module(), nullptr);
  table_.on_mmap(mmap_record(100, 0x4000, 0x5000, 0, "/usr/bin/python3", 12));
  table_.on_mmap(mmap_record(100, 0x8000, 0x9000, 0, "/lib/ld.so", 11));
  EXPECT_EQ(p->main_module()->path, "/usr/bin/python3");
  EXPECT_EQ(module_path(100, 0x1000), "<unmapped>");
  EXPECT_EQ(old->path, "/bin/sh");  // modules already handed out stay valid
}

TEST_F(ProcessTableTest, ExitDropsThreadThenProcess) {
  table_.on_comm(comm_record(100, 100, "app", true));
  table_.on_mmap(mmap_record(100, 0x1000, 0x2000, 0, "/opt/app", 5));
  table_.on_fork(task_record(false, 100, 100, 101, 100));
  EXPECT_EQ(table_.find(100)->thread_count(), 1u);
  table_.on_exit(task_record(true, 100, 100, 101, 101));
  EXPECT_EQ(table_.find(100)->thread_count(), 0u);
  std::shared_ptr<const profile::Module> module = table_.find(100)->main_module();
  table_.on_exit(task_record(true, 100, 1, 100, 1));
  // Kept for samples written after the exit record (per-CPU events sample the exit itself).
  ASSERT_NE(table_.find(100), nullptr);
  EXPECT_EQ(table_.find(100)->comm(), "app");
  EXPECT_EQ(module_path(100, 0x1800), "/opt/app");
  // Until enough other processes exited after it.
  for (int32_t pid = 200; pid < 200 + static_cast<int32_t>(ProcessTable::kKeptAfterExit); ++pid) {
    table_.on_comm(comm_record(pid, pid, "other", true));
    table_.on_exit(task_record(true, pid, 1, pid, 1));
  }
  EXPECT_EQ(table_.find(100), nullptr);
  EXPECT_EQ(table_.size(), ProcessTable::kKeptAfterExit);
  EXPECT_EQ(module->path, "/opt/app");
}

TEST_F(ProcessTableTest, PidReusedAfterExitIsANewProcess) {
  table_.on_comm(comm_record(100, 100, "app", true));
  table_.on_mmap(mmap_record(100, 0x1000, 0x2000, 0, "/opt/app", 5));
  table_.on_exit(task_record(true, 100, 1, 100, 1));
  table_.on_comm(comm_record(300, 300, "parent", true));
  table_.on_fork(task_record(false, 100, 300, 100, 300));
  ASSERT_NE(table_.find(100), nullptr);
  EXPECT_EQ(table_.find(100)->comm(), "parent");
  EXPECT_EQ(module_path(100, 0x1800), "<unmapped>");
}

TEST_F(ProcessTableTest, UnknownProcessIsRememberedAsUnknown) {
  Process& p = table_.get(4000000);
  EXPECT_TRUE(p.unknown());
  EXPECT_EQ(p.comm(), ":4000000");
  EXPECT_EQ(&table_.get(4000000), &p);  // asked once, not per sample
  EXPECT_EQ(table_.stats().loaded_from_proc, 0u);
}

TEST_F(ProcessTableTest, LoadsFromProcExecutableMappingsOnly) {
  proc_.add_process(42, "fake-app",
                    "00400000-00401000 r--p 00000000 08:01 777 /usr/bin/fake app\n"
                    "00401000-00402000 r-xp 00001000 08:01 777 /usr/bin/fake app\n"
                    "00600000-00601000 rw-p 00002000 08:01 777 /usr/bin/fake app\n"
                    "7f0000000000-7f0000001000 r-xp 00000000 00:00 0 \n"
                    "7fff00000000-7fff00002000 r-xp 00000000 00:00 0 [vdso]\n",
                    "/usr/bin/fake app");
  proc_.add_thread(42, 43, "helper");
  Process* p = table_.load(42);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->comm(), "fake-app");
  EXPECT_EQ(p->exe(), "/usr/bin/fake app");
  ASSERT_EQ(p->mappings().size(), 3u);
  EXPECT_EQ(module_path(42, 0x400500), "<unmapped>");
  EXPECT_EQ(module_path(42, 0x401500), "/usr/bin/fake app");
  EXPECT_EQ(p->find_mapping(ProcessAddress(0x401500))->frame_offset(ProcessAddress(0x401500)), 0x1500u);
  EXPECT_EQ(p->find_mapping(ProcessAddress(0x7f0000000010))->module->kind, profile::MappingKind::kJit);
  EXPECT_EQ(p->find_mapping(ProcessAddress(0x7fff00000010))->module->kind, profile::MappingKind::kVdso);
  ASSERT_NE(p->main_module(), nullptr);
  EXPECT_EQ(p->main_module()->path, "/usr/bin/fake app");
  EXPECT_EQ(table_.thread(*p, 43).comm, "helper");
  EXPECT_EQ(table_.thread(*p, 44).comm, "fake-app");  // no such thread file: the process name
}

TEST_F(ProcessTableTest, RecordsForAnUnseenProcessLoadItFirst) {
  proc_.add_process(42, "late", "00401000-00402000 r-xp 00001000 08:01 777 /usr/bin/late\n");
  table_.on_mmap(mmap_record(42, 0x900000, 0x901000, 0, "/usr/lib/libnew.so", 778));
  EXPECT_EQ(module_path(42, 0x401000), "/usr/bin/late");
  EXPECT_EQ(module_path(42, 0x900000), "/usr/lib/libnew.so");
}

TEST(ProcessTableBound, LeastRecentlyUsedIsEvicted) {
  FakeProc proc;
  for (int pid = 1; pid <= 5; ++pid) proc.add_process(pid, "p" + std::to_string(pid), "");
  ModuleCache modules(ProcFs(proc.root()), 4);
  ProcessTable table(ProcFs(proc.root()), modules, 3);
  table.get(1);
  table.get(2);
  table.get(3);
  table.get(1);  // 2 is now the least recently used
  table.get(4);
  EXPECT_EQ(table.size(), 3u);
  EXPECT_EQ(table.find(2), nullptr);
  EXPECT_NE(table.find(1), nullptr);
  table.get(5);
  EXPECT_EQ(table.size(), 3u);
  EXPECT_EQ(table.stats().evicted, 2u);
  // An evicted process that is sampled again is read again.
  EXPECT_EQ(table.get(2).comm(), "p2");
}

TEST(ProcessTableFilter, FilterIsAskedOnLoadAndAfterExec) {
  FakeProc proc;
  proc.add_process(10, "nginx", "");
  proc.add_process(11, "bash", "");
  ModuleCache modules(ProcFs(proc.root()), 4);
  std::vector<std::string> asked;
  ProcessTable table(ProcFs(proc.root()), modules, 100, [&](const ProcessInfo& info) {
    asked.emplace_back(info.comm);
    return info.comm == "nginx";
  });
  EXPECT_TRUE(table.get(10).recorded());
  EXPECT_FALSE(table.get(11).recorded());
  table.on_comm(comm_record(11, 11, "nginx", true));
  EXPECT_TRUE(table.find(11)->recorded());
  EXPECT_EQ(asked, (std::vector<std::string>{"nginx", "bash", "nginx"}));
  // A forked child inherits the decision without asking again.
  table.on_fork(task_record(false, 12, 11, 12, 11));
  EXPECT_TRUE(table.find(12)->recorded());
  EXPECT_EQ(asked.size(), 3u);
}

TEST(SystemdService, TheInnermostServiceOfTheCgroup) {
  EXPECT_EQ(systemd_service("/system.slice/nginx.service"), "nginx");
  EXPECT_EQ(systemd_service("/system.slice/system-getty.slice/getty@tty1.service"), "getty@tty1");
  EXPECT_EQ(systemd_service("/user.slice/user-1000.slice/user@1000.service/app.slice/app-term.service"), "app-term");
  // A delegated subtree below the service is still the service.
  EXPECT_EQ(systemd_service("/system.slice/postgresql.service/payload"), "postgresql");
  // A login session, a container, the root, nothing: no service.
  EXPECT_EQ(systemd_service("/user.slice/user-1000.slice/session-3.scope"), "");
  EXPECT_EQ(systemd_service("/system.slice/docker-4f2a.scope"), "");
  EXPECT_EQ(systemd_service("/"), "");
  EXPECT_EQ(systemd_service(""), "");
  EXPECT_EQ(systemd_service("/.service"), "");
}

TEST(ProcessTableService, ReadOnceFromTheCgroupAndInheritedByAChild) {
  FakeProc proc;
  proc.add_process(10, "nginx", "");
  proc.set_cgroup(10, "0::/system.slice/nginx.service\n");
  proc.add_process(11, "bash", "");
  proc.set_cgroup(11, "0::/user.slice/user-0.slice/session-1.scope\n");
  ModuleCache modules(ProcFs(proc.root()), 4);
  ProcessTable table(ProcFs(proc.root()), modules, 100);
  EXPECT_EQ(table.service(table.get(10)), "nginx");
  EXPECT_EQ(table.service(table.get(11)), "");
  // Read once: a later change of the file is not seen (the cgroup of a process rarely moves).
  proc.set_cgroup(10, "0::/system.slice/other.service\n");
  EXPECT_EQ(table.service(table.get(10)), "nginx");
  // A worker forked by the service is in the service, even if it is gone from /proc already.
  table.on_fork(task_record(false, 12, 10, 12, 10));
  EXPECT_EQ(table.service(*table.find(12)), "nginx");
  // A process that was never in /proc has none.
  EXPECT_EQ(table.service(table.get(99)), "");
  // cgroup v1 and hybrid hosts: systemd's tree is the name=systemd hierarchy, whatever the
  // controllers' paths and the unified line say.
  proc.add_process(13, "redis-server", "");
  proc.set_cgroup(13, "12:memory:/system.slice/wrong.service\n1:name=systemd:/system.slice/redis.service\n0::/\n");
  EXPECT_EQ(table.service(table.get(13)), "redis");
  EXPECT_EQ(ProcFs(proc.root()).systemd_cgroup(13), "/system.slice/redis.service");
  EXPECT_EQ(ProcFs(proc.root()).cgroup(13), "/");
}

TEST(ModuleCacheFiles, OpensVerifiesAndReadsBuildId) {
  FakeProc proc;  // no map_files or root there: the plain path is used
  const std::string path = "/proc/self/exe";
  char resolved[4096];
  ssize_t n = ::readlink(path.c_str(), resolved, sizeof resolved - 1);
  ASSERT_GT(n, 0);
  resolved[n] = '\0';
  struct stat st{};
  ASSERT_EQ(::stat(resolved, &st), 0);

  ModuleCache modules(ProcFs(proc.root()), 4);
  MappingSource s;
  s.pid = 1;
  s.start = 0x1000;
  s.end = 0x2000;
  s.path = resolved;
  s.major = major(st.st_dev);
  s.minor = minor(st.st_dev);
  s.inode = st.st_ino;
  auto m = modules.file(s);
  ASSERT_NE(m->file, nullptr);
  EXPECT_TRUE(m->file->valid());
  auto expected = elf::ElfFile::open_path(resolved);
  ASSERT_TRUE(expected.has_value());
  EXPECT_EQ(m->build_id, expected->build_id());
  EXPECT_EQ(modules.file(s).get(), m.get());
  EXPECT_EQ(modules.held_files(), 1u);

  // The path names another file than the kernel reported: not kept.
  MappingSource other = s;
  other.inode = st.st_ino + 1;
  auto mismatched = modules.file(other);
  EXPECT_EQ(mismatched->file, nullptr);
  EXPECT_EQ(modules.stats().identity_mismatches, 1u);
}

TEST(ModuleCacheFiles, HeldFilesAreBounded) {
  FakeProc proc;
  ModuleCache modules(ProcFs(proc.root()), 1);
  std::vector<std::shared_ptr<const profile::Module>> keep;
  auto map = [&](const char* p) {
    struct stat st{};
    EXPECT_EQ(::stat(p, &st), 0);
    MappingSource s;
    s.pid = 1;
    s.start = 0x1000;
    s.end = 0x2000;
    s.path = p;
    s.major = major(st.st_dev);
    s.minor = minor(st.st_dev);
    s.inode = st.st_ino;
    return modules.file(s);
  };
  keep.push_back(map("/bin/sh"));
  keep.push_back(map("/bin/ls"));
  EXPECT_NE(keep[0]->file, nullptr);
  EXPECT_EQ(keep[1]->file, nullptr);  // past the bound: identity kept, fd not
  EXPECT_EQ(modules.held_files(), 1u);
  keep.clear();  // nobody uses them any more: their fds make room for the next binary
  auto third = map("/bin/cat");
  EXPECT_NE(third->file, nullptr);
  EXPECT_EQ(modules.held_files(), 1u);
}

TEST(ModuleCacheClassify, MappingNames) {
  EXPECT_EQ(classify_mapping("/usr/lib/libc.so.6"), MappingClass::kFile);
  EXPECT_EQ(classify_mapping("/memfd:jit-code"), MappingClass::kFile);
  EXPECT_EQ(classify_mapping("[vdso]"), MappingClass::kVdso);
  EXPECT_EQ(classify_mapping(""), MappingClass::kAnonymous);
  EXPECT_EQ(classify_mapping("//anon"), MappingClass::kAnonymous);
  EXPECT_EQ(classify_mapping("[anon:v8]"), MappingClass::kAnonymous);
  EXPECT_EQ(classify_mapping("[vsyscall]"), MappingClass::kIgnored);
}

}  // namespace
}  // namespace ember::collector
