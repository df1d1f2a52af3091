/* test_vfs_path.c: host unit tests for the VFS path helpers (kernel/fs/vfs_path.c):
 * component iteration with consecutive slashes, the trailing-slash rule, the NAME_MAX (255)
 * and PATH_MAX (4096 with the NUL) limits of POSIX.1-2017 XBD 4.13 / Linux, lexical
 * normalisation of ".", ".." and "//", joining with a base, splitting into parent and name,
 * and hostile input (over-long names, output buffers too small, random byte strings). */
#include "host_stubs.h"
#include "../../kernel/fs/vfs_path.c"

#include <string.h>

static void expect_components(const char *path, const char *const *want, int count) {
    const char *p = path, *name;
    size_t len;
    int i = 0, r;
    while ((r = vfs_path_next(&p, &name, &len)) == 1) {
        assert_true(i < count);
        assert_int_equal(len, strlen(want[i]));
        assert_memory_equal(name, want[i], len);
        i++;
    }
    assert_int_equal(r, 0);
    assert_int_equal(i, count);
}

static void test_components(void **state) {
    (void)state;
    static const char *const abc[] = {"a", "b", "c"};
    expect_components("a/b/c", abc, 3);
    expect_components("/a/b/c", abc, 3);
    expect_components("//a///b////c//", abc, 3);
    static const char *const dots[] = {".", "..", "x"};
    expect_components("./../x", dots, 3);
    expect_components("/", NULL, 0);
    expect_components("", NULL, 0);
    expect_components("////", NULL, 0);
}

static void test_at_end_and_trailing_slash(void **state) {
    (void)state;
    assert_true(vfs_path_at_end(""));
    assert_true(vfs_path_at_end("///"));
    assert_false(vfs_path_at_end("/a"));
    assert_true(vfs_path_trailing_slash("a/"));
    assert_true(vfs_path_trailing_slash("/a/b//"));
    assert_false(vfs_path_trailing_slash("/a/b"));
    assert_false(vfs_path_trailing_slash("/"));
    assert_false(vfs_path_trailing_slash("///"));
    assert_false(vfs_path_trailing_slash(""));
}

static void test_length_limits(void **state) {
    (void)state;
    char *p = malloc(VFS_PATH_MAX + 16);
    assert_non_null(p);
    assert_int_equal(vfs_path_check(""), -KENOENT);
    assert_int_equal(vfs_path_check(NULL), -KEINVAL);
    /* 255-byte component: fine; 256: too long, also through the iterator */
    p[0] = '/';
    memset(p + 1, 'n', 255);
    p[256] = '\0';
    assert_int_equal(vfs_path_check(p), 0);
    p[256] = 'n';
    p[257] = '\0';
    assert_int_equal(vfs_path_check(p), -KENAMETOOLONG);
    const char *it = p, *name;
    size_t len;
    assert_int_equal(vfs_path_next(&it, &name, &len), -KENAMETOOLONG);
    /* 4095 bytes: fine; 4096 bytes: too long (no room for the NUL) */
    for (int i = 0; i < VFS_PATH_MAX; i++) p[i] = (i % 4 == 3) ? '/' : 'd';
    p[VFS_PATH_MAX - 1] = '\0';
    assert_int_equal(vfs_path_check(p), 0);
    p[VFS_PATH_MAX - 1] = 'd';
    p[VFS_PATH_MAX] = '\0';
    assert_int_equal(vfs_path_check(p), -KENAMETOOLONG);
    /* a path of only slashes of maximal length is fine */
    memset(p, '/', VFS_PATH_MAX - 1);
    p[VFS_PATH_MAX - 1] = '\0';
    assert_int_equal(vfs_path_check(p), 0);
    free(p);
}

static void expect_norm(const char *in, const char *want) {
    char out[256];
    int r = vfs_path_normalize(in, out, sizeof(out));
    assert_int_equal(r, (int)strlen(want));
    assert_string_equal(out, want);
}

static void test_normalize(void **state) {
    (void)state;
    expect_norm("/", "/");
    expect_norm("///", "/");
    expect_norm("/a//b/./../c/", "/a/c");
    expect_norm("/..", "/");
    expect_norm("/../../x", "/x");
    expect_norm("/a/b/c/../../..", "/");
    expect_norm("/a/./././b", "/a/b");
    expect_norm("/.hidden/..x/...", "/.hidden/..x/...");
    char out[8];
    assert_int_equal(vfs_path_normalize("a/b", out, sizeof(out)), -KEINVAL);
    assert_int_equal(vfs_path_normalize("/abcdefgh", out, sizeof(out)), -KENAMETOOLONG);
    assert_int_equal(vfs_path_normalize("/abcdef", out, sizeof(out)), 7);
    assert_int_equal(vfs_path_normalize("/a", out, 1), -KEINVAL);
}

static void test_join(void **state) {
    (void)state;
    char out[128];
    assert_int_equal(vfs_path_join("/home/u", "docs/../x", out, sizeof(out)), 9);
    assert_string_equal(out, "/home/u/x");
    assert_true(vfs_path_join("/home/u", "/etc//", out, sizeof(out)) > 0);
    assert_string_equal(out, "/etc");
    assert_true(vfs_path_join("/", "..", out, sizeof(out)) > 0);
    assert_string_equal(out, "/");
    assert_true(vfs_path_join("/a", ".", out, sizeof(out)) > 0);
    assert_string_equal(out, "/a");
    assert_int_equal(vfs_path_join("/a", "", out, sizeof(out)), -KENOENT);
}

static void expect_split(const char *path, const char *parent, const char *name) {
    char p[64], n[VFS_NAME_MAX + 1];
    assert_int_equal(vfs_path_split(path, p, sizeof(p), n, sizeof(n)), 0);
    assert_string_equal(p, parent);
    assert_string_equal(n, name);
}

static void test_split(void **state) {
    (void)state;
    expect_split("/a/b", "/a", "b");
    expect_split("/a/b/", "/a", "b");
    expect_split("/b", "/", "b");
    expect_split("b", ".", "b");
    expect_split("a//b", "a", "b");
    expect_split("//b//", "/", "b");
    char p[4], n[4];
    assert_int_equal(vfs_path_split("/", p, sizeof(p), n, sizeof(n)), -KEINVAL);
    assert_int_equal(vfs_path_split("///", p, sizeof(p), n, sizeof(n)), -KEINVAL);
    assert_int_equal(vfs_path_split("/a/long", p, sizeof(p), n, sizeof(n)), -KENAMETOOLONG);
    assert_int_equal(vfs_path_split("/long/a", p, sizeof(p), n, sizeof(n)), -KENAMETOOLONG);
}

/* Random strings over a small alphabet: every helper answers with a result or an error, the
 * normalised form never contains "//", "/./" or "/../", and normalising it again changes
 * nothing. */
static void test_fuzz(void **state) {
    (void)state;
    static const char alphabet[] = "//..ab";
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    char in[600], out[700], again[700], p[700], n[VFS_NAME_MAX + 1];
    for (int iter = 0; iter < 20000; iter++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        size_t len = (size_t)(seed >> 33) % (sizeof(in) - 1);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 6364136223846793005ull + 1442695040888963407ull;
            in[i] = alphabet[(seed >> 40) % (sizeof(alphabet) - 1)];
        }
        in[len] = '\0';
        if (iter % 3 == 0 && len) in[0] = '/';
        int r = vfs_path_normalize(in, out, sizeof(out));
        if (r >= 0) {
            assert_int_equal((size_t)r, strlen(out));
            assert_null(strstr(out, "//"));
            assert_null(strstr(out, "/./"));
            assert_null(strstr(out, "/../"));
            assert_int_equal(vfs_path_normalize(out, again, sizeof(again)), r);
            assert_string_equal(out, again);
        } else {
            assert_true(r == -KEINVAL || r == -KENOENT || r == -KENAMETOOLONG);
        }
        r = vfs_path_split(in, p, sizeof(p), n, sizeof(n));
        assert_true(r == 0 || r == -KEINVAL || r == -KENOENT || r == -KENAMETOOLONG);
        if (r == 0) assert_null(strchr(n, '/'));
        r = vfs_path_join("/base", in, out, sizeof(out));
        assert_true(r >= 0 || r == -KENOENT || r == -KENAMETOOLONG);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_components),
        cmocka_unit_test(test_at_end_and_trailing_slash),
        cmocka_unit_test(test_length_limits),
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_join),
        cmocka_unit_test(test_split),
        cmocka_unit_test(test_fuzz),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
