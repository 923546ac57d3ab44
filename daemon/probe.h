/* probe.h - the mechanism of readiness and health probes: one attempt of a
 * tcp, unix, http(s) or exec probe, carried out asynchronously in graced's
 * loop, its result reported through a callback; and the log probe's regex.
 * No policy: when to probe, what a failure means and the counting of
 * failures are the caller's. Nothing here logs but one error, once: that
 * libcurl cannot be loaded (see probes_new).
 *
 * No attempt ever blocks the loop or starts a thread: sockets are
 * non-blocking, HTTP goes through libcurl's multi-socket API driven by the
 * loop, and addresses are numeric or "localhost" (127.0.0.1), so that no
 * name is ever looked up. When no attempt is under way the module watches
 * no fd and arms no timer. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "conf.h"
#include "loop.h"
#include "proc.h"

struct probes;
struct probe_attempt;

/* The longest reason given to probe_done_fn, NUL included. */
#define PROBE_REASON_MAX 320
/* An exec probe's last output line is kept to this many bytes. */
#define PROBE_LINE_MAX 200
/* An HTTP answer's body is read (and thrown away) up to this many bytes;
 * a longer one is cut there and judged by its status alone. */
#define PROBE_HTTP_BODY_MAX (64 * 1024)

/* The state all attempts share: the loop, the exec probes' pids and, from
 * the first http attempt on, libcurl (loaded then: curl_api_load(), which
 * does curl_global_init; one multi handle). When libcurl cannot be loaded,
 * the first http attempt logs the error "http probes fail: cannot load
 * libcurl: DLERROR", and every http attempt fails with the reason "cannot
 * load libcurl: DLERROR".
 * probes_new returns NULL only on ENOMEM. probes_free ends every attempt
 * under way as probe_cancel does (done is not called); the exec probes'
 * processes are SIGKILLed and reaped when they are already gone, else left
 * to the caller's waitpid(-1). NULL-safe; returns NULL. */
struct probes *probes_new(struct loop *l);
struct probes *probes_free(struct probes *ps);

/* ok, or why not: for tcp and unix the errno text ("Connection refused",
 * "No such file or directory"); for http "HTTP 503" or libcurl's error
 * text; for exec format_exit()'s words and the probe's last non-empty
 * output line ("exited 3: not ready", "killed by SIGKILL"), or
 * "exec /bin/x: No such file or directory" ("setuid before exec /bin/x:
 * ..." for an earlier stage) when it could not be started; for http
 * "cannot load libcurl: DLERROR" when libcurl cannot be loaded; for any kind
 * "timed out after 1s" (format_duration() of the timeout). reason is valid
 * text (UTF-8 without control characters), "" when ok; it is only valid
 * during the call. */
typedef void (*probe_done_fn)(void *data, bool ok, const char *reason);

/* Starts one attempt of p (PROBE_TCP, PROBE_UNIX, PROBE_HTTP or
 * PROBE_EXEC). For exec, spec says how to run it, built by the caller as
 * for a hook (argv: normally p->argv, env, cwd, ids); its fd_out and fd_err
 * are replaced by the attempt's own pipe, which captures both streams.
 * spec is only read during the call (NULL for the other kinds).
 *
 * Returns the attempt, or NULL with *ret_err = -errno when it could not be
 * started at all: EINVAL (log/none kind, an address or URL outside the
 * rules: never looked up), or what graced itself lacks (EMFILE, ENOMEM, a
 * fork that failed). Anything that says something about the target (a
 * refused connection, a missing socket file, a program that cannot be
 * exec'd) comes through done.
 *
 * done is called exactly once, from a loop callback and never from inside
 * probe_start, unless the attempt is cancelled first. The attempt is gone
 * when done is called: done may start another attempt at once.
 *
 * Each attempt also has a deadline of its own, p->timeout after its start
 * (none when 0): at that time it is ended as by probe_cancel and done gets
 * "timed out after <timeout>". The caller may enforce its own timeout with
 * probe_cancel instead; this one is the safety net, with the same words.
 *
 * An exec probe runs in its own process group (proc_spawn); once its
 * process has exited, whatever it left in its group is SIGKILLed. Its
 * process is reaped through its pidfd; without pidfds (old kernels), or
 * when the caller reaps with waitpid(-1) first, the caller hands the
 * status over with probe_on_reaped(). */
struct probe_attempt *probe_start(struct probes *ps, const struct conf_probe *p, const struct proc_spec *spec,
                                  probe_done_fn done, void *data, int *ret_err);

/* Ends an attempt under way: its socket closed, its HTTP transfer removed,
 * its exec probe's whole process group SIGKILLed (the process is still
 * reaped, later, from the loop: no zombie is left). done is not called.
 * Must not be called once done was called. NULL-safe. */
void probe_cancel(struct probe_attempt *a);

/* The exec probe's process (its process group too), 0 for other kinds. */
pid_t probe_pid(const struct probe_attempt *a);

/* Attempts that still hold something: under way, or cancelled or timed out
 * exec probes not reaped yet. With none, the module holds no fd of the
 * loop's and no armed timer. */
size_t probes_active(const struct probes *ps);

/* For a caller that reaps with waitpid(-1) (as a subreaper, or without
 * pidfds): whether pid is an exec probe's process not reaped yet, and its
 * wait status once the caller has reaped it. */
bool probe_owns_pid(const struct probes *ps, pid_t pid);
void probe_on_reaped(struct probes *ps, pid_t pid, int status);

/* Every exec probe's process not reaped yet, with its pidfd (-1: none):
 * across a reexec, the new graced reaps them. */
void probes_each_unreaped(const struct probes *ps, void (*fn)(pid_t pid, int pidfd, void *data), void *data);

/* The log probe: a POSIX extended regular expression, compiled once.
 * probe_regex_new returns NULL with regerror()'s text in err (errlen > 0)
 * when ere is not one (or on ENOMEM). probe_regex_match looks at
 * line[0..len): NUL bytes and invalid UTF-8 are matched as bytes. */
struct probe_regex;
struct probe_regex *probe_regex_new(const char *ere, char *err, size_t errlen);
bool probe_regex_match(const struct probe_regex *re, const char *line, size_t len);
struct probe_regex *probe_regex_free(struct probe_regex *re);
