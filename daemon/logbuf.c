/* logbuf.c - per-worker rings of records, one list of them all in the
 * order they were made (that order is the time order `gracectl logs`
 * merges in), and the cursors of its readers. A record's memory belongs to
 * its ring alone: a cursor only points at the next record it will look at,
 * and when a record leaves its ring the cursors that had not read it yet
 * count it as skipped. No system calls, no logging. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hmap.h"
#include "logbuf.h"

/* The longest message kept (graced's own records can be long: a command
 * line); captured lines are at most 4096 bytes anyway. */
#define MAX_TEXT 8192
_Static_assert(MAX_TEXT < (1 << 14), "a record's length has 14 bits");

enum {
        REC_STDOUT = 1 << 0,
        REC_STDERR = 1 << 1,
        REC_EXTRA = 1 << 2, /* a string follows the message: the event (own records) or the hook (captured) */
};

/* 48 bytes before the text: one is kept for every record. */
struct logrec {
        struct logrec *prev, *next; /* every record, oldest first */
        struct logrec *newer;       /* the next one of its ring */
        struct logring *ring;
        uint64_t seq;          /* order of making, from 1 */
        uint64_t ts_ms : 44;   /* CLOCK_REALTIME in ms (what the formats show), until the year 2527 */
        uint64_t len : 14;     /* <= MAX_TEXT */
        uint64_t level : 3;
        uint64_t flags : 3;
        char text[]; /* msg, NUL[, extra, NUL] */
};

struct logring {
        struct logbuf *buf;
        struct logrec *oldest, *newest;
        size_t n;
        char name[];
};

struct logbuf {
        unsigned limit;
        struct hmap rings; /* name -> ring; the key is the ring's own name */
        struct logrec *first, *last;
        size_t n;
        uint64_t next_seq;
        struct logcursor *cursors;
};

struct logcursor {
        struct logbuf *buf;
        struct logcursor *prev, *next;
        struct logrec *pos; /* the next record to look at; NULL: after the last one */
        uint64_t read_seq;  /* every record up to this one was read or passed over */
        uint64_t end_seq;   /* not a follower: the last record it reads */
        uint64_t skipped;   /* not told yet */
        uint64_t skip_seq;  /* the newest of those: the count is told before the first record after it */
        bool follow;
        char **names; /* sorted; with no groups either: every worker */
        size_t n_names;
        char **groups; /* sorted: their instances */
        size_t n_groups;
        void (*wake)(struct logcursor *, void *);
        void *data;
        char label[160]; /* "NAME/HOOK" of the record handed out */
};

struct logbuf *logbuf_new(unsigned limit)
{
        struct logbuf *b = xcalloc(1, sizeof *b);

        b->limit = limit;
        b->rings = (struct hmap)HMAP_INIT_STR;
        b->next_seq = 1;
        return b;
}

unsigned logbuf_limit(const struct logbuf *b) { return b->limit; }
bool logbuf_wanted(const struct logbuf *b) { return b->limit > 0 || b->cursors; }
size_t logbuf_n_records(const struct logbuf *b) { return b->n; }
size_t logbuf_ring_len(const struct logring *r) { return r ? r->n : 0; }

static int cmp_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static bool selected(const struct logcursor *c, const struct logring *r)
{
        const char *key = r->name, *dot;
        char group[160];

        if (c->n_names == 0 && c->n_groups == 0)
                return true;
        if (c->n_names > 0 && bsearch(&key, c->names, c->n_names, sizeof *c->names, cmp_name))
                return true;
        /* an instance: NAME.DIGITS */
        dot = c->n_groups > 0 ? strrchr(key, '.') : NULL;
        if (!dot || !dot[1] || strspn(dot + 1, "0123456789") != strlen(dot + 1) || (size_t)(dot - key) >= sizeof group)
                return false;
        memcpy(group, key, (size_t)(dot - key));
        group[dot - key] = 0;
        key = group;
        return bsearch(&key, c->groups, c->n_groups, sizeof *c->groups, cmp_name) != NULL;
}

static char **sorted_copy(char *const *v, size_t n)
{
        char **r = n ? xcalloc(n, sizeof *r) : NULL;

        for (size_t i = 0; i < n; i++)
                r[i] = xstrdup(v[i]);
        if (n)
                qsort(r, n, sizeof *r, cmp_name);
        return r;
}

/* rec goes away: cursors that had not read it count it, those about to
 * look at it move on. */
static void forget_for_cursors(struct logbuf *b, struct logrec *rec)
{
        for (struct logcursor *c = b->cursors; c; c = c->next) {
                if (rec->seq > c->read_seq && (c->follow || rec->seq <= c->end_seq) && selected(c, rec->ring)) {
                        c->skipped++;
                        c->skip_seq = MAX(c->skip_seq, rec->seq);
                }
                if (c->pos == rec)
                        c->pos = rec->next;
        }
}

/* Removes the oldest record of r. */
static void evict(struct logring *r)
{
        struct logbuf *b = r->buf;
        struct logrec *rec = r->oldest;

        forget_for_cursors(b, rec);
        r->oldest = rec->newer;
        if (!r->oldest)
                r->newest = NULL;
        r->n--;
        if (rec->prev)
                rec->prev->next = rec->next;
        else
                b->first = rec->next;
        if (rec->next)
                rec->next->prev = rec->prev;
        else
                b->last = rec->prev;
        b->n--;
        free(rec);
}

static void trim(struct logring *r, size_t keep)
{
        while (r->n > keep)
                evict(r);
}

void logbuf_set_limit(struct logbuf *b, unsigned limit)
{
        b->limit = limit;
        for (size_t i = 0; i < b->rings.cap; i++)
                if (b->rings.v[i].val)
                        trim(b->rings.v[i].val, limit);
}

struct logring *logbuf_find(struct logbuf *b, const char *name) { return hmap_get_str(&b->rings, name); }

struct logring *logbuf_ring(struct logbuf *b, const char *name)
{
        struct logring *r = logbuf_find(b, name);
        size_t len = strlen(name);

        if (r)
                return r;
        r = xcalloc(1, sizeof *r + len + 1);
        r->buf = b;
        memcpy(r->name, name, len + 1);
        hmap_put(&b->rings, (uintptr_t)r->name, r);
        return r;
}

void logbuf_drop(struct logbuf *b, const char *name)
{
        struct logring *r = b ? logbuf_find(b, name) : NULL;

        if (!r)
                return;
        trim(r, 0);
        hmap_del(&b->rings, (uintptr_t)r->name);
        free(r);
}

struct logbuf *logbuf_free(struct logbuf *b)
{
        if (!b)
                return NULL;
        for (size_t i = 0; i < b->rings.cap; i++) {
                struct logring *r = b->rings.v[i].val;

                if (r) {
                        trim(r, 0);
                        free(r);
                }
        }
        hmap_done(&b->rings);
        free(b);
        return NULL;
}

static struct logrec *make_record(struct logring *r, usec_t ts, int level, const char *extra, const char *stream,
                                  const char *msg, size_t len)
{
        size_t elen = extra ? strlen(extra) + 1 : 0;
        struct logrec *rec;

        if (len > MAX_TEXT)
                len = utf8_cut(msg, MAX_TEXT);
        rec = xmalloc(sizeof *rec + len + 1 + elen);
        *rec = (struct logrec){ .ring = r, .seq = r->buf->next_seq++, .ts_ms = ts / USEC_PER_MSEC, .len = len,
                                .level = (unsigned)(level < 0 ? 0 : level > 7 ? 7 : level) };
        if (stream)
                rec->flags |= strcmp(stream, "stderr") == 0 ? REC_STDERR : REC_STDOUT;
        memcpy(rec->text, msg, len);
        rec->text[len] = 0;
        if (extra) {
                rec->flags |= REC_EXTRA;
                memcpy(rec->text + len + 1, extra, elen);
        }
        return rec;
}

/* Appends rec (of ring r) to the kept records; false when none are kept. */
static bool keep_record(struct logring *r, struct logrec *rec)
{
        struct logbuf *b = r->buf;

        if (b->limit == 0)
                return false;
        rec->prev = b->last;
        if (b->last)
                b->last->next = rec;
        else
                b->first = rec;
        b->last = rec;
        b->n++;
        if (r->newest)
                r->newest->newer = rec;
        else
                r->oldest = rec;
        r->newest = rec;
        r->n++;
        trim(r, b->limit);
        return true;
}

void logbuf_add(struct logring *r, usec_t ts, int level, const char *event, const char *hook, const char *stream,
                const char *msg, size_t len)
{
        struct logbuf *b = r->buf;
        struct logrec *rec;
        bool kept;

        if (b->limit == 0 && !b->cursors)
                return; /* nobody would ever read it */
        rec = make_record(r, ts, level, stream ? hook : event, stream, msg, len);
        kept = keep_record(r, rec);
        /* followers that had read everything read on from here */
        for (struct logcursor *c = b->cursors; c; c = c->next)
                if (c->follow && !c->pos && selected(c, r)) {
                        c->pos = rec;
                        c->wake(c, c->data);
                }
        if (!kept) {
                /* kept nowhere: those that could not take it now never will */
                forget_for_cursors(b, rec);
                free(rec);
        }
}

struct logcursor *logbuf_cursor_new(struct logbuf *b, char *const *names, size_t n_names, char *const *groups,
                                    size_t n_groups, size_t lines, bool follow,
                                    void (*wake)(struct logcursor *, void *), void *data)
{
        struct logcursor *c = xcalloc(1, sizeof *c);
        struct logrec *start = NULL;
        size_t found = 0;

        c->buf = b;
        c->follow = follow;
        c->wake = wake;
        c->data = data;
        c->names = sorted_copy(names, n_names);
        c->n_names = n_names;
        c->groups = sorted_copy(groups, n_groups);
        c->n_groups = n_groups;
        /* the last `lines` records of the selection, from the newest back */
        for (struct logrec *rec = b->last; rec && found < lines; rec = rec->prev)
                if (selected(c, rec->ring)) {
                        start = rec;
                        found++;
                }
        c->pos = start;
        c->read_seq = start ? start->seq - 1 : b->next_seq - 1;
        c->end_seq = b->next_seq - 1;
        c->next = b->cursors;
        if (b->cursors)
                b->cursors->prev = c;
        b->cursors = c;
        return c;
}

struct logcursor *logbuf_cursor_free(struct logcursor *c)
{
        if (!c)
                return NULL;
        if (c->prev)
                c->prev->next = c->next;
        else
                c->buf->cursors = c->next;
        if (c->next)
                c->next->prev = c->prev;
        for (size_t i = 0; i < c->n_names; i++)
                free(c->names[i]);
        free(c->names);
        for (size_t i = 0; i < c->n_groups; i++)
                free(c->groups[i]);
        free(c->groups);
        free(c);
        return NULL;
}

static void view(struct logcursor *c, const struct logrec *rec, struct logrec_view *v)
{
        const char *extra = rec->flags & REC_EXTRA ? rec->text + rec->len + 1 : NULL;
        bool captured = rec->flags & (REC_STDOUT | REC_STDERR);

        *v = (struct logrec_view){ .ts = (usec_t)rec->ts_ms * USEC_PER_MSEC, .level = rec->level,
                                   .worker = rec->ring->name,
                                   .event = captured ? "output" : extra ? extra : "log",
                                   .stream = !captured                  ? NULL
                                             : rec->flags & REC_STDERR ? "stderr"
                                                                       : "stdout",
                                   .msg = rec->text, .len = rec->len };
        if (captured && extra) {
                snprintf(c->label, sizeof c->label, "%s/%s", rec->ring->name, extra);
                v->worker = c->label;
        }
}

enum logcursor_item logbuf_cursor_next(struct logcursor *c, struct logrec_view *v, uint64_t *skipped)
{
        for (;;) {
                struct logrec *rec = c->pos;

                if (rec && !c->follow && rec->seq > c->end_seq)
                        rec = NULL; /* made after the request: not for this reader */
                if (rec && !selected(c, rec->ring)) {
                        c->read_seq = rec->seq;
                        c->pos = rec->next;
                        continue;
                }
                /* what was dropped, in its place: before the first record made after it */
                if (c->skipped && (!rec || rec->seq > c->skip_seq)) {
                        *skipped = c->skipped;
                        c->skipped = 0;
                        return LOGCURSOR_SKIPPED;
                }
                if (!rec) {
                        if (c->follow)
                                return LOGCURSOR_NONE;
                        c->pos = NULL;
                        return LOGCURSOR_END;
                }
                view(c, rec, v);
                c->read_seq = rec->seq;
                c->pos = rec->next;
                return LOGCURSOR_RECORD;
        }
}

/* ---- the image ------------------------------------------------------------------------
 * "GLB1", then per record: u16 name length, the ring's name, u64 meta
 * (ts_ms: bits 0-43, len: 44-57, level: 58-60, flags: 61-63), [u16
 * extra length when REC_EXTRA], the text (len bytes), [the extra]. */

#define IMAGE_MAGIC "GLB1"
#define IMAGE_NAME_MAX 1024

struct image {
        char *p;
        size_t n, cap;
};

static void put(struct image *im, const void *p, size_t n)
{
        if (im->n + n > im->cap) {
                im->cap = MAX(MAX(im->cap * 2, im->n + n), (size_t)4096);
                im->p = xrealloc(im->p, im->cap);
        }
        memcpy(im->p + im->n, p, n);
        im->n += n;
}

static void put_u16(struct image *im, uint16_t v)
{
        uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };

        put(im, b, 2);
}

static void put_u64(struct image *im, uint64_t v)
{
        uint8_t b[8];

        for (int i = 0; i < 8; i++)
                b[i] = (uint8_t)(v >> (8 * i));
        put(im, b, 8);
}

char *logbuf_save(const struct logbuf *b, size_t *ret_len)
{
        struct image im = { 0 };

        *ret_len = 0;
        if (!b || !b->first)
                return NULL;
        put(&im, IMAGE_MAGIC, 4);
        for (const struct logrec *rec = b->first; rec; rec = rec->next) {
                size_t nlen = strlen(rec->ring->name);
                const char *extra = rec->text + rec->len + 1;

                if (nlen > IMAGE_NAME_MAX)
                        continue; /* no worker has such a name */
                put_u16(&im, (uint16_t)nlen);
                put(&im, rec->ring->name, nlen);
                put_u64(&im, (uint64_t)rec->ts_ms | (uint64_t)rec->len << 44 | (uint64_t)rec->level << 58 |
                                     (uint64_t)rec->flags << 61);
                if (rec->flags & REC_EXTRA)
                        put_u16(&im, (uint16_t)MIN(strlen(extra), (size_t)UINT16_MAX));
                put(&im, rec->text, rec->len);
                if (rec->flags & REC_EXTRA)
                        put(&im, extra, MIN(strlen(extra), (size_t)UINT16_MAX));
        }
        *ret_len = im.n;
        return im.p;
}

/* A record of the image, read. */
struct image_rec {
        const char *name, *text, *extra;
        size_t nlen, len, elen;
        uint64_t ts_ms;
        unsigned level, flags;
};

static bool get_bytes(const char **p, const char *end, size_t n, const char **ret)
{
        if ((size_t)(end - *p) < n)
                return false;
        *ret = *p;
        *p += n;
        return true;
}

static bool get_uint(const char **p, const char *end, int width, uint64_t *ret)
{
        const char *b;

        if (!get_bytes(p, end, (size_t)width, &b))
                return false;
        *ret = 0;
        for (int i = width - 1; i >= 0; i--)
                *ret = *ret << 8 | (uint8_t)b[i];
        return true;
}

/* The next record at *p; NULL when it is one, else what is wrong. */
static const char *next_image_rec(const char **p, const char *end, struct image_rec *r)
{
        uint64_t nlen, meta, elen = 0;

        if (!get_uint(p, end, 2, &nlen) || !get_bytes(p, end, nlen, &r->name) || !get_uint(p, end, 8, &meta))
                return "truncated record";
        if (nlen == 0 || nlen > IMAGE_NAME_MAX || memchr(r->name, 0, nlen))
                return "bad worker name";
        r->nlen = nlen;
        r->ts_ms = meta & (((uint64_t)1 << 44) - 1);
        r->len = (meta >> 44) & ((1u << 14) - 1);
        r->level = (meta >> 58) & 7;
        r->flags = (unsigned)(meta >> 61);
        if (r->len > MAX_TEXT)
                return "text too long";
        if ((r->flags & REC_STDOUT) && (r->flags & REC_STDERR))
                return "bad stream";
        if ((r->flags & REC_EXTRA) && !get_uint(p, end, 2, &elen))
                return "truncated record";
        r->elen = elen;
        if (!get_bytes(p, end, r->len, &r->text) || !get_bytes(p, end, elen, &r->extra))
                return "truncated record";
        if (memchr(r->extra, 0, elen))
                return "bad event";
        if (!(r->flags & REC_EXTRA))
                r->extra = NULL;
        return NULL;
}

bool logbuf_load(struct logbuf *b, const char *p, size_t n, char *why, size_t whylen)
{
        const char *end = p + n, *q, *problem = NULL;
        struct image_rec ir;
        size_t count = 0;
        char name[IMAGE_NAME_MAX + 1];

        if (n < 4 || memcmp(p, IMAGE_MAGIC, 4) != 0) {
                snprintf(why, whylen, "log records: not an image of them");
                return false;
        }
        for (q = p + 4; q < end && !problem; count++)
                problem = next_image_rec(&q, end, &ir);
        if (problem) {
                snprintf(why, whylen, "log records: record %zu: %s", count, problem);
                return false;
        }
        for (q = p + 4; q < end;) {
                struct logring *r;
                struct logrec *rec;

                (void)next_image_rec(&q, end, &ir);
                memcpy(name, ir.name, ir.nlen);
                name[ir.nlen] = 0;
                r = logbuf_ring(b, name);
                rec = xmalloc(sizeof *rec + ir.len + 1 + (ir.extra ? ir.elen + 1 : 0));
                *rec = (struct logrec){ .ring = r, .seq = b->next_seq++, .ts_ms = ir.ts_ms, .len = ir.len,
                                        .level = ir.level, .flags = ir.flags };
                memcpy(rec->text, ir.text, ir.len);
                rec->text[ir.len] = 0;
                if (ir.extra) {
                        memcpy(rec->text + ir.len + 1, ir.extra, ir.elen);
                        rec->text[ir.len + 1 + ir.elen] = 0;
                }
                if (!keep_record(r, rec))
                        free(rec);
        }
        return true;
}
