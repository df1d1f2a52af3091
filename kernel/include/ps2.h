/* ps2.h: PS/2 controller (i8042), keyboard (scan code set 1 or 2) and mouse
 * (kernel/drivers/input/ps2.c). Absent controller = reported, boot goes on.
 * The pure decoders (scan codes, mouse packets) are in kernel/drivers/input/kbd_map.c. */
#pragma once
#include "types.h"

enum key_mod { MOD_SHIFT = 1, MOD_CTRL = 2, MOD_ALT = 4, MOD_CAPS = 8, MOD_NUM = 16 };
struct key_event { uint16_t keycode; bool pressed; uint8_t mods; char ch; /* 0 if none */ };
/* dx: positive = right, dy: positive = up (PS/2 convention); buttons: bit 0 left, 1 right,
 * 2 middle. */
struct mouse_packet { int16_t dx, dy; uint8_t buttons; };

/* Keycodes: an ordinary key's keycode is its scan code set 1 make code; a key sent with the
 * E0 prefix gets KEY_E0 | make code. Keypad keys with Num Lock off report the navigation
 * keycodes (KEY_HOME, KEY_UP, ...), like the dedicated keys. */
#define KEY_E0 0x100
#define KEY_ESC 0x01
#define KEY_BACKSPACE 0x0e
#define KEY_TAB 0x0f
#define KEY_ENTER 0x1c
#define KEY_LCTRL 0x1d
#define KEY_LSHIFT 0x2a
#define KEY_RSHIFT 0x36
#define KEY_LALT 0x38
#define KEY_SPACE 0x39
#define KEY_CAPSLOCK 0x3a
#define KEY_F1 0x3b /* F1..F10 are 0x3b..0x44 */
#define KEY_F10 0x44
#define KEY_NUMLOCK 0x45
#define KEY_SCROLLLOCK 0x46
#define KEY_F11 0x57
#define KEY_F12 0x58
#define KEY_KP_ENTER (KEY_E0 | 0x1c)
#define KEY_RCTRL (KEY_E0 | 0x1d)
#define KEY_KP_SLASH (KEY_E0 | 0x35)
#define KEY_PRINTSCREEN (KEY_E0 | 0x37)
#define KEY_RALT (KEY_E0 | 0x38)
#define KEY_HOME (KEY_E0 | 0x47)
#define KEY_UP (KEY_E0 | 0x48)
#define KEY_PAGEUP (KEY_E0 | 0x49)
#define KEY_LEFT (KEY_E0 | 0x4b)
#define KEY_RIGHT (KEY_E0 | 0x4d)
#define KEY_END (KEY_E0 | 0x4f)
#define KEY_DOWN (KEY_E0 | 0x50)
#define KEY_PAGEDOWN (KEY_E0 | 0x51)
#define KEY_INSERT (KEY_E0 | 0x52)
#define KEY_DELETE (KEY_E0 | 0x53)
#define KEY_LMETA (KEY_E0 | 0x5b)
#define KEY_RMETA (KEY_E0 | 0x5c)
#define KEY_MENU (KEY_E0 | 0x5d)
#define KEY_PAUSE 0x200 /* the E1 1D 45 sequence */

/* Probes the controller (ACPI FADT 8042 flag plus a self-test with timeouts) and enables the
 * keyboard on IRQ1 and the mouse on IRQ12. Returns false when there is no controller. */
bool ps2_init(void);
/* True when ps2_init found a working controller. */
bool ps2_present(void);
/* Next typed character (after modifiers), or -1 if none waiting. Never blocks.
 * Keys without a character arrive as the VT100/xterm sequences a terminal would send, so
 * keyboard and serial input look alike: Up ESC[A, Down ESC[B, Right ESC[C, Left ESC[D,
 * Home ESC[H, End ESC[F, Insert ESC[2~, Delete ESC[3~, PageUp ESC[5~, PageDown ESC[6~. */
int kbd_getchar(void);
/* Next raw key event (presses and releases, with keycodes), false if none. Never blocks.
 * Independent of kbd_getchar: both see every key. */
bool kbd_get_event(struct key_event *out);

/* Pure: turns one scan code byte (set 1) into an event; returns true when an event is ready.
 * The state keeps prefixes and modifiers; zero-initialise it. Host-tested. */
struct kbd_state {
    bool e0;
    uint8_t mods;     /* enum key_mod bits, as reported in events */
    uint8_t held;     /* which modifier keys are down (left/right separately) */
    uint8_t e1_left;  /* bytes of an E1 (Pause) sequence still to come */
};
/* Pure: feeds one set-1 scan code byte into the decoder state; true when *ev holds a complete
 * key event (E0/E1 prefixes and modifiers are kept in st). Host-tested. */
bool kbd_decode_set1(struct kbd_state *st, uint8_t byte, struct key_event *ev);
/* Pure: the bytes a press event puts into the character stream (see kbd_getchar): its
 * character, or an escape sequence for navigation keys. Returns the count (0..4). */
int kbd_event_chars(const struct key_event *ev, char out[4]);

/* Pure: assembles 3-byte standard PS/2 mouse packets. A first byte without bit 3 set is
 * dropped (resynchronisation). Returns true when *out holds a complete packet. */
struct mouse_state { uint8_t bytes[3]; uint8_t index; };
bool mouse_decode(struct mouse_state *st, uint8_t byte, struct mouse_packet *out);

/* Mouse: packets received since boot, and the last one. */
uint64_t mouse_packet_count(void);
bool mouse_last_packet(struct mouse_packet *out);

/* Driver state for diagnostics and self-tests. */
struct ps2_stats {
    bool present, dual_channel, keyboard_ok, mouse_ok, polled;
    int kbd_vector, mouse_vector;   /* interrupt vectors, -1 when not routed */
    uint64_t kbd_bytes, mouse_bytes, mouse_packets, dropped_chars;
};
void ps2_get_stats(struct ps2_stats *out);
/* Test hooks: the controller's "write output buffer" commands (0xD2 keyboard, 0xD3 mouse)
 * make a byte arrive as if the device had sent it. Return false on a controller timeout. */
bool ps2_inject_kbd_byte(uint8_t byte);
bool ps2_inject_mouse_byte(uint8_t byte);
