/* envfile.c - env_file: systemd's EnvironmentFile= syntax, parsed by a
 * state machine that follows systemd's own (src/basic/env-file.c) character
 * by character, but refuses what systemd only warns about; and the reading
 * of a worker's files, bounded and without blocking. It never logs and
 * knows nothing of workers: the caller says what to do with a problem. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "envfile.h"
#include "util.h"

void envfile_vars_done(struct envfile_vars *vars)
{
        for (size_t i = 0; i < vars->n; i++)
                free(vars->v[i]);
        free(vars->v);
        *vars = (struct envfile_vars){ 0 };
}

char **envfile_vars_steal(struct envfile_vars *vars)
{
        char **v = vars->v;

        *vars = (struct envfile_vars){ 0 };
        return v;
}

/* ---- the parser --------------------------------------------------------- */

enum state {
        PRE_KEY,       /* at the start of a line, blanks skipped */
        KEY,           /* in the name */
        PRE_VALUE,     /* after "=" or a closing quote, blanks skipped */
        VALUE,         /* in an unquoted part */
        VALUE_ESCAPE,  /* after a backslash in an unquoted part */
        SQUOTE,        /* in '...' */
        DQUOTE,        /* in "..." */
        DQUOTE_ESCAPE, /* after a backslash in "..." */
        COMMENT,       /* in a comment line */
};

struct parser {
        struct envfile_vars *vars;
        struct envfile_error *err;
        enum state st;
        struct sbuf key, value;
        size_t key_ws, value_ws; /* where trailing blanks begin, SIZE_MAX: none */
        int line;                /* of the character being read */
        int key_line;            /* where the assignment began */
        int quote_line;          /* where the open quote is */
        char quote;              /* the open quote, for its message */
};

static bool is_blank(char c) { return c == ' ' || c == '\t'; }
static bool is_newline(char c) { return c == '\n' || c == '\r'; }
/* systemd's WHITESPACE: blanks and newlines */
static bool is_space(char c) { return is_blank(c) || is_newline(c); }

static int fail(struct parser *p, int line, const char *fmt, ...) _printf_(3, 4);

static int fail(struct parser *p, int line, const char *fmt, ...)
{
        va_list ap;

        p->err->line = line;
        va_start(ap, fmt);
        vsnprintf(p->err->msg, sizeof p->err->msg, fmt, ap);
        va_end(ap);
        return -EINVAL;
}

/* s[0..n) for a message: in quotes, on one line, at most 64 bytes. */
static const char *quoted(const char *s, size_t n, char *buf, size_t len)
{
        size_t at = 0;

        buf[at++] = '"';
        for (size_t i = 0; i < n && at + 8 < len; i++) {
                unsigned char c = (unsigned char)s[i];

                if (i == 64) {
                        at += (size_t)snprintf(buf + at, len - at, "...");
                        break;
                }
                if (c == '"' || c == '\\')
                        at += (size_t)snprintf(buf + at, len - at, "\\%c", c);
                else if (c < 0x20 || c >= 0x7f)
                        at += (size_t)snprintf(buf + at, len - at, "\\x%02x", c);
                else
                        buf[at++] = (char)c;
        }
        buf[at++] = '"';
        buf[at] = '\0';
        return buf;
}

static bool name_ok(const char *s, size_t n)
{
        if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
                return false;
        for (size_t i = 0; i < n; i++)
                if (!(s[i] == '_' || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
                      (s[i] >= '0' && s[i] <= '9')))
                        return false;
        return true;
}

/* The name as written, without the blanks after it and an "export " before it. */
static const char *key_name(struct parser *p, size_t *n)
{
        const char *k = p->key.p ? p->key.p : "";
        size_t len = p->key_ws != SIZE_MAX ? p->key_ws : p->key.len, skip = 6;

        if (len > 6 && strncmp(k, "export", 6) == 0 && is_blank(k[6])) {
                while (skip < len && is_blank(k[skip]))
                        skip++;
                k += skip;
                len -= skip;
        }
        *n = len;
        return k;
}

/* Adds "KEY=VALUE", replacing the key's earlier value in place. */
static int add_var(struct parser *p, const char *k, size_t kn)
{
        struct envfile_vars *v = p->vars;
        char *var = xasprintf("%.*s=%s", (int)kn, k, p->value.p ? p->value.p : "");

        for (size_t i = 0; i < v->n; i++)
                if (strncmp(v->v[i], var, kn + 1) == 0) {
                        free(v->v[i]);
                        v->v[i] = var;
                        return 0;
                }
        if (v->n >= ENVFILE_MAX_VARS) {
                free(var);
                return fail(p, p->key_line, "more than %d variables", ENVFILE_MAX_VARS);
        }
        if (v->n + 2 > v->cap) {
                v->cap = v->cap ? 2 * v->cap : 16;
                v->v = xrealloc(v->v, v->cap * sizeof *v->v);
        }
        v->v[v->n++] = var;
        v->v[v->n] = NULL;
        return 0;
}

/* One assignment is complete (at its end of line, or of the file). */
static int push(struct parser *p)
{
        char q[300];
        size_t kn;
        const char *k = key_name(p, &kn);
        int r;

        if (p->st == VALUE && p->value_ws != SIZE_MAX)
                p->value.len = p->value_ws; /* an unquoted value loses its trailing blanks */
        if (p->value.p)
                p->value.p[p->value.len] = '\0';
        if (kn == 0)
                r = fail(p, p->key_line, "missing variable name before \"=\"");
        else if (!name_ok(k, kn))
                r = fail(p, p->key_line,
                         "invalid variable name %s (letters, digits and _, not beginning with a digit)",
                         quoted(k, kn, q, sizeof q));
        else if (!utf8_is_valid(p->value.p ? p->value.p : "", p->value.len))
                r = fail(p, p->key_line, "invalid UTF-8 in the value of %.*s", (int)kn, k);
        else
                r = add_var(p, k, kn);
        p->key.len = p->value.len = 0;
        p->key_ws = p->value_ws = SIZE_MAX;
        return r;
}

/* The character starts (blanks skipped) or continues the name. */
static int in_key(struct parser *p, char c)
{
        char q[300];

        if (is_newline(c)) {
                size_t kn = p->key_ws != SIZE_MAX ? p->key_ws : p->key.len;

                return fail(p, p->key_line, "missing \"=\" after %s", quoted(p->key.p, kn, q, sizeof q));
        }
        if (c == '=') {
                p->st = PRE_VALUE;
                return 0;
        }
        if (!is_blank(c))
                p->key_ws = SIZE_MAX;
        else if (p->key_ws == SIZE_MAX)
                p->key_ws = p->key.len;
        sbuf_add(&p->key, &c, 1);
        return 0;
}

static void add_value(struct parser *p, char c) { sbuf_add(&p->value, &c, 1); }

static void open_quote(struct parser *p, char c)
{
        p->st = c == '\'' ? SQUOTE : DQUOTE;
        p->quote = c;
        p->quote_line = p->line;
}

/* An unquoted part (VALUE) or what may begin a part (PRE_VALUE). */
static int in_value(struct parser *p, char c)
{
        if (is_newline(c)) {
                int r = push(p);

                p->st = PRE_KEY;
                return r;
        }
        if (c == '\\') {
                p->st = VALUE_ESCAPE;
                p->value_ws = SIZE_MAX;
                return 0;
        }
        if (p->st == PRE_VALUE) {
                if (c == '\'' || c == '"')
                        open_quote(p, c);
                else if (!is_space(c)) {
                        p->st = VALUE;
                        p->value_ws = SIZE_MAX;
                        add_value(p, c);
                }
                return 0;
        }
        if (!is_blank(c))
                p->value_ws = SIZE_MAX;
        else if (p->value_ws == SIZE_MAX)
                p->value_ws = p->value.len;
        add_value(p, c);
        return 0;
}

/* Inside quotes and after backslashes. */
static void in_quote(struct parser *p, char c)
{
        switch (p->st) {
        case VALUE_ESCAPE:
                p->st = VALUE;
                if (!is_newline(c)) /* backslash-newline joins the lines */
                        add_value(p, c);
                break;
        case SQUOTE:
                if (c == '\'')
                        p->st = PRE_VALUE;
                else
                        add_value(p, c);
                break;
        case DQUOTE:
                if (c == '"')
                        p->st = PRE_VALUE;
                else if (c == '\\')
                        p->st = DQUOTE_ESCAPE;
                else
                        add_value(p, c);
                break;
        default: /* DQUOTE_ESCAPE */
                p->st = DQUOTE;
                if (c == '"' || c == '\\' || c == '`' || c == '$') {
                        add_value(p, c);
                } else if (c != '\n') {
                        add_value(p, '\\'); /* kept, as the shell does */
                        add_value(p, c);
                }
                break;
        }
}

static int step(struct parser *p, char c)
{
        switch (p->st) {
        case PRE_KEY:
                if (c == '#' || c == ';') {
                        p->st = COMMENT;
                } else if (!is_space(c)) {
                        p->key_line = p->line;
                        p->st = KEY;
                        return in_key(p, c);
                }
                return 0;
        case KEY:
                return in_key(p, c);
        case PRE_VALUE:
        case VALUE:
                return in_value(p, c);
        case COMMENT:
                if (is_newline(c)) /* never continued (systemd >= 254) */
                        p->st = PRE_KEY;
                return 0;
        default:
                in_quote(p, c);
                return 0;
        }
}

/* At the end of the text: what is still open. */
static int finish(struct parser *p)
{
        char q[300];

        switch (p->st) {
        case PRE_KEY:
        case COMMENT:
                return 0;
        case KEY:
                return fail(p, p->key_line, "missing \"=\" after %s",
                            quoted(p->key.p, p->key_ws != SIZE_MAX ? p->key_ws : p->key.len, q, sizeof q));
        case SQUOTE:
        case DQUOTE:
        case DQUOTE_ESCAPE:
                return fail(p, p->quote_line, "unterminated %s quote",
                            p->quote == '\'' ? "single" : "double");
        default:
                return push(p);
        }
}

int envfile_parse(const char *text, size_t len, struct envfile_vars *vars, struct envfile_error *err)
{
        struct parser p = { .vars = vars, .err = err, .st = PRE_KEY, .key_ws = SIZE_MAX, .value_ws = SIZE_MAX,
                            .line = 1 };
        int r = 0;

        for (size_t i = 0; i < len && r == 0; i++) {
                if (p.line > ENVFILE_MAX_LINES)
                        r = fail(&p, p.line, "more than %d lines", ENVFILE_MAX_LINES);
                else if (text[i] == '\0')
                        r = fail(&p, p.line, "contains a NUL byte");
                else
                        r = step(&p, text[i]);
                p.line += text[i] == '\n';
        }
        if (r == 0)
                r = finish(&p);
        sbuf_free(&p.key);
        sbuf_free(&p.value);
        return r;
}

/* ---- reading ------------------------------------------------------------ */

const char *envfile_path(const char *spec, bool *optional)
{
        *optional = spec[0] == '-';
        return spec + *optional;
}

static int file_error(struct envfile_error *err, int e, const char *msg)
{
        err->line = 0;
        snprintf(err->msg, sizeof err->msg, "%s", msg ? msg : strerror(e));
        return -e;
}

/* The whole of fd, at most ENVFILE_MAX_SIZE bytes (it may grow meanwhile). */
static int read_bounded(int fd, struct sbuf *b, struct envfile_error *err)
{
        char buf[16384];

        for (;;) {
                ssize_t n = read(fd, buf, sizeof buf);

                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0)
                        return file_error(err, errno, NULL);
                if (n == 0)
                        return 0;
                if (b->len + (size_t)n > ENVFILE_MAX_SIZE)
                        return file_error(err, EFBIG, "larger than 1 MiB");
                sbuf_add(b, buf, (size_t)n);
        }
}

/* One file into vars; *missing when it does not exist. */
static int load_one(const char *path, struct envfile_vars *vars, struct envfile_error *err, bool *missing)
{
        /* O_NONBLOCK: a FIFO must not block the open (it is refused below) */
        int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK), r;
        struct sbuf b = { 0 };
        struct stat st;
        const char *why;

        *missing = fd < 0 && (errno == ENOENT || errno == ENOTDIR);
        if (fd < 0)
                return file_error(err, errno, NULL);
        if (fstat(fd, &st) < 0)
                r = file_error(err, errno, NULL);
        else if ((why = file_type_problem(st.st_mode)))
                r = file_error(err, S_ISDIR(st.st_mode) ? EISDIR : EINVAL, why);
        else if (st.st_size > ENVFILE_MAX_SIZE)
                r = file_error(err, EFBIG, "larger than 1 MiB");
        else
                r = read_bounded(fd, &b, err);
        safe_close(fd);
        if (r == 0)
                r = envfile_parse(b.p ? b.p : "", b.len, vars, err);
        sbuf_free(&b);
        return r;
}

int envfile_load(char *const *specs, struct envfile_vars *vars, struct envfile_error *err)
{
        for (char *const *s = specs; s && *s; s++) {
                bool optional, missing;
                const char *path = envfile_path(*s, &optional);
                int r;

                err->file = path;
                r = load_one(path, vars, err, &missing);
                if (r < 0 && !(missing && optional))
                        return r;
        }
        err->file = NULL;
        return 0;
}

char *envfile_error_format(const struct envfile_error *err)
{
        const char *f = err->file ? err->file : "env_file";

        if (err->line > 0)
                return xasprintf("%s:%d: %s", f, err->line, err->msg);
        return xasprintf("%s: %s", f, err->msg);
}
