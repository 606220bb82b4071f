// See heartbeat.h. The helper thread polls (a condition variable would cost a wake-up per collective).
#include "heartbeat.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <mutex>
#include <thread>

namespace tessera::heartbeat {

namespace {

using Clock = std::chrono::steady_clock;
// A wait is announced after this long; the launcher's --stall-timeout is at least a second.
constexpr auto kAnnounceAfter = std::chrono::milliseconds(100);
constexpr auto kPoll = std::chrono::milliseconds(50);

struct State {
  std::mutex mu;
  int fd = -1;
  bool waiting = false;
  bool announced = false;
  Clock::time_point since;
  bool thread_started = false;
};

// Never destroyed: the detached helper thread may still run while the process exits.
State& state() {
  static State* s = new State();
  return *s;
}

void put(int fd, char c) {
  ssize_t n;
  do n = ::write(fd, &c, 1);
  while (n < 0 && errno == EINTR);
  // A full pipe (EAGAIN) or a launcher that is gone: the beat is lost, nothing else to do.
}

void watch() {
  State& s = state();
  for (;;) {
    std::this_thread::sleep_for(kPoll);
    std::lock_guard<std::mutex> lock(s.mu);
    if (s.fd >= 0 && s.waiting && !s.announced && Clock::now() - s.since >= kAnnounceAfter) {
      put(s.fd, 'w');
      s.announced = true;
    }
  }
}

}  // namespace

void set_fd(int fd) {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  s.fd = fd;
  if (fd >= 0 && !s.thread_started) {
    std::thread(watch).detach();
    s.thread_started = true;
  }
}

void wait_begin() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  s.waiting = true;
  s.announced = false;
  s.since = Clock::now();
}

void wait_end() {
  State& s = state();
  std::lock_guard<std::mutex> lock(s.mu);
  if (s.announced && s.fd >= 0) put(s.fd, 'p');
  s.waiting = false;
  s.announced = false;
}

}  // namespace tessera::heartbeat
