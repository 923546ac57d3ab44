/* http.h - the read-only HTTP/1.1 endpoint (http_listen): GET /metrics
 * (OpenMetrics text), /readyz and /livez, served by libmicrohttpd in its
 * external epoll mode from graced's own loop: no thread, no blocking call,
 * and nothing served changes any state. The paths, their answers and the
 * metric names are documented in graced.conf(5). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include "util.h"

struct loop;
struct sup;
struct http;

/* Limits on what a client controls. */
#define HTTP_MAX_CLIENTS 256     /* connections served at once; a new one beyond is closed at once */
#define HTTP_MAX_HEAD 8192       /* bytes of a request head (request line, fields); more: 431, then closed */
#define HTTP_IDLE_TIMEOUT_S 10   /* a connection that sends nothing for this long is closed */
/* Test knob: the idle timeout in seconds (1 or more), read by http_open(). */
#define HTTP_IDLE_ENV "GRACED_HTTP_IDLE_S"

struct http_hooks {
        /* The supervisor whose state is served. */
        struct sup *(*sup)(void *ctx);
};

/* Listens on addr, a validated http_listen value (parse_inet_address():
 * "127.0.0.1:9321", "[::1]:9321", "localhost:9321"), and serves it from
 * loop l. libmicrohttpd is loaded by the first call (mhd_api.h): nothing
 * maps it before. NULL with *ret_err (a positive errno) on failure: EINVAL
 * (addr is not an address), ELIBACC (libmicrohttpd cannot be loaded),
 * EADDRINUSE, EACCES, EADDRNOTAVAIL (bind), ENOMEM, or the errno of the
 * failing call. Logs nothing. */
struct http *http_open(struct loop *l, const char *addr, const struct http_hooks *hooks, void *ctx, int *ret_err);
/* Across a reexec: the listening socket fd (of http_listen_fd()) served
 * again at addr (its clients were not handed over: they were dropped). NULL
 * with *ret_err on failure (fd is closed). */
struct http *http_adopt(struct loop *l, const char *addr, int fd, const struct http_hooks *hooks, void *ctx,
                        int *ret_err);
int http_listen_fd(const struct http *h);
/* The text of http_open()'s and http_adopt()'s *ret_err: strerror(), but
 * for ELIBACC "cannot load libmicrohttpd: DLERROR". */
const char *http_strerror(int e);
/* Closes every connection and the listening socket. NULL-safe; returns NULL. */
struct http *http_close(struct http *h);
/* The address as configured. */
const char *http_address(const struct http *h);
/* Whether addr (a validated http_listen value) is the socket address h
 * listens on ("localhost:80" and "127.0.0.1:80" are the same). */
bool http_same_address(const struct http *h, const char *addr);
/* Whether addr has h's family and port: binding it may fail only because
 * h holds the port (0.0.0.0:80 while h listens on 127.0.0.1:80). */
bool http_same_port(const struct http *h, const char *addr);

/* What GET /metrics answers for s (now: CLOCK_MONOTONIC and CLOCK_REALTIME
 * in usec): OpenMetrics text ending with "# EOF\n", malloc'd, its length in
 * *ret_len. One pass over the workers. */
char *http_metrics_text(struct sup *s, usec_t now_mono, usec_t now_real, size_t *ret_len);
/* Appends s as an OpenMetrics label value (without the quotes): \ as \\,
 * " as \", a newline as \n; every other byte as it is. */
void http_escape_label(struct sbuf *b, const char *s);
