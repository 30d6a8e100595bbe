// prescale-test-burner: a workload with a known footprint for the live tests.
//   burner cpu THREADS SECONDS   burn THREADS busy threads until the process
//                                has used SECONDS of CPU (0: until killed),
//                                then print its getrusage CPU time and exit
//   burner mem BYTES             touch BYTES of anonymous memory, print
//                                "touched BYTES" and wait to be killed
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

namespace {

double CpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

int Usage() {
  std::fprintf(stderr, "usage: prescale-test-burner cpu THREADS SECONDS | mem BYTES\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return Usage();
  if (std::strcmp(argv[1], "cpu") == 0 && argc == 4) {
    const int threads = std::atoi(argv[2]);
    const double target = std::atof(argv[3]);
    std::atomic<bool> stop{false};
    std::vector<std::thread> pool;
    for (int i = 0; i < threads; ++i) {
      pool.emplace_back([&stop] {
        volatile unsigned long x = 0;
        while (!stop.load(std::memory_order_relaxed)) x = x + 1;
      });
    }
    while (target <= 0 || CpuSeconds() < target) usleep(2000);
    stop.store(true);
    for (auto& t : pool) t.join();
    std::printf("cpu_seconds %.6f\n", CpuSeconds());
    return 0;
  }
  if (std::strcmp(argv[1], "mem") == 0) {
    const size_t bytes = std::strtoull(argv[2], nullptr, 10);
    auto* p = static_cast<char*>(mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (p == MAP_FAILED) return 1;
    const long page = sysconf(_SC_PAGESIZE);
    for (size_t i = 0; i < bytes; i += static_cast<size_t>(page)) p[i] = 1;
    std::printf("touched %zu\n", bytes);
    std::fflush(stdout);
    while (true) pause();
  }
  return Usage();
}
