// Thin shim over ncursesw for Swift: the wide-character API needs NCURSES_WIDECHAR
// before the header (SwiftPM drops the pkg-config flag), and Swift 6 refuses the mutable
// global `stdscr`, so everything that touches it goes through these functions.
#ifndef ESCUCHA_CNCURSES_H
#define ESCUCHA_CNCURSES_H

#include <stdint.h>
#include <wchar.h>

// Colour pairs the console uses; their meaning lives in the Swift `Palette`.
enum {
    ESCUCHA_PAIR_DEFAULT = 0,
    ESCUCHA_PAIR_RED = 1,
    ESCUCHA_PAIR_YELLOW = 2,
    ESCUCHA_PAIR_GREEN = 3,
    ESCUCHA_PAIR_CYAN = 4,
    ESCUCHA_PAIR_MAGENTA = 5,
    ESCUCHA_PAIR_HIGHLIGHT = 6,
    ESCUCHA_PAIR_BAR = 7,
};

// Attribute bits for escucha_nc_put.
enum {
    ESCUCHA_ATTR_BOLD = 1,
    ESCUCHA_ATTR_REVERSE = 2,
    ESCUCHA_ATTR_UNDERLINE = 4,
    ESCUCHA_ATTR_DIM = 8,
};

// Key codes reported by escucha_nc_read (function keys, otherwise the character).
enum {
    ESCUCHA_KEY_NONE = 0,
    ESCUCHA_KEY_CHAR = 1,
    ESCUCHA_KEY_UP = 2,
    ESCUCHA_KEY_DOWN = 3,
    ESCUCHA_KEY_LEFT = 4,
    ESCUCHA_KEY_RIGHT = 5,
    ESCUCHA_KEY_PAGE_UP = 6,
    ESCUCHA_KEY_PAGE_DOWN = 7,
    ESCUCHA_KEY_HOME = 8,
    ESCUCHA_KEY_END = 9,
    ESCUCHA_KEY_BACKSPACE = 10,
    ESCUCHA_KEY_DELETE = 11,
    ESCUCHA_KEY_ENTER = 12,
    ESCUCHA_KEY_RESIZE = 13,
    ESCUCHA_KEY_OTHER = 14,
};

/// Sets a UTF-8 locale (the environment's, else C.UTF-8). Returns 1 when the locale is UTF-8.
int escucha_nc_locale(void);
/// Starts curses on the terminal. Returns 0 on success, -1 when the terminal is unusable.
int escucha_nc_start(void);
/// Restores the terminal.
void escucha_nc_stop(void);
/// Whether the terminal has colours.
int escucha_nc_has_colors(void);
void escucha_nc_size(int *rows, int *columns);
void escucha_nc_erase(void);
/// Writes `count` wide characters at (row, column) with a colour pair and attributes.
void escucha_nc_put(int row, int column, const wchar_t *text, int count, int pair, int attributes);
/// Fills the rest of a row from `column` with spaces in the given colours.
void escucha_nc_fill(int row, int column, int pair, int attributes);
/// Shows the cursor at (row, column), or hides it when row < 0.
void escucha_nc_cursor(int row, int column);
void escucha_nc_refresh(void);
/// Waits up to `timeout_ms` for a key. Returns one of ESCUCHA_KEY_*; for ESCUCHA_KEY_CHAR
/// the character is stored in *character.
int escucha_nc_read(int timeout_ms, uint32_t *character);

/// Catches SIGTERM and SIGHUP so the loop can restore the terminal before exiting.
void escucha_nc_catch_termination(void);
/// Whether SIGTERM or SIGHUP arrived since escucha_nc_catch_termination.
int escucha_nc_termination_requested(void);

/// Columns a character takes in the current locale (wcwidth), -1 when unprintable.
int escucha_wcwidth(uint32_t character);

#endif
