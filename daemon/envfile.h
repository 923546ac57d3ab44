/* envfile.h - environment files (a worker's env_file) in the syntax of
 * systemd's EnvironmentFile=: the parser, a pure function, and the loader
 * that reads one worker's files (non-blocking open, regular files only,
 * bounded). Nothing here logs: a problem comes back as a file, a line and
 * a message. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

/* Limits on what a file holds. */
#define ENVFILE_MAX_SIZE (1024 * 1024) /* bytes of one file */
#define ENVFILE_MAX_LINES 100000       /* lines of one file */
#define ENVFILE_MAX_VARS 4096          /* variables of one worker's files together */

/* What is wrong, and where. */
struct envfile_error {
        const char *file; /* the path (borrowed from the spec given), NULL: none */
        int line;         /* 1-based; 0: the whole file */
        char msg[256];
};

/* The variables read so far: "KEY=VALUE" strings (malloc'd), one per key,
 * NULL-terminated; { 0 } is an empty set. */
struct envfile_vars {
        char **v;
        size_t n, cap;
};
void envfile_vars_done(struct envfile_vars *vars);
/* Hands over the NULL-terminated vector (NULL when empty); vars is empty again. */
char **envfile_vars_steal(struct envfile_vars *vars);

/* Parses text[0..len) and adds each assignment to vars; one of a key that
 * is there already replaces it in place (a later line, or a later file,
 * wins). The syntax is systemd's:
 *   - lines "KEY=VALUE", with an optional "export " before KEY; blanks
 *     around KEY and after "=" are ignored; "#" or ";" as the first
 *     non-blank character makes a comment line; blank lines are ignored;
 *   - an unquoted value keeps its inner blanks, loses its trailing ones; a
 *     backslash takes the next character as it is, and at the end of a line
 *     joins the next line;
 *   - in single quotes everything is verbatim (newlines too);
 *   - in double quotes \" \\ \$ \` stand for the character, a backslash at
 *     the end of a line joins the next line, any other backslash stays with
 *     the character after it (\n is backslash-n); newlines are kept;
 *   - quoted and unquoted parts next to each other are joined.
 * Where systemd ignores a line with a warning, this refuses the file:
 * a line without "=", an invalid name (letters, digits and _, not
 * beginning with a digit), an unterminated quote, a value that is not
 * UTF-8; also a NUL byte, more than ENVFILE_MAX_LINES lines and more than
 * ENVFILE_MAX_VARS variables in vars. Returns 0, or -EINVAL with err's
 * line and msg set (err->file is left alone); vars then holds what was
 * read before the problem. */
int envfile_parse(const char *text, size_t len, struct envfile_vars *vars, struct envfile_error *err);

/* An env_file entry: "/path", or "-/path" for a file that may be missing.
 * Returns the path; *optional tells whether it had the "-". */
const char *envfile_path(const char *spec, bool *optional);

/* Reads every file of specs (NULL-terminated env_file entries, in order)
 * into vars: each is opened without blocking, must be a regular file of at
 * most ENVFILE_MAX_SIZE bytes, and is parsed with envfile_parse(). A
 * missing optional file ("-/path": the file or a directory of its path
 * does not exist) is skipped. Returns 0, or -errno (-ENOENT for a missing
 * file, -EINVAL for a bad line or a file that is not a regular file,
 * -EFBIG for one that is too large, ...) with err set: file, line (0 for
 * the whole file) and msg (strerror, or what is wrong). */
int envfile_load(char *const *specs, struct envfile_vars *vars, struct envfile_error *err);

/* "FILE:LINE: msg" or "FILE: msg" (caller frees). */
char *envfile_error_format(const struct envfile_error *err);
