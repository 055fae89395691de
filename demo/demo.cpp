// ember-demo: a pretend request handler that spends its time in a few named functions,
// on two threads, for a given number of seconds. Used by `scripts/run` and the README picture.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace demo {

std::atomic<uint64_t> g_sink{0};

[[gnu::noinline]] uint64_t checksum(const std::string& body) {
  uint64_t h = 1469598103934665603ull;
  for (int round = 0; round < 8; ++round) {
    for (unsigned char c : body) {
      h ^= c;
      h *= 1099511628211ull;
    }
  }
  return h;
}

[[gnu::noinline]] std::vector<int> parse_numbers(const std::string& body) {
  std::vector<int> out;
  int value = 0;
  bool in_number = false;
  for (char c : body) {
    if (c >= '0' && c <= '9') {
      value = value * 10 + (c - '0');
      in_number = true;
    } else if (in_number) {
      out.push_back(value);
      value = 0;
      in_number = false;
    }
  }
  return out;
}

[[gnu::noinline]] size_t compress_rle(const std::string& body) {
  size_t out = 0;
  for (size_t i = 0; i < body.size();) {
    size_t j = i;
    while (j < body.size() && body[j] == body[i] && j - i < 255) ++j;
    out += 2;
    i = j;
  }
  return out;
}

[[gnu::noinline]] void sort_results(std::vector<int>& numbers) {
  std::sort(numbers.begin(), numbers.end());
}

[[gnu::noinline]] void handle_request(const std::string& body) {
  auto numbers = parse_numbers(body);
  sort_results(numbers);
  g_sink += checksum(body) + compress_rle(body) + numbers.size();
}

std::string make_body(std::mt19937& rng) {
  std::string body;
  std::uniform_int_distribution<int> digit(0, 9), len(1, 7);
  while (body.size() < 64 * 1024) {
    for (int i = len(rng); i > 0; --i) body.push_back(static_cast<char>('0' + digit(rng)));
    body.push_back(',');
  }
  return body;
}

[[gnu::noinline]] void serve(double seconds, unsigned seed) {
  std::mt19937 rng(seed);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  std::string body = make_body(rng);
  while (std::chrono::steady_clock::now() < deadline) handle_request(body);
}

}  // namespace demo

int main(int argc, char** argv) {
  double seconds = 3;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--seconds") == 0 && i + 1 < argc) {
      seconds = std::atof(argv[++i]);
    } else {
      std::fprintf(stderr, "usage: ember-demo [--seconds N]\n");
      return 2;
    }
  }
  std::thread worker([seconds] { demo::serve(seconds, 2); });
  demo::serve(seconds, 1);
  worker.join();
  std::printf("ember-demo: handled requests for %.1f s (checksum %llu)\n", seconds,
              static_cast<unsigned long long>(demo::g_sink.load() & 0xffff));
  return 0;
}
