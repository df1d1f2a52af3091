/* mounts.c: the file systems mounted at boot (docs/files.md). In order: the root (FAT32 on
 * vda; a tmpfs root when that is impossible), /tmp (tmpfs), /dev (devfs), /proc (procfs),
 * /ahci (FAT32 on sda), /nvme (FAT32 on nvme0n1), /9p (the launcher's 9P share "sabos").
 * A missing device or file system means a missing mount and one log line, never a failed
 * boot. Mount points that do not exist are created. */
#include "types.h"
#include "vfs.h"
#include "kerrno.h"
#include "printk.h"
#include "kernel.h"

/* The engines' registration functions (weak while an engine is not in the build). */
void fat32_vfs_init(void) __attribute__((weak));
void p9fs_init(void) __attribute__((weak));
void devfs_init(void) __attribute__((weak));
void procfs_init(void) __attribute__((weak));

static bool have_type(void (*init)(void)) { return init != NULL; }

/* Mounts fstype on path (creating the directory first); one log line either way. */
static int mount_at(const char *path, const char *fstype, const char *source, const char *options) {
    int r = vfs_mkdir(NULL, path, 0755);
    if (r < 0 && r != -KEEXIST) {
        printk(LOG_WARN, "fs: cannot create the mount point %s (error %d); %s not mounted\n", path, r, fstype);
        return r;
    }
    r = vfs_mount(NULL, path, fstype, source, options, NULL);
    if (r < 0)
        printk(LOG_WARN, "fs: %s not mounted on %s%s%s (error %d)\n", fstype, path, source ? " from " : "",
               source ? source : "", r);
    else
        printk(LOG_INFO, "fs: %s mounted on %s%s%s\n", fstype, path, source ? " from " : "", source ? source : "");
    return r;
}

void fs_boot_mounts(void) {
    tmpfs_init();
    if (have_type(fat32_vfs_init)) fat32_vfs_init();
    if (have_type(p9fs_init)) p9fs_init();
    if (have_type(devfs_init)) devfs_init();
    if (have_type(procfs_init)) procfs_init();

    int r = -KENODEV;
    if (have_type(fat32_vfs_init)) r = vfs_mount(NULL, "/", "fat32", "vda", NULL, NULL);
    if (r == 0) {
        printk(LOG_INFO, "fs: fat32 mounted on / from vda\n");
    } else {
        printk(LOG_WARN, "fs: no FAT32 root on vda (error %d); using an empty tmpfs as /\n", r);
        if (vfs_mount(NULL, "/", "tmpfs", NULL, NULL, NULL) < 0) {
            printk(LOG_ERR, "fs: no root file system at all; files are unavailable\n");
            return;
        }
    }
    mount_at("/tmp", "tmpfs", NULL, "size=64M");
    if (have_type(devfs_init)) mount_at("/dev", "devfs", NULL, NULL);
    if (have_type(procfs_init)) mount_at("/proc", "procfs", NULL, NULL);
    if (have_type(fat32_vfs_init)) {
        mount_at("/ahci", "fat32", "sda", NULL);
        mount_at("/nvme", "fat32", "nvme0n1", NULL);
    }
    if (have_type(p9fs_init)) mount_at("/9p", "9p", "sabos", NULL);
}
