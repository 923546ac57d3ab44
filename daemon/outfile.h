/* outfile.h - the files graced writes for workers (`stdout`/`stderr` = a
 * path): the worker writes into a pipe, graced copies its bytes into the
 * file (output.c), so that graced can reopen the file when logrotate has
 * moved it (SIGUSR2, `gracectl reopen`). One open description per path,
 * shared by every stream that writes there. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/uio.h>

struct loop;
struct outfile;

/* The file at path, opened O_WRONLY|O_APPEND|O_CREAT (mode 0644) or shared
 * with the streams that already write there; NULL with -errno in *ret_err.
 * Logs nothing. */
struct outfile *outfile_get(struct loop *l, const char *path, int *ret_err);
/* Releases a reference; the file is closed with the last one. NULL-safe. */
struct outfile *outfile_put(struct outfile *f);
const char *outfile_path(const struct outfile *f);

/* Writes the iov (n <= 8 pieces) at the end of the file, in one write()
 * when the file takes it (a regular file does). Returns the bytes that
 * are done with: all of them, or fewer when the file cannot take more now
 * (a FIFO or a terminal given as the path: then outfile_wait()). A write
 * error (a full disk...) drops the bytes: it is logged once, naming who,
 * and again once writing works. */
size_t outfile_writev(struct outfile *f, const char *who, const struct iovec *iov, int n);
/* fn(data) once f may take more (at most one wait per data). */
void outfile_wait(struct outfile *f, void (*fn)(void *data), void *data);
void outfile_unwait(struct outfile *f, void *data);

/* Opens every path again and writes to the new file from then on (what was
 * written before went to the old one: writes are whole, so a line is in
 * one file or the other). A path that cannot be opened keeps its old file
 * and is logged. Returns the number of files reopened; *failed (not NULL)
 * gets the failures, *errors (not NULL) a newly allocated newline-separated
 * list of them (or NULL). */
unsigned outfile_reopen_all(unsigned *failed, char **errors);
/* Number of files open (for tests). */
size_t outfile_count(void);
