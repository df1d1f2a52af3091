/* ps2_selftest.c: kernel self-tests for the PS/2 driver (group `ps2`).
 * The injection tests use the i8042 "write output buffer" commands (0xD2 keyboard, 0xD3
 * auxiliary; IBM PS/2 Technical Reference, 8042 commands) so a byte arrives exactly as if the
 * device had sent it: through IRQ1 / IRQ12, the I/O APIC routing and the driver's handler. */
#include "selftest.h"
#include "ps2.h"
#include "irq.h"
#include "time.h"
#include "cpu.h"

#define INJECT_WAIT_NS 200000000ull /* 200 ms per byte: generous under TCG */

/* Waits (interrupts on) until *counter differs from before, bounded. */
static bool wait_for_change(uint64_t (*read)(void), uint64_t before) {
    uint64_t deadline = time_ns() + INJECT_WAIT_NS;
    for (long i = 0; i < 50000000; i++) {
        if (read() != before)
            return true;
        if ((i & 255) == 0 && time_ns() > deadline)
            return false;
        cpu_relax();
    }
    return false;
}

static uint64_t kbd_bytes_now(void) {
    struct ps2_stats s;
    ps2_get_stats(&s);
    return s.kbd_bytes;
}
static uint64_t mouse_bytes_now(void) {
    struct ps2_stats s;
    ps2_get_stats(&s);
    return s.mouse_bytes;
}

SELFTEST(ps2, controller_present) {
    struct ps2_stats s;
    ps2_get_stats(&s);
    ST_ASSERT(t, ps2_present() && s.present, "no i8042 found on q35 (expected one)");
    ST_ASSERT(t, s.keyboard_ok, "keyboard did not answer its reset");
    ST_ASSERT(t, s.dual_channel && s.mouse_ok, "mouse port: dual %d, mouse ok %d", s.dual_channel, s.mouse_ok);
    ST_ASSERT(t, s.kbd_vector >= 0 && s.mouse_vector >= 0, "IRQ routing: kbd vector %d, mouse vector %d",
              s.kbd_vector, s.mouse_vector);
}

SELFTEST(ps2, decode_shifted_hi_newline) {
    /* LShift down, h down/up, LShift up, i down/up, Enter down/up. */
    static const uint8_t codes[] = {0x2a, 0x23, 0xa3, 0xaa, 0x17, 0x97, 0x1c, 0x9c};
    struct kbd_state st = {0};
    struct key_event ev;
    char text[8];
    int n = 0, events = 0;
    for (unsigned i = 0; i < sizeof codes; i++) {
        if (!kbd_decode_set1(&st, codes[i], &ev))
            continue;
        events++;
        if (ev.pressed && ev.ch && n < 7)
            text[n++] = ev.ch;
    }
    text[n] = 0;
    ST_ASSERT(t, events == 8, "%d events from 8 make/break codes", events);
    ST_ASSERT(t, n == 3 && text[0] == 'H' && text[1] == 'i' && text[2] == '\n',
              "decoded %d chars: %#x %#x %#x", n, text[0], n > 1 ? text[1] : 0, n > 2 ? text[2] : 0);
    ST_ASSERT(t, st.mods == 0, "modifiers left set: %#x", st.mods);
}

SELFTEST(ps2, irq1_injected_key) {
    struct ps2_stats s;
    ps2_get_stats(&s);
    ST_ASSERT(t, s.present && s.kbd_vector >= 0, "no keyboard interrupt routed");
    ST_ASSERT(t, read_rflags() & (1u << 9), "interrupts are off: cannot test IRQ1");
    for (int i = 0; i < 512 && kbd_getchar() >= 0; i++) {
    }
    struct key_event ev;
    for (int i = 0; i < 128 && kbd_get_event(&ev); i++) {
    }
    uint64_t irqs_before = irq_count((uint8_t)s.kbd_vector);
    /* 'k' make (0x25) then break (0xA5), as a translated set-1 keyboard sends them. */
    static const uint8_t codes[] = {0x25, 0xa5};
    for (unsigned i = 0; i < sizeof codes; i++) {
        uint64_t before = kbd_bytes_now();
        ST_ASSERT(t, ps2_inject_kbd_byte(codes[i]), "controller did not take command 0xD2");
        ST_ASSERT(t, wait_for_change(kbd_bytes_now, before), "IRQ1 handler never got byte %#x (irq count %lu)",
                  codes[i], (unsigned long)(irq_count((uint8_t)s.kbd_vector) - irqs_before));
    }
    uint64_t irqs = irq_count((uint8_t)s.kbd_vector) - irqs_before;
    ST_ASSERT(t, irqs >= 2, "%lu interrupts on vector %d for 2 bytes", (unsigned long)irqs, s.kbd_vector);
    int c = kbd_getchar();
    ST_ASSERT(t, c == 'k', "kbd_getchar returned %d, expected 'k'", c);
    ST_ASSERT(t, kbd_getchar() == -1, "more characters than injected");
    ST_ASSERT(t, kbd_get_event(&ev) && ev.keycode == 0x25 && ev.pressed && ev.ch == 'k', "no press event for 'k'");
    ST_ASSERT(t, kbd_get_event(&ev) && ev.keycode == 0x25 && !ev.pressed, "no release event for 'k'");
}

SELFTEST(ps2, irq12_injected_mouse_packet) {
    struct ps2_stats s;
    ps2_get_stats(&s);
    ST_ASSERT(t, s.present && s.mouse_vector >= 0, "no mouse interrupt routed");
    ST_ASSERT(t, read_rflags() & (1u << 9), "interrupts are off: cannot test IRQ12");
    uint64_t irqs_before = irq_count((uint8_t)s.mouse_vector);
    uint64_t packets_before = mouse_packet_count();
    /* Left button, X sign set: dx = 0xF6 - 256 = -10, dy = +7. */
    static const uint8_t packet[] = {0x08 | 0x10 | 0x01, 0xf6, 0x07};
    for (unsigned i = 0; i < sizeof packet; i++) {
        uint64_t before = mouse_bytes_now();
        ST_ASSERT(t, ps2_inject_mouse_byte(packet[i]), "controller did not take command 0xD3");
        ST_ASSERT(t, wait_for_change(mouse_bytes_now, before), "IRQ12 handler never got byte %u", i);
    }
    uint64_t irqs = irq_count((uint8_t)s.mouse_vector) - irqs_before;
    ST_ASSERT(t, irqs >= 3, "%lu interrupts on vector %d for 3 bytes", (unsigned long)irqs, s.mouse_vector);
    ST_ASSERT(t, mouse_packet_count() == packets_before + 1, "packet count went from %lu to %lu",
              (unsigned long)packets_before, (unsigned long)mouse_packet_count());
    struct mouse_packet p;
    ST_ASSERT(t, mouse_last_packet(&p), "no last packet");
    ST_ASSERT(t, p.dx == -10 && p.dy == 7 && p.buttons == 1, "packet dx %d dy %d buttons %u", p.dx, p.dy,
              p.buttons);
}
