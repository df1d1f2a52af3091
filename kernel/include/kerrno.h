/* kerrno.h: error numbers, with the values Linux x86-64 uses (asm-generic/errno-base.h),
 * so the same numbers travel unchanged through the system-call ABI later.
 * Kernel functions return 0 or a negative KE* value. */
#pragma once
#define KEPERM 1
#define KENOENT 2
#define KESRCH 3
#define KEINTR 4
#define KEIO 5
#define KENXIO 6
#define KE2BIG 7
#define KENOEXEC 8
#define KEBADF 9
#define KECHILD 10
#define KEAGAIN 11
#define KENOMEM 12
#define KEACCES 13
#define KEFAULT 14
#define KEBUSY 16
#define KEEXIST 17
#define KEXDEV 18
#define KENODEV 19
#define KENOTDIR 20
#define KEISDIR 21
#define KEINVAL 22
#define KENFILE 23
#define KEMFILE 24
#define KENOSPC 28
#define KESPIPE 29
#define KEROFS 30
#define KEPIPE 32
#define KEDOM 33
#define KENOTTY 25
#define KEFBIG 27
#define KEMLINK 31
#define KEDEADLK 35
#define KELOOP 40
#define KENOLCK 37
#define KEOVERFLOW 75
#define KENOTSUP 95
#define KEOPNOTSUPP 95
#define KERANGE 34
#define KENAMETOOLONG 36
#define KENOSYS 38
#define KENOTEMPTY 39
#define KETIMEDOUT 110
#define KEPROTO 71
#define KEMSGSIZE 90
