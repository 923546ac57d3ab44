/* util.h - small shared helpers: time, memory, fds, strings, UTF-8.
 * Nothing here logs; every function that can fail returns -errno. */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct json_object;

typedef uint64_t usec_t;
#define USEC_INFINITY ((usec_t)UINT64_MAX)
#define USEC_PER_MSEC ((usec_t)1000)
#define USEC_PER_SEC ((usec_t)1000000)

#define ELEMENTSOF(a) (sizeof(a) / sizeof((a)[0]))
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#define MIN(a, b) ((a) < (b) ? (a) : (b))
/* The object that embeds member at ptr. */
#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))
#define _unused_ __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _noreturn_ __attribute__((noreturn))

/* CLOCK_MONOTONIC / CLOCK_REALTIME in microseconds. */
usec_t now_mono(void);
usec_t now_real(void);

/* ISO 8601 UTC with milliseconds: 2026-11-24T19:00:00.123Z (buf >= 32). */
char *format_iso8601(usec_t realtime, char *buf, size_t len);


/* Allocation that aborts on ENOMEM (graced cannot do anything useful then). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) _printf_(1, 2);
char *xvasprintf(const char *fmt, va_list ap) _printf_(1, 0);
/* Appends to the malloc'd string *s (NULL: empty); returns true. */
bool str_appendf(char **s, const char *fmt, ...) _printf_(2, 3);
/* Duplicate a NULL-terminated string vector (NULL -> NULL). */
char **strv_dup(char *const *v);
size_t strv_length(char *const *v);
void strv_free(char **v);
bool strv_equal(char *const *a, char *const *b);
/* Join with spaces, quoting elements that contain blanks (for logs). */
char *strv_join(char *const *v);

/* Closes fd if >= 0, preserving errno; returns -1 for `fd = safe_close(fd)`. */
int safe_close(int fd);
/* Loops over EINTR and short writes on a blocking fd: 0 or -errno. */
int write_all(int fd, const void *buf, size_t len);
int fd_set_nonblock(int fd, bool on);
int fd_set_cloexec(int fd, bool on);

/* A growable byte buffer; { 0 } is an empty one. Appending never fails
 * (memory as xmalloc) and always leaves p NUL-terminated after len bytes
 * (the NUL is not counted), so p can be used as a string once anything was
 * appended. len is always the number of bytes really in the buffer. */
struct sbuf {
        char *p;
        size_t len, cap;
};
void sbuf_add(struct sbuf *b, const void *s, size_t n);
void sbuf_adds(struct sbuf *b, const char *s);
/* Appends the formatted text, whatever its length. */
void sbuf_addf(struct sbuf *b, const char *fmt, ...) _printf_(2, 3);
/* Hands over the NUL-terminated text (never NULL); b is empty again. */
char *sbuf_steal(struct sbuf *b, size_t *ret_len);
void sbuf_free(struct sbuf *b);

/* UTF-8 as RFC 3629 defines it: no overlong forms, no surrogates
 * (U+D800..U+DFFF), nothing above U+10FFFF. */
#define UTF8_REPLACEMENT "\xef\xbf\xbd" /* U+FFFD */
bool utf8_is_valid(const char *s, size_t len);
/* Where to cut s[0..len) without splitting a character: len, or less when
 * s ends in the first 1 to 3 bytes of a character that are valid so far
 * but not the whole of it (the cut then goes before them). Bytes that are
 * not UTF-8 at the end are cut anywhere: len. */
size_t utf8_cut(const char *s, size_t len);
/* Appends s[0..len) to b as valid UTF-8: each invalid byte, and each
 * truncated, overlong, surrogate or out-of-range sequence (its longest
 * start that could have begun a valid character), becomes one U+FFFD.
 * At most max bytes are appended (SIZE_MAX: no limit), cut before the
 * first character that would not fit whole. Returns the bytes appended. */
size_t utf8_append(struct sbuf *b, const char *s, size_t len, size_t max);
/* The same into a new NUL-terminated string; *ret_len (if not NULL) gets
 * its length (the text may hold NULs of its own). */
char *utf8_sanitize(const char *s, size_t len, size_t max, size_t *ret_len);

/* The one way a JSON string is made from bytes graced did not write itself
 * (worker output, STATUS= texts, configuration values, client requests):
 * utf8_append()'s text of s[0..len), at most max bytes. json_text_new(s):
 * the whole NUL-terminated s, NULL (JSON null) for NULL. */
struct json_object *json_text_new_len(const char *s, size_t len, size_t max);
struct json_object *json_text_new(const char *s);

/* Why a file of this mode is not read as a file (configuration, env_file):
 * NULL for a regular file, else "Is a directory", "not a regular file (a
 * FIFO)"... (static text). */
const char *file_type_problem(mode_t mode);
