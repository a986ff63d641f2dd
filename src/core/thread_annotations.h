// Clang thread-safety annotations (-Wthread-safety) and a mutex that carries them, in the manner
// of Abseil's thread_annotations.h and absl::Mutex.
//
// HA_GUARDED_BY(mu) on a member says it is read and written only with `mu` held; a clang build
// with -Wthread-safety (the CMake option HA_THREAD_SAFETY, preset "thread-safety",
// scripts/thread-safety) then rejects any access without it. With other compilers the macros
// expand to nothing and Mutex is a plain std::mutex.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define HA_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define HA_THREAD_ANNOTATION(x)
#endif

// A member read or written only with the given mutex held.
#define HA_GUARDED_BY(x) HA_THREAD_ANNOTATION(guarded_by(x))
// A pointer member whose pointee is read or written only with the given mutex held.
#define HA_PT_GUARDED_BY(x) HA_THREAD_ANNOTATION(pt_guarded_by(x))
// A function the caller must call with the given mutexes held.
#define HA_REQUIRES(...) HA_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
// A function the caller must call without the given mutexes held (it takes them itself).
#define HA_EXCLUDES(...) HA_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
// A function that returns with the mutexes (or `this`) held, or released.
#define HA_ACQUIRE(...) HA_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define HA_RELEASE(...) HA_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
// A class that is a lock, and an RAII class that holds one for its lifetime.
#define HA_CAPABILITY(name) HA_THREAD_ANNOTATION(capability(name))
#define HA_SCOPED_CAPABILITY HA_THREAD_ANNOTATION(scoped_lockable)
// Turns the analysis off for one function (the lock wrappers below, which it cannot follow).
#define HA_NO_THREAD_SAFETY_ANALYSIS HA_THREAD_ANNOTATION(no_thread_safety_analysis)

namespace ha {

// A std::mutex the analysis knows as a lock. Use it through MutexLock.
class HA_CAPABILITY("mutex") Mutex {
 public:
  Mutex() = default;
  Mutex(const Mutex&) = delete;
  Mutex& operator=(const Mutex&) = delete;

  void Lock() HA_ACQUIRE() { mu_.lock(); }
  void Unlock() HA_RELEASE() { mu_.unlock(); }

 private:
  friend class MutexLock;
  std::mutex mu_;
};

// Holds `mu` from construction to destruction (as std::unique_lock), and waits on condition
// variables with it: while waiting the mutex is released, and it is held again on return, so to
// the analysis it stays held throughout. Wait in a loop that re-checks the condition, in the
// function that holds the lock (a predicate lambda would be analysed as a function of its own,
// without the lock).
class HA_SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) HA_ACQUIRE(mu) HA_NO_THREAD_SAFETY_ANALYSIS : lock_(mu.mu_) {}
  ~MutexLock() HA_RELEASE() HA_NO_THREAD_SAFETY_ANALYSIS {}
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;

  // Waits until `cv` is notified (or wakes spuriously).
  void Wait(std::condition_variable& cv) { cv.wait(lock_); }

  // Waits until `cv` is notified (or wakes spuriously) or `deadline` passes; false when the
  // deadline passed.
  template <typename Clock, typename Duration>
  bool WaitUntil(std::condition_variable& cv,
                 const std::chrono::time_point<Clock, Duration>& deadline) {
    return cv.wait_until(lock_, deadline) == std::cv_status::no_timeout;
  }

 private:
  std::unique_lock<std::mutex> lock_;
};

}  // namespace ha
