// Linked into every executable of the tsan preset only (tests/tsan/README.md).
//
// librdkafka starts its threads with C11 thrd_create and locks with mtx_lock/cnd_wait. glibc
// implements those by calling its internal pthread functions directly, past the pthread
// symbols ThreadSanitizer intercepts, so TSan never learns of librdkafka's threads: the first
// allocation on one crashes inside the sanitizer (SEGV in SizeClassAllocator64LocalCache, a
// null thread state), and every Kafka test died under tsan. Defined here, in the executable,
// these C11 functions take precedence over glibc's for librdkafka's calls (ELF symbol
// interposition) and go through the public pthread functions: TSan sees every thread start
// and join and every lock, so it neither crashes nor reports races that librdkafka's locks
// order.
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <threads.h>

struct vigil_thrd_start {
  thrd_start_t func;
  void* arg;
};

static void* vigil_thrd_trampoline(void* p) {
  struct vigil_thrd_start s = *(struct vigil_thrd_start*)p;
  free(p);
  return (void*)(intptr_t)s.func(s.arg);
}

static int vigil_thrd_result(int err) {
  return err == 0 ? thrd_success : err == EBUSY ? thrd_busy : err == ETIMEDOUT ? thrd_timedout
                                  : err == ENOMEM ? thrd_nomem : thrd_error;
}

int thrd_create(thrd_t* thr, thrd_start_t func, void* arg) {
  struct vigil_thrd_start* s = malloc(sizeof *s);
  if (s == NULL) return thrd_nomem;
  s->func = func;
  s->arg = arg;
  const int err = pthread_create(thr, NULL, vigil_thrd_trampoline, s);
  if (err != 0) free(s);
  return vigil_thrd_result(err);
}

int thrd_join(thrd_t thr, int* res) {
  void* ret = NULL;
  const int err = pthread_join(thr, &ret);
  if (err == 0 && res != NULL) *res = (int)(intptr_t)ret;
  return vigil_thrd_result(err);
}

int thrd_detach(thrd_t thr) { return vigil_thrd_result(pthread_detach(thr)); }

int mtx_init(mtx_t* m, int type) {
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  if (type & mtx_recursive) pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  const int err = pthread_mutex_init((pthread_mutex_t*)m, &attr);
  pthread_mutexattr_destroy(&attr);
  return vigil_thrd_result(err);
}

int mtx_lock(mtx_t* m) { return vigil_thrd_result(pthread_mutex_lock((pthread_mutex_t*)m)); }

int mtx_trylock(mtx_t* m) { return vigil_thrd_result(pthread_mutex_trylock((pthread_mutex_t*)m)); }

int mtx_timedlock(mtx_t* restrict m, const struct timespec* restrict until) {
  return vigil_thrd_result(pthread_mutex_timedlock((pthread_mutex_t*)m, until));
}

int mtx_unlock(mtx_t* m) { return vigil_thrd_result(pthread_mutex_unlock((pthread_mutex_t*)m)); }

void mtx_destroy(mtx_t* m) { pthread_mutex_destroy((pthread_mutex_t*)m); }

int cnd_init(cnd_t* c) { return vigil_thrd_result(pthread_cond_init((pthread_cond_t*)c, NULL)); }

int cnd_signal(cnd_t* c) { return vigil_thrd_result(pthread_cond_signal((pthread_cond_t*)c)); }

int cnd_broadcast(cnd_t* c) { return vigil_thrd_result(pthread_cond_broadcast((pthread_cond_t*)c)); }

int cnd_wait(cnd_t* c, mtx_t* m) {
  return vigil_thrd_result(pthread_cond_wait((pthread_cond_t*)c, (pthread_mutex_t*)m));
}

int cnd_timedwait(cnd_t* restrict c, mtx_t* restrict m, const struct timespec* restrict until) {
  return vigil_thrd_result(
      pthread_cond_timedwait((pthread_cond_t*)c, (pthread_mutex_t*)m, until));
}

void cnd_destroy(cnd_t* c) { pthread_cond_destroy((pthread_cond_t*)c); }

void call_once(once_flag* flag, void (*func)(void)) { pthread_once((pthread_once_t*)flag, func); }

// What librdkafka itself does: its threads free and reuse buffers that our threads read,
// ordered by librdkafka's atomic reference counts, which TSan cannot see in uninstrumented
// code (a message's payload, read in poll_batch() before rd_kafka_message_destroy, freed later
// by a broker thread). Reports whose access is an interceptor (free, memcpy) called from
// librdkafka are dropped. So are races on librdkafka's own locks, whose init, lock and unlock
// come through this file (an mtx_init and a later mtx_lock on another thread, ordered by what
// librdkafka did between them out of TSan's sight): our code has no C11 locks. Races between
// two of our own accesses are still reported.
// One more, not librdkafka's: libstdc++'s std::ctype<char>::narrow fills a per-character cache
// on first use, so two threads compiling a std::regex each write the same byte to it (GCC bug
// 77704; the fault tests' output normaliser and log counters do, on two threads).
const char* __tsan_default_suppressions(void) {
  return "called_from_lib:librdkafka.so.1\n"
         "race:c11_threads.c\n"
         "race:std::ctype<char>::narrow\n";
}
