/* fuzz.h - what the libFuzzer targets of tests/fuzz share: a private
 * scratch directory, files written there, quiet logs, and fake supervisor
 * operations (no process is ever started: the policy is fed events, as
 * tests/check_sup.c does). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"
#include "worker.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* The process's own directory under $TMPDIR (or /tmp), made at the first
 * call and removed, with everything in it, when the process exits. */
const char *fuzz_dir(void);
/* fuzz_dir()/name (caller frees). */
char *fuzz_path(const char *name);
/* Writes p[0..n) to path (created 0600 or truncated); aborts on failure. */
void fuzz_write(const char *path, const void *p, size_t n);
/* mkdir -p of one level; aborts on failure other than EEXIST. */
void fuzz_mkdir(const char *path);
/* Logs at debug level in the text format (the formatting runs too); the
 * fuzzer is run with -close_fd_mask=2 (make fuzz) to keep them out of
 * sight. */
void fuzz_log_init(void);

/* Fake supervisor operations on a fake clock (fuzz_now, microseconds):
 * spawns succeed with pid 1000, 1001, ... and a pidfd of -1. */
extern usec_t fuzz_now;
extern const struct sup_ops fuzz_ops;
void fuzz_ops_reset(void);

/* The first occurrence of the separator sep in p[0..n): its offset, or n. */
size_t fuzz_split(const uint8_t *p, size_t n, const char *sep);
