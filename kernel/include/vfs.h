/* vfs.h: the virtual file system (kernel/fs/vfs.c, vfs_path.c), tmpfs (kernel/fs/tmpfs.c) and
 * pipes (kernel/fs/pipe.c).
 *
 * Follows the POSIX.1-2017 model (XBD 4.13 pathname resolution, XSH open/read/write/lseek/
 * rename/rmdir/unlink/pipe) with the Linux x86-64 numeric values for open flags, file modes
 * and error numbers (asm-generic/fcntl.h, linux/stat.h, kerrno.h), so the same values later
 * travel unchanged through the system-call ABI.
 *
 * Objects:
 * - struct vnode: one file, directory or pipe, with a reference count. The file-system engine
 *   owns it (usually embedded in its own node) and fills in ops/mode/ino.
 * - struct vfs_mount: one mounted file system (tmpfs, FAT32, 9P, ...): its root vnode and the
 *   vnode it covers. Mounts form the mount table (vfs_mount_for_each).
 * - struct vfs_file: an open file: vnode, offset, flags. Everything that later becomes a file
 *   descriptor is a vfs_file.
 * - struct vfs_ctx: where absolute and relative paths start (a process's root and cwd).
 *
 * Locking: the VFS takes no lock around engine calls. Each engine serialises its own
 * operations (tmpfs: one mutex per instance). Vnode reference counts are under one spinlock.
 * All calls sleep-capable: task context only. */
#pragma once
#include "types.h"
#include "kerrno.h"
#include "sync.h"
#include "wait.h"

/* ---- Linux values (asm-generic/fcntl.h) ---- */
#ifndef O_RDONLY
#define O_RDONLY 00
#define O_WRONLY 01
#define O_RDWR 02
#define O_CREAT 0100
#define O_EXCL 0200
#define O_TRUNC 01000
#define O_APPEND 02000
#define O_NONBLOCK 04000
#define O_DIRECTORY 0200000
#endif
#define O_ACCMODE_K 03

#ifndef SEEK_SET
#define SEEK_SET 0
#define SEEK_CUR 1
#define SEEK_END 2
#endif

/* ---- Linux values (linux/stat.h) ---- */
#ifndef S_IFMT
#define S_IFMT 0170000
#define S_IFSOCK 0140000
#define S_IFREG 0100000
#define S_IFDIR 0040000
#define S_IFCHR 0020000
#define S_IFIFO 0010000
#endif
#define VFS_ISDIR(m) (((m) & S_IFMT) == S_IFDIR)
#define VFS_ISREG(m) (((m) & S_IFMT) == S_IFREG)

#define VFS_NAME_MAX 255   /* bytes in one path component */
#define VFS_PATH_MAX 4096  /* bytes in a path including its terminating NUL */
#define PIPE_BUF_SIZE 4096 /* writes up to this size into a pipe are atomic (POSIX PIPE_BUF) */
#define PIPE_CAPACITY 65536

struct vnode;
struct vfs_mount;
struct vfs_file;

struct vfs_stat {
    uint64_t ino;      /* inode number, unique within the mount */
    uint32_t mode;     /* S_IF* type | permission bits */
    uint32_t nlink;
    uint64_t size;     /* bytes (directories: engine-defined) */
    uint64_t blocks;   /* 512-byte units allocated */
    uint32_t blksize;  /* preferred I/O size */
    uint32_t dev;      /* mount id */
    uint64_t atime_ns, mtime_ns, ctime_ns; /* nanoseconds since 1970-01-01 UTC */
};

/* setattr: the fields whose VFS_ATTR_* bit is in mask are changed. */
#define VFS_ATTR_MODE 1u
#define VFS_ATTR_SIZE 2u
#define VFS_ATTR_ATIME 4u
#define VFS_ATTR_MTIME 8u
struct vfs_setattr {
    uint32_t mask;
    uint32_t mode;     /* permission bits only */
    uint64_t size;
    uint64_t atime_ns, mtime_ns;
};

/* One directory entry (readdir). */
struct vfs_dirent {
    uint64_t ino;
    uint32_t type;     /* S_IF* type bits of the entry */
    uint16_t name_len;
    char name[VFS_NAME_MAX + 1];
};

/* ---- The engine interface: what tmpfs, FAT32, 9P, devfs, procfs implement ----
 * Names are passed as (name, len), not NUL-terminated, 1 <= len <= VFS_NAME_MAX, never "."
 * or ".." (the VFS resolves those itself, except that lookup(dir, "..") is asked of an
 * engine to find a directory's parent: every engine must answer ".." (the root answers
 * itself)). Functions returning a vnode return it with one reference the caller owns.
 * Every function returns 0 / a byte count, or a negative KE* error. A missing (NULL) op
 * means -KENOSYS, except where noted. The VFS checks types before calling: dir ops get a
 * directory vnode, read/write/truncate a regular file.
 *
 * Vnode identity: while any reference to a file's vnode exists, lookup must return that
 * same struct vnode for the file (mount points are marked on the vnode, in covered_by, and
 * an unlinked open file lives on through it). An engine whose nodes are not permanent in
 * memory (FAT32: first cluster / directory-entry position; 9P: qid.path) keeps a table of
 * live vnodes, sets VN_NOCACHE on them, takes references for lookups with vnode_tryget
 * (false = dying, make a new one) and removes a vnode from its table in release. tmpfs keeps
 * its nodes in memory and uses vnode_mark_dead instead. The engine serialises its own
 * operations (one lock per instance is enough); the VFS holds no lock while calling it. */
struct vnode_ops {
    int (*lookup)(struct vnode *dir, const char *name, size_t len, struct vnode **out);
    /* Creates a regular file (mode = permission bits); -KEEXIST if the name exists. */
    int (*create)(struct vnode *dir, const char *name, size_t len, uint32_t mode, struct vnode **out);
    /* Creates a directory; -KEEXIST if the name exists. */
    int (*mkdir)(struct vnode *dir, const char *name, size_t len, uint32_t mode, struct vnode **out);
    /* Removes a non-directory entry (-KEISDIR for a directory). */
    int (*unlink)(struct vnode *dir, const char *name, size_t len);
    /* Removes an empty directory: -KENOTDIR, -KENOTEMPTY. */
    int (*rmdir)(struct vnode *dir, const char *name, size_t len);
    /* POSIX rename within one mount: replaces an existing target of a compatible type
     * (file over file; empty dir over dir, else -KENOTEMPTY; -KEISDIR / -KENOTDIR on a type
     * mismatch); -KEINVAL when a directory would move into itself. */
    int (*rename)(struct vnode *old_dir, const char *old_name, size_t old_len,
                  struct vnode *new_dir, const char *new_name, size_t new_len);
    /* Reads up to len bytes at off; returns bytes read (0 at or past the end). */
    int64_t (*read)(struct vnode *vn, uint64_t off, void *buf, size_t len);
    /* Writes len bytes at off, growing the file; returns bytes written (-KENOSPC if none). */
    int64_t (*write)(struct vnode *vn, uint64_t off, const void *buf, size_t len);
    /* Sets the size: shrinking frees the space, growing reads back as zeros. */
    int (*truncate)(struct vnode *vn, uint64_t size);
    /* Returns the entry at *cookie in *out and advances *cookie: 1 = an entry, 0 = the end.
     * The cookie starts at 0 and is opaque to the VFS. Engines list "." and ".." first. */
    int (*readdir)(struct vnode *dir, uint64_t *cookie, struct vfs_dirent *out);
    int (*getattr)(struct vnode *vn, struct vfs_stat *st);
    /* Optional. */
    int (*setattr)(struct vnode *vn, const struct vfs_setattr *attr);
    /* Optional: writes the vnode's data and metadata to the device (NULL = nothing to do). */
    int (*sync)(struct vnode *vn);
    /* Optional: called once when the vnode is finished (see vnode_put); frees it. */
    void (*release)(struct vnode *vn);
    /* Optional: called by vfs_open once the open file exists (device nodes): may set
     * f->fops and f->priv (devfs makes /dev/console a terminal file, tty.h). An error
     * fails the open (the file is freed without fops->close). */
    int (*open)(struct vnode *vn, struct vfs_file *f);
};
/* struct vnode_ops has the open hook (devfs checks for it). */
#define VFS_HAVE_VNODE_OPEN 1

/* A file-system type: registered once, mounted any number of times. */
struct vfs_fs_type {
    const char *name;  /* "tmpfs", "fat32", "9p", ... */
    /* Creates an instance from source (device name, share tag, or NULL) and options (may be
     * NULL); stores its root vnode (one reference, owned by the mount) in *root and the
     * engine's instance pointer in m->fs_priv. */
    int (*mount)(struct vfs_mount *m, const char *source, const char *options, struct vnode **root);
    /* Ends the instance after the VFS dropped the root reference and checked that no vnode of
     * the mount is referenced any more; frees everything. */
    int (*unmount)(struct vfs_mount *m);
    /* Optional: writes everything the instance holds dirty. */
    int (*sync)(struct vfs_mount *m);
    /* Optional: total and free bytes, for df. */
    int (*statfs)(struct vfs_mount *m, uint64_t *total_bytes, uint64_t *free_bytes);
    struct vfs_fs_type *next;
};

#define VN_DEAD 1u   /* removed from the name space: released when the last reference goes */
#define VN_NOCACHE 2u/* released as soon as the count reaches 0 (engine keeps no cache) */

struct vnode {
    const struct vnode_ops *ops;
    struct vfs_mount *mount;     /* NULL for pipes */
    uint32_t mode;               /* S_IF* type (engine sets at creation; perms may be stale) */
    uint32_t flags;              /* VN_* (under the VFS reference lock) */
    uint64_t ino;
    int32_t refs;                /* under the VFS reference lock */
    struct vfs_mount *covered_by;/* a mount whose root hides this directory, or NULL */
    void *fs_data;               /* engine private */
};

#define VFS_MOUNT_PATH_MAX 128
struct vfs_mount {
    uint32_t id;
    const struct vfs_fs_type *type;
    struct vnode *root;          /* the mounted file system's root */
    struct vnode *covered;       /* the directory it is mounted on (referenced); NULL for the
                                  * name-space root or a detached mount */
    struct vfs_mount *parent;    /* mount of covered */
    char path[VFS_MOUNT_PATH_MAX];/* where it was mounted, as given (for `mount`) */
    char source[32];
    void *fs_priv;               /* engine instance */
    int32_t vnode_refs;          /* references held on this mount's vnodes */
    struct vfs_mount *next;
};

/* Where paths start: root for absolute paths and "..", cwd for relative ones (each may be
 * NULL for the global root). */
struct vfs_ctx {
    struct vnode *root;
    struct vnode *cwd;
};

/* Operations an open file can override (pipes, devices). NULL entries fall back to the
 * vnode's ops with the file's offset. */
struct vfs_file_ops {
    int64_t (*read)(struct vfs_file *f, void *buf, size_t len);
    int64_t (*write)(struct vfs_file *f, const void *buf, size_t len);
    void (*close)(struct vfs_file *f);   /* the last reference to the file went away */
    /* Optional: readiness for poll/select. Returns VFS_POLL* bits that hold now and stores
     * up to two wait queues that are woken when they may change (unused slots NULL). A file
     * without it is always readable and writable. Must not sleep. */
    uint32_t (*poll)(struct vfs_file *f, struct wait_queue *wqs[2]);
    /* Optional: ioctl with a user-space argument (copy through uaccess.h). -KENOTTY when the
     * file has none. */
    int64_t (*ioctl)(struct vfs_file *f, uint32_t cmd, uint64_t arg);
};

/* poll bits (Linux asm-generic/poll.h values). */
#define VFS_POLLIN 0x001u
#define VFS_POLLPRI 0x002u
#define VFS_POLLOUT 0x004u
#define VFS_POLLERR 0x008u
#define VFS_POLLHUP 0x010u
#define VFS_POLLNVAL 0x020u

struct vfs_file {
    struct vnode *vn;            /* referenced */
    struct mutex pos_lock;       /* one read/write/lseek at a time moves the offset */
    uint64_t offset;
    uint32_t flags;              /* O_* given at open (O_CREAT/O_EXCL/O_TRUNC dropped) */
    int32_t refs;
    const struct vfs_file_ops *fops;
    void *priv;
    uint64_t dir_cookie;         /* readdir position */
};

/* ---- vnodes ---- */
/* Takes another reference. */
void vnode_get(struct vnode *vn);
/* Drops a reference; when the count reaches 0 and the vnode is VN_DEAD or VN_NOCACHE,
 * vn->ops->release(vn) is called (outside any VFS lock). */
void vnode_put(struct vnode *vn);
/* Takes a reference unless the vnode is dying (count 0 with VN_NOCACHE): for engines that
 * keep a cache of VN_NOCACHE vnodes. True on success. */
bool vnode_tryget(struct vnode *vn);
/* Engines call this when a vnode's last name is removed (unlink, rmdir, rename over it):
 * returns true when nobody references it, and the engine must free it now; otherwise the
 * last vnode_put calls release. */
bool vnode_mark_dead(struct vnode *vn);
/* Sets up an engine's vnode: ops, mount, mode, ino; refs = 0. */
void vnode_init(struct vnode *vn, const struct vnode_ops *ops, struct vfs_mount *m, uint32_t mode, uint64_t ino);

/* ---- file-system types and mounts ---- */
int vfs_register_fs(struct vfs_fs_type *type);
/* Mounts a new instance of fstype. target == NULL makes a detached mount (its own name
 * space, reached through *out's root; tests use this); target "/" with no global root makes
 * it the global root; otherwise target must resolve (through ctx) to a directory that is not
 * already a mount point or the root of any mount (-KEBUSY). */
int vfs_mount(const struct vfs_ctx *ctx, const char *target, const char *fstype,
              const char *source, const char *options, struct vfs_mount **out);
/* Unmounts: -KEBUSY while other mounts sit on it or any of its vnodes is referenced beyond
 * the root reference. Syncs first. */
int vfs_umount(struct vfs_mount *m);
/* Calls fn for each mount (the mount table, under its lock: fn must not sleep). */
void vfs_mount_for_each(void (*fn)(const struct vfs_mount *m, void *arg), void *arg);
/* Total and free bytes of a mount (df); -KENOSYS when the engine cannot tell. */
int vfs_statfs(struct vfs_mount *m, uint64_t *total_bytes, uint64_t *free_bytes);
/* Syncs every mount; returns 0 or the first error. Engines' sync must not resolve paths
 * (the mount table is locked meanwhile). */
int vfs_sync_all(void);
/* Nanoseconds since 1970 (RTC at first use plus the monotonic clock), for engines' times. */
uint64_t vfs_now_ns(void);

/* ---- path operations (ctx may be NULL: global root and cwd) ---- */
/* Resolves path to a referenced vnode. */
int vfs_lookup(const struct vfs_ctx *ctx, const char *path, struct vnode **out);
int vfs_stat(const struct vfs_ctx *ctx, const char *path, struct vfs_stat *st);
int vfs_mkdir(const struct vfs_ctx *ctx, const char *path, uint32_t mode);
int vfs_rmdir(const struct vfs_ctx *ctx, const char *path);
int vfs_unlink(const struct vfs_ctx *ctx, const char *path);
/* Renames within one mount (-KEXDEV = 18 across mounts). */
int vfs_rename(const struct vfs_ctx *ctx, const char *old_path, const char *new_path);
int vfs_truncate(const struct vfs_ctx *ctx, const char *path, uint64_t size);

/* ---- open files ---- */
/* Resolves (and with O_CREAT creates) the vnode vfs_open opens; referenced in *out. */
int vfs_open_vnode(const struct vfs_ctx *ctx, const char *path, uint32_t flags, uint32_t mode, struct vnode **out);
/* Opens (and with O_CREAT creates) path; mode is the permission bits for a new file. */
int vfs_open(const struct vfs_ctx *ctx, const char *path, uint32_t flags, uint32_t mode, struct vfs_file **out);
/* Makes an open file for a referenced vnode (the file takes over the reference). */
int vfs_file_from_vnode(struct vnode *vn, uint32_t flags, const struct vfs_file_ops *fops, void *priv,
                        struct vfs_file **out);
/* Reads/writes at the offset and advances it (O_APPEND writes at the end). -KEBADF for the
 * wrong access mode, -KEISDIR for a directory. */
int64_t vfs_read(struct vfs_file *f, void *buf, size_t len);
int64_t vfs_write(struct vfs_file *f, const void *buf, size_t len);
/* Positioned I/O that leaves the offset alone. */
int64_t vfs_pread(struct vfs_file *f, void *buf, size_t len, uint64_t off);
int64_t vfs_pwrite(struct vfs_file *f, const void *buf, size_t len, uint64_t off);
/* SEEK_SET/CUR/END; returns the new offset or -KEINVAL (negative result), -KESPIPE (pipe). */
int64_t vfs_lseek(struct vfs_file *f, int64_t off, int whence);
/* Next directory entry: 1 = *out filled, 0 = end; -KENOTDIR for a non-directory. */
int vfs_readdir(struct vfs_file *f, struct vfs_dirent *out);
int vfs_fstat(struct vfs_file *f, struct vfs_stat *st);
int vfs_ftruncate(struct vfs_file *f, uint64_t size);
int vfs_fsync(struct vfs_file *f);
/* Changes O_APPEND/O_NONBLOCK (fcntl F_SETFL). */
void vfs_file_set_flags(struct vfs_file *f, uint32_t flags);
/* Another reference to the same open file (dup). */
struct vfs_file *vfs_file_get(struct vfs_file *f);
/* Drops a reference; the last one closes the file. */
void vfs_close(struct vfs_file *f);

/* ---- pure path helpers (vfs_path.c, host-tested) ---- */
/* Checks the whole path: 0, -KENOENT (empty), -KENAMETOOLONG (VFS_PATH_MAX bytes or more
 * without a NUL, or a component over VFS_NAME_MAX). */
int vfs_path_check(const char *path);
/* Iterates components: skips slashes from *p, stores the next component in (*name, *len),
 * advances *p past it. Returns 1 (a component), 0 (none left), -KENAMETOOLONG. */
int vfs_path_next(const char **p, const char **name, size_t *len);
/* True when only slashes follow *p (the current component is the last one). */
bool vfs_path_at_end(const char *p);
/* True when the path ends in '/' after at least one component ("a/", "a//"). */
bool vfs_path_trailing_slash(const char *path);
/* Lexical normalisation of an absolute path: removes "", "." and resolves ".." (never above
 * "/"); "/a//b/./../c/" -> "/a/c". Returns the length or -KENAMETOOLONG / -KEINVAL (not
 * absolute). No file-system access (for the shell's cwd string and the mount table). */
int vfs_path_normalize(const char *in, char *out, size_t out_size);
/* Joins base (absolute) and path (absolute or relative) and normalises the result. */
int vfs_path_join(const char *base, const char *path, char *out, size_t out_size);
/* Splits a path into parent and last component: "/a/b/" -> ("/a", "b"), "b" -> (".", "b"),
 * "/" -> -KEINVAL. Returns 0 or -KENAMETOOLONG / -KEINVAL. */
int vfs_path_split(const char *path, char *parent, size_t parent_size, char *name, size_t name_size);

/* ---- tmpfs (tmpfs.c) ---- */
/* Registers the "tmpfs" type (idempotent). Options: NULL, or "size=BYTES" to cap the data. */
void tmpfs_init(void);
extern struct vfs_fs_type tmpfs_type;

/* ---- pipes (pipe.c) ---- */
/* Creates a pipe: *rd reads, *wr writes; flags may hold O_NONBLOCK for both ends. */
int vfs_pipe(struct vfs_file **rd, struct vfs_file **wr, uint32_t flags);
/* Bytes waiting in the pipe behind a pipe file (tests, poll later); -KEINVAL otherwise. */
int64_t pipe_bytes_available(struct vfs_file *f);

/* ---- kernel randomness (devfs.c: the ChaCha20 CSPRNG behind /dev/urandom) ---- */
/* Fills buf with len random bytes: 0, or -KEINTR when the caller was killed meanwhile. */
int random_bytes(void *buf, size_t len);
