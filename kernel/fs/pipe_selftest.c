/* pipe_selftest.c: self-tests of pipes (group `pipe`), against vfs.h and POSIX.1-2017 XSH
 * pipe/read/write: data through, EOF after the last writer closes, EPIPE after the last
 * reader closes, O_NONBLOCK giving EAGAIN on an empty and on a full pipe without waiting, a
 * blocked reader woken by a writer task, PIPE_BUF atomicity with two writer tasks, and the
 * memory coming back when both ends close. */
#include "vfs.h"
#include "selftest.h"
#include "kstring.h"
#include "mm.h"
#include "sched.h"
#include "time.h"

#define MS 1000000ull

SELFTEST(pipe, data_through_then_eof) {
    struct vfs_file *rd, *wr;
    ST_ASSERT(t, vfs_pipe(&rd, &wr, 0) == 0, "vfs_pipe failed");
    char buf[32];
    int64_t w = vfs_write(wr, "hello, pipe", 11);
    int64_t n = vfs_read(rd, buf, sizeof(buf));
    bool ok = w == 11 && n == 11 && memcmp(buf, "hello, pipe", 11) == 0;
    int64_t bad_dir = vfs_read(wr, buf, 1), bad_dir2 = vfs_write(rd, "x", 1);
    int64_t seek = vfs_lseek(rd, 0, SEEK_SET);
    struct vfs_stat st;
    int sr = vfs_fstat(rd, &st);
    vfs_write(wr, "ab", 2);
    vfs_close(wr);
    int64_t rest = vfs_read(rd, buf, sizeof(buf));
    int64_t eof = vfs_read(rd, buf, sizeof(buf));
    vfs_close(rd);
    ST_ASSERT(t, ok, "write %ld, read %ld", (long)w, (long)n);
    ST_ASSERT(t, bad_dir == -KEBADF && bad_dir2 == -KEBADF, "wrong-end I/O: %ld %ld", (long)bad_dir, (long)bad_dir2);
    ST_ASSERT(t, seek == -KESPIPE, "lseek on a pipe = %ld", (long)seek);
    ST_ASSERT(t, sr == 0 && (st.mode & S_IFMT) == S_IFIFO, "fstat mode %o", st.mode);
    ST_ASSERT(t, rest == 2, "data written before close lost: %ld", (long)rest);
    ST_ASSERT(t, eof == 0, "read after the writer closed = %ld, want 0 (EOF)", (long)eof);
}

SELFTEST(pipe, write_after_readers_gone_is_epipe) {
    struct vfs_file *rd, *wr;
    ST_ASSERT(t, vfs_pipe(&rd, &wr, 0) == 0, "vfs_pipe failed");
    vfs_close(rd);
    int64_t w = vfs_write(wr, "x", 1);
    int64_t big = vfs_write(wr, "yyyy", 4);
    vfs_close(wr);
    ST_ASSERT(t, w == -KEPIPE && big == -KEPIPE, "write without readers = %ld, %ld", (long)w, (long)big);
}

SELFTEST(pipe, nonblocking_empty_and_full_eagain) {
    struct vfs_file *rd, *wr;
    ST_ASSERT(t, vfs_pipe(&rd, &wr, O_NONBLOCK) == 0, "vfs_pipe failed");
    uint8_t *buf = kmalloc(PIPE_CAPACITY + 4096);
    ST_ASSERT(t, buf, "no memory");
    for (size_t i = 0; i < PIPE_CAPACITY + 4096; i++) buf[i] = (uint8_t)(i * 13);
    uint64_t t0 = time_ns();
    int64_t empty = vfs_read(rd, buf, 10);
    uint64_t empty_ns = time_ns() - t0;
    int64_t fill = vfs_write(wr, buf, PIPE_CAPACITY + 4096); /* large: partial, what fits */
    t0 = time_ns();
    int64_t full1 = vfs_write(wr, buf, 1);
    int64_t full4k = vfs_write(wr, buf, 4096);
    uint64_t full_ns = time_ns() - t0;
    int64_t r1 = vfs_read(rd, buf, 1000);
    int64_t atomic_refused = vfs_write(wr, buf, 4096); /* 1000 free: a PIPE_BUF write must not split */
    int64_t fits = vfs_write(wr, buf, 1000);
    int64_t avail = pipe_bytes_available(rd);
    kfree(buf);
    vfs_close(rd);
    vfs_close(wr);
    ST_ASSERT(t, empty == -KEAGAIN, "read on empty = %ld", (long)empty);
    ST_ASSERT(t, empty_ns < 50 * MS, "non-blocking read took %lu ns", (unsigned long)empty_ns);
    ST_ASSERT(t, fill == PIPE_CAPACITY, "filling wrote %ld, want %d", (long)fill, PIPE_CAPACITY);
    ST_ASSERT(t, full1 == -KEAGAIN && full4k == -KEAGAIN, "write on full = %ld, %ld", (long)full1, (long)full4k);
    ST_ASSERT(t, full_ns < 50 * MS, "non-blocking writes took %lu ns", (unsigned long)full_ns);
    ST_ASSERT(t, r1 == 1000, "read 1000 = %ld", (long)r1);
    ST_ASSERT(t, atomic_refused == -KEAGAIN, "4096-byte write into 1000 free = %ld (not atomic)", (long)atomic_refused);
    ST_ASSERT(t, fits == 1000 && avail == PIPE_CAPACITY, "write 1000 = %ld, available %ld", (long)fits, (long)avail);
}

static struct vfs_file *woken_rd;
static volatile int reader_state; /* 1 = about to read, 2 = read returned */
static char woken_buf[16];

static int64_t blocked_reader(void *arg) {
    (void)arg;
    reader_state = 1;
    int64_t n = vfs_read(woken_rd, woken_buf, sizeof(woken_buf));
    reader_state = 2;
    return n;
}

SELFTEST(pipe, blocked_reader_woken_by_writer) {
    struct vfs_file *wr;
    ST_ASSERT(t, vfs_pipe(&woken_rd, &wr, 0) == 0, "vfs_pipe failed");
    reader_state = 0;
    tid_t id = task_create("st-pipe-rd", blocked_reader, NULL, PRIO_NORMAL);
    if (id < 0) {
        vfs_close(woken_rd);
        vfs_close(wr);
        ST_ASSERT(t, false, "task_create = %d", id);
    }
    /* wait (bounded) for the reader to start, then give it time to finish if it would not
     * block: it must still be inside vfs_read */
    for (int i = 0; i < 200 && reader_state == 0; i++) task_sleep_ns(10 * MS);
    task_sleep_ns(30 * MS);
    int state_before = reader_state;
    int64_t w = vfs_write(wr, "wake", 4);
    int64_t n = -1;
    task_join(id, &n);
    vfs_close(woken_rd);
    vfs_close(wr);
    ST_ASSERT(t, state_before == 1, "reader did not block on the empty pipe (state %d)", state_before);
    ST_ASSERT(t, w == 4 && n == 4 && memcmp(woken_buf, "wake", 4) == 0, "woken reader got %ld bytes", (long)n);
}

#define REC_SIZE PIPE_BUF_SIZE
#define RECS_PER_WRITER 48

/* Writes RECS_PER_WRITER records of PIPE_BUF bytes, each filled with one byte: the writer's
 * id in the top bit pattern and the record number (id * 64 + seq + 1). */
struct writer_arg {
    struct vfs_file *wr;
    int id;
};

static int64_t record_writer(void *arg) {
    struct writer_arg *wa = arg;
    struct vfs_file *wr = wa->wr;
    int id = wa->id;
    uint8_t *rec = kmalloc(REC_SIZE);
    int64_t status = 0;
    for (int s = 0; rec && s < RECS_PER_WRITER; s++) {
        memset(rec, (uint8_t)(id * 64 + s + 1), REC_SIZE);
        int64_t w = vfs_write(wr, rec, REC_SIZE);
        if (w != REC_SIZE) {
            status = w < 0 ? w : -KEIO;
            break;
        }
        if (s % 8 == 0) task_yield();
    }
    kfree(rec);
    vfs_close(wr);
    return rec ? status : -KENOMEM;
}

SELFTEST_TIMEOUT(pipe, pipe_buf_writes_atomic_two_writers, 60000) {
    struct heap_stats h0, h1;
    heap_get_stats(&h0);
    struct vfs_file *rd, *wr;
    ST_ASSERT(t, vfs_pipe(&rd, &wr, 0) == 0, "vfs_pipe failed");
    tid_t ids[2];
    static struct writer_arg args[2];
    for (int i = 0; i < 2; i++) {
        args[i].wr = vfs_file_get(wr);
        args[i].id = i;
        ids[i] = task_create("st-pipe-wr", record_writer, &args[i], PRIO_NORMAL);
        if (ids[i] < 0) vfs_close(args[i].wr);
    }
    vfs_close(wr); /* the writers hold the only write references now: EOF when both finish */
    uint8_t *rec = kmalloc(REC_SIZE);
    int next_seq[2] = {0, 0};
    int bad = 0;
    uint64_t total = 0;
    size_t fill = 0;
    int64_t n = 0;
    task_sleep_ns(20 * MS); /* the writers fill the pipe and block */
    /* read in odd-sized pieces, reassembling records */
    while (rec && (n = vfs_read(rd, rec + fill, MIN((size_t)1500, REC_SIZE - fill))) > 0) {
        fill += (size_t)n;
        total += (uint64_t)n;
        task_yield(); /* let the writers meet a nearly full pipe with little room */
        if (fill < REC_SIZE) continue;
        fill = 0;
        uint8_t v = rec[0];
        for (size_t i = 1; i < REC_SIZE; i++)
            if (rec[i] != v) bad++;
        int id = (v - 1) / 64, seq = (v - 1) % 64;
        if (v == 0 || id > 1 || seq != next_seq[id]) bad++;
        else next_seq[id]++;
    }
    int64_t ex[2] = {-1, -1};
    for (int i = 0; i < 2; i++)
        if (ids[i] >= 0) task_join(ids[i], &ex[i]);
    kfree(rec);
    vfs_close(rd);
    heap_get_stats(&h1);
    ST_ASSERT(t, ids[0] >= 0 && ids[1] >= 0, "task_create failed");
    ST_ASSERT(t, ex[0] == 0 && ex[1] == 0, "writers ended with %ld, %ld", (long)ex[0], (long)ex[1]);
    ST_ASSERT(t, n == 0 && fill == 0, "reader ended with %ld, %lu bytes of a partial record", (long)n,
              (unsigned long)fill);
    ST_ASSERT(t, bad == 0, "%d interleaved or out-of-order bytes/records", bad);
    ST_ASSERT(t, total == 2ull * RECS_PER_WRITER * REC_SIZE && next_seq[0] == RECS_PER_WRITER &&
                     next_seq[1] == RECS_PER_WRITER,
              "got %lu bytes, records %d + %d", (unsigned long)total, next_seq[0], next_seq[1]);
    ST_ASSERT(t, h1.bytes_in_use == h0.bytes_in_use && h1.allocations == h0.allocations,
              "heap not back after closing: %lu/%lu before, %lu/%lu after", (unsigned long)h0.bytes_in_use,
              (unsigned long)h0.allocations, (unsigned long)h1.bytes_in_use, (unsigned long)h1.allocations);
}

static int64_t late_reader(void *arg) {
    struct vfs_file *rd = arg;
    task_sleep_ns(30 * MS);
    char buf[4096];
    int64_t got = 0, n;
    while ((n = vfs_read(rd, buf, sizeof(buf))) > 0) got += n;
    vfs_close(rd);
    return n < 0 ? n : got;
}

SELFTEST(pipe, blocked_writer_woken_by_reader) {
    struct vfs_file *rd, *wr;
    ST_ASSERT(t, vfs_pipe(&rd, &wr, 0) == 0, "vfs_pipe failed");
    tid_t id = task_create("st-pipe-late", late_reader, rd, PRIO_NORMAL);
    if (id < 0) {
        vfs_close(rd);
        vfs_close(wr);
        ST_ASSERT(t, false, "task_create = %d", id);
    }
    uint8_t *buf = kzalloc(3 * PIPE_CAPACITY);
    int64_t w = buf ? vfs_write(wr, buf, 3 * PIPE_CAPACITY) : -KENOMEM; /* must wait for the reader */
    kfree(buf);
    vfs_close(wr);
    int64_t got = -1;
    task_join(id, &got);
    ST_ASSERT(t, w == 3 * PIPE_CAPACITY, "blocking write of 192 KiB = %ld", (long)w);
    ST_ASSERT(t, got == 3 * PIPE_CAPACITY, "reader got %ld", (long)got);
}

static int64_t reader_until_killed(void *arg) {
    char c;
    return vfs_read((struct vfs_file *)arg, &c, 1);
}

SELFTEST(pipe, killed_blocked_reader_gets_eintr) {
    struct vfs_file *rd, *wr;
    ST_ASSERT(t, vfs_pipe(&rd, &wr, 0) == 0, "vfs_pipe failed");
    tid_t id = task_create("st-pipe-kill", reader_until_killed, rd, PRIO_NORMAL);
    int64_t ex = 1;
    int kr = -1;
    if (id >= 0) {
        task_sleep_ns(20 * MS);
        kr = task_kill(id);
        task_join(id, &ex);
    }
    int64_t avail = pipe_bytes_available(rd);
    vfs_close(rd);
    vfs_close(wr);
    ST_ASSERT(t, id >= 0 && kr == 0, "task_create %d, task_kill %d", id, kr);
    ST_ASSERT(t, ex == -KEINTR, "killed reader's read returned %ld, want -EINTR", (long)ex);
    ST_ASSERT(t, avail == 0, "pipe holds %ld bytes", (long)avail);
}
