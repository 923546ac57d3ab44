/* report.h - the JSON shutdown report (described in graced(8), REPORT), built with
 * json-c and written atomically (temporary file, fsync, rename). */
#pragma once

#include <json-c/json.h>
#include "sup.h"

/* The report as a json object (caller puts it). started_real: when
 * graced started (CLOCK_REALTIME usec). */
struct json_object *report_build(struct sup *s, usec_t started_real, usec_t ended_mono);
/* Writes atomically; 0 or -errno (logs nothing). */
int report_write(const char *path, struct json_object *report);
