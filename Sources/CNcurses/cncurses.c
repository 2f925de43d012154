#define _GNU_SOURCE 1
#define NCURSES_WIDECHAR 1
#define _XOPEN_SOURCE_EXTENDED 1
#include <ncursesw/curses.h>
#include <langinfo.h>
#include <locale.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include "cncurses.h"

int escucha_nc_locale(void) {
    setlocale(LC_ALL, "");
    const char *codeset = nl_langinfo(CODESET);
    if (codeset == NULL || strcmp(codeset, "UTF-8") != 0) {
        // A fresh Debian machine has only C.UTF-8; without a UTF-8 locale wide
        // characters come out as garbage.
        setlocale(LC_ALL, "C.UTF-8");
        codeset = nl_langinfo(CODESET);
    }
    return codeset != NULL && strcmp(codeset, "UTF-8") == 0;
}

int escucha_nc_start(void) {
    if (initscr() == NULL) return -1;
    raw();
    noecho();
    nonl();
    keypad(stdscr, TRUE);
    set_escdelay(25);
    curs_set(0);
    if (has_colors()) {
        start_color();
        use_default_colors();
        init_pair(ESCUCHA_PAIR_RED, COLOR_RED, -1);
        init_pair(ESCUCHA_PAIR_YELLOW, COLOR_YELLOW, -1);
        init_pair(ESCUCHA_PAIR_GREEN, COLOR_GREEN, -1);
        init_pair(ESCUCHA_PAIR_CYAN, COLOR_CYAN, -1);
        init_pair(ESCUCHA_PAIR_MAGENTA, COLOR_MAGENTA, -1);
        init_pair(ESCUCHA_PAIR_HIGHLIGHT, COLOR_BLACK, COLOR_YELLOW);
        init_pair(ESCUCHA_PAIR_BAR, COLOR_BLACK, COLOR_CYAN);
    }
    return 0;
}

void escucha_nc_stop(void) {
    curs_set(1);
    endwin();
}

int escucha_nc_has_colors(void) { return has_colors() ? 1 : 0; }

void escucha_nc_size(int *rows, int *columns) {
    int r, c;
    getmaxyx(stdscr, r, c);
    *rows = r;
    *columns = c;
}

void escucha_nc_erase(void) { erase(); }

static attr_t attributes_of(int attributes) {
    attr_t a = A_NORMAL;
    if (attributes & ESCUCHA_ATTR_BOLD) a |= A_BOLD;
    if (attributes & ESCUCHA_ATTR_REVERSE) a |= A_REVERSE;
    if (attributes & ESCUCHA_ATTR_UNDERLINE) a |= A_UNDERLINE;
    if (attributes & ESCUCHA_ATTR_DIM) a |= A_DIM;
    return a;
}

void escucha_nc_put(int row, int column, const wchar_t *text, int count, int pair, int attributes) {
    attr_set(attributes_of(attributes), (short)pair, NULL);
    mvaddnwstr(row, column, text, count);
    attr_set(A_NORMAL, 0, NULL);
}

void escucha_nc_fill(int row, int column, int pair, int attributes) {
    int rows, columns;
    getmaxyx(stdscr, rows, columns);
    (void)rows;
    attr_set(attributes_of(attributes), (short)pair, NULL);
    for (int c = column; c < columns; c++) mvaddch(row, c, ' ');
    attr_set(A_NORMAL, 0, NULL);
}

void escucha_nc_cursor(int row, int column) {
    if (row < 0) {
        curs_set(0);
    } else {
        move(row, column);
        curs_set(1);
    }
}

void escucha_nc_refresh(void) { refresh(); }

int escucha_nc_read(int timeout_ms, uint32_t *character) {
    wint_t ch = 0;
    timeout(timeout_ms);
    int kind = get_wch(&ch);
    if (kind == ERR) return ESCUCHA_KEY_NONE;
    if (kind == KEY_CODE_YES) {
        switch (ch) {
        case KEY_UP: return ESCUCHA_KEY_UP;
        case KEY_DOWN: return ESCUCHA_KEY_DOWN;
        case KEY_LEFT: return ESCUCHA_KEY_LEFT;
        case KEY_RIGHT: return ESCUCHA_KEY_RIGHT;
        case KEY_PPAGE: return ESCUCHA_KEY_PAGE_UP;
        case KEY_NPAGE: return ESCUCHA_KEY_PAGE_DOWN;
        case KEY_HOME: return ESCUCHA_KEY_HOME;
        case KEY_END: return ESCUCHA_KEY_END;
        case KEY_BACKSPACE: return ESCUCHA_KEY_BACKSPACE;
        case KEY_DC: return ESCUCHA_KEY_DELETE;
        case KEY_ENTER: return ESCUCHA_KEY_ENTER;
        case KEY_RESIZE: return ESCUCHA_KEY_RESIZE;
        default: return ESCUCHA_KEY_OTHER;
        }
    }
    switch (ch) {
    case '\r': case '\n': return ESCUCHA_KEY_ENTER;
    case 127: case 8: return ESCUCHA_KEY_BACKSPACE;
    }
    *character = (uint32_t)ch;
    return ESCUCHA_KEY_CHAR;
}

int escucha_wcwidth(uint32_t character) { return wcwidth((wchar_t)character); }

static volatile sig_atomic_t termination_requested = 0;

static void note_termination(int signal_number) {
    (void)signal_number;
    termination_requested = 1;
}

void escucha_nc_catch_termination(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = note_termination;
    sigemptyset(&action.sa_mask);
    sigaction(SIGTERM, &action, NULL);
    sigaction(SIGHUP, &action, NULL);
    // The console's thread must receive them even if the process blocks them elsewhere.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}

int escucha_nc_termination_requested(void) { return termination_requested ? 1 : 0; }
