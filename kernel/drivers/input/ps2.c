/* ps2.c: i8042 PS/2 controller driver with keyboard (IRQ1) and mouse (IRQ12).
 *
 * Follows the IBM PS/2 Technical Reference (8042 keyboard/auxiliary controller: ports 0x60
 * data and 0x64 status/command, controller commands 0x20/0x60 read/write the command byte,
 * 0xA7/0xA8 auxiliary port off/on, 0xA9 auxiliary interface test, 0xAA self-test (answers
 * 0x55), 0xAB keyboard interface test, 0xAD/0xAE keyboard port off/on, 0xD2/0xD3 write the
 * keyboard/auxiliary output buffer, 0xD4 send to the auxiliary device) and the keyboard and
 * mouse command sets (0xFF reset answers 0xFA then 0xAA, 0xF0 selects the scan code set,
 * 0xF4 enables reporting, 0xF6 sets defaults). ACPI 6.5 table 5.11 (FADT IAPC_BOOT_ARCH bit 1)
 * says whether an 8042 exists, but firmware does not always set it, so the controller is
 * probed: a status port reading 0xFF means nothing answers there.
 *
 * The keyboard stays in scan code set 2 with the controller translating to set 1 (command
 * byte bit 6), which kbd_decode_set1() (kbd_map.c) understands. Every wait on the controller
 * is bounded by a deadline and an iteration budget, so a missing or broken controller costs
 * milliseconds at most. */
#include "ps2.h"
#include "cpu.h"
#include "irq.h"
#include "time.h"
#include "acpi.h"
#include "printk.h"
#include "kstring.h"
#include "console_input.h"

#define PS2_DATA 0x60
#define PS2_STATUS 0x64
#define PS2_COMMAND 0x64

#define STATUS_OUTPUT_FULL 0x01
#define STATUS_INPUT_FULL 0x02
#define STATUS_AUX_DATA 0x20

#define CMD_READ_CONFIG 0x20
#define CMD_WRITE_CONFIG 0x60
#define CMD_DISABLE_PORT2 0xa7
#define CMD_ENABLE_PORT2 0xa8
#define CMD_TEST_PORT2 0xa9
#define CMD_SELF_TEST 0xaa
#define CMD_TEST_PORT1 0xab
#define CMD_DISABLE_PORT1 0xad
#define CMD_ENABLE_PORT1 0xae
#define CMD_WRITE_PORT1_OUTPUT 0xd2
#define CMD_WRITE_PORT2_OUTPUT 0xd3
#define CMD_WRITE_PORT2_INPUT 0xd4

#define CONFIG_PORT1_IRQ 0x01
#define CONFIG_PORT2_IRQ 0x02
#define CONFIG_PORT1_CLOCK_OFF 0x10
#define CONFIG_PORT2_CLOCK_OFF 0x20
#define CONFIG_TRANSLATE 0x40

#define SELF_TEST_OK 0x55
#define DEV_ACK 0xfa
#define DEV_RESEND 0xfe
#define DEV_SELF_TEST_OK 0xaa
#define DEV_RESET 0xff
#define DEV_SET_DEFAULTS 0xf6
#define DEV_ENABLE_REPORTING 0xf4
#define KBD_SCAN_CODE_SET 0xf0

/* Timeouts: the controller answers within microseconds; device resets may take longer on
 * real hardware (the keyboard's basic assurance test is specified at up to 500 ms). */
#define CONTROLLER_TIMEOUT_US 20000
#define DEVICE_RESET_TIMEOUT_US 500000
#define POLL_BUDGET 200000 /* status reads per wait, in case the clock does not advance */
#define FLUSH_MAX 32

#define CHAR_RING 256
#define EVENT_RING 64

static struct {
    bool present, dual, keyboard_ok, mouse_ok, polled;
    uint8_t config;                      /* command byte as written during the probe */
    int kbd_vector, mouse_vector;
    struct kbd_state kbd;
    struct mouse_state mouse;
    char chars[CHAR_RING];
    unsigned char_head, char_tail;       /* head: next write, tail: next read */
    struct key_event events[EVENT_RING];
    unsigned event_head, event_tail;
    struct mouse_packet last_packet;
    uint64_t kbd_bytes, mouse_bytes, mouse_packets, dropped_chars;
} ps2 = { .kbd_vector = -1, .mouse_vector = -1 };

static volatile int ps2_lock;

static uint64_t lock(void) {
    uint64_t flags = irq_save();
    while (__atomic_exchange_n(&ps2_lock, 1, __ATOMIC_ACQUIRE))
        cpu_relax();
    return flags;
}

static void unlock(uint64_t flags) {
    __atomic_store_n(&ps2_lock, 0, __ATOMIC_RELEASE);
    irq_restore(flags);
}

/* ---- bounded controller access ---- */

/* Waits until (status & mask) == want, or the timeout; returns the last status read. */
static bool wait_status(uint8_t mask, uint8_t want, uint64_t timeout_us, uint8_t *status) {
    uint64_t deadline = time_ns() + timeout_us * 1000;
    for (long i = 0; i < POLL_BUDGET; i++) {
        uint8_t s = inb(PS2_STATUS);
        if (status) *status = s;
        if (s == 0xff)
            return false; /* floating bus: no controller */
        if ((s & mask) == want)
            return true;
        if ((i & 63) == 63 && time_ns() > deadline)
            return false;
        cpu_relax();
    }
    return false;
}

static bool write_port(uint16_t port, uint8_t value) {
    if (!wait_status(STATUS_INPUT_FULL, 0, CONTROLLER_TIMEOUT_US, NULL))
        return false;
    outb(port, value);
    return true;
}

static bool controller_command(uint8_t cmd) { return write_port(PS2_COMMAND, cmd); }

/* Reads one byte the controller or a device sends; -1 on timeout. */
static int read_data(uint64_t timeout_us) {
    if (!wait_status(STATUS_OUTPUT_FULL, STATUS_OUTPUT_FULL, timeout_us, NULL))
        return -1;
    return inb(PS2_DATA);
}

static void flush_output(void) {
    for (int i = 0; i < FLUSH_MAX; i++) {
        uint8_t s = inb(PS2_STATUS);
        if (s == 0xff || !(s & STATUS_OUTPUT_FULL))
            return;
        (void)inb(PS2_DATA);
    }
}

/* A controller command that answers one byte; -1 on timeout. */
static int controller_query(uint8_t cmd) {
    if (!controller_command(cmd))
        return -1;
    return read_data(CONTROLLER_TIMEOUT_US);
}

static bool write_config(uint8_t config) {
    return controller_command(CMD_WRITE_CONFIG) && write_port(PS2_DATA, config);
}

/* Sends a byte to the device on port 1 or 2 and waits for its ACK (retrying on RESEND). */
static bool device_send(int port, uint8_t byte) {
    for (int attempt = 0; attempt < 3; attempt++) {
        if (port == 2 && !controller_command(CMD_WRITE_PORT2_INPUT))
            return false;
        if (!write_port(PS2_DATA, byte))
            return false;
        int reply = read_data(CONTROLLER_TIMEOUT_US * 5);
        if (reply == DEV_ACK)
            return true;
        if (reply != DEV_RESEND)
            return false;
    }
    return false;
}

/* Resets a device: ACK, then the self-test result 0xAA (a mouse then sends its id, 0x00). */
static bool device_reset(int port) {
    if (!device_send(port, DEV_RESET))
        return false;
    uint64_t deadline = time_ns() + DEVICE_RESET_TIMEOUT_US * 1000;
    for (int i = 0; i < 8; i++) {
        int b = read_data(DEVICE_RESET_TIMEOUT_US / 8);
        if (b == DEV_SELF_TEST_OK) {
            if (port == 2)
                (void)read_data(CONTROLLER_TIMEOUT_US); /* device id */
            return true;
        }
        if (b >= 0 && b != DEV_ACK)
            return false; /* 0xFC/0xFD: self-test failed */
        if (time_ns() > deadline)
            break;
    }
    return false;
}

/* ---- interrupt side ---- */

static void push_char(char c) {
    unsigned next = (ps2.char_head + 1) % CHAR_RING;
    if (next == ps2.char_tail) {
        ps2.dropped_chars++;
        return;
    }
    ps2.chars[ps2.char_head] = c;
    ps2.char_head = next;
}

static void keyboard_byte(uint8_t byte) {
    struct key_event ev;
    ps2.kbd_bytes++;
    if (!kbd_decode_set1(&ps2.kbd, byte, &ev))
        return;
    unsigned next = (ps2.event_head + 1) % EVENT_RING;
    if (next != ps2.event_tail) {
        ps2.events[ps2.event_head] = ev;
        ps2.event_head = next;
    }
    char seq[4];
    int n = kbd_event_chars(&ev, seq);
    /* The consoles' input queue (the shell) gets every typed character too. */
    if (n > 0)
        console_input_push_seq(seq, (size_t)n);
    /* All of a sequence or nothing, so a full buffer never leaves half an escape code. */
    unsigned used = (ps2.char_head - ps2.char_tail + CHAR_RING) % CHAR_RING;
    if (used + (unsigned)n >= CHAR_RING) {
        ps2.dropped_chars += (uint64_t)n;
        return;
    }
    for (int i = 0; i < n; i++)
        push_char(seq[i]);
}

static void mouse_byte(uint8_t byte) {
    struct mouse_packet p;
    ps2.mouse_bytes++;
    if (mouse_decode(&ps2.mouse, byte, &p)) {
        ps2.last_packet = p;
        ps2.mouse_packets++;
    }
}

/* Takes every byte the controller holds (bounded), sorting by the status AUX bit. */
static void drain_controller(void) {
    for (int i = 0; i < 16; i++) {
        uint8_t s = inb(PS2_STATUS);
        if (s == 0xff || !(s & STATUS_OUTPUT_FULL))
            break;
        uint8_t b = inb(PS2_DATA);
        if (s & STATUS_AUX_DATA)
            mouse_byte(b);
        else
            keyboard_byte(b);
    }
}

static void ps2_irq(struct irq_frame *f, void *arg) {
    (void)f;
    (void)arg;
    uint64_t flags = lock();
    drain_controller();
    unlock(flags);
}

/* ---- setup ---- */

static bool ps2_probe_controller(void) {
    if (inb(PS2_STATUS) == 0xff)
        return false;
    if (!controller_command(CMD_DISABLE_PORT1) || !controller_command(CMD_DISABLE_PORT2))
        return false;
    flush_output();
    int config = controller_query(CMD_READ_CONFIG);
    if (config < 0)
        return false;
    config &= ~(CONFIG_PORT1_IRQ | CONFIG_PORT2_IRQ | CONFIG_TRANSLATE);
    if (!write_config((uint8_t)config))
        return false;
    int result = controller_query(CMD_SELF_TEST);
    if (result != SELF_TEST_OK) {
        printk(LOG_WARN, "ps2: controller self-test answered %d, expected 0x55\n", result);
        return false;
    }
    /* Some controllers reset themselves during the self-test: write the command byte again. */
    if (!write_config((uint8_t)config))
        return false;
    ps2.config = (uint8_t)config;
    /* Dual channel: enabling port 2 must clear its clock-disable bit. */
    ps2.dual = false;
    if (config & CONFIG_PORT2_CLOCK_OFF) {
        if (controller_command(CMD_ENABLE_PORT2)) {
            int c2 = controller_query(CMD_READ_CONFIG);
            ps2.dual = c2 >= 0 && !(c2 & CONFIG_PORT2_CLOCK_OFF);
            controller_command(CMD_DISABLE_PORT2);
        }
    }
    return true;
}

bool ps2_init(void) {
    uint64_t start = time_ns();
    if (acpi.has_fadt && !(acpi.iapc_boot_arch & 0x2))
        printk(LOG_DEBUG, "ps2: FADT does not announce an 8042, probing anyway\n");
    if (!ps2_probe_controller()) {
        ps2.present = false;
        printk(LOG_INFO, "ps2: no PS/2 controller found, continuing without keyboard\n");
        return false;
    }
    ps2.present = true;

    bool port1 = controller_query(CMD_TEST_PORT1) == 0x00;
    bool port2 = ps2.dual && controller_query(CMD_TEST_PORT2) == 0x00;
    if (!port1)
        printk(LOG_WARN, "ps2: keyboard port failed its interface test\n");
    if (port1)
        controller_command(CMD_ENABLE_PORT1);
    if (port2)
        controller_command(CMD_ENABLE_PORT2);

    if (port1) {
        ps2.keyboard_ok = device_reset(1);
        /* Scan code set 2; the controller translates it to set 1 for us. */
        if (ps2.keyboard_ok && !(device_send(1, KBD_SCAN_CODE_SET) && device_send(1, 2)))
            printk(LOG_WARN, "ps2: keyboard refused scan code set 2, keeping its default\n");
        if (ps2.keyboard_ok)
            ps2.keyboard_ok = device_send(1, DEV_ENABLE_REPORTING);
    }
    if (port2) {
        ps2.mouse_ok = device_reset(2) && device_send(2, DEV_SET_DEFAULTS) &&
                       device_send(2, DEV_ENABLE_REPORTING);
    }
    flush_output();

    /* Route the interrupts before the controller may raise them. */
    if (port1) {
        ps2.kbd_vector = irq_route_isa(1, ps2_irq, NULL, "ps2-kbd");
        if (ps2.kbd_vector < 0)
            printk(LOG_WARN, "ps2: cannot route IRQ1 (%d), polling the keyboard\n", ps2.kbd_vector);
    }
    if (port2) {
        ps2.mouse_vector = irq_route_isa(12, ps2_irq, NULL, "ps2-mouse");
        if (ps2.mouse_vector < 0)
            printk(LOG_WARN, "ps2: cannot route IRQ12 (%d), polling the mouse\n", ps2.mouse_vector);
    }
    ps2.polled = (port1 && ps2.kbd_vector < 0) || (port2 && ps2.mouse_vector < 0);

    /* The command byte from the probe (not read back: a key pressed meanwhile could be
     * mistaken for it), with the ports' clocks on, translation and the routed interrupts. */
    uint8_t config = ps2.config | CONFIG_TRANSLATE;
    if (port1) {
        config &= ~CONFIG_PORT1_CLOCK_OFF;
        if (ps2.kbd_vector >= 0) config |= CONFIG_PORT1_IRQ;
    }
    if (port2) {
        config &= ~CONFIG_PORT2_CLOCK_OFF;
        if (ps2.mouse_vector >= 0) config |= CONFIG_PORT2_IRQ;
    }
    if (!write_config(config))
        printk(LOG_WARN, "ps2: controller stopped answering\n");

    uint64_t took_us = (time_ns() - start) / 1000;
    printk(LOG_INFO, "ps2: i8042 %s channel, keyboard %s (IRQ1 vector %d), mouse %s (IRQ12 vector %d), %lu us\n",
           ps2.dual ? "dual" : "single", ps2.keyboard_ok ? "ready" : (port1 ? "not answering" : "port failed"),
           ps2.kbd_vector, ps2.mouse_ok ? "ready" : (port2 ? "not answering" : "absent"), ps2.mouse_vector,
           (unsigned long)took_us);
    return true;
}

bool ps2_present(void) { return ps2.present; }

int kbd_getchar(void) {
    if (!ps2.present)
        return -1;
    uint64_t flags = lock();
    if (ps2.polled)
        drain_controller();
    int c = -1;
    if (ps2.char_tail != ps2.char_head) {
        c = (unsigned char)ps2.chars[ps2.char_tail];
        ps2.char_tail = (ps2.char_tail + 1) % CHAR_RING;
    }
    unlock(flags);
    return c;
}

bool kbd_get_event(struct key_event *out) {
    if (!ps2.present)
        return false;
    uint64_t flags = lock();
    if (ps2.polled)
        drain_controller();
    bool got = ps2.event_tail != ps2.event_head;
    if (got) {
        *out = ps2.events[ps2.event_tail];
        ps2.event_tail = (ps2.event_tail + 1) % EVENT_RING;
    }
    unlock(flags);
    return got;
}

uint64_t mouse_packet_count(void) { return __atomic_load_n(&ps2.mouse_packets, __ATOMIC_RELAXED); }

bool mouse_last_packet(struct mouse_packet *out) {
    uint64_t flags = lock();
    bool any = ps2.mouse_packets > 0;
    if (any)
        *out = ps2.last_packet;
    unlock(flags);
    return any;
}

void ps2_get_stats(struct ps2_stats *out) {
    uint64_t flags = lock();
    out->present = ps2.present;
    out->dual_channel = ps2.dual;
    out->keyboard_ok = ps2.keyboard_ok;
    out->mouse_ok = ps2.mouse_ok;
    out->polled = ps2.polled;
    out->kbd_vector = ps2.kbd_vector;
    out->mouse_vector = ps2.mouse_vector;
    out->kbd_bytes = ps2.kbd_bytes;
    out->mouse_bytes = ps2.mouse_bytes;
    out->mouse_packets = ps2.mouse_packets;
    out->dropped_chars = ps2.dropped_chars;
    unlock(flags);
}

/* Writes a controller command and its data byte with interrupts off, so the pair is not
 * split by another CPU's command. The IRQ handler never writes, so it cannot interfere. */
static bool inject(uint8_t command, uint8_t byte) {
    if (!ps2.present)
        return false;
    uint64_t flags = irq_save();
    bool ok = controller_command(command) && write_port(PS2_DATA, byte);
    irq_restore(flags);
    return ok;
}

bool ps2_inject_kbd_byte(uint8_t byte) { return inject(CMD_WRITE_PORT1_OUTPUT, byte); }
bool ps2_inject_mouse_byte(uint8_t byte) { return inject(CMD_WRITE_PORT2_OUTPUT, byte); }
