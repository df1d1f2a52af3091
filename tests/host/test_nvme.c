/* test_nvme.c: host unit tests for kernel/drivers/nvme/nvme_util.c, the pure parts of the
 * NVMe driver (NVM Express Base Specification 2.0 §3.1.3 CAP and doorbells, §4.3 PRPs,
 * §4.6.1.2 status codes, §5.17.2 Identify; NVM Command Set Specification 1.0 §4.1.5.1
 * Identify Namespace and §3.2.3 Read/Write). Identify structures are built byte by byte here,
 * including hostile ones (bad format index, absurd LBA sizes, overflowing capacities). */
#include "host_stubs.h"
#include <string.h>
#include "../../kernel/lib/printf.c"
#include "../../kernel/drivers/nvme/nvme_util.c"

uint64_t host_direct_map_offset;

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static void put32(uint8_t *p, uint32_t v) { put16(p, (uint16_t)v); put16(p + 2, (uint16_t)(v >> 16)); }
static void put64(uint8_t *p, uint64_t v) { put32(p, (uint32_t)v); put32(p + 4, (uint32_t)(v >> 32)); }

/* ---- CAP and doorbells ---- */

static void test_cap_decoding(void **state) {
    (void)state;
    /* MQES 0x7ff, CQR, TO 0x0f, DSTRD 2, CSS NVM, MPSMIN 0, MPSMAX 4. */
    uint64_t cap = 0x7ffull | 1ull << 16 | 0x0full << 24 | 2ull << 32 | 1ull << 37 | 4ull << 52;
    struct nvme_cap c;
    nvme_decode_cap(cap, &c);
    assert_int_equal(c.mqes, 0x800);
    assert_true(c.contiguous_queues);
    assert_int_equal(c.timeout_ms, 15 * 500);
    assert_int_equal(c.dstrd, 2);
    assert_true(c.nvm_command_set);
    assert_int_equal(c.mps_min, 4096);
    assert_int_equal(c.mps_max, 65536);
    /* TO = 0 still gives a usable (non-zero) bound; no NVM bit is seen as absent. */
    nvme_decode_cap(0, &c);
    assert_int_equal(c.timeout_ms, 500);
    assert_false(c.nvm_command_set);
    assert_int_equal(c.mqes, 1);
}

static void test_doorbell_offsets(void **state) {
    (void)state;
    assert_int_equal(nvme_doorbell_offset(0, false, 0), 0x1000);
    assert_int_equal(nvme_doorbell_offset(0, true, 0), 0x1004);
    assert_int_equal(nvme_doorbell_offset(1, false, 0), 0x1008);
    assert_int_equal(nvme_doorbell_offset(1, true, 0), 0x100c);
    /* DSTRD 3: 32-byte stride. */
    assert_int_equal(nvme_doorbell_offset(1, false, 3), 0x1000 + 2 * 32);
    assert_int_equal(nvme_doorbell_offset(1, true, 3), 0x1000 + 3 * 32);
    assert_int_equal(nvme_doorbell_offset(0xffff, true, 15), 0x1000 + 0x1ffffull * (4ull << 15));
}

/* ---- PRPs ---- */

static uint64_t list_page[512];
#define LIST_PHYS 0x7000000ull

static void clear_list(void) { memset(list_page, 0xee, sizeof(list_page)); }

static void test_prp_single_page_with_offset(void **state) {
    (void)state;
    struct dma_seg s = {0x123200, 512};
    struct nvme_prp p;
    clear_list();
    assert_int_equal(nvme_build_prps(&s, 1, list_page, LIST_PHYS, &p), 0);
    assert_int_equal(p.prp1, 0x123200);
    assert_int_equal(p.prp2, 0);
    assert_int_equal(p.list_entries, 0);
    /* A segment ending exactly on the page end is still one page. */
    struct dma_seg s2 = {0x123200, 0xe00};
    assert_int_equal(nvme_build_prps(&s2, 1, list_page, LIST_PHYS, &p), 0);
    assert_int_equal(p.prp2, 0);
}

static void test_prp_two_pages_direct(void **state) {
    (void)state;
    struct nvme_prp p;
    /* Offset 0x200, 4 KiB: crosses into a second page; PRP2 is that page, no list. */
    struct dma_seg a[2] = {{0x10200, 0xe00}, {0x55000, 0x200}};
    clear_list();
    assert_int_equal(nvme_build_prps(a, 2, list_page, LIST_PHYS, &p), 0);
    assert_int_equal(p.prp1, 0x10200);
    assert_int_equal(p.prp2, 0x55000);
    assert_int_equal(p.list_entries, 0);
    /* Two aligned pages as one physically contiguous segment. */
    struct dma_seg b = {0x20000, 8192};
    assert_int_equal(nvme_build_prps(&b, 1, list_page, LIST_PHYS, &p), 0);
    assert_int_equal(p.prp1, 0x20000);
    assert_int_equal(p.prp2, 0x21000);
    /* A 2-page transfer works without a list page at all. */
    assert_int_equal(nvme_build_prps(&b, 1, NULL, 0, &p), 0);
    assert_int_equal(p.prp2, 0x21000);
}

static void test_prp_list_for_long_transfers(void **state) {
    (void)state;
    struct nvme_prp p;
    /* 16 KiB at offset 0x200 over scattered pages: 5 pages, the last 4 in the list. */
    struct dma_seg s[4] = {{0x40200, 0xe00}, {0x90000, 0x2000}, {0x30000, 0x1000}, {0x80000, 0x200}};
    clear_list();
    assert_int_equal(nvme_build_prps(s, 4, list_page, LIST_PHYS, &p), 0);
    assert_int_equal(p.prp1, 0x40200);
    assert_int_equal(p.prp2, LIST_PHYS);
    assert_int_equal(p.list_entries, 4);
    assert_int_equal(list_page[0], 0x90000);
    assert_int_equal(list_page[1], 0x91000);
    assert_int_equal(list_page[2], 0x30000);
    assert_int_equal(list_page[3], 0x80000);
    assert_int_equal(list_page[4], 0xeeeeeeeeeeeeeeeeull); /* nothing written beyond */

    /* 256 KiB + offset: 65 pages, 64 list entries, exactly what the driver sends. */
    struct dma_seg big = {0x100200, 256 * 1024};
    clear_list();
    assert_int_equal(nvme_build_prps(&big, 1, list_page, LIST_PHYS, &p), 0);
    assert_int_equal(p.list_entries, 64);
    for (int i = 0; i < 64; i++)
        assert_int_equal(list_page[i], 0x101000ull + 0x1000ull * i);

    /* The largest a single list page describes: 1 + 512 pages. */
    struct dma_seg max = {0x200000, 513 * 4096};
    assert_int_equal(nvme_build_prps(&max, 1, list_page, LIST_PHYS, &p), 0);
    assert_int_equal(p.list_entries, 512);
    assert_int_equal(list_page[511], 0x200000ull + 512 * 4096);
    /* One page more would need chaining: refused, never written past the page. */
    struct dma_seg too_big = {0x200000, 514 * 4096};
    assert_int_equal(nvme_build_prps(&too_big, 1, list_page, LIST_PHYS, &p), -KEINVAL);
    /* A long transfer without a (page-aligned) list page is refused. */
    assert_int_equal(nvme_build_prps(s, 4, NULL, LIST_PHYS, &p), -KEINVAL);
    assert_int_equal(nvme_build_prps(s, 4, list_page, LIST_PHYS + 8, &p), -KEINVAL);
    assert_int_equal(nvme_build_prps(s, 4, list_page, 0, &p), -KEINVAL);
}

static void test_prp_rejects_holes(void **state) {
    (void)state;
    struct nvme_prp p;
    /* A middle segment that does not start on a page boundary. */
    struct dma_seg a[3] = {{0x10000, 0x1000}, {0x20200, 0xe00}, {0x30000, 0x1000}};
    assert_int_equal(nvme_build_prps(a, 3, list_page, LIST_PHYS, &p), -KEINVAL);
    /* A first segment that ends inside its page while more follow. */
    struct dma_seg b[2] = {{0x10000, 0x800}, {0x20000, 0x1000}};
    assert_int_equal(nvme_build_prps(b, 2, list_page, LIST_PHYS, &p), -KEINVAL);
    /* A middle segment that ends inside its page. */
    struct dma_seg c[3] = {{0x10000, 0x1000}, {0x20000, 0x800}, {0x30000, 0x1000}};
    assert_int_equal(nvme_build_prps(c, 3, list_page, LIST_PHYS, &p), -KEINVAL);
    /* The last segment may end anywhere; the last may not start mid-page. */
    struct dma_seg d[2] = {{0x10000, 0x1000}, {0x20100, 0x100}};
    assert_int_equal(nvme_build_prps(d, 2, list_page, LIST_PHYS, &p), -KEINVAL);
    /* PRP1 must be dword aligned; zero lengths, no segments and wrap-around are refused. */
    struct dma_seg e = {0x10002, 512};
    assert_int_equal(nvme_build_prps(&e, 1, list_page, LIST_PHYS, &p), -KEINVAL);
    struct dma_seg f[2] = {{0x10000, 0x1000}, {0x20000, 0}};
    assert_int_equal(nvme_build_prps(f, 2, list_page, LIST_PHYS, &p), -KEINVAL);
    assert_int_equal(nvme_build_prps(a, 0, list_page, LIST_PHYS, &p), -KEINVAL);
    assert_int_equal(nvme_build_prps(NULL, 1, list_page, LIST_PHYS, &p), -KEINVAL);
    struct dma_seg wrap = {0xfffffffffffff000ull, 0x2000};
    assert_int_equal(nvme_build_prps(&wrap, 1, list_page, LIST_PHYS, &p), -KEINVAL);
    assert_int_equal(nvme_build_prps(&e, 1, list_page, LIST_PHYS, NULL), -KEINVAL);
}

static void test_io_command_encoding(void **state) {
    (void)state;
    struct nvme_sqe sqe;
    struct nvme_prp prp = {0x1200, 0x5000, 0};
    memset(&sqe, 0xaa, sizeof(sqe));
    nvme_build_io_cmd(&sqe, NVME_CMD_READ, 17, 1, 0x123456789aull, 256, &prp);
    assert_int_equal(sqe.opcode, 0x02);
    assert_int_equal(sqe.flags, 0); /* PRPs, not fused */
    assert_int_equal(sqe.cid, 17);
    assert_int_equal(sqe.nsid, 1);
    assert_int_equal(sqe.prp1, 0x1200);
    assert_int_equal(sqe.prp2, 0x5000);
    assert_int_equal(sqe.mptr, 0);
    assert_int_equal(sqe.cdw10, 0x3456789a);
    assert_int_equal(sqe.cdw11, 0x12);
    assert_int_equal(sqe.cdw12, 255); /* NLB is 0's based */
    nvme_build_io_cmd(&sqe, NVME_CMD_FLUSH, 3, 2, 99, 8, &prp);
    assert_int_equal(sqe.opcode, 0x00);
    assert_int_equal(sqe.prp1, 0);
    assert_int_equal(sqe.cdw10, 0);
    assert_int_equal(sqe.cdw12, 0);
    /* Byte layout of the entry (§4.2 figure 88): CID at 2, NSID at 4, PRP1 at 24, CDW10 at 40. */
    nvme_build_io_cmd(&sqe, NVME_CMD_WRITE, 0x1234, 7, 5, 1, &prp);
    const uint8_t *b = (const uint8_t *)&sqe;
    assert_int_equal(b[0], 0x01);
    assert_int_equal(b[2] | b[3] << 8, 0x1234);
    assert_int_equal(b[4], 7);
    assert_int_equal(b[24] | b[25] << 8, 0x1200);
    assert_int_equal(b[40], 5);
    assert_int_equal(b[48], 0);
}

/* ---- status ---- */

static void test_status_decoding(void **state) {
    (void)state;
    /* Completion dword 3 high half: phase in bit 0, SC in 8:1, SCT in 11:9, DNR in bit 15. */
    uint16_t word = (uint16_t)(1u | 0x80u << 1 | 0u << 9 | 1u << 15);
    uint16_t field = nvme_status_field(word);
    assert_int_equal(nvme_status_sc(field), 0x80);
    assert_int_equal(nvme_status_sct(field), 0);
    assert_string_equal(nvme_status_text(0, 0x80), "LBA Out of Range");
    char buf[96];
    assert_string_equal(nvme_status_format(field, buf, sizeof(buf)), "LBA Out of Range (SCT 0 SC 0x80)");
    assert_string_equal(nvme_status_text(0, 0x00), "Successful Completion");
    assert_string_equal(nvme_status_text(0, 0x01), "Invalid Command Opcode");
    assert_string_equal(nvme_status_text(0, 0x02), "Invalid Field in Command");
    assert_string_equal(nvme_status_text(0, 0x0b), "Invalid Namespace or Format");
    assert_string_equal(nvme_status_text(0, 0x13), "PRP Offset Invalid");
    assert_string_equal(nvme_status_text(1, 0x01), "Invalid Queue Identifier");
    assert_string_equal(nvme_status_text(1, 0x02), "Invalid Queue Size");
    assert_string_equal(nvme_status_text(1, 0x08), "Invalid Interrupt Vector");
    assert_string_equal(nvme_status_text(2, 0x81), "Unrecovered Read Error");
    assert_string_equal(nvme_status_text(2, 0x80), "Write Fault");
    assert_string_equal(nvme_status_text(3, 0x00), "Internal Path Error");
    /* The same SC means different things under different SCTs. */
    assert_string_not_equal(nvme_status_text(0, 0x80), nvme_status_text(1, 0x80));
    /* Unknown, reserved and vendor codes never return NULL. */
    assert_string_equal(nvme_status_text(0, 0x17), "Unknown Status");
    assert_string_equal(nvme_status_text(0, 0xc5), "Vendor Specific Status");
    assert_string_equal(nvme_status_text(7, 0x01), "Vendor Specific Status");
    assert_string_equal(nvme_status_text(5, 0x01), "Unknown Status");
    field = (uint16_t)(0x81u | 2u << 8);
    assert_string_equal(nvme_status_format(field, buf, sizeof(buf)), "Unrecovered Read Error (SCT 2 SC 0x81)");
    /* Every code of every type gives some text, and a short buffer is cut, not overrun. */
    for (unsigned sct = 0; sct < 8; sct++)
        for (unsigned sc = 0; sc < 256; sc++) {
            const char *t = nvme_status_text((uint8_t)sct, (uint8_t)sc);
            assert_non_null(t);
            assert_true(strlen(t) > 0);
        }
    char tiny[8];
    nvme_status_format(0x80, tiny, sizeof(tiny));
    assert_int_equal(strlen(tiny), 7);
}

/* ---- Identify ---- */

static uint8_t id[4096];

static void make_ctrl(void) {
    memset(id, 0, sizeof(id));
    put16(id + 0, 0x1b36);
    memcpy(id + 4, "SABOSNVME           ", 20);
    memcpy(id + 24, "QEMU NVMe Ctrl                          ", 40);
    memcpy(id + 64, "7.2.0   ", 8);
    id[77] = 7;                 /* MDTS: 2^7 pages */
    put32(id + 516, 256);       /* NN */
    id[525] = 1;                /* volatile write cache present */
}

static void test_identify_controller(void **state) {
    (void)state;
    struct nvme_ctrl_info ci;
    make_ctrl();
    assert_int_equal(nvme_parse_identify_ctrl(id, 4096, &ci), 0);
    assert_string_equal(ci.serial, "SABOSNVME");
    assert_string_equal(ci.model, "QEMU NVMe Ctrl");
    assert_string_equal(ci.firmware, "7.2.0");
    assert_int_equal(ci.max_transfer, 128 * 4096);
    assert_int_equal(ci.namespaces, 256);
    assert_true(ci.volatile_cache);
    /* MDTS is in units of the minimum page size. */
    assert_int_equal(nvme_parse_identify_ctrl(id, 8192, &ci), 0);
    assert_int_equal(ci.max_transfer, 128 * 8192);
    /* MDTS 0: no limit; a huge MDTS saturates instead of overflowing. */
    id[77] = 0;
    assert_int_equal(nvme_parse_identify_ctrl(id, 4096, &ci), 0);
    assert_int_equal(ci.max_transfer, 0);
    id[77] = 255;
    assert_int_equal(nvme_parse_identify_ctrl(id, 4096, &ci), 0);
    assert_int_equal(ci.max_transfer, 0x80000000u);
    /* Non-printable bytes in strings are replaced, never copied raw; fields stay terminated. */
    memset(id + 4, 0xff, 20);
    memset(id + 24, 'A', 40);
    assert_int_equal(nvme_parse_identify_ctrl(id, 4096, &ci), 0);
    assert_int_equal(strlen(ci.serial), 20);
    assert_int_equal(ci.serial[0], '?');
    assert_int_equal(strlen(ci.model), 40);
    assert_int_equal(nvme_parse_identify_ctrl(id, 1000, &ci), -KEINVAL);
    assert_int_equal(nvme_parse_identify_ctrl(NULL, 4096, &ci), -KEINVAL);
}

/* A namespace of nsze blocks with formats (lbads, ms) and FLBAS flbas. */
static void make_ns(uint64_t nsze, uint8_t nlbaf, uint8_t flbas) {
    memset(id, 0, sizeof(id));
    put64(id + 0, nsze);
    put64(id + 8, nsze);
    put64(id + 16, nsze / 2);
    id[25] = nlbaf;
    id[26] = flbas;
    for (int i = 0; i < 64; i++)
        put32(id + 128 + 4 * i, (uint32_t)(9 + (i % 4)) << 16); /* 512, 1K, 2K, 4K, ... */
}

static void test_identify_namespace(void **state) {
    (void)state;
    struct nvme_ns_info ni;
    make_ns(131072, 7, 0);
    assert_int_equal(nvme_parse_identify_ns(id, &ni), 0);
    assert_int_equal(ni.sectors, 131072);
    assert_int_equal(ni.capacity, 131072);
    assert_int_equal(ni.sector_size, 512);
    assert_int_equal(ni.lbaf, 0);
    /* FLBAS picks format 3: 4 KiB blocks. */
    make_ns(16384, 7, 3);
    assert_int_equal(nvme_parse_identify_ns(id, &ni), 0);
    assert_int_equal(ni.sector_size, 4096);
    assert_int_equal(ni.lbaf, 3);
    /* Bit 4 of FLBAS (extended metadata) is not part of the index. */
    make_ns(16384, 7, 0x12);
    assert_int_equal(nvme_parse_identify_ns(id, &ni), 0);
    assert_int_equal(ni.lbaf, 2);
    assert_int_equal(ni.sector_size, 2048);
    /* More than 16 formats: bits 6:5 are the index's high bits (2.0): 0x21 -> 17. */
    make_ns(16384, 63, 0x21);
    assert_int_equal(nvme_parse_identify_ns(id, &ni), 0);
    assert_int_equal(ni.lbaf, 17);
    assert_int_equal(ni.sector_size, 1024);
}

static void test_identify_namespace_hostile(void **state) {
    (void)state;
    struct nvme_ns_info ni;
    /* Inactive namespace: all zero. */
    memset(id, 0, sizeof(id));
    assert_int_equal(nvme_parse_identify_ns(id, &ni), -KENOENT);
    /* Format index beyond NLBAF. */
    make_ns(1000, 1, 2);
    assert_int_equal(nvme_parse_identify_ns(id, &ni), -KEINVAL);
    make_ns(1000, 15, 0x2f); /* index 47 with only 16 formats */
    assert_int_equal(nvme_parse_identify_ns(id, &ni), -KEINVAL);
    /* NLBAF beyond the 64-entry table. */
    make_ns(1000, 64, 0);
    assert_int_equal(nvme_parse_identify_ns(id, &ni), -KEINVAL);
    make_ns(1000, 255, 0);
    assert_int_equal(nvme_parse_identify_ns(id, &ni), -KEINVAL);
    /* LBA data sizes below 512 B (including 0 = unsupported format) or above 64 KiB. */
    make_ns(1000, 0, 0);
    put32(id + 128, 0);
    assert_int_equal(nvme_parse_identify_ns(id, &ni), -KEINVAL);
    put32(id + 128, 8u << 16);
    assert_int_equal(nvme_parse_identify_ns(id, &ni), -KEINVAL);
    put32(id + 128, 17u << 16);
    assert_int_equal(nvme_parse_identify_ns(id, &ni), -KEINVAL);
    put32(id + 128, 255u << 16);
    assert_int_equal(nvme_parse_identify_ns(id, &ni), -KEINVAL);
    put32(id + 128, 16u << 16);
    assert_int_equal(nvme_parse_identify_ns(id, &ni), 0);
    assert_int_equal(ni.sector_size, 65536);
    /* Metadata per block: not supported, refused rather than corrupting memory. */
    put32(id + 128, 9u << 16 | 8);
    assert_int_equal(nvme_parse_identify_ns(id, &ni), -KEINVAL);
    /* A size whose byte count overflows 64 bits. */
    make_ns(UINT64_MAX, 0, 0);
    assert_int_equal(nvme_parse_identify_ns(id, &ni), -KEINVAL);
    make_ns(UINT64_MAX >> 9, 0, 0);
    assert_int_equal(nvme_parse_identify_ns(id, &ni), 0);
    assert_int_equal(nvme_parse_identify_ns(NULL, &ni), -KEINVAL);
}

static void test_active_namespace_list(void **state) {
    (void)state;
    uint32_t ids[8];
    memset(id, 0, sizeof(id));
    put32(id + 0, 1);
    put32(id + 4, 2);
    put32(id + 8, 5);
    assert_int_equal(nvme_parse_ns_list(id, ids, 8), 3);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 2);
    assert_int_equal(ids[2], 5);
    /* Only max ids are stored. */
    assert_int_equal(nvme_parse_ns_list(id, ids, 2), 2);
    /* Empty list. */
    memset(id, 0, sizeof(id));
    assert_int_equal(nvme_parse_ns_list(id, ids, 8), 0);
    /* A full list of 1024 ids has no terminator: the parser stops at the end of the page. */
    for (int i = 0; i < 1024; i++)
        put32(id + 4 * i, (uint32_t)i + 1);
    assert_int_equal(nvme_parse_ns_list(id, ids, 8), 8);
    /* Not increasing, repeated, or the broadcast id: refused. */
    memset(id, 0, sizeof(id));
    put32(id + 0, 3);
    put32(id + 4, 2);
    assert_int_equal(nvme_parse_ns_list(id, ids, 8), -KEINVAL);
    put32(id + 4, 3);
    assert_int_equal(nvme_parse_ns_list(id, ids, 8), -KEINVAL);
    put32(id + 0, 0xffffffffu);
    assert_int_equal(nvme_parse_ns_list(id, ids, 8), -KEINVAL);
    assert_int_equal(nvme_parse_ns_list(id, NULL, 8), -KEINVAL);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cap_decoding),
        cmocka_unit_test(test_doorbell_offsets),
        cmocka_unit_test(test_prp_single_page_with_offset),
        cmocka_unit_test(test_prp_two_pages_direct),
        cmocka_unit_test(test_prp_list_for_long_transfers),
        cmocka_unit_test(test_prp_rejects_holes),
        cmocka_unit_test(test_io_command_encoding),
        cmocka_unit_test(test_status_decoding),
        cmocka_unit_test(test_identify_controller),
        cmocka_unit_test(test_identify_namespace),
        cmocka_unit_test(test_identify_namespace_hostile),
        cmocka_unit_test(test_active_namespace_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
