/* control.c - placeholder: the control socket is being written. */
#include <errno.h>
#include <stdlib.h>
#include "control.h"
#include "util.h"

char *control_default_path(const char *configured) { (void)configured; return NULL; }
struct control *control_open(struct loop *l, const char *path, const struct control_hooks *hooks, void *ctx,
                             int *ret_err) { *ret_err = ENOSYS; return NULL; }
void control_tick(struct control *c) {}
struct control *control_close(struct control *c) { return NULL; }
const char *control_path(const struct control *c) { return NULL; }
