/* threadtest: POSIX threads on musl (clone with CLONE_THREAD, CLONE_SETTLS,
 * CLONE_CHILD_CLEARTID, futexes). Prints "PASS name" / "FAIL name: why" lines and
 * "threadtest: PASS" when every check passed (exit 0). Runs on Linux too.
 *   create-join    8 threads return their argument through pthread_join
 *   mutex          8 threads x 20000 locked increments give exactly 160000
 *   tls            each thread sees its own __thread variable
 *   condvar        a producer/consumer pair hands over 1000 items through a condition variable
 *   detach-exit    a detached thread that calls pthread_exit does not disturb the process
 *   exit-from-thread  exit() in a thread (in a child process) ends the whole process with its code */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
#include "utest.h"


static void *ret_arg(void *a) { return a; }

static void t_create_join(void) {
    pthread_t t[8];
    for (intptr_t i = 0; i < 8; i++)
        if (pthread_create(&t[i], NULL, ret_arg, (void *)(i * 7 + 1))) { fail("create-join", "pthread_create failed"); return; }
    for (intptr_t i = 0; i < 8; i++) {
        void *r;
        if (pthread_join(t[i], &r) || r != (void *)(i * 7 + 1)) { fail("create-join", "wrong value from pthread_join"); return; }
    }
    pass("create-join");
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static void *incr(void *a) {
    for (int i = 0; i < 20000; i++) {
        pthread_mutex_lock(&lock);
        counter++;
        pthread_mutex_unlock(&lock);
    }
    return a;
}

static void t_mutex(void) {
    pthread_t t[8];
    for (int i = 0; i < 8; i++) pthread_create(&t[i], NULL, incr, NULL);
    for (int i = 0; i < 8; i++) pthread_join(t[i], NULL);
    if (counter != 160000) { printf("  counter %ld\n", counter); fail("mutex", "lost increments"); return; }
    pass("mutex");
}

static __thread long tls_value = 5;
static void *tls_fn(void *a) {
    tls_value = (long)(intptr_t)a;
    for (volatile int i = 0; i < 100000; i++) {}
    return (void *)(intptr_t)(tls_value == (long)(intptr_t)a);
}

static void t_tls(void) {
    pthread_t t[4];
    for (intptr_t i = 0; i < 4; i++) pthread_create(&t[i], NULL, tls_fn, (void *)(i + 100));
    int ok = 1;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        ok &= r == (void *)1;
    }
    if (!ok || tls_value != 5) { fail("tls", "a thread saw another thread's __thread value"); return; }
    pass("tls");
}

static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t qcond = PTHREAD_COND_INITIALIZER;
static int queue[16], qhead, qtail, qcount;
static void *producer(void *a) {
    for (int i = 1; i <= 1000; i++) {
        pthread_mutex_lock(&qlock);
        while (qcount == 16) pthread_cond_wait(&qcond, &qlock);
        queue[qtail] = i;
        qtail = (qtail + 1) % 16;
        qcount++;
        pthread_cond_broadcast(&qcond);
        pthread_mutex_unlock(&qlock);
    }
    return a;
}

static void t_condvar(void) {
    pthread_t p;
    pthread_create(&p, NULL, producer, NULL);
    long sum = 0;
    for (int i = 0; i < 1000; i++) {
        pthread_mutex_lock(&qlock);
        while (qcount == 0) pthread_cond_wait(&qcond, &qlock);
        sum += queue[qhead];
        qhead = (qhead + 1) % 16;
        qcount--;
        pthread_cond_broadcast(&qcond);
        pthread_mutex_unlock(&qlock);
    }
    pthread_join(p, NULL);
    if (sum != 500500) { fail("condvar", "items lost or repeated"); return; }
    pass("condvar");
}

static void *detached(void *a) { pthread_exit(a); }

static void t_detach(void) {
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    for (int i = 0; i < 4; i++) {
        pthread_t t;
        if (pthread_create(&t, &at, detached, NULL)) { fail("detach-exit", "pthread_create failed"); return; }
    }
    usleep(50000);
    pass("detach-exit");
}

static void *exit_fn(void *a) { exit(42); }

static void t_exit_from_thread(void) {
    pid_t p = fork();
    if (p == 0) {
        pthread_t t;
        pthread_create(&t, NULL, exit_fn, NULL);
        for (;;) pause();
    }
    int st;
    if (waitpid(p, &st, 0) != p || !WIFEXITED(st) || WEXITSTATUS(st) != 42) {
        fail("exit-from-thread", "the process did not end with the thread's exit code");
        return;
    }
    pass("exit-from-thread");
}

int main(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    t_create_join();
    t_mutex();
    t_tls();
    t_condvar();
    t_detach();
    t_exit_from_thread();
    printf("threadtest: %s\n", failures ? "FAIL" : "PASS");
    return failures ? 1 : 0;
}
