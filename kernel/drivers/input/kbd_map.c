/* kbd_map.c: pure PS/2 input decoding: keyboard scan code set 1 (US layout) and standard
 * 3-byte mouse packets. No hardware access; host-tested in tests/host/test_kbd.c.
 *
 * Scan code set 1 is what the i8042 delivers with translation enabled (IBM PS/2 Technical
 * Reference, keyboard and 8042 chapters; Microsoft "Keyboard Scan Code Specification" rev.
 * 1.3a, appendix C): a make code 0x01-0x58, the break code is make | 0x80; extended keys are
 * preceded by 0xE0; Pause sends E1 1D 45 E1 9D C5. With Num Lock on, the keyboard wraps the
 * dedicated navigation keys in fake shift codes (E0 2A / E0 AA, E0 36 / E0 B6), ignored here.
 * Mouse packets: IBM PS/2 mouse technical reference: byte 0 = Y overflow, X overflow, Y sign,
 * X sign, 1, middle, right, left (bit 7..0); bytes 1 and 2 = X and Y movement (9-bit two's
 * complement with the sign bits). */
#include "ps2.h"

/* Held modifier keys (struct kbd_state.held). */
#define HELD_LSHIFT 0x01
#define HELD_RSHIFT 0x02
#define HELD_LCTRL 0x04
#define HELD_RCTRL 0x08
#define HELD_LALT 0x10
#define HELD_RALT 0x20
#define HELD_CAPS 0x40
#define HELD_NUM 0x80

/* Characters of set-1 make codes 0x00-0x58 without and with Shift (US layout). Keys that
 * produce no character (modifiers, F keys, locks) have 0; keypad codes are handled apart. */
static const char plain_chars[0x59] = {
    [0x01] = 0x1b, [0x02] = '1', [0x03] = '2', [0x04] = '3', [0x05] = '4', [0x06] = '5',
    [0x07] = '6', [0x08] = '7', [0x09] = '8', [0x0a] = '9', [0x0b] = '0', [0x0c] = '-',
    [0x0d] = '=', [0x0e] = '\b', [0x0f] = '\t', [0x10] = 'q', [0x11] = 'w', [0x12] = 'e',
    [0x13] = 'r', [0x14] = 't', [0x15] = 'y', [0x16] = 'u', [0x17] = 'i', [0x18] = 'o',
    [0x19] = 'p', [0x1a] = '[', [0x1b] = ']', [0x1c] = '\n', [0x1e] = 'a', [0x1f] = 's',
    [0x20] = 'd', [0x21] = 'f', [0x22] = 'g', [0x23] = 'h', [0x24] = 'j', [0x25] = 'k',
    [0x26] = 'l', [0x27] = ';', [0x28] = '\'', [0x29] = '`', [0x2b] = '\\', [0x2c] = 'z',
    [0x2d] = 'x', [0x2e] = 'c', [0x2f] = 'v', [0x30] = 'b', [0x31] = 'n', [0x32] = 'm',
    [0x33] = ',', [0x34] = '.', [0x35] = '/', [0x37] = '*', [0x39] = ' ', [0x56] = '\\',
};
static const char shifted_chars[0x59] = {
    [0x01] = 0x1b, [0x02] = '!', [0x03] = '@', [0x04] = '#', [0x05] = '$', [0x06] = '%',
    [0x07] = '^', [0x08] = '&', [0x09] = '*', [0x0a] = '(', [0x0b] = ')', [0x0c] = '_',
    [0x0d] = '+', [0x0e] = '\b', [0x0f] = '\t', [0x10] = 'Q', [0x11] = 'W', [0x12] = 'E',
    [0x13] = 'R', [0x14] = 'T', [0x15] = 'Y', [0x16] = 'U', [0x17] = 'I', [0x18] = 'O',
    [0x19] = 'P', [0x1a] = '{', [0x1b] = '}', [0x1c] = '\n', [0x1e] = 'A', [0x1f] = 'S',
    [0x20] = 'D', [0x21] = 'F', [0x22] = 'G', [0x23] = 'H', [0x24] = 'J', [0x25] = 'K',
    [0x26] = 'L', [0x27] = ':', [0x28] = '"', [0x29] = '~', [0x2b] = '|', [0x2c] = 'Z',
    [0x2d] = 'X', [0x2e] = 'C', [0x2f] = 'V', [0x30] = 'B', [0x31] = 'N', [0x32] = 'M',
    [0x33] = '<', [0x34] = '>', [0x35] = '?', [0x37] = '*', [0x39] = ' ', [0x56] = '|',
};
/* Keypad 0x47-0x53 with Num Lock on ('-' and '+' regardless of Num Lock). */
static const char keypad_chars[0x0d] = "789-456+1230.";

static bool is_keypad(uint8_t code) { return code >= 0x47 && code <= 0x53; }

/* Set-1 codes we know: 0x01-0x58 without 0x55 (unassigned) and 0x54 (SysRq, no character
 * but a key); E0 codes: the dedicated keys of a 101/104-key keyboard. */
static bool known_plain(uint8_t code) { return code >= 0x01 && code <= 0x58 && code != 0x55; }
static bool known_e0(uint8_t code) {
    switch (code) {
    case 0x1c: case 0x1d: case 0x35: case 0x37: case 0x38: case 0x47: case 0x48: case 0x49:
    case 0x4b: case 0x4d: case 0x4f: case 0x50: case 0x51: case 0x52: case 0x53: case 0x5b:
    case 0x5c: case 0x5d:
        return true;
    default:
        return false;
    }
}

static uint8_t held_bit(uint16_t keycode) {
    switch (keycode) {
    case KEY_LSHIFT: return HELD_LSHIFT;
    case KEY_RSHIFT: return HELD_RSHIFT;
    case KEY_LCTRL: return HELD_LCTRL;
    case KEY_RCTRL: return HELD_RCTRL;
    case KEY_LALT: return HELD_LALT;
    case KEY_RALT: return HELD_RALT;
    case KEY_CAPSLOCK: return HELD_CAPS;
    case KEY_NUMLOCK: return HELD_NUM;
    default: return 0;
    }
}

/* Updates held keys and lock toggles for one event; recomputes the reported modifiers. */
static void update_modifiers(struct kbd_state *st, uint16_t keycode, bool pressed) {
    uint8_t bit = held_bit(keycode);
    if (!bit)
        return;
    if (pressed) {
        /* A lock toggles on the first make only, not on typematic repeats. */
        if (bit == HELD_CAPS && !(st->held & HELD_CAPS))
            st->mods ^= MOD_CAPS;
        if (bit == HELD_NUM && !(st->held & HELD_NUM))
            st->mods ^= MOD_NUM;
        st->held |= bit;
    } else {
        st->held &= (uint8_t)~bit;
    }
    uint8_t mods = st->mods & (MOD_CAPS | MOD_NUM);
    if (st->held & (HELD_LSHIFT | HELD_RSHIFT)) mods |= MOD_SHIFT;
    if (st->held & (HELD_LCTRL | HELD_RCTRL)) mods |= MOD_CTRL;
    if (st->held & (HELD_LALT | HELD_RALT)) mods |= MOD_ALT;
    st->mods = mods;
}

/* The character a key press produces with the current modifiers (0 for none). */
static char key_char(uint16_t keycode, uint8_t mods) {
    if (keycode == KEY_KP_ENTER) return '\n';
    if (keycode == KEY_KP_SLASH) return '/';
    if (keycode & (KEY_E0 | KEY_PAUSE))
        return 0;
    uint8_t code = (uint8_t)keycode;
    if (is_keypad(code)) {
        if (code == 0x4c && !(mods & MOD_NUM))
            return 0; /* keypad 5 without Num Lock */
        return keypad_chars[code - 0x47];
    }
    char base = plain_chars[code];
    if (!base)
        return 0;
    bool letter = base >= 'a' && base <= 'z';
    bool shift = (mods & MOD_SHIFT) != 0;
    if (letter && (mods & MOD_CAPS))
        shift = !shift;
    char c = shift ? shifted_chars[code] : base;
    if (mods & MOD_CTRL) {
        if (letter)
            return (char)(base & 0x1f);           /* ctrl+c = 3, whatever the shift state */
        if (c >= '[' && c <= '_')                  /* [ \ ] ^ _ -> 0x1b..0x1f */
            return (char)(c & 0x1f);
    }
    return c;
}

bool kbd_decode_set1(struct kbd_state *st, uint8_t byte, struct key_event *ev) {
    if (st->e1_left) {
        /* Pause: E1 1D 45 (make) or E1 9D C5 (break); the second byte decides. */
        st->e1_left--;
        if (st->e1_left != 0)
            return false;
        if ((byte & 0x7f) != 0x45)
            return false;
        ev->keycode = KEY_PAUSE;
        ev->pressed = !(byte & 0x80);
        ev->mods = st->mods;
        ev->ch = 0;
        return true;
    }
    if (byte == 0xe0) {
        st->e0 = true;
        return false;
    }
    if (byte == 0xe1) {
        st->e0 = false;
        st->e1_left = 2;
        return false;
    }
    bool e0 = st->e0;
    st->e0 = false;
    uint8_t code = byte & 0x7f;
    bool pressed = !(byte & 0x80);
    uint16_t keycode;
    if (e0) {
        if (!known_e0(code))
            return false; /* includes the fake shifts E0 2A / E0 36 and unknown media keys */
        keycode = KEY_E0 | code;
    } else {
        if (!known_plain(code))
            return false; /* 0x00, 0xFF (errors), 0xFA (ACK), 0xFE (resend) land here too */
        keycode = code;
    }
    update_modifiers(st, keycode, pressed);
    /* Keypad navigation with Num Lock off: report the dedicated key's code. */
    if (!e0 && is_keypad(code) && code != 0x4a && code != 0x4e && code != 0x4c && !(st->mods & MOD_NUM))
        keycode = KEY_E0 | code;
    ev->keycode = keycode;
    ev->pressed = pressed;
    ev->mods = st->mods;
    ev->ch = pressed ? key_char(keycode, st->mods) : 0;
    return true;
}

int kbd_event_chars(const struct key_event *ev, char out[4]) {
    if (!ev->pressed)
        return 0;
    if (ev->ch) {
        out[0] = ev->ch;
        return 1;
    }
    char final = 0, tilde = 0;
    switch (ev->keycode) {
    case KEY_UP: final = 'A'; break;
    case KEY_DOWN: final = 'B'; break;
    case KEY_RIGHT: final = 'C'; break;
    case KEY_LEFT: final = 'D'; break;
    case KEY_HOME: final = 'H'; break;
    case KEY_END: final = 'F'; break;
    case KEY_INSERT: tilde = '2'; break;
    case KEY_DELETE: tilde = '3'; break;
    case KEY_PAGEUP: tilde = '5'; break;
    case KEY_PAGEDOWN: tilde = '6'; break;
    default: return 0;
    }
    out[0] = 0x1b;
    out[1] = '[';
    if (final) {
        out[2] = final;
        return 3;
    }
    out[2] = tilde;
    out[3] = '~';
    return 4;
}

bool mouse_decode(struct mouse_state *st, uint8_t byte, struct mouse_packet *out) {
    if (st->index >= 3)
        st->index = 0;
    if (st->index == 0 && !(byte & 0x08))
        return false; /* not a first byte: wait for one */
    st->bytes[st->index++] = byte;
    if (st->index < 3)
        return false;
    st->index = 0;
    uint8_t flags = st->bytes[0];
    int dx = st->bytes[1], dy = st->bytes[2];
    if (flags & 0x10) dx -= 256;
    if (flags & 0x20) dy -= 256;
    out->dx = (int16_t)dx;
    out->dy = (int16_t)dy;
    out->buttons = flags & 0x07;
    return true;
}
