/* test_kbd.c: host unit tests for the PS/2 input decoders (kernel/drivers/input/kbd_map.c):
 * scan code set 1 sequences -> key events and characters (US layout, modifiers, locks, E0 and
 * E1 prefixes), navigation keys -> VT100 sequences, mouse packet assembly, and streams of
 * random bytes that must never crash or produce impossible events. */
#include "host_stubs.h"
#include "../../kernel/drivers/input/kbd_map.c"

#include <string.h>

/* Feeds bytes and collects the characters of press events into out (NUL-terminated). */
static size_t type_codes(struct kbd_state *st, const uint8_t *codes, size_t n, char *out, size_t cap) {
    size_t len = 0;
    struct key_event ev;
    for (size_t i = 0; i < n; i++) {
        if (kbd_decode_set1(st, codes[i], &ev) && ev.pressed && ev.ch && len + 1 < cap)
            out[len++] = ev.ch;
    }
    out[len] = 0;
    return len;
}

/* Press and release one key (make, make|0x80). */
static void tap(struct kbd_state *st, uint8_t make, struct key_event *press) {
    struct key_event ev;
    assert_true(kbd_decode_set1(st, make, press));
    assert_true(press->pressed);
    assert_true(kbd_decode_set1(st, make | 0x80, &ev));
    assert_false(ev.pressed);
    assert_int_equal(ev.keycode, press->keycode);
    assert_int_equal(ev.ch, 0);
}

static void test_letters_digits_symbols(void **state) {
    (void)state;
    struct kbd_state st = {0};
    char out[64];
    /* "hello world" */
    const uint8_t hello[] = {0x23, 0xa3, 0x12, 0x92, 0x26, 0xa6, 0x26, 0xa6, 0x18, 0x98, 0x39, 0xb9,
                             0x11, 0x91, 0x18, 0x98, 0x13, 0x93, 0x26, 0xa6, 0x20, 0xa0};
    type_codes(&st, hello, sizeof hello, out, sizeof out);
    assert_string_equal(out, "hello world");
    /* The whole number row, then with shift. */
    struct key_event ev;
    const char *plain = "1234567890-=", *shifted = "!@#$%^&*()_+";
    for (int i = 0; i < 12; i++) {
        tap(&st, (uint8_t)(0x02 + i), &ev);
        assert_int_equal(ev.ch, plain[i]);
    }
    assert_true(kbd_decode_set1(&st, 0x2a, &ev)); /* LShift */
    assert_int_equal(ev.ch, 0);
    assert_int_equal(ev.keycode, KEY_LSHIFT);
    assert_true(ev.mods & MOD_SHIFT);
    for (int i = 0; i < 12; i++) {
        tap(&st, (uint8_t)(0x02 + i), &ev);
        assert_int_equal(ev.ch, shifted[i]);
    }
    /* Punctuation keys, shifted: [ ] ; ' ` \ , . / */
    const uint8_t punct[] = {0x1a, 0x1b, 0x27, 0x28, 0x29, 0x2b, 0x33, 0x34, 0x35};
    const char *punct_shift = "{}:\"~|<>?", *punct_plain = "[];'`\\,./";
    for (size_t i = 0; i < sizeof punct; i++) {
        tap(&st, punct[i], &ev);
        assert_int_equal(ev.ch, punct_shift[i]);
    }
    assert_true(kbd_decode_set1(&st, 0xaa, &ev)); /* LShift up */
    assert_false(ev.mods & MOD_SHIFT);
    for (size_t i = 0; i < sizeof punct; i++) {
        tap(&st, punct[i], &ev);
        assert_int_equal(ev.ch, punct_plain[i]);
    }
}

static void test_special_keys(void **state) {
    (void)state;
    struct kbd_state st = {0};
    struct key_event ev;
    tap(&st, 0x1c, &ev);
    assert_int_equal(ev.ch, '\n');
    assert_int_equal(ev.keycode, KEY_ENTER);
    tap(&st, 0x0e, &ev);
    assert_int_equal(ev.ch, '\b');
    tap(&st, 0x0f, &ev);
    assert_int_equal(ev.ch, '\t');
    tap(&st, 0x01, &ev);
    assert_int_equal(ev.ch, 0x1b);
    assert_int_equal(ev.keycode, KEY_ESC);
    tap(&st, 0x3b, &ev); /* F1: a key, no character */
    assert_int_equal(ev.keycode, KEY_F1);
    assert_int_equal(ev.ch, 0);
    tap(&st, 0x58, &ev);
    assert_int_equal(ev.keycode, KEY_F12);
    /* Keypad Enter and '/' (E0 prefixed) */
    assert_false(kbd_decode_set1(&st, 0xe0, &ev));
    assert_true(kbd_decode_set1(&st, 0x1c, &ev));
    assert_int_equal(ev.keycode, KEY_KP_ENTER);
    assert_int_equal(ev.ch, '\n');
    assert_false(kbd_decode_set1(&st, 0xe0, &ev));
    assert_true(kbd_decode_set1(&st, 0x35, &ev));
    assert_int_equal(ev.ch, '/');
}

static void test_shift_caps_interplay(void **state) {
    (void)state;
    struct kbd_state st = {0};
    struct key_event ev;
    tap(&st, 0x1e, &ev);
    assert_int_equal(ev.ch, 'a');
    tap(&st, 0x3a, &ev); /* Caps Lock on */
    assert_true(ev.mods & MOD_CAPS);
    tap(&st, 0x1e, &ev);
    assert_int_equal(ev.ch, 'A');
    tap(&st, 0x02, &ev); /* digits are not affected by Caps Lock */
    assert_int_equal(ev.ch, '1');
    assert_true(kbd_decode_set1(&st, 0x36, &ev)); /* RShift down: Caps+Shift = lower case */
    tap(&st, 0x1e, &ev);
    assert_int_equal(ev.ch, 'a');
    tap(&st, 0x02, &ev);
    assert_int_equal(ev.ch, '!');
    assert_true(kbd_decode_set1(&st, 0xb6, &ev));
    /* Typematic repeat of Caps Lock (several makes) toggles once. */
    assert_true(kbd_decode_set1(&st, 0x3a, &ev));
    assert_true(kbd_decode_set1(&st, 0x3a, &ev));
    assert_true(kbd_decode_set1(&st, 0x3a, &ev));
    assert_true(kbd_decode_set1(&st, 0xba, &ev));
    assert_false(st.mods & MOD_CAPS);
    tap(&st, 0x1e, &ev);
    assert_int_equal(ev.ch, 'a');
    /* Both shifts down, one released: still shifted. */
    assert_true(kbd_decode_set1(&st, 0x2a, &ev));
    assert_true(kbd_decode_set1(&st, 0x36, &ev));
    assert_true(kbd_decode_set1(&st, 0xaa, &ev));
    assert_true(ev.mods & MOD_SHIFT);
    tap(&st, 0x30, &ev);
    assert_int_equal(ev.ch, 'B');
    assert_true(kbd_decode_set1(&st, 0xb6, &ev));
    assert_false(ev.mods & MOD_SHIFT);
    tap(&st, 0x30, &ev);
    assert_int_equal(ev.ch, 'b');
}

static void test_ctrl_and_alt(void **state) {
    (void)state;
    struct kbd_state st = {0};
    struct key_event ev;
    assert_true(kbd_decode_set1(&st, 0x1d, &ev)); /* LCtrl */
    assert_true(ev.mods & MOD_CTRL);
    tap(&st, 0x2e, &ev); /* c */
    assert_int_equal(ev.ch, 3);
    tap(&st, 0x1e, &ev); /* a */
    assert_int_equal(ev.ch, 1);
    tap(&st, 0x2c, &ev); /* z */
    assert_int_equal(ev.ch, 26);
    tap(&st, 0x1a, &ev); /* [ */
    assert_int_equal(ev.ch, 0x1b);
    tap(&st, 0x2b, &ev); /* \ */
    assert_int_equal(ev.ch, 0x1c);
    assert_true(kbd_decode_set1(&st, 0x2a, &ev)); /* + Shift: ctrl+C is still 3 */
    tap(&st, 0x2e, &ev);
    assert_int_equal(ev.ch, 3);
    assert_true(kbd_decode_set1(&st, 0xaa, &ev));
    assert_true(kbd_decode_set1(&st, 0x9d, &ev)); /* LCtrl up */
    assert_false(ev.mods & MOD_CTRL);
    /* Right Ctrl (E0 1D) works the same. */
    assert_false(kbd_decode_set1(&st, 0xe0, &ev));
    assert_true(kbd_decode_set1(&st, 0x1d, &ev));
    assert_int_equal(ev.keycode, KEY_RCTRL);
    assert_true(ev.mods & MOD_CTRL);
    tap(&st, 0x20, &ev); /* d */
    assert_int_equal(ev.ch, 4);
    assert_false(kbd_decode_set1(&st, 0xe0, &ev));
    assert_true(kbd_decode_set1(&st, 0x9d, &ev));
    assert_false(ev.mods & MOD_CTRL);
    /* Alt: reported in mods, the character is unchanged. */
    assert_true(kbd_decode_set1(&st, 0x38, &ev));
    tap(&st, 0x21, &ev);
    assert_int_equal(ev.ch, 'f');
    assert_true(ev.mods & MOD_ALT);
    assert_true(kbd_decode_set1(&st, 0xb8, &ev));
    assert_int_equal(st.mods, 0);
}

static void test_e0_navigation_and_sequences(void **state) {
    (void)state;
    struct kbd_state st = {0};
    struct key_event ev;
    const struct { uint8_t code; uint16_t key; const char *seq; } nav[] = {
        {0x48, KEY_UP, "\x1b[A"},     {0x50, KEY_DOWN, "\x1b[B"},   {0x4d, KEY_RIGHT, "\x1b[C"},
        {0x4b, KEY_LEFT, "\x1b[D"},   {0x47, KEY_HOME, "\x1b[H"},   {0x4f, KEY_END, "\x1b[F"},
        {0x52, KEY_INSERT, "\x1b[2~"}, {0x53, KEY_DELETE, "\x1b[3~"}, {0x49, KEY_PAGEUP, "\x1b[5~"},
        {0x51, KEY_PAGEDOWN, "\x1b[6~"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(nav); i++) {
        assert_false(kbd_decode_set1(&st, 0xe0, &ev));
        assert_true(kbd_decode_set1(&st, nav[i].code, &ev));
        assert_int_equal(ev.keycode, nav[i].key);
        assert_true(ev.pressed);
        assert_int_equal(ev.ch, 0);
        char seq[4];
        int n = kbd_event_chars(&ev, seq);
        assert_int_equal(n, (int)strlen(nav[i].seq));
        assert_memory_equal(seq, nav[i].seq, (size_t)n);
        assert_false(kbd_decode_set1(&st, 0xe0, &ev));
        assert_true(kbd_decode_set1(&st, nav[i].code | 0x80, &ev));
        assert_int_equal(ev.keycode, nav[i].key);
        assert_false(ev.pressed);
        assert_int_equal(kbd_event_chars(&ev, seq), 0);
    }
    /* Without E0 the same codes are keypad keys: Num Lock off = navigation, on = digits. */
    tap(&st, 0x48, &ev);
    assert_int_equal(ev.keycode, KEY_UP);
    assert_int_equal(ev.ch, 0);
    tap(&st, 0x4c, &ev); /* keypad 5, Num Lock off: nothing */
    assert_int_equal(ev.ch, 0);
    tap(&st, 0x45, &ev); /* Num Lock on */
    assert_true(ev.mods & MOD_NUM);
    tap(&st, 0x48, &ev);
    assert_int_equal(ev.ch, '8');
    tap(&st, 0x53, &ev);
    assert_int_equal(ev.ch, '.');
    tap(&st, 0x4e, &ev);
    assert_int_equal(ev.ch, '+');
    /* Fake shifts around gray keys (E0 2A ... E0 AA) change nothing. */
    assert_false(kbd_decode_set1(&st, 0xe0, &ev));
    assert_false(kbd_decode_set1(&st, 0x2a, &ev));
    assert_false(st.mods & MOD_SHIFT);
    assert_false(kbd_decode_set1(&st, 0xe0, &ev));
    assert_true(kbd_decode_set1(&st, 0x48, &ev));
    assert_int_equal(ev.keycode, KEY_UP);
    assert_false(kbd_decode_set1(&st, 0xe0, &ev));
    assert_false(kbd_decode_set1(&st, 0xaa, &ev));
    /* A character key's chars are just the character. */
    char seq[4];
    tap(&st, 0x1e, &ev);
    assert_int_equal(kbd_event_chars(&ev, seq), 1);
    assert_int_equal(seq[0], 'a');
}

static void test_pause_and_unknown_codes(void **state) {
    (void)state;
    struct kbd_state st = {0};
    struct key_event ev;
    const uint8_t pause[] = {0xe1, 0x1d, 0x45, 0xe1, 0x9d, 0xc5};
    int events = 0;
    for (size_t i = 0; i < sizeof pause; i++) {
        if (kbd_decode_set1(&st, pause[i], &ev)) {
            events++;
            assert_int_equal(ev.keycode, KEY_PAUSE);
            assert_int_equal(ev.pressed, events == 1);
        }
    }
    assert_int_equal(events, 2);
    assert_int_equal(st.mods, 0); /* the 1D inside the sequence is not Ctrl */
    /* Unknown codes and controller replies: no event, no state change. */
    const uint8_t junk[] = {0x00, 0xff, 0xfa, 0xfe, 0xee, 0x55, 0x59, 0x7f, 0xd9};
    for (size_t i = 0; i < sizeof junk; i++)
        assert_false(kbd_decode_set1(&st, junk[i], &ev));
    assert_false(kbd_decode_set1(&st, 0xe0, &ev));
    assert_false(kbd_decode_set1(&st, 0x10, &ev)); /* E0 10: media key we do not know */
    assert_false(st.e0);
    assert_int_equal(st.mods, 0);
    /* Decoding continues normally afterwards. */
    tap(&st, 0x15, &ev);
    assert_int_equal(ev.ch, 'y');
}

static void test_random_stream_is_safe(void **state) {
    (void)state;
    struct kbd_state st = {0};
    struct mouse_state ms = {0};
    struct key_event ev;
    struct mouse_packet p;
    srand(4242);
    long events = 0, packets = 0;
    for (long i = 0; i < 2000000; i++) {
        uint8_t b = (uint8_t)rand();
        memset(&ev, 0xa5, sizeof ev);
        if (kbd_decode_set1(&st, b, &ev)) {
            events++;
            assert_true(ev.keycode != 0);
            assert_true(ev.keycode <= 0x17f || ev.keycode == KEY_PAUSE);
            assert_true(ev.ch >= 0); /* plain ASCII only */
            if (!ev.pressed)
                assert_int_equal(ev.ch, 0);
            assert_int_equal(ev.mods & ~(MOD_SHIFT | MOD_CTRL | MOD_ALT | MOD_CAPS | MOD_NUM), 0);
            char seq[4];
            int n = kbd_event_chars(&ev, seq);
            assert_true(n >= 0 && n <= 4);
        }
        if (mouse_decode(&ms, b, &p)) {
            packets++;
            assert_true(p.dx >= -256 && p.dx <= 255 && p.dy >= -256 && p.dy <= 255);
            assert_true(p.buttons <= 7);
        }
        assert_true(ms.index < 3);
        assert_true(st.e1_left <= 2);
    }
    assert_true(events > 1000);
    assert_true(packets > 1000);
}

static void test_mouse_packets(void **state) {
    (void)state;
    struct mouse_state ms = {0};
    struct mouse_packet p;
    /* Right button, dx +3, dy -2 (Y sign). */
    assert_false(mouse_decode(&ms, 0x08 | 0x20 | 0x02, &p));
    assert_false(mouse_decode(&ms, 0x03, &p));
    assert_true(mouse_decode(&ms, 0xfe, &p));
    assert_int_equal(p.dx, 3);
    assert_int_equal(p.dy, -2);
    assert_int_equal(p.buttons, 2);
    /* Stray bytes without bit 3 (e.g. a lost first byte) are skipped until a valid start. */
    assert_false(mouse_decode(&ms, 0x00, &p));
    assert_false(mouse_decode(&ms, 0x41, &p));
    assert_int_equal(ms.index, 0);
    assert_false(mouse_decode(&ms, 0x08 | 0x10 | 0x04, &p));
    assert_false(mouse_decode(&ms, 0x00, &p)); /* dx = 0 - 256 */
    assert_true(mouse_decode(&ms, 0x7f, &p));
    assert_int_equal(p.dx, -256);
    assert_int_equal(p.dy, 127);
    assert_int_equal(p.buttons, 4);
    /* Back-to-back packets. */
    const uint8_t two[] = {0x09, 1, 1, 0x08, 0xff, 0x00};
    int count = 0;
    for (size_t i = 0; i < sizeof two; i++)
        count += mouse_decode(&ms, two[i], &p);
    assert_int_equal(count, 2);
    assert_int_equal(p.dx, 255);
    assert_int_equal(p.buttons, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_letters_digits_symbols),
        cmocka_unit_test(test_special_keys),
        cmocka_unit_test(test_shift_caps_interplay),
        cmocka_unit_test(test_ctrl_and_alt),
        cmocka_unit_test(test_e0_navigation_and_sequences),
        cmocka_unit_test(test_pause_and_unknown_codes),
        cmocka_unit_test(test_random_stream_is_safe),
        cmocka_unit_test(test_mouse_packets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
