/* logbuf.h - the records `gracectl logs` shows: for each worker the last
 * `log_buffer` records about it (its captured lines and graced's own
 * records about it), all of them also in one list in the order they were
 * made; and the readers (cursors) that walk that list, one per `logs`
 * client. Knows nothing of workers but their names; makes no system calls
 * and never logs.
 *
 * Memory: a ring costs nothing until its first record; a record is one
 * allocation of its text plus a 48-byte header. A reader holds no records
 * of its own: a reader that falls behind keeps its place in the list, and
 * when records it has not read yet leave their ring (a newer one pushed
 * them out), it skips them and counts them (see logbuf_cursor_next()). So
 * a slow reader never holds memory or slows whoever makes records. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "util.h"

struct logbuf;
struct logring;
struct logcursor;

/* What a record is when it is read. */
struct logrec_view {
        usec_t ts; /* CLOCK_REALTIME */
        int level;
        const char *worker; /* its ring's name, or the hook's label ("web/pre_stop") */
        const char *event;  /* "output" for a captured line */
        const char *stream; /* "stdout" / "stderr", NULL for graced's own records */
        const char *msg;    /* msg[len] is a NUL, but msg may hold NULs of its own */
        size_t len;
};

/* limit: records kept per ring (0: none; followers still see new records). */
struct logbuf *logbuf_new(unsigned limit);
/* Frees every ring and record; every cursor must be freed first. NULL-safe. */
struct logbuf *logbuf_free(struct logbuf *b);
/* A new limit (reload): rings longer than it lose their oldest records. */
void logbuf_set_limit(struct logbuf *b, unsigned limit);
unsigned logbuf_limit(const struct logbuf *b);

/* The ring of name, or NULL. O(1). */
struct logring *logbuf_find(struct logbuf *b, const char *name);
/* The ring of name, created (empty, no memory for records yet) if need be. */
struct logring *logbuf_ring(struct logbuf *b, const char *name);
/* Drops a ring and its records (a worker removed by a reload). NULL-safe. */
void logbuf_drop(struct logbuf *b, const char *name);

/* Adds a record to r (made now: records are kept in the order they are
 * added). hook: NULL, or the name of the worker's hook the line comes from
 * ("pre_stop": shown as "web/pre_stop"), which must be a string that lives
 * as long as the process (a literal). stream: NULL for graced's own, else
 * "stdout"/"stderr" (literals too). Followers waiting for records are
 * woken (their wake callback) before it returns. */
void logbuf_add(struct logring *r, usec_t ts, int level, const char *event, const char *hook, const char *stream,
                const char *msg, size_t len);

/* Whether a record added now would be kept or read by anyone (a limit
 * above 0, or a reader): callers may skip the work of adding otherwise. */
bool logbuf_wanted(const struct logbuf *b);

/* ---- across a reexec ----
 * The kept records as bytes (an image), oldest first, for the graced that
 * runs next: *ret_len their length; NULL when none are kept. The image
 * holds, for each record, its ring's name, its time, level, stream or
 * event, hook and text ("GLB1", then the records; integers little-endian),
 * and is only ever read by the same program. */
char *logbuf_save(const struct logbuf *b, size_t *ret_len);
/* Adds the records of an image logbuf_save() made, in their order, with
 * their times, as the oldest of b (b holds no records yet); each ring
 * keeps the last `limit` of its own. Everything is checked first: an
 * image that is not one adds nothing and returns false with why saying
 * what is wrong. Followers are not woken (there are none yet). */
bool logbuf_load(struct logbuf *b, const char *p, size_t n, char *why, size_t whylen);

/* Numbers, for tests and measurements. */
size_t logbuf_n_records(const struct logbuf *b);
size_t logbuf_ring_len(const struct logring *r);

/* A reader of the records of the workers named, and of the instances of
 * the groups named (a ring "web.2" is an instance of group "web": the name,
 * a dot, digits); copies are kept; no names and no groups: every worker.
 * It starts with the last `lines` of them there are now. follow: then
 * every record added later, without end; otherwise it ends after those.
 * wake(c, data) is called when a follower that had read everything may
 * read again (from inside logbuf_add(): it may read, but must not add
 * records or free cursors). */
struct logcursor *logbuf_cursor_new(struct logbuf *b, char *const *names, size_t n_names, char *const *groups,
                                    size_t n_groups, size_t lines, bool follow,
                                    void (*wake)(struct logcursor *c, void *data), void *data);
struct logcursor *logbuf_cursor_free(struct logcursor *c); /* NULL-safe, returns NULL */

enum logcursor_item {
        LOGCURSOR_NONE,    /* nothing to read now (a follower waits for wake) */
        LOGCURSOR_RECORD,  /* *v is the next record, valid until the next call into logbuf */
        LOGCURSOR_SKIPPED, /* *skipped records were dropped for this reader since the last item */
        LOGCURSOR_END,     /* not a follower: everything was read */
};
enum logcursor_item logbuf_cursor_next(struct logcursor *c, struct logrec_view *v, uint64_t *skipped);
