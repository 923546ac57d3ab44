/* fuzz_logbuf.c - the log records a reexec hands over: the input, after
 * its first byte, is an image for logbuf_load() (the new graced's reader
 * of what logbuf_save() wrote); the first byte's low bits are the new
 * graced's log_buffer (0 to 7, so that rings are trimmed as they load).
 * An image it takes must read back through a cursor, and save and load
 * again to the very same bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "logbuf.h"

static void wake(struct logcursor *c, void *data)
{
        (void)c;
        (void)data;
}

/* A fresh buffer of that limit loaded from img: its own image. */
static char *reloaded(unsigned limit, const char *img, size_t n, size_t *ret_n)
{
        struct logbuf *b = logbuf_new(limit);
        char why[256], *again;

        if (!logbuf_load(b, img, n, why, sizeof why)) {
                fprintf(stderr, "an image logbuf_save() wrote is refused: %s\n", why);
                abort();
        }
        again = logbuf_save(b, ret_n);
        logbuf_free(b);
        return again;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        unsigned limit;
        struct logbuf *b;
        struct logcursor *c;
        struct logrec_view v;
        uint64_t skipped;
        size_t n = 0, n2 = 0, records = 0;
        char why[256], *img, *img2;

        if (size < 1)
                return 0;
        limit = data[0] & 7;
        b = logbuf_new(limit);
        if (!logbuf_load(b, (const char *)data + 1, size - 1, why, sizeof why)) {
                if (logbuf_n_records(b) != 0)
                        abort(); /* refused whole */
                logbuf_free(b);
                return 0;
        }
        c = logbuf_cursor_new(b, NULL, 0, NULL, 0, SIZE_MAX, false, wake, NULL);
        for (enum logcursor_item it; (it = logbuf_cursor_next(c, &v, &skipped)) != LOGCURSOR_END;) {
                if (it == LOGCURSOR_NONE)
                        abort(); /* not a follower: it ends */
                if (it == LOGCURSOR_RECORD) {
                        if (!v.worker || !v.event || strlen(v.msg) > v.len || v.msg[v.len] != 0)
                                abort();
                        records++;
                }
        }
        logbuf_cursor_free(c);
        if (records != logbuf_n_records(b))
                abort();
        img = logbuf_save(b, &n);
        if (img) {
                img2 = reloaded(limit, img, n, &n2);
                if (!img2 || n2 != n || memcmp(img, img2, n) != 0)
                        abort();
                free(img2);
        }
        free(img);
        logbuf_free(b);
        return 0;
}
