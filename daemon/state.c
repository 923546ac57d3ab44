/* state.c - the reexec state's format (state.h): the head and body texts,
 * the sealed memfd, base64, and the getters that check every member before
 * it is believed. It knows nothing of what the sections mean. Logs
 * nothing. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state.h"

#define JSON_DEPTH 32
#define SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)

/* ---- base64 ---------------------------------------------------------------- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *base64_encode(const void *data, size_t n)
{
        const unsigned char *p = data;
        char *out = xmalloc((n + 2) / 3 * 4 + 1), *o = out;

        for (size_t i = 0; i < n; i += 3) {
                unsigned v = (unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) |
                             (i + 2 < n ? p[i + 2] : 0);

                *o++ = b64[v >> 18 & 63];
                *o++ = b64[v >> 12 & 63];
                *o++ = i + 1 < n ? b64[v >> 6 & 63] : '=';
                *o++ = i + 2 < n ? b64[v & 63] : '=';
        }
        *o = 0;
        return out;
}

static int b64_value(char c)
{
        const char *p = c ? strchr(b64, c) : NULL;

        return p ? (int)(p - b64) : -1;
}

ssize_t base64_decode(const char *s, size_t len, char *out)
{
        size_t n = 0;

        if (len % 4)
                return -1;
        for (size_t i = 0; i < len; i += 4) {
                int v[4];
                unsigned pad = 0;

                for (int k = 0; k < 4; k++) {
                        bool last = i + 4 == len;

                        v[k] = b64_value(s[i + k]);
                        if (v[k] < 0 && last && k >= 2 && s[i + k] == '=' && (k == 3 || s[i + 3] == '=')) {
                                v[k] = 0;
                                pad++;
                        } else if (v[k] < 0) {
                                return -1;
                        }
                }
                unsigned x = (unsigned)v[0] << 18 | (unsigned)v[1] << 12 | (unsigned)v[2] << 6 | (unsigned)v[3];

                out[n++] = (char)(x >> 16);
                if (pad < 2)
                        out[n++] = (char)(x >> 8 & 255);
                if (pad < 1)
                        out[n++] = (char)(x & 255);
        }
        return (ssize_t)n;
}

/* ---- writing ------------------------------------------------------------------ */

struct json_object *state_usec_new(usec_t u)
{
        return u == USEC_INFINITY ? NULL : json_object_new_int64((int64_t)u);
}

struct json_object *state_bytes_new(const void *p, size_t n)
{
        char *s = base64_encode(p, n);
        struct json_object *o = json_object_new_string(s);

        free(s);
        return o;
}

struct json_object *state_str_new(const char *s)
{
        struct json_object *o;

        if (!s)
                return NULL;
        if (utf8_is_valid(s, strlen(s)))
                return json_object_new_string(s);
        o = json_object_new_object();
        json_object_object_add(o, "base64", state_bytes_new(s, strlen(s)));
        return o;
}

struct json_object *state_strv_new(char *const *v)
{
        struct json_object *a;

        if (!v)
                return NULL;
        a = json_object_new_array_ext((int)strv_length(v));
        for (; *v; v++)
                json_object_array_add(a, state_str_new(*v));
        return a;
}

void state_add(struct json_object *o, const char *key, struct json_object *v)
{
        /* keys are literals or the key tables' names: no copy of each */
        json_object_object_add_ex(o, key, v, JSON_C_OBJECT_KEY_IS_CONSTANT);
}
void state_add_int(struct json_object *o, const char *key, int64_t v) { state_add(o, key, json_object_new_int64(v)); }
void state_add_bool(struct json_object *o, const char *key, bool v) { state_add(o, key, json_object_new_boolean(v)); }
void state_add_usec(struct json_object *o, const char *key, usec_t v) { state_add(o, key, state_usec_new(v)); }

void state_add_int_if(struct json_object *o, const char *key, int64_t v, int64_t def)
{
        if (v != def)
                state_add_int(o, key, v);
}

void state_add_bool_if(struct json_object *o, const char *key, bool v)
{
        if (v)
                state_add_bool(o, key, v);
}

void state_add_usec_if(struct json_object *o, const char *key, usec_t v, usec_t def)
{
        if (v != def)
                state_add_usec(o, key, v);
}

static char *head_text(const struct state_proc *procs, size_t n, int reply_fd, size_t body_len, int version)
{
        struct sbuf b = { 0 };

        sbuf_addf(&b, "{\"graced_state\":%d,\"size\":%zu,\"reply\":%d,\"procs\":[", version, body_len, reply_fd);
        for (size_t i = 0; i < n; i++)
                sbuf_addf(&b, "%s[%d,%d,%d,%llu,%d]", i ? "," : "", (int)procs[i].pid, procs[i].pidfd,
                          procs[i].stop_signal, (unsigned long long)procs[i].stop_timeout, procs[i].group ? 1 : 0);
        sbuf_adds(&b, "]}\n");
        return sbuf_steal(&b, NULL);
}

/* The test knob (STATE_CORRUPT_ENV): body and head as asked. */
static void corrupt_texts(const char *corrupt, struct json_object *body, char *head)
{
        if (!corrupt)
                return;
        if (body && strcmp(corrupt, "missing") == 0)
                json_object_object_del(body, "workers"); /* a required section */
        else if (head && strcmp(corrupt, "head") == 0)
                head[1] = '#'; /* not JSON any more */
}

/* Seals fd against any change and rewinds it. */
static int seal(int fd)
{
        if (fcntl(fd, F_ADD_SEALS, SEALS) < 0 || lseek(fd, 0, SEEK_SET) < 0)
                return -errno;
        return 0;
}

int state_blob_write(const char *name, const void *p, size_t n)
{
        int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING), r = fd < 0 ? -errno : 0;

        if (r == 0)
                r = write_all(fd, p, n);
        if (r == 0)
                r = seal(fd);
        if (r < 0) {
                safe_close(fd);
                return r;
        }
        return fd;
}

int state_write(const struct state_proc *procs, size_t n, int reply_fd, struct json_object *body, const char *corrupt)
{
        bool bad_body = corrupt && strcmp(corrupt, "json") == 0;
        int version = corrupt && strcmp(corrupt, "version") == 0 ? 9999 : STATE_VERSION;
        int fd = memfd_create("graced-state", MFD_CLOEXEC | MFD_ALLOW_SEALING), r = fd < 0 ? -errno : 0;
        const char *btext;
        size_t blen;
        char *head;

        corrupt_texts(corrupt, body, NULL);
        btext = json_object_to_json_string_length(body, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &blen);
        head = head_text(procs, n, reply_fd, blen, version);
        corrupt_texts(corrupt, NULL, head);
        if (r == 0)
                r = write_all(fd, head, strlen(head));
        /* the knob's bad body: cut in two, the halves swapped, of the announced size */
        if (r == 0 && bad_body)
                r = write_all(fd, btext + blen / 2, blen - blen / 2);
        if (r == 0)
                r = write_all(fd, btext, bad_body ? blen / 2 : blen);
        if (r == 0)
                r = seal(fd);
        free(head);
        if (r < 0) {
                safe_close(fd);
                return r;
        }
        return fd;
}

/* ---- reading the texts ------------------------------------------------------------ */

int state_blob_read(int fd, char **ret, size_t *ret_len, char *why, size_t whylen)
{
        struct stat st;
        int seals = fcntl(fd, F_GET_SEALS);
        size_t n = 0, size;
        char *buf;

        if (fstat(fd, &st) < 0) {
                snprintf(why, whylen, "state descriptor %d: %s", fd, strerror(errno));
                return -errno;
        }
        /* only what a graced wrote: a memfd nobody can change any more */
        if (seals < 0 || (seals & SEALS) != SEALS) {
                snprintf(why, whylen, "state descriptor %d is not a sealed memfd", fd);
                return -EBADMSG;
        }
        if (st.st_size <= 0 || (uint64_t)st.st_size > STATE_MAX_SIZE) {
                snprintf(why, whylen, "state size %lld out of bounds (1 to %zu bytes)", (long long)st.st_size,
                         STATE_MAX_SIZE);
                return -EBADMSG;
        }
        size = (size_t)st.st_size;
        buf = xmalloc(size + 1);
        while (n < size) {
                ssize_t k = pread(fd, buf + n, size - n, (off_t)n);

                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0) {
                        snprintf(why, whylen, "reading the state: %s", k < 0 ? strerror(errno) : "short read");
                        free(buf);
                        return k < 0 ? -errno : -EBADMSG;
                }
                n += (size_t)k;
        }
        buf[n] = 0;
        *ret = buf;
        *ret_len = n;
        return 0;
}

/* One JSON object taking exactly p[0..len). */
static struct json_object *parse_object(const char *p, size_t len, const char **why)
{
        struct json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
        struct json_object *o;

        if (len > INT_MAX) {
                json_tokener_free(tok);
                *why = "too large";
                return NULL;
        }
        o = json_tokener_parse_ex(tok, p, (int)len);
        *why = NULL;
        if (json_tokener_get_error(tok) != json_tokener_success)
                *why = json_tokener_get_error(tok) == json_tokener_continue
                               ? "unexpected end"
                               : json_tokener_error_desc(json_tokener_get_error(tok));
        else if (json_tokener_get_parse_end(tok) != len)
                *why = "trailing characters";
        else if (!json_object_is_type(o, json_type_object))
                *why = "not an object";
        json_tokener_free(tok);
        if (*why) {
                json_object_put(o);
                return NULL;
        }
        return o;
}

/* The head's processes, whatever its version says. */
static bool read_procs(struct json_object *head, struct state_proc **ret, size_t *ret_n, struct state_rd *rd)
{
        struct json_object *a = state_get_arr(rd, head, "procs", STATE_REQUIRED, INT_MAX);
        size_t n = a ? json_object_array_length(a) : 0;
        struct state_proc *v = xcalloc(n ? n : 1, sizeof *v);

        for (size_t i = 0; i < n && a; i++) {
                struct json_object *e = json_object_array_get_idx(a, i);
                int64_t x[5];

                if (!json_object_is_type(e, json_type_array) || json_object_array_length(e) != 5) {
                        state_fail(rd, "procs[%zu]: not [pid, pidfd, signal, timeout, group]", i);
                        break;
                }
                for (int k = 0; k < 5; k++)
                        x[k] = json_object_get_int64(json_object_array_get_idx(e, (size_t)k));
                if (x[0] <= 0 || x[0] > INT_MAX || x[1] < -1 || x[1] > INT_MAX || x[2] < 1 || x[2] >= NSIG ||
                    x[3] < 0 || (x[4] != 0 && x[4] != 1)) {
                        state_fail(rd, "procs[%zu]: out of range", i);
                        break;
                }
                v[i] = (struct state_proc){ .pid = (pid_t)x[0], .pidfd = (int)x[1], .stop_signal = (int)x[2],
                                            .stop_timeout = (usec_t)x[3], .group = x[4] == 1 };
        }
        if (rd->bad) {
                free(v);
                return false;
        }
        *ret = v;
        *ret_n = n;
        return true;
}

int state_read(int fd, struct state_proc **ret_procs, size_t *ret_n, int *ret_reply, struct json_object **ret_body,
               char *why, size_t whylen)
{
        struct state_rd rd = { 0 };
        struct json_object *head = NULL, *body = NULL;
        const char *e = NULL;
        size_t len = 0, hlen;
        int64_t version = 0, size = 0;
        char *buf = NULL, *nl;
        int r = state_blob_read(fd, &buf, &len, why, whylen);

        if (r < 0)
                return r;
        nl = memchr(buf, '\n', MIN(len, STATE_MAX_HEAD));
        hlen = nl ? (size_t)(nl - buf) : 0;
        head = nl ? parse_object(buf, hlen, &e) : NULL;
        if (!head)
                snprintf(why, whylen, "state head: %s", nl ? e : "no head line");
        else if (!read_procs(head, ret_procs, ret_n, &rd) ||
                 !state_get_fd(&rd, head, "reply", STATE_OPTIONAL, ret_reply) ||
                 !state_get_int(&rd, head, "graced_state", STATE_REQUIRED, 0, INT_MAX, &version) ||
                 !state_get_int(&rd, head, "size", STATE_REQUIRED, 0, INT64_MAX, &size))
                snprintf(why, whylen, "state head: %s", rd.why);
        else if (version != STATE_VERSION)
                snprintf(why, whylen, "state version %lld (this graced reads version %d)", (long long)version,
                         STATE_VERSION);
        else if ((uint64_t)size != len - hlen - 1)
                snprintf(why, whylen, "state body: %zu bytes, the head says %lld", len - hlen - 1, (long long)size);
        else if (!(body = parse_object(nl + 1, len - hlen - 1, &e)))
                snprintf(why, whylen, "state body: not JSON (%s)", e);
        json_object_put(head);
        free(buf);
        if (!body)
                return -EBADMSG;
        *ret_body = body;
        return 0;
}

/* ---- reading members ------------------------------------------------------------- */

bool state_fail(struct state_rd *rd, const char *fmt, ...)
{
        va_list ap;
        int n = 0;

        if (rd->bad)
                return false;
        rd->bad = true;
        if (rd->ctx[0])
                n = snprintf(rd->why, sizeof rd->why, "%s: ", rd->ctx);
        va_start(ap, fmt);
        vsnprintf(rd->why + n, sizeof rd->why - (size_t)n, fmt, ap);
        va_end(ap);
        return false;
}

void state_ctx(struct state_rd *rd, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(rd->ctx, sizeof rd->ctx, fmt, ap);
        va_end(ap);
}

/* The member, or NULL: absent (*present false), or JSON null. */
static struct json_object *member(struct state_rd *rd, struct json_object *o, const char *key, bool *present)
{
        struct json_object *v = NULL;

        *present = !rd->bad && o && json_object_object_get_ex(o, key, &v);
        return *present ? v : NULL;
}

/* An absent member: a problem only when it is required. */
static bool absent(struct state_rd *rd, const char *key, int req)
{
        return req == STATE_REQUIRED ? state_fail(rd, "%s: missing", key) : !rd->bad;
}

bool state_get_int(struct state_rd *rd, struct json_object *o, const char *key, int req, int64_t min, int64_t max,
                   int64_t *ret)
{
        bool present;
        struct json_object *v = member(rd, o, key, &present);
        int64_t x;

        if (!present)
                return absent(rd, key, req);
        if (!json_object_is_type(v, json_type_int))
                return state_fail(rd, "%s: not an integer", key);
        x = json_object_get_int64(v);
        if (x < min || x > max)
                return state_fail(rd, "%s: %lld out of range", key, (long long)x);
        *ret = x;
        return true;
}

bool state_get_i32(struct state_rd *rd, struct json_object *o, const char *key, int req, int min, int max, int *ret)
{
        int64_t x;

        if (!state_get_int(rd, o, key, req, min, max, &x) || !json_object_object_get_ex(o, key, NULL))
                return !rd->bad;
        *ret = (int)x;
        return true;
}

bool state_get_uint(struct state_rd *rd, struct json_object *o, const char *key, int req, unsigned max,
                    unsigned *ret)
{
        int64_t x;

        if (!state_get_int(rd, o, key, req, 0, max, &x) || !json_object_object_get_ex(o, key, NULL))
                return !rd->bad;
        *ret = (unsigned)x;
        return true;
}

bool state_get_bool(struct state_rd *rd, struct json_object *o, const char *key, int req, bool *ret)
{
        bool present;
        struct json_object *v = member(rd, o, key, &present);

        if (!present)
                return absent(rd, key, req);
        if (!json_object_is_type(v, json_type_boolean))
                return state_fail(rd, "%s: not true or false", key);
        *ret = json_object_get_boolean(v);
        return true;
}

bool state_get_usec(struct state_rd *rd, struct json_object *o, const char *key, int req, usec_t *ret)
{
        bool present;
        int64_t x = -1;

        if (member(rd, o, key, &present) == NULL && present) { /* null: none */
                *ret = USEC_INFINITY;
                return true;
        }
        if (state_get_int(rd, o, key, req, 0, INT64_MAX, &x) && x >= 0)
                *ret = (usec_t)x;
        return !rd->bad;
}

bool state_get_fd(struct state_rd *rd, struct json_object *o, const char *key, int req, int *ret)
{
        return state_get_i32(rd, o, key, req, -1, INT_MAX, ret);
}

bool state_get_enum(struct state_rd *rd, struct json_object *o, const char *key, int req, const char *const *names,
                    size_t n, int *ret)
{
        bool present;
        struct json_object *v = member(rd, o, key, &present);
        const char *s;

        if (!present)
                return absent(rd, key, req);
        if (!json_object_is_type(v, json_type_string))
                return state_fail(rd, "%s: not a string", key);
        s = json_object_get_string(v);
        for (size_t i = 0; i < n; i++)
                if (names[i] && strcmp(s, names[i]) == 0) {
                        *ret = (int)i;
                        return true;
                }
        return state_fail(rd, "%s: unknown value \"%.32s\"", key, s);
}

/* A string in one of state_str_new()'s forms (v not NULL). */
static char *str_of(struct state_rd *rd, struct json_object *v, const char *key, size_t max)
{
        struct json_object *b;
        char *s;
        size_t n;

        if (json_object_is_type(v, json_type_string)) {
                n = (size_t)json_object_get_string_len(v);
                if (n > max || memchr(json_object_get_string(v), 0, n))
                        return state_fail(rd, "%s: too long, or holds a NUL", key), NULL;
                return xstrdup(json_object_get_string(v));
        }
        if (!json_object_is_type(v, json_type_object) || !json_object_object_get_ex(v, "base64", &b) ||
            !state_get_bytes(rd, v, "base64", STATE_REQUIRED, max, &s, &n))
                return state_fail(rd, "%s: not a string", key), NULL;
        if (!s || memchr(s, 0, n)) {
                free(s);
                return state_fail(rd, "%s: empty, or holds a NUL", key), NULL;
        }
        return s;
}

bool state_str_value(struct state_rd *rd, struct json_object *v, const char *what, size_t max, char **ret)
{
        char *s = NULL;

        if (rd->bad || (v && !(s = str_of(rd, v, what, max))))
                return false;
        free(*ret);
        *ret = s;
        return true;
}

bool state_get_str(struct state_rd *rd, struct json_object *o, const char *key, int req, size_t max, char **ret)
{
        bool present;
        struct json_object *v = member(rd, o, key, &present);

        if (!present)
                return absent(rd, key, req);
        /* a required string is one: its readers use it as it is */
        if (!v && req == STATE_REQUIRED)
                return state_fail(rd, "%s: not a string", key);
        return state_str_value(rd, v, key, max, ret);
}

bool state_get_strv(struct state_rd *rd, struct json_object *o, const char *key, int req, size_t max, char ***ret)
{
        bool present;
        struct json_object *v = member(rd, o, key, &present);
        size_t n;
        char **sv;

        if (!present)
                return absent(rd, key, req);
        if (!v) {
                strv_free(*ret);
                *ret = NULL;
                return true;
        }
        if (!json_object_is_type(v, json_type_array) || (n = json_object_array_length(v)) > max)
                return state_fail(rd, "%s: not a list of at most %zu strings", key, max);
        sv = xcalloc(n + 1, sizeof *sv);
        for (size_t i = 0; i < n; i++) {
                struct json_object *e = json_object_array_get_idx(v, i);

                if (!e || !(sv[i] = str_of(rd, e, key, SIZE_MAX))) {
                        strv_free(sv);
                        return state_fail(rd, "%s: not a list of strings", key);
                }
        }
        strv_free(*ret);
        *ret = sv;
        return true;
}

bool state_get_bytes(struct state_rd *rd, struct json_object *o, const char *key, int req, size_t max, char **ret,
                     size_t *ret_len)
{
        bool present;
        struct json_object *v = member(rd, o, key, &present);

        return present ? state_bytes_value(rd, v, key, max, ret, ret_len) : absent(rd, key, req);
}

bool state_bytes_value(struct state_rd *rd, struct json_object *v, const char *key, size_t max, char **ret,
                       size_t *ret_len)
{
        size_t len;
        ssize_t n;
        char *buf;

        if (rd->bad)
                return false;
        if (!v) { /* null: none */
                *ret = NULL;
                *ret_len = 0;
                return true;
        }
        if (!json_object_is_type(v, json_type_string))
                return state_fail(rd, "%s: not a base64 string", key);
        len = (size_t)json_object_get_string_len(v);
        if (max < SIZE_MAX - 2 && len / 4 * 3 > max + 2)
                return state_fail(rd, "%s: more than %zu bytes", key, max);
        buf = xmalloc(len / 4 * 3 + 1);
        n = base64_decode(json_object_get_string(v), len, buf);
        if (n < 0 || (size_t)n > max) {
                free(buf);
                return state_fail(rd, "%s: not base64 of at most %zu bytes", key, max);
        }
        if (n == 0) {
                free(buf);
                buf = NULL;
        } else {
                buf[n] = 0;
        }
        *ret = buf;
        *ret_len = (size_t)n;
        return true;
}

struct json_object *state_get_obj(struct state_rd *rd, struct json_object *o, const char *key, int req)
{
        bool present;
        struct json_object *v = member(rd, o, key, &present);

        if (!present || !v) /* null: none */
                return absent(rd, key, req), NULL;
        if (!json_object_is_type(v, json_type_object))
                return state_fail(rd, "%s: not an object", key), NULL;
        return v;
}

struct json_object *state_get_arr(struct state_rd *rd, struct json_object *o, const char *key, int req, size_t max)
{
        bool present;
        struct json_object *v = member(rd, o, key, &present);

        if (!present || !v)
                return absent(rd, key, req), NULL;
        if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) > max)
                return state_fail(rd, "%s: not a list of at most %zu", key, max), NULL;
        return v;
}

/* ---- the descriptors handed over ---------------------------------------------------- */

void state_fds_add(struct state_fds *f, int fd)
{
        if (fd < 0)
                return;
        if (f->n == f->cap)
                f->v = xrealloc(f->v, (f->cap = f->cap ? 2 * f->cap : 64) * sizeof *f->v);
        f->v[f->n++] = fd;
}

int state_fds_cloexec(const struct state_fds *f, bool on)
{
        int r = 0;

        /* FD_CLOEXEC is the only descriptor flag: one call each, not a read and a write */
        for (size_t i = 0; i < f->n; i++)
                if (fcntl(f->v[i], F_SETFD, on ? FD_CLOEXEC : 0) < 0 && r == 0)
                        r = -errno;
        return r;
}

struct json_object *state_fds_save(const struct state_fds *f)
{
        struct json_object *a = json_object_new_array_ext((int)f->n);

        for (size_t i = 0; i < f->n; i++)
                json_object_array_add(a, json_object_new_int(f->v[i]));
        return a;
}

void state_fds_done(struct state_fds *f)
{
        free(f->v);
        *f = (struct state_fds){ 0 };
}

/* Per descriptor number: 0 not handed over, 1 handed over and not taken, 2 taken. */
struct state_fdset {
        unsigned char *v;
        size_t n;
};

static int fd_mark(const struct state_fdset *set, int64_t fd)
{
        return fd >= 0 && (size_t)fd < set->n ? set->v[fd] : 0;
}

struct state_fdset *state_fdset_adopt(struct json_object *body, struct state_rd *rd)
{
        struct json_object *a = state_get_arr(rd, body, "fds", STATE_REQUIRED, INT_MAX);
        struct state_fdset *set = xcalloc(1, sizeof *set);
        size_t n = a ? json_object_array_length(a) : 0;

        /* each a descriptor number that is open (and close-on-exec again
         * from now on: the only descriptor flag), before the table is
         * sized by the largest: numbers the process does not have cost
         * nothing */
        for (size_t i = 0; i < n && !rd->bad; i++) {
                struct json_object *e = json_object_array_get_idx(a, i);
                int64_t fd = json_object_get_int64(e);

                if (!json_object_is_type(e, json_type_int) || fd < 0 || fd > INT_MAX)
                        state_fail(rd, "fds: not a list of distinct descriptors");
                else if (fcntl((int)fd, F_SETFD, FD_CLOEXEC) < 0)
                        state_fail(rd, "fds: descriptor %d: %s", (int)fd, strerror(errno));
                else
                        set->n = MAX(set->n, (size_t)fd + 1);
        }
        if (rd->bad)
                set->n = 0;
        set->v = xcalloc(set->n + 1, 1);
        for (size_t i = 0; i < n && !rd->bad; i++) {
                int64_t fd = json_object_get_int64(json_object_array_get_idx(a, i));

                if (fd_mark(set, fd)) {
                        state_fail(rd, "fds: not a list of distinct descriptors");
                        break;
                }
                set->v[fd] = 1;
        }
        if (rd->bad) /* nothing is closed: what the state names is stopped */
                return state_fdset_free(set, false);
        return set;
}

bool state_take_fd(struct state_rd *rd, struct state_fdset *set, int fd)
{
        if (fd < 0 || rd->bad)
                return !rd->bad;
        if (fd_mark(set, fd) != 1)
                return state_fail(rd, "descriptor %d: not handed over, or taken twice", fd);
        set->v[fd] = 2;
        return true;
}

struct state_fdset *state_fdset_free(struct state_fdset *set, bool close_rest)
{
        if (!set)
                return NULL;
        for (size_t fd = 0; close_rest && fd < set->n; fd++)
                if (set->v[fd] == 1)
                        safe_close((int)fd);
        free(set->v);
        free(set);
        return NULL;
}
