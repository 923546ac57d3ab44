/* output.h - a worker's stdout/stderr pipe read in the loop, split into
 * records (a line, or at most 4096 bytes of a longer one, cut at the last
 * character boundary where it is UTF-8 there, else at 4096 bytes; a last
 * line without newline is delivered at EOF) and handed to log_output(). While the log
 * buffer is congested every stream stops reading (the worker blocks). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct loop;
struct output_stream;

#define OUTPUT_RECORD_MAX 4096

/* Takes ownership of fd (made non-blocking); keeps a copy of name. on_eof is called
 * once, after the last record, from the loop. NULL on failure (errno). */
struct output_stream *output_open(struct loop *l, int fd, const char *name, int stream,
                                  void (*on_eof)(struct output_stream *s, void *data), void *data);
/* fn sees every record of s after it is logged (with output_open()'s
 * data), e.g. to match a log probe; NULL: none. */
void output_on_record(struct output_stream *s, void (*fn)(const char *p, size_t n, void *data));
/* Closes the pipe (pending partial line is delivered first). NULL-safe. */
struct output_stream *output_close(struct output_stream *s);
void output_rename(struct output_stream *s, const char *name);

/* Called by the log's congestion hook. */
void output_set_paused(bool paused);
/* Reads everything currently in the pipe, ignoring congestion (used when a
 * worker must be drained); returns true at EOF. */
bool output_drain(struct output_stream *s);

/* ---- across a reexec (state.h) ----
 * output_next(): every stream open, one after another (NULL: the first);
 * output_data(): its output_open() data. output_save(): its member of the
 * state: fd (listed in fds), name, stream and the partial line pending
 * (base64). output_adopt(): a stream again on that fd (taken by the
 * caller), its partial line back; NULL with rd's problem (or errno's:
 * the loop refused it). */
struct json_object;
struct state_rd;
struct state_fds;
struct output_stream *output_next(struct output_stream *s);
void *output_data(const struct output_stream *s);
struct json_object *output_save(const struct output_stream *s, struct state_fds *fds);
struct output_stream *output_adopt(struct loop *l, int fd, struct json_object *o, struct state_rd *rd,
                                   void (*on_eof)(struct output_stream *s, void *data), void *data);
