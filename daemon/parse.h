/* parse.h - the value syntaxes of the configuration: durations, signal
 * names, worker names, octal modes; and the reverse (formatting for logs).
 * Pure functions: no I/O, no logging. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include "util.h"

/* "500ms", "10s", "1min 30s", "2h", "1.5s", "0" -> usec.
 * Units: us, ms, s, sec, m, min, h, hr, d (with optional plural/spaces).
 * Returns 0, -EINVAL (malformed) or -ERANGE (negative / overflow). */
int parse_duration(const char *s, usec_t *ret);
/* A number of seconds from a config number (int or float). -ERANGE if < 0. */
int parse_duration_seconds(double secs, usec_t *ret);
/* Compact human form: "3s", "500ms", "1min 30s", "2h", "1.5s", "0";
 * buf >= 32 bytes. USEC_INFINITY -> "infinity". */
char *format_duration(usec_t u, char *buf, size_t len);

/* "SIGTERM", "TERM", "term", "15" -> 15. -EINVAL when unknown. */
int parse_signal(const char *s);
/* 15 -> "SIGTERM"; unknown -> "SIG%d" in a static buffer per call site. */
const char *signal_name(int sig);

/* [A-Za-z0-9_.-]{1,64} */
#define NAME_MAX_LEN 64
bool name_is_valid(const char *s);

/* Octal mode from the decimal digits of an integer (27 -> 027) or a string
 * "0027" / "027"; -EINVAL on a digit 8 or 9 or a value > 0777. */
int parse_umask_int(long long v, int *ret);
int parse_umask_str(const char *s, int *ret);

/* Levenshtein distance (bounded, for did-you-mean suggestions). */
size_t edit_distance(const char *a, const char *b);
/* Best candidate within distance <= 2 (or <= len/3), or NULL. */
const char *suggest(const char *word, const char *const *candidates, size_t n);

/* How a process ended, from its waitpid status, in the words of the log,
 * `gracectl status` and its errors: "exited 0", "exited 3", "exited on
 * SIGTERM" (stop_signal: the stop signal graced sent to this very process,
 * 0 when none: dying of it is the normal end of a stop), "killed by SIGKILL"
 * (SIGKILL always, and any signal graced did not send as a stop signal),
 * "killed by SIGSEGV (core dumped)". The one description of an exit: every
 * message that tells how a process ended uses it. buf >= EXIT_DESC_MAX. */
#define EXIT_DESC_MAX 64
char *format_exit(int status, int stop_signal, char *buf, size_t len);

/* A probe's address: "127.0.0.1:5432", "[::1]:80" or "localhost:8080"
 * (127.0.0.1): numeric, so that no name lookup ever blocks the loop; port
 * 1-65535. 0, or -EINVAL with *why set to a static phrase
 * ("expected HOST:PORT", "the host must be a numeric address or localhost",
 * "bad port"). */
int parse_inet_address(const char *s, struct sockaddr_storage *ret, socklen_t *ret_len, const char **why);
/* An http:// or https:// URL whose host follows parse_inet_address()'s rule
 * (the port may be left out). 0, or -EINVAL with *why set as above
 * ("expected http:// or https://", "the host must be ..."). */
int parse_probe_url(const char *url, const char **why);
